//! The scenarios on MySQL/MariaDB (MYSQL_DATABASE_URL), through sqlx's `MySql` driver.

type Db = sqlx::MySql;

#[allow(clippy::duplicate_mod)]
#[path = "scenarios.rs"]
mod scenarios;

#[allow(clippy::duplicate_mod)]
#[path = "rotation.rs"]
mod rotation;
