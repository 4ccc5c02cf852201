//! Rotation on the topologies production runs: PostgreSQL behind PgBouncer in transaction pooling
//! mode, a three-node MariaDB Galera cluster, and a PostgreSQL streaming replica. `.ci/run`
//! starts them with `.ci/topologies/*.sh` (a developer runs the same scripts) and sets
//! `PGBOUNCER_DATABASE_URL`, `PG_DATABASE_URL` (PgBouncer's server, direct),
//! `GALERA_NODE{1,2,3}_URL` and `PG_REPLICA_DATABASE_URL`.
//!
//! A test whose URL is not set is skipped (`skipped: set X` is printed) unless
//! `ENCRYPTED_FIELD_REQUIRE_BACKENDS=1`, as in CI, where that fails. Each test creates its own
//! tables (`topo_<name>_<random>`, dropped at its end).
//!
//! ```sh
//! eval "$(.ci/topologies/pgbouncer.sh)"; eval "$(.ci/topologies/galera.sh)"; eval "$(.ci/topologies/pg-replica.sh)"
//! cargo test -p encrypted-field --features mysql,postgres --test topologies
//! ```
//!
//! The lock across topologies is the rotation lease: two rotations through PgBouncer, a second
//! rotation on another Galera node, a killed holder's takeover through PgBouncer, certification
//! conflicts retried inside the run.
#![cfg(any(feature = "mysql", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(all(feature = "cli", feature = "postgres", unix))]
#[path = "support/binary.rs"]
mod binary;
#[path = "topologies/support.rs"]
mod support;

#[cfg(feature = "mysql")]
#[path = "topologies/galera.rs"]
mod galera;
#[cfg(feature = "postgres")]
#[path = "topologies/pg_replica.rs"]
mod pg_replica;
#[cfg(feature = "postgres")]
#[path = "topologies/pgbouncer.rs"]
mod pgbouncer;
