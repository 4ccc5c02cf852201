//! `Encrypted<T, C>` (binary columns) and `EncryptedText<T, C>` (text columns) through sqlx: in
//! `FromRow` structs read by `query_as`, as bind parameters, `NULL` as `None`, with typed
//! plaintexts (`String`, `i64`, `chrono::NaiveDate`); decode errors that name the column and the
//! reason; and rotation, verification, status and migration on rows sqlx wrote, read back
//! through sqlx afterwards. The same scenarios (`scenarios.rs`, `rotation.rs`) run on every
//! backend: SQLite always, MySQL/MariaDB and PostgreSQL when their URL is set. Run with the root
//! package's `sqlx` feature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod readme;
#[cfg(feature = "sqlite")]
mod sqlite;

use encrypted_field::testing::Backend;
use encrypted_field::{BlindIndexKey, KeyRing, MasterKey};

/// The master keys of versions 1, 2 and 3.
const KEYS: [[u8; 32]; 3] = [[0x51; 32], [0x52; 32], [0x53; 32]];
/// The blind-index key.
const BLIND_INDEX_KEY: [u8; 32] = [0x54; 32];

/// A ring of versions 1 to 3 with `active` active, and the blind-index key.
fn ring(active: u32) -> KeyRing {
    let mut builder = KeyRing::builder();
    for (version, key) in (1..).zip(KEYS) {
        builder = builder.key(version, MasterKey::from_bytes(key));
    }
    builder
        .active(active)
        .blind_index_key(BlindIndexKey::new(MasterKey::from_bytes(BLIND_INDEX_KEY)))
        .build()
        .expect("invariant: three distinct keys and a blind-index key make a valid ring")
}

/// Installs the process-wide ring once for the whole binary, as an application does at start-up:
/// versions 1 to 3, version 2 active (version 3 is loaded, ready for the rotation to it).
fn install_ring() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        encrypted_field::install(ring(2)).expect("invariant: installed once per test binary");
    });
}

/// A sqlx database under test: how to reach it, and the parts of its SQL dialect the tests need.
trait SqlxBackend: sqlx::Database {
    /// Which backend this is.
    const BACKEND: Backend;
    /// The type of a binary column.
    const BINARY: &'static str;
    /// The type of a 64-bit integer primary key.
    const BIGINT: &'static str;
    /// The bind parameter placeholders of a statement with `n` parameters, e.g. `?, ?`.
    fn placeholders(n: usize) -> String {
        vec!["?"; n].join(", ")
    }
    /// sqlx's URL of the SQLite file `path` (created if missing); unused on the servers.
    fn sqlite_file_url(path: &str) -> String {
        format!("sqlite://{path}?mode=rwc")
    }
}

#[cfg(feature = "sqlite")]
impl SqlxBackend for sqlx::Sqlite {
    const BACKEND: Backend = Backend::Sqlite;
    const BINARY: &'static str = "BLOB";
    // SQLite's rowid alias: only `INTEGER PRIMARY KEY` spelled so.
    const BIGINT: &'static str = "INTEGER";
}

#[cfg(feature = "mysql")]
impl SqlxBackend for sqlx::MySql {
    const BACKEND: Backend = Backend::Mysql;
    const BINARY: &'static str = "MEDIUMBLOB";
    const BIGINT: &'static str = "BIGINT";
}

#[cfg(feature = "postgres")]
impl SqlxBackend for sqlx::Postgres {
    const BACKEND: Backend = Backend::Postgres;
    const BINARY: &'static str = "BYTEA";
    const BIGINT: &'static str = "BIGINT";
    fn placeholders(n: usize) -> String {
        (1..=n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs `test` on a current-thread tokio runtime with the process-wide ring installed and the
/// URL of `DB`'s backend (SQLite's is `:memory:`), or returns when that backend is not configured
/// (and fails instead when `ENCRYPTED_FIELD_REQUIRE_BACKENDS=1`, as in CI).
fn run<DB: SqlxBackend>(test: impl AsyncFnOnce(String)) {
    install_ring();
    let Some(url) = DB::BACKEND.url() else { return };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds")
        .block_on(test(url));
}

/// A new connection to `url`.
async fn connect<DB: SqlxBackend>(url: &str) -> DB::Connection {
    <DB::Connection as sqlx::Connection>::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", DB::BACKEND.name()))
}
