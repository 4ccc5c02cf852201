//! Shared harness of the integration tests: the one process-wide key ring of a test binary,
//! connections to each backend (SQLite always; MySQL/MariaDB and PostgreSQL when their URL is set),
//! and the tables and models of every test (`schema`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod schema;

use std::sync::OnceLock;

use encrypted_field::testing::Backend;
use encrypted_field::{KeyRing, MasterKey};

/// The master key of version 1: the "old" key.
pub const KEY_V1: [u8; 32] = [0x11; 32];
/// The master key of version 2: the active key of the process-wide ring.
pub const KEY_V2: [u8; 32] = [0x22; 32];
/// A key the process-wide ring does not hold (version 3).
pub const KEY_V3: [u8; 32] = [0x33; 32];

/// Installs the process-wide ring of this test binary (versions 1 and 2, 2 active) the first time
/// it is called; every test calls it before touching an `Encrypted` value.
pub fn install_global_ring() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let ring = KeyRing::builder()
            .key(1, MasterKey::from_bytes(KEY_V1))
            .key(2, MasterKey::from_bytes(KEY_V2))
            .active(2)
            .build()
            .unwrap();
        encrypted_field::install(ring)
            .expect("nothing else installs the process-wide ring in this binary");
    });
}

/// A ring that holds only version 1: what wrote the rows before the rotation to version 2.
pub fn old_ring() -> KeyRing {
    KeyRing::builder()
        .key(1, MasterKey::from_bytes(KEY_V1))
        .build()
        .unwrap()
}

/// A ring whose only key (version 3) the process-wide ring does not hold.
pub fn unknown_ring() -> KeyRing {
    KeyRing::builder()
        .key(3, MasterKey::from_bytes(KEY_V3))
        .build()
        .unwrap()
}

/// A backend under test: its connection type, how to reach it, and the parts of its SQL dialect
/// the tests need.
pub trait TestBackend: diesel::Connection + Sized {
    /// Which backend this connection type talks to.
    const BACKEND: Backend;
    /// The type of a binary column large enough for a 4 KiB value's envelope.
    const BINARY: &'static str;
    /// The bind parameter placeholders of a statement with `n` parameters, e.g. `?, ?`.
    fn placeholders(n: usize) -> String {
        vec!["?"; n].join(", ")
    }

    /// A fresh connection, or `None` when the backend is not configured (see [`Backend::url`];
    /// SQLite's is in memory, so every connection is its own database).
    fn connect() -> Option<Self> {
        let url = Self::BACKEND.url()?;
        Some(
            diesel::Connection::establish(&url)
                .unwrap_or_else(|e| panic!("connecting to {}: {e}", Self::BACKEND.name())),
        )
    }
}

#[cfg(feature = "sqlite")]
impl TestBackend for diesel::SqliteConnection {
    const BACKEND: Backend = Backend::Sqlite;
    const BINARY: &'static str = "BLOB";
}

#[cfg(feature = "mysql")]
impl TestBackend for diesel::MysqlConnection {
    const BACKEND: Backend = Backend::Mysql;
    const BINARY: &'static str = "MEDIUMBLOB";
}

#[cfg(feature = "postgres")]
impl TestBackend for diesel::PgConnection {
    const BACKEND: Backend = Backend::Postgres;
    const BINARY: &'static str = "BYTEA";
    fn placeholders(n: usize) -> String {
        (1..=n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The `encrypted_field::Error` a Diesel error carries. Diesel boxes it in `SerializationError`
/// (whose `source()` skips it) or, through a `DeserializeFieldError`, in `DeserializationError`.
pub fn encrypted_field_error(error: &diesel::result::Error) -> &encrypted_field::Error {
    let mut current: Option<&(dyn std::error::Error + 'static)> = match error {
        diesel::result::Error::SerializationError(inner)
        | diesel::result::Error::DeserializationError(inner) => Some(&**inner),
        other => Some(other),
    };
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<encrypted_field::Error>() {
            return found;
        }
        current = e.source();
    }
    panic!("no encrypted_field::Error in: {error:?}");
}

/// The underlying cause of an `encrypted_field::Error`, looking through `Error::Column`.
pub fn root_cause(error: &encrypted_field::Error) -> &encrypted_field::Error {
    match error {
        encrypted_field::Error::Column { error, .. } => root_cause(error),
        other => other,
    }
}
