//! The database: where it is (`DATABASE_URL`, or `phone_requests.sqlite3` in the current
//! directory), the application's connection whatever its backend, and its schema, brought up to
//! date by the embedded migrations every time the application connects.
//!
//! The backend is chosen from the URL at run time: the application's [`Connection`] holds one of
//! Diesel's connections, and [`with_connection!`] runs the same Diesel code on whichever one it
//! is. The library's own connection (`encrypted_field::rotation::database::Database`) stays inside the
//! library: the embedded `encryption` commands open it from the same URL.

use std::path::{Path, PathBuf};

use diesel::Connection as _;
use diesel::{RunQueryDsl as _, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use encrypted_field::rotation::database::DatabaseUrl;

use crate::error::AppError;

/// The database used when `DATABASE_URL` is not set: a SQLite file in the current directory.
pub const DEFAULT_DATABASE: &str = "phone_requests.sqlite3";

/// The development keys directory's name, beside the database.
const DEV_KEYS_DIR: &str = "phone_requests-keys";

/// How long a SQLite statement waits for another connection's write (a rotation running beside
/// the application) before failing.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

const SQLITE_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("examples/phone_requests/migrations/sqlite");
#[cfg(feature = "mysql")]
const MYSQL_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("examples/phone_requests/migrations/mysql");
#[cfg(feature = "postgres")]
const POSTGRES_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("examples/phone_requests/migrations/postgres");

/// The application's connection, to the backend its URL names (those this example was built
/// with).
pub enum Connection {
    /// SQLite (always built: the embedded default).
    Sqlite(SqliteConnection),
    /// MySQL or MariaDB (feature `mysql`).
    #[cfg(feature = "mysql")]
    Mysql(diesel::MysqlConnection),
    /// PostgreSQL (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(diesel::PgConnection),
}

/// Runs `$body` with `$conn` bound to the Diesel connection of a [`Connection`], whatever its
/// backend: the body is compiled once per backend.
macro_rules! with_connection {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::db::Connection::Sqlite($conn) => $body,
            #[cfg(feature = "mysql")]
            $crate::db::Connection::Mysql($conn) => $body,
            #[cfg(feature = "postgres")]
            $crate::db::Connection::Postgres($conn) => $body,
        }
    };
}
pub(crate) use with_connection;

/// Where the database is.
#[derive(Debug, Clone)]
pub struct Location {
    /// The URL as given (it may hold a password: print [`redacted`](Self::redacted) instead).
    url: String,
    parsed: DatabaseUrl,
}

impl Location {
    /// `DATABASE_URL`, or [`DEFAULT_DATABASE`] when it is not set.
    pub fn from_env() -> Result<Self, AppError> {
        let url = match std::env::var("DATABASE_URL") {
            Ok(url) => url,
            Err(std::env::VarError::NotPresent) => DEFAULT_DATABASE.to_owned(),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(AppError::usage("DATABASE_URL is not valid UTF-8"));
            }
        };
        let parsed = DatabaseUrl::parse(&url)
            .map_err(|e| AppError::usage(format!("reading DATABASE_URL: {e}")))?;
        Ok(Self { url, parsed })
    }

    /// The URL, as the library's commands take it with `--database-url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL with any password hidden, for messages.
    pub fn redacted(&self) -> String {
        self.parsed.redacted()
    }

    /// Where the example keeps its development keys: beside a SQLite file, else in the current
    /// directory.
    pub fn dev_keys_dir(&self) -> PathBuf {
        match &self.parsed {
            DatabaseUrl::Sqlite(Some(path)) => path
                .parent()
                .unwrap_or_else(|| Path::new(""))
                .join(DEV_KEYS_DIR),
            _ => PathBuf::from(DEV_KEYS_DIR),
        }
    }

    /// Connects, creating a SQLite file (and its directory) if it does not exist yet, and applies
    /// the migrations that have not run.
    pub fn open(&self) -> Result<Connection, AppError> {
        if let DatabaseUrl::Sqlite(Some(path)) = &self.parsed
            && let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                AppError::usage(format!("creating directory {}: {e}", dir.display()))
            })?;
        }
        let mut db = self
            .connect()
            .map_err(|e| AppError::usage(format!("connecting to {}: {e}", self.redacted())))?;
        migrate(&mut db).map_err(|e| {
            AppError::usage(format!("migrating the schema of {}: {e}", self.redacted()))
        })?;
        Ok(db)
    }

    /// The connection the URL names, as it is (no directory created, no migration): what
    /// `serve`'s pool opens once [`open`](Self::open) has prepared the database.
    pub fn connect(&self) -> Result<Connection, BoxError> {
        Ok(match &self.parsed {
            DatabaseUrl::Sqlite(path) => {
                let path = path
                    .as_deref()
                    .map_or_else(|| ":memory:".into(), Path::to_string_lossy);
                let mut conn = SqliteConnection::establish(&path)?;
                diesel::sql_query(format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"))
                    .execute(&mut conn)?;
                Connection::Sqlite(conn)
            }
            #[cfg(feature = "mysql")]
            DatabaseUrl::Mysql(url) => Connection::Mysql(diesel::MysqlConnection::establish(url)?),
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres(url) => {
                Connection::Postgres(diesel::PgConnection::establish(url)?)
            }
            #[allow(unreachable_patterns)]
            _ => {
                let feature = match self.parsed {
                    DatabaseUrl::Mysql(_) => "mysql",
                    _ => "postgres",
                };
                return Err(format!(
                    "this example was built without support for {feature} (build it with \
                     `--features {feature}`)"
                )
                .into());
            }
        })
    }
}

/// Any error of connecting or migrating.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Applies the pending embedded migrations of the connection's backend.
fn migrate(db: &mut Connection) -> Result<(), BoxError> {
    match db {
        Connection::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS).map(drop),
        #[cfg(feature = "mysql")]
        Connection::Mysql(conn) => conn.run_pending_migrations(MYSQL_MIGRATIONS).map(drop),
        #[cfg(feature = "postgres")]
        Connection::Postgres(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop),
    }
}
