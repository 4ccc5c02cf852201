//! The scenarios on PostgreSQL (PG_DATABASE_URL), through sqlx's `Postgres` driver.

type Db = sqlx::Postgres;

#[allow(clippy::duplicate_mod)]
#[path = "scenarios.rs"]
mod scenarios;

#[allow(clippy::duplicate_mod)]
#[path = "rotation.rs"]
mod rotation;
