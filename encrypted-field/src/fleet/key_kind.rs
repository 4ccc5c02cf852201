//! Which keys a fleet-wide activation is about, and the metadata names its record is kept under
//! in `encrypted_field_metadata` (a leaf: the fleet's functions and `rotation::Error` name it).

use serde::Serialize;

/// The metadata name of the fleet-wide active version (its value: the number).
pub const ACTIVE_VERSION_RECORD: &str = "active_key_version";

/// The metadata name of who activated it and when (`vN at TIME by WHO`).
pub const ACTIVATED_BY_RECORD: &str = "active_key_version_activated";

/// The metadata name of the fleet-wide active blind-index version (its value: the number).
pub const ACTIVE_BLIND_INDEX_VERSION_RECORD: &str = "active_blind_index_version";

/// The metadata name of who activated the blind-index version and when (`vN at TIME by WHO`).
pub const BLIND_INDEX_ACTIVATED_BY_RECORD: &str = "active_blind_index_version_activated";

/// Which keys a fleet-wide activation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// The encryption keys (`enc_key_vN`): the version new values are sealed with.
    Encryption,
    /// The blind-index keys (`bidx_key_vN`): the version new blind indexes are computed with.
    BlindIndex,
}

impl KeyKind {
    /// The metadata names of its active version and of who activated it.
    pub(crate) fn records(self) -> (&'static str, &'static str) {
        match self {
            Self::Encryption => (ACTIVE_VERSION_RECORD, ACTIVATED_BY_RECORD),
            Self::BlindIndex => (
                ACTIVE_BLIND_INDEX_VERSION_RECORD,
                BLIND_INDEX_ACTIVATED_BY_RECORD,
            ),
        }
    }
}

/// `key version v2` or `blind-index key version v2`.
impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Encryption => "key",
            Self::BlindIndex => "blind-index key",
        })
    }
}
