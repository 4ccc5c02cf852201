//! The scenarios on SQLite.

type Conn = diesel::SqliteConnection;

#[allow(clippy::duplicate_mod)]
#[path = "scenarios.rs"]
mod scenarios;
