//! The scenarios on MySQL/MariaDB (MYSQL_DATABASE_URL).

type Conn = diesel::MysqlConnection;

#[allow(clippy::duplicate_mod)]
#[path = "scenarios.rs"]
mod scenarios;
