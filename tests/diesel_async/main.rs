//! `Encrypted<T, C>` and `#[derive(EncryptedModel)]` models through diesel-async: the library's
//! `ToSql`/`FromSql` impls are for Diesel's `Sqlite`, `Mysql` and `Pg` backends, and diesel-async's
//! connections (`AsyncPgConnection`, `AsyncMysqlConnection`, `SyncConnectionWrapper<SqliteConnection>`)
//! reuse those backends, so the same types serve with no feature of their own. The same scenarios
//! (`scenarios.rs`, `rotation.rs`) run on every backend: SQLite always, MySQL/MariaDB and PostgreSQL
//! when their URL is set. Run with the root package's `diesel-async` feature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
mod readme;
mod schema;
#[cfg(feature = "sqlite")]
mod sqlite;

use diesel_async::AsyncConnection;
use encrypted_field::testing::Backend;
use encrypted_field::{BlindIndexKey, KeyRing, MasterKey};

/// The master keys of versions 1, 2 and 3.
const KEYS: [[u8; 32]; 3] = [[0x11; 32], [0x22; 32], [0x33; 32]];
/// The blind-index key.
const BLIND_INDEX_KEY: [u8; 32] = [0x44; 32];

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

/// A backend under test through diesel-async: its connection type, how to reach it, and the
/// parts of its SQL dialect the tests need.
trait AsyncBackend: AsyncConnection + 'static {
    /// Which backend this connection type talks to.
    const BACKEND: Backend;
    /// The type of a binary column.
    const BINARY: &'static str;
    /// The bind parameter placeholders of a statement with `n` parameters, e.g. `?, ?`.
    fn placeholders(n: usize) -> String {
        vec!["?"; n].join(", ")
    }
}

#[cfg(feature = "sqlite")]
impl AsyncBackend
    for diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::SqliteConnection>
{
    const BACKEND: Backend = Backend::Sqlite;
    const BINARY: &'static str = "BLOB";
}

#[cfg(feature = "mysql")]
impl AsyncBackend for diesel_async::AsyncMysqlConnection {
    const BACKEND: Backend = Backend::Mysql;
    const BINARY: &'static str = "MEDIUMBLOB";
}

#[cfg(feature = "postgres")]
impl AsyncBackend for diesel_async::AsyncPgConnection {
    const BACKEND: Backend = Backend::Postgres;
    const BINARY: &'static str = "BYTEA";
    fn placeholders(n: usize) -> String {
        (1..=n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs `test` on a current-thread tokio runtime with the process-wide ring installed and the
/// URL of `C`'s backend (SQLite's is `:memory:`), or returns when that backend is not configured
/// (and fails instead when `ENCRYPTED_FIELD_REQUIRE_BACKENDS=1`, as in CI).
fn run<C: AsyncBackend>(test: impl AsyncFnOnce(String)) {
    install_ring();
    let Some(url) = C::BACKEND.url() else { return };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds")
        .block_on(test(url));
}

/// A new async connection to `url`.
async fn connect<C: AsyncBackend>(url: &str) -> C {
    C::establish(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", C::BACKEND.name()))
}
