//! The scenarios on PostgreSQL (PG_DATABASE_URL), through `AsyncPgConnection`.

type Conn = diesel_async::AsyncPgConnection;

#[allow(clippy::duplicate_mod)]
#[path = "scenarios.rs"]
mod scenarios;

#[allow(clippy::duplicate_mod)]
#[path = "rotation.rs"]
mod rotation;
