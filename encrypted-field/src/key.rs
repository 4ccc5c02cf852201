//! Key material: [`MasterKey`] (32 secret bytes) and [`KeyVersion`] (its number in a ring).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{BadKeyReason, Error, Result};

/// The length of every master key, in bytes.
pub const KEY_LEN: usize = 32;

/// The number of a key in a [`KeyRing`](crate::KeyRing), written into every envelope.
///
/// Displayed as `v2`; parsed from `2` or `v2`.
///
/// ```
/// use encrypted_field::KeyVersion;
/// let v: KeyVersion = "v2".parse()?;
/// assert_eq!(v, KeyVersion::new(2));
/// assert_eq!(v.to_string(), "v2");
/// # Ok::<(), encrypted_field::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyVersion(u32);

impl KeyVersion {
    /// A version with this number.
    pub const fn new(number: u32) -> Self {
        Self(number)
    }

    /// The number of this version.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl From<u32> for KeyVersion {
    fn from(number: u32) -> Self {
        Self(number)
    }
}

impl fmt::Display for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl FromStr for KeyVersion {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let trimmed = text.trim();
        let digits = trimmed.strip_prefix(['v', 'V']).unwrap_or(trimmed);
        digits.parse::<u32>().map(Self).map_err(|_| Error::BadKey {
            origin: "key version".to_owned(),
            reason: BadKeyReason::InvalidVersion(trimmed.to_owned()),
        })
    }
}

/// 32 secret bytes from which a key version's encryption and MAC keys are derived.
///
/// Written as standard base64, exactly as `openssl rand -base64 32` prints it. The bytes are
/// zeroized on drop and never printed: `Debug` shows only `MasterKey(<redacted>)`.
///
/// ```
/// use encrypted_field::MasterKey;
/// let key = MasterKey::from_base64("q5Ug6ikmxxxmhUkqVFR30hnBK8Q2G5XHb/4WkQk2Mpo=\n", "example")?;
/// assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
/// assert_eq!(key.to_base64().as_str(), "q5Ug6ikmxxxmhUkqVFR30hnBK8Q2G5XHb/4WkQk2Mpo=");
/// # Ok::<(), encrypted_field::Error>(())
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct MasterKey([u8; KEY_LEN]);

impl MasterKey {
    /// A new random key, from the thread-local CSPRNG that `rand` seeds from the operating system.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Parses standard base64 text (surrounding white space, such as the newline `openssl` adds,
    /// is ignored). `origin` names where the text came from, for the error message.
    ///
    /// Text in the URL-safe alphabet (`-` or `_`) is refused as
    /// [`BadKeyReason::UrlSafeBase64`]: that is a Fernet key, such as the Django module's own
    /// `DB_ENCRYPTION_KEY`, and never this crate's key.
    pub fn from_base64(text: &str, origin: &str) -> Result<Self> {
        parse_key_text(text, origin, |t| STANDARD.decode(t).ok())
            .map(Self)
            .map_err(|err| match err {
                Error::BadKey {
                    origin,
                    reason: BadKeyReason::NotBase64,
                } if is_url_safe_base64(text.trim()) => Error::BadKey {
                    origin,
                    reason: BadKeyReason::UrlSafeBase64,
                },
                other => other,
            })
    }

    /// Reads a key file (e.g. a Docker secret). The error names the path and never the content.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| Error::BadKey {
                origin: origin.clone(),
                reason: BadKeyReason::Unreadable(e.to_string()),
            })?;
        Self::from_base64(&text, &origin)
    }

    /// The key as standard base64 (no newline), in a buffer that is zeroized on drop.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0))
    }

    /// The raw key bytes. Handle with care: do not log or copy them.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// Whether `text` is written in the URL-safe base64 alphabet only, and uses its `-` or `_`.
fn is_url_safe_base64(text: &str) -> bool {
    text.contains(['-', '_'])
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
}

/// Decodes the text of a 32-byte key with `decode` (surrounding white space ignored), with the
/// errors every key source shares: empty, not base64, wrong length. Never echoes the text.
pub(crate) fn parse_key_text(
    text: &str,
    origin: &str,
    decode: impl FnOnce(&str) -> Option<Vec<u8>>,
) -> Result<[u8; KEY_LEN]> {
    let bad = |reason| Error::BadKey {
        origin: origin.to_owned(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad(BadKeyReason::Empty));
    }
    let decoded = Zeroizing::new(decode(trimmed).ok_or_else(|| bad(BadKeyReason::NotBase64))?);
    decoded.as_slice().try_into().map_err(|_| {
        bad(BadKeyReason::WrongLength {
            found: decoded.len(),
        })
    })
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(err: Error) -> BadKeyReason {
        match err {
            Error::BadKey { reason, .. } => reason,
            other => panic!("expected BadKey, got {other:?}"),
        }
    }

    #[test]
    fn a_fernet_key_in_the_url_safe_alphabet_is_named_as_such() {
        let fernet = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
        let err = MasterKey::from_base64(fernet, "DB_ENCRYPTION_KEY").unwrap_err();
        let message = err.to_string();
        assert_eq!(reason(err), BadKeyReason::UrlSafeBase64);
        assert!(
            message.contains("Fernet") && !message.contains(fernet),
            "{message}"
        );
    }

    #[test]
    fn parses_openssl_output_with_trailing_newline() {
        let key = MasterKey::from_base64(&format!("  {}\n", STANDARD.encode([7u8; 32])), "t");
        assert_eq!(key.map(|k| *k.expose_bytes()).ok(), Some([7u8; 32]));
    }

    #[test]
    fn rejects_31_and_33_bytes_with_their_length() {
        for len in [31, 33] {
            let err = MasterKey::from_base64(&STANDARD.encode(vec![1u8; len]), "t").unwrap_err();
            assert_eq!(reason(err), BadKeyReason::WrongLength { found: len });
        }
    }

    #[test]
    fn rejects_text_that_is_not_base64() {
        let err = MasterKey::from_base64("not base64 at all!", "t").unwrap_err();
        assert_eq!(reason(err), BadKeyReason::NotBase64);
    }

    #[test]
    fn rejects_empty_text() {
        assert_eq!(
            reason(MasterKey::from_base64(" \n", "t").unwrap_err()),
            BadKeyReason::Empty
        );
    }

    #[test]
    fn error_names_origin_but_never_the_key() {
        let text = STANDARD.encode([9u8; 31]);
        let message = MasterKey::from_base64(&text, "DB_ENCRYPTION_KEY")
            .unwrap_err()
            .to_string();
        assert!(message.contains("DB_ENCRYPTION_KEY"), "{message}");
        assert!(!message.contains(&text), "{message}");
    }

    #[test]
    fn version_parses_with_and_without_prefix() {
        assert_eq!("3".parse::<KeyVersion>().ok(), Some(KeyVersion::new(3)));
        assert_eq!(
            " v12 ".parse::<KeyVersion>().ok(),
            Some(KeyVersion::new(12))
        );
        assert!("three".parse::<KeyVersion>().is_err());
    }
}
