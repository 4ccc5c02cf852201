//! Everything about keys: the key material and its version number, the ring that holds the
//! versions, where keys come from (the environment, a keys directory), the process-wide ring,
//! backups of a ring, and retiring a version's file.
//!
//! The layers, from the bottom: [`version`] and [`master_key`] need nothing but the error type;
//! the format layer (`crate::format`) builds on them; [`ring`] seals and opens with the format;
//! the sources ([`env`], [`dir`]), [`global`] and [`backup`] build rings.

pub(crate) mod dir;
pub(crate) mod env;
pub(crate) mod global;
pub(crate) mod master_key;
pub(crate) mod os_random;
#[cfg(feature = "_database")]
pub(crate) mod retire;
pub(crate) mod ring;
pub(crate) mod secret_file;
pub(crate) mod version;
mod version_setting;

#[cfg(feature = "_database")]
pub(crate) mod backup;
