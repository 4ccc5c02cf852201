//! Legacy formats, read (never written) so that data the replaced systems stored can be migrated
//! into format v1: Fernet tokens (the Django module), `hex(iv):hex(ciphertext)` AES-256-CBC (the
//! Node backend), and plaintext.

use std::fmt;

pub mod fernet;
pub mod node_cbc;

/// A format this crate reads only to migrate from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LegacyFormat {
    /// Values not yet encrypted.
    Plaintext,
    /// Fernet tokens, as Python's `cryptography` writes them.
    Fernet,
    /// `hex(iv):hex(ciphertext)`, AES-256-CBC with PKCS#7, as the Node backend writes them.
    NodeCbc,
}

impl fmt::Display for LegacyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Plaintext => "plaintext",
            Self::Fernet => "fernet",
            Self::NodeCbc => "node-cbc",
        })
    }
}

impl std::str::FromStr for LegacyFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "plaintext" => Ok(Self::Plaintext),
            "fernet" => Ok(Self::Fernet),
            "node-cbc" => Ok(Self::NodeCbc),
            other => Err(format!(
                "unknown legacy format `{other}` (expected plaintext, fernet or node-cbc)"
            )),
        }
    }
}

/// The key a legacy format is read with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LegacyKey {
    /// Plaintext needs no key.
    None,
    /// A Fernet key (url-safe base64 of 32 bytes).
    Fernet(fernet::FernetKey),
    /// The Node backend's AES-256 key (standard base64 of 32 bytes).
    NodeCbc(crate::MasterKey),
}

impl LegacyKey {
    /// Parses the key text of `format`; `origin` names where it came from, for errors.
    pub fn from_base64(format: LegacyFormat, text: &str, origin: &str) -> crate::Result<Self> {
        match format {
            LegacyFormat::Plaintext => Ok(Self::None),
            LegacyFormat::Fernet => fernet::FernetKey::from_base64(text, origin).map(Self::Fernet),
            LegacyFormat::NodeCbc => crate::MasterKey::from_base64(text, origin).map(Self::NodeCbc),
        }
    }

    /// Reads the key file of `format` (nothing is read for plaintext).
    pub fn from_file(format: LegacyFormat, path: &std::path::Path) -> crate::Result<Self> {
        if format == LegacyFormat::Plaintext {
            return Ok(Self::None);
        }
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| crate::Error::BadKey {
                origin: origin.clone(),
                reason: crate::BadKeyReason::Unreadable(e.to_string()),
            })?;
        Self::from_base64(format, &text, &origin)
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

/// Classifies `value` when migrating from `format`. A value that has the layout of a v1 envelope
/// is never taken for a legacy one; a value that is neither is a [`Error::Legacy`] naming what was
/// expected (except for plaintext, which is anything else).
///
/// ```
/// use encrypted_field::legacy::{classify, LegacyFormat, StoredForm};
/// use encrypted_field::{KeyRing, MasterKey};
/// let ring = KeyRing::builder().key(1, MasterKey::generate()).build()?;
/// assert_eq!(classify(LegacyFormat::Plaintext, b"+1 555 0100")?, StoredForm::Legacy);
/// assert_eq!(classify(LegacyFormat::Plaintext, &ring.encrypt(b"x"))?, StoredForm::Envelope);
/// assert!(classify(LegacyFormat::Fernet, b"+1 555 0100").is_err());
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn classify(format: LegacyFormat, value: &[u8]) -> crate::Result<StoredForm> {
    if crate::envelope::is_envelope(value) {
        return Ok(StoredForm::Envelope);
    }
    if value.starts_with(b"RUYB")
        && crate::keyring::decode_base64_bytes(value)
            .is_some_and(|bytes| crate::envelope::is_envelope(&bytes))
    {
        return Ok(StoredForm::EnvelopeBase64);
    }
    let matches = match format {
        LegacyFormat::Plaintext => true,
        LegacyFormat::Fernet => fernet::looks_like_token(value),
        LegacyFormat::NodeCbc => node_cbc::looks_like_value(value),
    };
    if matches {
        Ok(StoredForm::Legacy)
    } else {
        Err(crate::Error::Legacy {
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

/// Reads a legacy value into its plaintext bytes with `key` (whose variant selects the format).
///
/// ```
/// use encrypted_field::legacy::{read, LegacyKey};
/// assert_eq!(read(&LegacyKey::None, b"078-05-1120")?, b"078-05-1120");
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn read(key: &LegacyKey, value: &[u8]) -> crate::Result<Vec<u8>> {
    match key {
        LegacyKey::None => Ok(value.to_vec()),
        LegacyKey::Fernet(key) => fernet::decrypt(key, value),
        LegacyKey::NodeCbc(key) => node_cbc::decrypt(key, value),
    }
}
