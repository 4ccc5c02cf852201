//! `#[derive(EncryptedModel)]` on a real Diesel model: rows written with the generated setters,
//! read back with the getters, found through blind indexes, updated through `AsChangeset`, and
//! described by a `ModelSpec` whose names are the real columns. The same scenarios
//! (`scenarios.rs`) run on every backend: SQLite always, MySQL/MariaDB and PostgreSQL when their
//! URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

use encrypted_field::{BlindIndexKey, KeyRing, MasterKey};

/// The ring every scenario uses: one key and a blind-index key.
fn ring() -> KeyRing {
    KeyRing::builder()
        .key(1, MasterKey::from_bytes([3; 32]))
        .blind_index_key(BlindIndexKey::new(MasterKey::from_bytes([4; 32])))
        .build()
        .expect("invariant: a ring of one key and a distinct blind-index key is valid")
}

/// Installs [`ring`] as the process-wide ring, once for the whole binary (every backend's
/// scenarios share the process), as an application does at start-up.
fn install_ring() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        encrypted_field::install(ring()).expect("invariant: installed once per test binary");
    });
}
