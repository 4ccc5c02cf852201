//! The scenarios on MySQL/MariaDB (MYSQL_DATABASE_URL), through `AsyncMysqlConnection`.

type Conn = diesel_async::AsyncMysqlConnection;

#[allow(clippy::duplicate_mod)]
#[path = "scenarios.rs"]
mod scenarios;

#[allow(clippy::duplicate_mod)]
#[path = "rotation.rs"]
mod rotation;
