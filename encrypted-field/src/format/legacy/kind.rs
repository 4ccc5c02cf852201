//! [`LegacyFormat`]: the names of the formats read for migration. Needs nothing else, so the
//! error type can name the format a value failed in.

use std::fmt;

/// A format this crate reads only to migrate from it.
///
/// Named on the command line (`encrypted-field migrate --from …`) as it displays:
///
/// ```
/// use encrypted_field::legacy::LegacyFormat;
/// assert_eq!("node-cbc".parse::<LegacyFormat>(), Ok(LegacyFormat::NodeCbc));
/// assert_eq!(LegacyFormat::Fernet.to_string(), "fernet");
/// assert!("aes".parse::<LegacyFormat>().unwrap_err().contains("plaintext, fernet or node-cbc"));
/// ```
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
