//! The scenarios on SQLite, through sqlx's `Sqlite` driver.

type Db = sqlx::Sqlite;

#[allow(clippy::duplicate_mod)]
#[path = "scenarios.rs"]
mod scenarios;

#[allow(clippy::duplicate_mod)]
#[path = "rotation.rs"]
mod rotation;
