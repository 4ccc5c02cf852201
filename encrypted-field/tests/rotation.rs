//! The rotation engine on real databases: SQLite always (a temporary file), MariaDB/MySQL from
//! `MYSQL_DATABASE_URL` and PostgreSQL from `PG_DATABASE_URL` when the `mysql` / `postgres`
//! features are on. Every scenario body runs once per backend (`<module>::<backend>::<scenario>`).
//!
//! A server whose URL is not set is skipped (`skipped: set X` is printed) unless
//! `ENCRYPTED_FIELD_REQUIRE_BACKENDS=1`, as in CI, where that fails. Each test creates its own
//! tables (`rt_<name>_<random>`, dropped at its end), so tests run in parallel; rotations on one
//! server take turns for the database-wide rotation lock.
//!
//! Tables are created and filled with plain SQL and checked by reading the stored bytes back, so
//! nothing of the engine under test is trusted to set up or judge a scenario.
#![cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "rotation/support.rs"]
mod support;

#[path = "rotation/batches.rs"]
mod batches;
#[cfg(feature = "derive")]
#[path = "rotation/blind_index_versions.rs"]
mod blind_index_versions;
#[path = "rotation/concurrency.rs"]
mod concurrency;
#[path = "rotation/failures.rs"]
mod failures;
#[path = "rotation/kept.rs"]
mod kept;
#[path = "rotation/lease.rs"]
mod lease;
#[path = "rotation/migrate.rs"]
mod migrate;
#[cfg(feature = "derive")]
#[path = "rotation/reindex.rs"]
mod reindex;
#[path = "rotation/resume.rs"]
mod resume;
#[path = "rotation/rotate.rs"]
mod rotate;
#[cfg(feature = "derive")]
#[path = "rotation/row_bound.rs"]
mod row_bound;
#[path = "rotation/unique_keys.rs"]
mod unique_keys;
#[path = "rotation/verify.rs"]
mod verify;
#[path = "rotation/workers.rs"]
mod workers;
