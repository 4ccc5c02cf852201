//! `Encrypted<T>` columns through Diesel: the same scenarios (`scenarios.rs`) run on every
//! backend, SQLite always, MySQL/MariaDB and PostgreSQL when their URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
/// The moto server as AWS KMS, for the wrapped-ring scenario.
#[cfg(feature = "aws-kms")]
#[allow(dead_code)]
#[path = "../../encrypted-field/tests/wrapped_keys/moto.rs"]
mod moto;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;
