//! The scenarios on PostgreSQL (PG_DATABASE_URL).

type Conn = diesel::PgConnection;

#[allow(clippy::duplicate_mod)]
#[path = "scenarios.rs"]
mod scenarios;
