//! # encrypted-field
//!
//! Field-level encryption at rest for Diesel models, with online key rotation.
//!
//! Sensitive columns are stored as authenticated ciphertext (format v1: AES-256-CBC and
//! HMAC-SHA256, encrypt-then-MAC, with subkeys derived by HKDF-SHA256 from a versioned 32-byte
//! master key) and read back as plaintext. Keys are versioned: the version is written into every
//! value, so values under old and new keys coexist while a rotation rewrites them.
//!
//! ```
//! use encrypted_field::{KeyRing, MasterKey};
//!
//! // Keys come from the environment in production (`KeyRing::from_env`); here, from code.
//! let ring = KeyRing::builder().key(1, MasterKey::generate()).build()?;
//! let stored = ring.encrypt_with_context(b"+1 555 0100", "phone_requests.phone_number");
//! assert!(!stored.windows(4).any(|w| w == b"0100"));  // the database never sees the plaintext
//! let read = ring.decrypt_with_context(&stored, "phone_requests.phone_number")?;
//! assert_eq!(read, b"+1 555 0100");
//! # Ok::<(), encrypted_field::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[doc(hidden)]
pub mod __private;
#[cfg(all(
    feature = "_database",
    not(any(feature = "sqlite", feature = "mysql", feature = "postgres"))
))]
compile_error!(
    "encrypted-field: the `cli`, `webhook` and `email` features need a database backend: \
     enable `sqlite`, `mysql` or `postgres` as well"
);

pub mod blind_index;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "_database")]
pub mod database;
#[cfg(feature = "_database")]
pub mod diesel;
pub mod envelope;
mod error;
mod global;
#[cfg(feature = "json")]
mod json;
mod key;
mod key_source;
mod keyring;
mod keys_dir;
pub mod legacy;
pub mod model;
#[cfg(feature = "_database")]
pub mod notify;
mod plaintext;
#[cfg(feature = "_database")]
pub mod rotation;
mod secret_file;
#[cfg(feature = "testing")]
pub mod testing;

pub use blind_index::{BlindIndexKey, Normalizer, normalize};
pub use error::{BadKeyReason, Error, MalformedReason, Result};
pub use global::{decrypt, decrypt_with_context, encrypt, encrypt_with_context, global, install};
#[cfg(feature = "json")]
pub use json::Json;
pub use key::{KEY_LEN, KeyVersion, MasterKey};
pub use key_source::EnvVars;
pub use keyring::{KeyRing, KeyRingBuilder};
pub use keys_dir::{ACTIVE_VERSION_FILE, KeyFile, KeysDir};
pub use plaintext::Plaintext;
// The derive (feature `derive`) and the trait of the same name, as serde does.
#[cfg(feature = "derive")]
pub use encrypted_field_derive::EncryptedModel;
pub use model::EncryptedModel;
