//! `Encrypted<T>` columns through Diesel: the same scenarios (`scenarios.rs`) run on every
//! backend, SQLite always, MySQL/MariaDB and PostgreSQL when their URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;
