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
            other => Err(format!("unknown legacy format `{other}` (expected plaintext, fernet or node-cbc)")),
        }
    }
}
