//! The scenarios on SQLite, through `SyncConnectionWrapper<SqliteConnection>`.

type Conn = diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::SqliteConnection>;

#[allow(clippy::duplicate_mod)]
#[path = "scenarios.rs"]
mod scenarios;

#[allow(clippy::duplicate_mod)]
#[path = "rotation.rs"]
mod rotation;
