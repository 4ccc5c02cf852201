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
//!
//! # Where things are
//!
//! - `Encrypted<T, C>` (also `diesel::Encrypted`) and `#[derive(EncryptedModel)]`: the encrypted
//!   columns of an application's Diesel models; `sqlx` (feature `sqlx`): the same type, and
//!   `sqlx::EncryptedText<T, C>` for text columns, in sqlx's queries and `FromRow` structs.
//! - [`KeyRing`], [`MasterKey`], [`KeyVersion`], the process-wide ring ([`install`], [`global`]) and
//!   [`keys`]: keys, where they come from (the environment, a keys directory), backups.
//! - `rotation`: rotation, migration, reindexing, verification and status, for operators; what
//!   can go wrong there is a `rotation::Error`, which wraps this crate's [`Error`].
//! - `cli` (feature `cli`): the `encrypted-field` subcommands, to embed in an application's tool.
//! - [`envelope`], [`blind_index`], [`legacy`]: the stored formats, as `FORMAT.md` specifies them.
#![forbid(unsafe_code)]
// docs.rs (nightly, `--cfg docsrs`): a badge on each item naming the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
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

#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod cli;
mod codec;
#[cfg(feature = "_diesel")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "sqlite",
        feature = "mysql",
        feature = "postgres",
        feature = "postgres-backend",
        feature = "mysql-backend"
    )))
)]
pub mod diesel;
#[cfg(any(feature = "_diesel", feature = "sqlx"))]
mod encrypted;
mod error;
#[cfg(feature = "_database")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres")))
)]
pub mod fleet;
mod format;
pub mod keys;
pub mod model;
#[cfg(feature = "_database")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres")))
)]
pub mod notify;
#[cfg(feature = "_database")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres")))
)]
pub mod rotation;
#[cfg(feature = "sqlx")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx")))]
pub mod sqlx;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

// The encrypted column type, for Diesel and sqlx alike (also at `diesel::` and `sqlx::`).
pub use blind_index::{BlindIndexKey, Normalizer, normalize};
#[cfg(any(feature = "_diesel", feature = "sqlx"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "sqlite",
        feature = "mysql",
        feature = "postgres",
        feature = "postgres-backend",
        feature = "mysql-backend",
        feature = "sqlx"
    )))
)]
pub use encrypted::{ColumnContext, Encrypted, NoContext, RowBound};
pub use error::{BadKeyReason, Error, MalformedReason, Result};
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub use format::json::Json;
pub use format::plaintext::Plaintext;
pub use format::row_key::{AsRowKey, RowKey};
pub use format::{blind_index, envelope, legacy};
pub use keys::global::{
    decrypt, decrypt_with_context, encrypt, encrypt_with_context, global, install, install_loader,
    reload,
};
pub use keys::reload::ReloadOutcome;
pub use keys::{KeyRing, KeyVersion, MasterKey};
// The derive (feature `derive`) and the trait of the same name, as serde does.
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use encrypted_field_derive::EncryptedModel;
pub use model::EncryptedModel;
