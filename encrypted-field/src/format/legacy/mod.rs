//! Legacy formats, read (never written) so that data the replaced systems stored can be migrated
//! into format v1: Fernet tokens (the Django module), `hex(iv):hex(ciphertext)` AES-256-CBC (the
//! Node backend), and plaintext.

pub mod fernet;
pub(crate) mod kind;
pub mod node_cbc;

pub use kind::LegacyFormat;

use crate::error::{BadKeyReason, Error, MalformedReason, Result};
use crate::format::envelope::Envelope;
use crate::format::stored::decode_base64;
use crate::keys::master_key::MasterKey;

/// The key a legacy format is read with. `Debug` never shows key bytes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LegacyKey {
    /// Plaintext needs no key.
    None,
    /// A Fernet key (url-safe base64 of 32 bytes).
    Fernet(fernet::FernetKey),
    /// The Node backend's AES-256 key (standard base64 of 32 bytes).
    NodeCbc(MasterKey),
}

impl LegacyKey {
    /// Parses the key text of `format`: a Fernet key (url-safe base64 of 32 bytes) or the Node
    /// backend's key (standard base64 of 32 bytes, as `openssl rand -base64 32` prints it);
    /// nothing for plaintext. `origin` names where the text came from; a key that is not base64 or
    /// not 32 bytes long is an [`Error::BadKey`](Error::BadKey) naming it, never the text.
    ///
    /// ```
    /// use encrypted_field::legacy::{LegacyFormat, LegacyKey};
    /// use encrypted_field::{BadKeyReason, Error};
    /// let text = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    /// let key = LegacyKey::from_base64(LegacyFormat::Fernet, text, "DJANGO_KEY")?;
    /// assert_eq!(key.format(), LegacyFormat::Fernet);
    /// match LegacyKey::from_base64(LegacyFormat::NodeCbc, "not a key!", "/run/secrets/enc_key") {
    ///     Err(Error::BadKey { origin, reason }) => {
    ///         assert_eq!(origin, "/run/secrets/enc_key");
    ///         assert_eq!(reason, BadKeyReason::NotBase64);
    ///     }
    ///     other => panic!("expected a bad key, got {other:?}"),
    /// }
    /// # Ok::<(), encrypted_field::Error>(())
    /// ```
    pub fn from_base64(format: LegacyFormat, text: &str, origin: &str) -> Result<Self> {
        match format {
            LegacyFormat::Plaintext => Ok(Self::None),
            LegacyFormat::Fernet => fernet::FernetKey::from_base64(text, origin).map(Self::Fernet),
            LegacyFormat::NodeCbc => MasterKey::from_base64(text, origin).map(Self::NodeCbc),
        }
    }

    /// Reads the key file of `format` (nothing is read for plaintext), such as the Node backend's
    /// Docker secret `enc_key.txt`; surrounding white space, like `openssl`'s trailing newline, is
    /// ignored. Errors are [`Error::BadKey`](Error::BadKey) naming the path.
    ///
    /// ```
    /// use encrypted_field::legacy::{LegacyFormat, LegacyKey};
    /// let missing = std::path::Path::new("/nonexistent/enc_key.txt");
    /// let err = LegacyKey::from_file(LegacyFormat::NodeCbc, missing).unwrap_err();
    /// assert!(err.to_string().contains("/nonexistent/enc_key.txt"));
    /// assert!(LegacyKey::from_file(LegacyFormat::Plaintext, missing).is_ok());
    /// ```
    pub fn from_file(format: LegacyFormat, path: &std::path::Path) -> Result<Self> {
        if format == LegacyFormat::Plaintext {
            return Ok(Self::None);
        }
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| Error::BadKey {
                origin: origin.clone(),
                reason: BadKeyReason::Unreadable(e.to_string()),
            })?;
        Self::from_base64(format, &text, &origin)
    }

    /// Whether `key` (a key of the new ring) is this legacy key, compared in constant time: the
    /// node-cbc key's 32 bytes; for a Fernet key, its 32 bytes or either 16-byte half against
    /// either half of `key`. A migration to a ring holding such a key would leave the values
    /// readable by whoever holds the legacy key.
    ///
    /// ```
    /// use encrypted_field::legacy::LegacyKey;
    /// use encrypted_field::MasterKey;
    /// let node = MasterKey::generate();
    /// assert!(LegacyKey::NodeCbc(node.clone()).is_reused_as(&node));
    /// assert!(!LegacyKey::NodeCbc(node).is_reused_as(&MasterKey::generate()));
    /// assert!(!LegacyKey::None.is_reused_as(&MasterKey::generate()));
    /// ```
    pub fn is_reused_as(&self, key: &MasterKey) -> bool {
        use subtle::ConstantTimeEq as _;
        let halves = |bytes: &[u8; 32]| {
            let (first, second) = bytes.split_at(16);
            [first.to_vec(), second.to_vec()].map(zeroize::Zeroizing::new)
        };
        let key = key.expose_bytes();
        match self {
            Self::None => false,
            Self::NodeCbc(legacy) => bool::from(key.ct_eq(legacy.expose_bytes())),
            Self::Fernet(legacy) => {
                let legacy = legacy.expose_bytes();
                let whole = key.ct_eq(legacy);
                let mut half = subtle::Choice::from(0);
                for ring_half in halves(key).iter() {
                    for legacy_half in halves(legacy).iter() {
                        half |= ring_half.as_slice().ct_eq(legacy_half.as_slice());
                    }
                }
                bool::from(whole | half)
            }
        }
    }

    /// The format this key reads.
    pub fn format(&self) -> LegacyFormat {
        match self {
            Self::None => LegacyFormat::Plaintext,
            Self::Fernet(_) => LegacyFormat::Fernet,
            Self::NodeCbc(_) => LegacyFormat::NodeCbc,
        }
    }
}

/// What a stored value is, judged from its bytes alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredForm {
    /// A format-v1 envelope (binary), already migrated.
    Envelope,
    /// The standard base64 of a format-v1 envelope (TEXT column), already migrated.
    EnvelopeBase64,
    /// A value in the legacy format being migrated from.
    Legacy,
}

/// The first bytes of every format-v1 envelope: the `EF` marker and the format byte.
const ENVELOPE_PREFIX: [u8; 3] = [
    crate::format::envelope::MAGIC[0],
    crate::format::envelope::MAGIC[1],
    crate::format::envelope::FORMAT_V1,
];

/// The standard base64 of [`ENVELOPE_PREFIX`]: what every envelope in a TEXT column starts with.
const ENVELOPE_BASE64_PREFIX: &[u8] = b"RUYB";

/// Classifies `value` when migrating from `format`.
///
/// - A value with the layout of a v1 envelope, binary or (in a TEXT column) standard base64, is
///   [`StoredForm::Envelope`] or [`StoredForm::EnvelopeBase64`] whatever `format` is: it is never
///   taken for a legacy value, so a migration run twice does not encrypt twice.
/// - A value that starts like an envelope (`EF` and the format byte 1, or its base64 `RUYB`) but
///   does not have its layout, e.g. a truncated one, is an
///   [`Error::Malformed`](Error::Malformed): taking it for plaintext would wrap the damaged
///   envelope and later read it back as wrong plaintext instead of failing.
/// - Otherwise the value is [`StoredForm::Legacy`] when it has the shape of `format` (any value
///   does, for plaintext), else an [`Error::Legacy`](Error::Legacy) naming what was
///   expected. A Fernet token is never taken for a `node-cbc` value or the reverse.
///
/// Only the shape is judged: whether a legacy value authenticates is for [`read`] to say.
///
/// ```
/// use encrypted_field::legacy::{classify, LegacyFormat, StoredForm};
/// use encrypted_field::{KeyRing, MasterKey};
/// let ring = KeyRing::builder().key(1, MasterKey::generate()).build()?;
/// assert_eq!(classify(LegacyFormat::Plaintext, b"+1 555 0100")?, StoredForm::Legacy);
/// let sealed = ring.encrypt(b"x");
/// assert_eq!(classify(LegacyFormat::Plaintext, &sealed)?, StoredForm::Envelope);
/// assert!(classify(LegacyFormat::Plaintext, &sealed[..40]).is_err()); // a truncated envelope
/// assert!(classify(LegacyFormat::Fernet, b"+1 555 0100").is_err());
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn classify(format: LegacyFormat, value: &[u8]) -> Result<StoredForm> {
    if value.starts_with(&ENVELOPE_PREFIX) {
        return Envelope::parse(value).map(|_| StoredForm::Envelope);
    }
    let text = value.trim_ascii();
    if text.starts_with(ENVELOPE_BASE64_PREFIX) {
        // Text that starts with `RUYB` and is base64 decodes to bytes starting with the prefix.
        // Base64 text that does not decode (e.g. cut short by a VARCHAR limit) is a damaged
        // envelope, never plaintext to wrap; text with other characters is plaintext.
        let is_base64_text = text
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if is_base64_text {
            let bytes = decode_base64(text).ok_or(Error::Malformed(MalformedReason::NotBase64))?;
            return Envelope::parse(&bytes).map(|_| StoredForm::EnvelopeBase64);
        }
        // Other characters: plaintext that happens to start with those four letters.
    }
    let matches = match format {
        LegacyFormat::Plaintext => true,
        LegacyFormat::Fernet => fernet::looks_like_token(value),
        LegacyFormat::NodeCbc => node_cbc::looks_like_value(value),
    };
    if matches {
        Ok(StoredForm::Legacy)
    } else {
        Err(Error::Legacy {
            format,
            reason: match format {
                LegacyFormat::Fernet => {
                    "the value is neither a Fernet token nor a format-v1 envelope"
                }
                _ => "the value is neither hex(iv):hex(ciphertext) nor a format-v1 envelope",
            },
        })
    }
}

/// Reads a legacy value into its plaintext bytes with `key` (whose variant selects the format):
/// [`fernet::decrypt`], [`node_cbc::decrypt`], or the bytes as they are for plaintext. Call
/// [`classify`] first: `read` does not check whether the value is already a v1 envelope.
///
/// ```
/// use encrypted_field::legacy::{read, LegacyKey};
/// assert_eq!(read(&LegacyKey::None, b"078-05-1120")?, b"078-05-1120");
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn read(key: &LegacyKey, value: &[u8]) -> Result<Vec<u8>> {
    match key {
        LegacyKey::None => Ok(value.to_vec()),
        LegacyKey::Fernet(key) => fernet::decrypt(key, value),
        LegacyKey::NodeCbc(key) => node_cbc::decrypt(key, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::ring::KeyRing;

    #[test]
    fn a_key_equal_to_the_fernet_key_or_a_half_of_it_is_reuse() {
        let fernet = [7u8; 16].into_iter().chain([9u8; 16]).collect::<Vec<u8>>();
        let fernet_bytes: [u8; 32] = fernet.as_slice().try_into().unwrap();
        let text = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, fernet_bytes);
        let legacy = LegacyKey::from_base64(LegacyFormat::Fernet, &text, "t").unwrap();
        assert!(legacy.is_reused_as(&MasterKey::from_bytes(fernet_bytes)));
        let mut first_half = [1u8; 32];
        first_half[16..].copy_from_slice(&[7u8; 16]);
        assert!(legacy.is_reused_as(&MasterKey::from_bytes(first_half)));
        assert!(!legacy.is_reused_as(&MasterKey::from_bytes([1u8; 32])));
    }

    #[test]
    fn a_base64_envelope_cut_short_is_damaged_not_plaintext() {
        let ring = KeyRing::builder()
            .key(1, MasterKey::generate())
            .build()
            .unwrap();
        let text = ring.encrypt_to_base64(b"078-05-1120", "t.c");
        for len in [text.len() - 1, text.len() - 2, 50] {
            let cut = &text.as_bytes()[..len];
            assert!(
                matches!(
                    classify(LegacyFormat::Plaintext, cut),
                    Err(Error::Malformed(_))
                ),
                "cut to {len} characters"
            );
        }
    }
}
