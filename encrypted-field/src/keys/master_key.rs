//! Key material: [`MasterKey`], 32 secret bytes, and the operating system's generator that makes them.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{BadKeyReason, Error, Result};
use crate::keys::os_random::{fill_from_os, os_generator_failed};

/// The length of every master key, in bytes.
pub const KEY_LEN: usize = 32;

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
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; KEY_LEN]);

/// Constant time: how many leading bytes two keys share must not show in how long it takes.
impl PartialEq for MasterKey {
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }
}

impl Eq for MasterKey {}

impl MasterKey {
    /// A new random key, straight from the operating system's generator (see [`try_generate`](Self::try_generate)).
    ///
    /// # Panics
    ///
    /// If the operating system's generator fails (on Linux it does not, once booted): a key is
    /// never made from anything weaker. Use [`try_generate`](Self::try_generate) to get an error instead.
    pub fn generate() -> Self {
        Self::try_generate().unwrap_or_else(|error| os_generator_failed(&error))
    }

    /// A new random key from the operating system's generator (`getrandom(2)` on Linux), never
    /// from a userspace generator, whose stream a forked child would repeat.
    ///
    /// ```
    /// use encrypted_field::MasterKey;
    /// assert_ne!(MasterKey::try_generate()?, MasterKey::try_generate()?);
    /// # Ok::<(), encrypted_field::Error>(())
    /// ```
    pub fn try_generate() -> Result<Self> {
        let mut key = Self([0u8; KEY_LEN]);
        fill_from_os(&mut key.0)?;
        Ok(key)
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
    ///
    /// A file that group or others can write, or in a directory they can write, is refused; one
    /// they can read is loaded with a warning (`tracing`), unless it is a read-only secret (see
    /// the README, "Keys").
    pub fn from_file(path: &Path) -> Result<Self> {
        let (key, readable) = Self::read_file(path)?;
        crate::keys::secret_file::warn_readable(readable.as_slice());
        Ok(key)
    }

    /// [`from_file`](Self::from_file) without the warning: the key, and its path if group or
    /// others can read it, for a caller that warns once for several files.
    pub(crate) fn read_file(path: &Path) -> Result<(Self, Option<PathBuf>)> {
        let readable = crate::keys::secret_file::check_key_file(path)?;
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| Error::BadKey {
                origin: origin.clone(),
                reason: BadKeyReason::Unreadable(e.to_string()),
            })?;
        Ok((Self::from_base64(&text, &origin)?, readable))
    }

    /// Writes the key (base64 and a newline, as `openssl rand -base64 32 > file` does) into a
    /// new file of mode 0600. An existing file, or a symbolic link, at `path` is never replaced
    /// nor followed: that is an [`Error::Io`] whose source is [`std::io::ErrorKind::AlreadyExists`].
    ///
    /// ```
    /// use encrypted_field::MasterKey;
    /// let dir = tempfile::tempdir()?;
    /// let key = MasterKey::generate();
    /// key.write_to_new_file(&dir.path().join("enc_key.txt"))?;
    /// assert_eq!(MasterKey::from_file(&dir.path().join("enc_key.txt"))?, key);
    /// assert!(MasterKey::generate().write_to_new_file(&dir.path().join("enc_key.txt")).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_to_new_file(&self, path: &Path) -> Result<()> {
        // Sized once: a reallocation would leave a copy of the key behind, unzeroized.
        let mut text = Zeroizing::new(String::with_capacity(
            base64::encoded_len(KEY_LEN, true).unwrap_or(64) + 1,
        ));
        text.push_str(&self.to_base64());
        text.push('\n');
        crate::keys::secret_file::write_secret_file(
            path,
            text.as_bytes(),
            crate::keys::secret_file::Existing::Keep,
        )
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
    use crate::keys::os_random::os_draws;

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
    fn generated_keys_come_from_the_operating_system() {
        let before = os_draws::so_far();
        let (a, b) = (MasterKey::generate(), MasterKey::try_generate().unwrap());
        assert_eq!(os_draws::so_far(), before + 2);
        assert_ne!(a, b);
    }
}
