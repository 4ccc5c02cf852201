//! The database: where it is (`DATABASE_URL`, or `phone_requests.sqlite3` in the current
//! directory), the connection whatever its backend, and its schema, brought up to date by the
//! embedded migrations every time the application connects.
//!
//! The backend is chosen from the URL at run time: the connection is the library's
//! [`Database`], an enum over Diesel's connections, and [`with_connection!`] runs the same Diesel
//! code on whichever one it holds.

use std::path::{Path, PathBuf};

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use encrypted_field::database::{Database, DatabaseUrl};

use crate::error::AppError;

/// The database used when `DATABASE_URL` is not set: a SQLite file in the current directory.
pub const DEFAULT_DATABASE: &str = "phone_requests.sqlite3";

/// The development keys directory's name, beside the database.
const DEV_KEYS_DIR: &str = "phone_requests-keys";

const SQLITE_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("examples/phone_requests/migrations/sqlite");
#[cfg(feature = "mysql")]
const MYSQL_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("examples/phone_requests/migrations/mysql");
#[cfg(feature = "postgres")]
const POSTGRES_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("examples/phone_requests/migrations/postgres");

/// Runs `$body` with `$conn` bound to the Diesel connection inside a [`Database`], whatever its
/// backend: the body is compiled once per backend. `$body` is a `Result<_, AppError>`.
macro_rules! with_connection {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            ::encrypted_field::database::Database::Sqlite($conn, _) => $body,
            #[cfg(feature = "mysql")]
            ::encrypted_field::database::Database::Mysql($conn) => $body,
            #[cfg(feature = "postgres")]
            ::encrypted_field::database::Database::Postgres($conn) => $body,
            other => Err($crate::db::unsupported(other)),
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
        let parsed =
            DatabaseUrl::parse(&url).map_err(|e| AppError::library("reading DATABASE_URL", &e))?;
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
    pub fn open(&self) -> Result<Database, AppError> {
        if let DatabaseUrl::Sqlite(Some(path)) = &self.parsed
            && let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                AppError::usage(format!("creating directory {}: {e}", dir.display()))
            })?;
        }
        let mut db = Database::connect(&self.url).map_err(|e| AppError::library_alone(&e))?;
        migrate(&mut db).map_err(|e| {
            AppError::usage(format!("migrating the schema of {}: {e}", self.redacted()))
        })?;
        Ok(db)
    }
}

type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies the pending embedded migrations of the connection's backend.
fn migrate(db: &mut Database) -> Result<(), MigrationError> {
    match db {
        Database::Sqlite(conn, _) => conn.run_pending_migrations(SQLITE_MIGRATIONS).map(drop),
        #[cfg(feature = "mysql")]
        Database::Mysql(conn) => conn.run_pending_migrations(MYSQL_MIGRATIONS).map(drop),
        #[cfg(feature = "postgres")]
        Database::Postgres(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop),
        other => Err(unsupported(other).to_string().into()),
    }
}

/// A connection of a backend this example was built without (its feature is off here but on in
/// the library).
pub fn unsupported(db: &Database) -> AppError {
    AppError::usage(format!(
        "this example was built without support for {} (build it with `--features {}`)",
        db.backend_name(),
        db.backend_name()
    ))
}
