//! Everything about keys beyond the everyday [`KeyRing`], [`MasterKey`] and [`KeyVersion`]
//! (which the crate root re-exports): building a ring in code, the environment and keys-directory
//! sources, backups of a ring, and retired key files.
//!
//! ```
//! use encrypted_field::keys::KeysDir;
//! let tmp = tempfile::tempdir()?;
//! let keys = KeysDir::new(tmp.path());
//! keys.add(true)?; // enc_key_v1, active
//! assert_eq!(keys.load(None)?.active_version().get(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Inside the crate the files are layered, from the bottom: `version`, `os_random` and
//! `master_key` need nothing but the error type; the format layer (`crate::format`) builds on
//! them; `ring` seals and opens with the format; the sources (`env`, `dir`), `global` and
//! `backup` build rings.

pub(crate) mod blind_index_dir;
pub(crate) mod blind_index_keys;
pub(crate) mod dir;
pub(crate) mod env;
pub(crate) mod global;
#[cfg(feature = "_database")]
pub(crate) mod iv_pool;
pub(crate) mod master_key;
pub(crate) mod os_random;
pub(crate) mod reload;
#[cfg(feature = "_database")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres")))
)]
pub(crate) mod retire;
pub(crate) mod ring;
pub(crate) mod secret_file;
pub(crate) mod version;
mod version_setting;
#[cfg(feature = "key-wrapping")]
#[cfg_attr(docsrs, doc(cfg(feature = "key-wrapping")))]
pub mod wrap;

#[cfg(feature = "_database")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres")))
)]
pub(crate) mod backup;

#[cfg(feature = "_database")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres")))
)]
pub use backup::{BACKUP_FORMAT, check_backup_dir, restore_ring, write_backup};
pub use blind_index_dir::ACTIVE_BLIND_INDEX_VERSION_FILE;
pub use dir::{ACTIVE_VERSION_FILE, KeyFile, KeysDir};
pub use env::EnvVars;
pub use global::{DEFAULT_RELOAD_INTERVAL, RELOAD_INTERVAL_VAR};
pub use master_key::{KEY_LEN, MasterKey};
pub use reload::{FleetActive, ReloadOutcome};
#[cfg(feature = "_database")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres")))
)]
pub use retire::{RETIRED_DIR, RetiredKey};
pub use ring::{KeyRing, KeyRingBuilder};
pub use version::KeyVersion;
