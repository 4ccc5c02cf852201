//! The stored formats, built on the key material alone (`crate::keys::master_key`): the v1
//! envelope, blind indexes, the legacy formats read for migration, the byte layout of a stored
//! value in a BINARY or TEXT column, and the plaintext types.

pub mod blind_index;
pub(crate) mod blind_index_layout;
pub(crate) mod context;
pub mod envelope;
#[cfg(feature = "json")]
pub(crate) mod json;
pub(crate) mod layout;
pub mod legacy;
pub(crate) mod plaintext;
pub(crate) mod row_context;
pub(crate) mod row_key;
pub(crate) mod stored;
