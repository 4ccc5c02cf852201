//! The typed plaintexts (`chrono`, `time`, `uuid`, `rust_decimal`) in real columns, through
//! `Encrypted<T, C>` and `#[derive(EncryptedModel)]`: round trips, a column written with `chrono`
//! read with `time` and back, and no plaintext in what the database holds. The same scenarios
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
