//! The harness: which backends a scenario runs on, tables that drop themselves, raw reads and
//! writes with plain SQL (the engine under test is never used to set up or check), key rings, and
//! rotations that wait their turn for the database-wide rotation lock.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use encrypted_field::rotation::Error;
use encrypted_field::rotation::database::Database;
// Which of the three backends; `Backend` below is a scenario's database on one of them.
use encrypted_field::testing::Backend as Kind;

#[path = "support/expect.rs"]
mod expect;
#[cfg(feature = "derive")]
#[path = "support/indexed.rs"]
mod indexed;
#[path = "support/raw.rs"]
mod raw;

pub use expect::{
    Counts, Expected, Keys, assert_totals_match_columns, column_report, envelope, open, seal,
    version,
};
#[cfg(feature = "derive")]
pub use indexed::{
    PEOPLE_COLUMNS, People, email_index, email_index_any, email_value, phone_index,
    phone_index_any, phone_value, with_index_key,
};
pub use raw::{Cell, ids_where_in, insert, insert_rows, read_column, read_one, update};

/// Runs every listed scenario (a `fn(&Backend)` of the enclosing module) as one test per backend
/// the build supports: `sqlite::name`, `mysql::name`, `postgres::name`.
macro_rules! per_backend {
    ($($scenario:ident),* $(,)?) => {
        #[cfg(feature = "sqlite")]
        mod sqlite {
            $(#[test] fn $scenario() { crate::support::run(encrypted_field::testing::Backend::Sqlite, super::$scenario) })*
        }
        #[cfg(feature = "mysql")]
        mod mysql {
            $(#[test] fn $scenario() { crate::support::run(encrypted_field::testing::Backend::Mysql, super::$scenario) })*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(#[test] fn $scenario() { crate::support::run(encrypted_field::testing::Backend::Postgres, super::$scenario) })*
        }
    };
}
pub(crate) use per_backend;

/// Runs `scenario` against `kind`, or prints `skipped: set X` when its server's URL is not set
/// (and fails instead when `ENCRYPTED_FIELD_REQUIRE_BACKENDS=1`, as in CI).
pub fn run(kind: Kind, scenario: fn(&Backend)) {
    if let Some(backend) = Backend::open(kind) {
        scenario(&backend);
    }
}

/// Where a scenario's database is. For SQLite, a fresh file in a temporary directory.
#[derive(Debug)]
pub struct Backend {
    pub kind: Kind,
    url: String,
    _dir: Option<tempfile::TempDir>,
    /// A database this backend created for its scenario, dropped with it: (server URL, name).
    created_database: Option<(String, String)>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.created_database {
            // A pooler (PgBouncer) keeps server sessions to it open: FORCE ends them.
            let force = if self.kind == Kind::Postgres {
                " WITH (FORCE)"
            } else {
                ""
            };
            let dropped = Database::connect(server)
                .and_then(|mut db| db.execute(&format!("DROP DATABASE IF EXISTS {name}{force}")));
            if let Err(e) = dropped {
                eprintln!("could not drop the test database {name}: {e}");
            }
        }
    }
}

/// One lock per server: rotations in this process take turns for the database-wide lock instead
/// of refusing each other (`RotationInProgress`). SQLite files are per test and need none.
static SERVER_TURNS: [Mutex<()>; 2] = [Mutex::new(()), Mutex::new(())];

/// How long a rotation waits for another process's rotation on the same server database.
const LOCK_PATIENCE: Duration = Duration::from_secs(120);

impl Backend {
    fn open(kind: Kind) -> Option<Self> {
        // A file rather than `Kind::url`'s `:memory:`: a scenario opens several connections to
        // one database.
        let dir = (kind == Kind::Sqlite).then(|| tempfile::tempdir().unwrap());
        let url = match &dir {
            Some(dir) => dir.path().join("rotation.db").display().to_string(),
            None => kind.url()?,
        };
        Some(Self {
            kind,
            url,
            _dir: dir,
            created_database: None,
        })
    }

    /// The same server with a new database of its own named `name` (a server backend), dropped
    /// when the returned backend is; `None` for SQLite.
    pub fn with_new_database(&self, name: &str) -> Option<Backend> {
        if self.kind == Kind::Sqlite {
            return None;
        }
        let mut db = self.connect();
        db.execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        db.execute(&format!("CREATE DATABASE {name}")).unwrap();
        let (server, _database) = self.url.rsplit_once('/').unwrap();
        Some(Backend {
            kind: self.kind,
            url: format!("{server}/{name}"),
            _dir: None,
            created_database: Some((self.url.clone(), name.to_owned())),
        })
    }

    /// A new connection.
    pub fn connect(&self) -> Database {
        Database::connect(&self.url).unwrap()
    }

    /// A new connection to the same database through other spellings of its path where it is a
    /// file (a symbolic link to it, then a path through `..`); the plain URL for a server.
    pub fn connect_spelled_otherwise(&self, spelling: usize) -> Database {
        let Some(dir) = &self._dir else {
            return self.connect();
        };
        let path = match spelling % 2 {
            0 => {
                let link = dir.path().join("link-to-rotation.db");
                if !link.exists() {
                    #[cfg(unix)]
                    std::os::unix::fs::symlink(dir.path().join("rotation.db"), &link).unwrap();
                }
                link
            }
            _ => {
                let name = dir.path().file_name().unwrap();
                dir.path().join("..").join(name).join("rotation.db")
            }
        };
        Database::connect(&path.display().to_string()).unwrap()
    }

    /// Runs `work` (a rotation or migration) when no other rotation of this process holds the
    /// server's lock, and again while another process holds it.
    pub fn rotate<T>(
        &self,
        mut work: impl FnMut() -> encrypted_field::rotation::Result<T>,
    ) -> encrypted_field::rotation::Result<T> {
        let _turn = self.turn();
        let started = Instant::now();
        loop {
            match work() {
                Err(Error::RotationInProgress { .. }) if started.elapsed() < LOCK_PATIENCE => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                result => return result,
            }
        }
    }

    /// This process's turn on the server (nothing for SQLite).
    pub fn turn(&self) -> Option<MutexGuard<'static, ()>> {
        let index = match self.kind {
            Kind::Sqlite => return None,
            Kind::Mysql => 0,
            Kind::Postgres => 1,
        };
        Some(
            SERVER_TURNS[index]
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// `id` type of a table with an integer key that fits 32 bits.
    pub fn int_key(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite | Kind::Postgres => "INTEGER PRIMARY KEY",
            Kind::Mysql => "INT PRIMARY KEY",
        }
    }

    /// `id` type of a table with a 64-bit integer key.
    pub fn bigint_key(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "INTEGER PRIMARY KEY",
            Kind::Mysql | Kind::Postgres => "BIGINT PRIMARY KEY",
        }
    }

    /// `id` type of a table whose key the database generates.
    pub fn serial_key(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Kind::Mysql => "BIGINT AUTO_INCREMENT PRIMARY KEY",
            Kind::Postgres => "SERIAL PRIMARY KEY",
        }
    }

    /// `id` type of a table with a text key.
    pub fn text_key(&self) -> &'static str {
        "VARCHAR(100) PRIMARY KEY"
    }

    /// A binary column for values of any size.
    pub fn blob(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite | Kind::Mysql => "BLOB",
            Kind::Postgres => "BYTEA",
        }
    }

    /// A binary column as an application that sized it would declare it.
    pub fn varbinary(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "BLOB",
            Kind::Mysql => "VARBINARY(8000)",
            Kind::Postgres => "BYTEA",
        }
    }

    /// A text column.
    pub fn text(&self) -> &'static str {
        "TEXT"
    }

    /// Creates `name` itself with `columns` (SQL), dropped when the guard is dropped: for a model
    /// whose table name is fixed at compile time (a derived one), in a database of the scenario's
    /// own ([`with_new_database`](Self::with_new_database); SQLite's file is the scenario's own).
    #[cfg(feature = "derive")]
    pub fn create_named_table(&self, db: &mut Database, name: &str, columns: &str) -> Table {
        db.execute(&format!("CREATE TABLE {name} ({columns})"))
            .unwrap();
        Table {
            name: name.to_owned(),
            url: (self.kind != Kind::Sqlite).then(|| self.url.clone()),
        }
    }

    /// Creates `rt_{base}_{random}` with `columns` (SQL) and drops it when the guard is dropped.
    pub fn create_table(&self, db: &mut Database, base: &str, columns: &str) -> Table {
        let name = format!("rt_{base}_{:08x}", rand::random::<u32>());
        db.execute(&format!("CREATE TABLE {name} ({columns})"))
            .unwrap();
        Table {
            name,
            url: (self.kind != Kind::Sqlite).then(|| self.url.clone()),
        }
    }
}

/// A table created for one test, dropped at its end (even when it fails).
#[derive(Debug)]
pub struct Table {
    pub name: String,
    url: Option<String>,
}

impl Table {
    /// The table name, owned, for a `ModelSpec`.
    pub fn spec_name(&self) -> String {
        self.name.clone()
    }

    /// The context of `column`: `table.column`.
    pub fn context(&self, column: &str) -> String {
        format!("{}.{column}", self.name)
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        if let Some(url) = &self.url
            && let Ok(mut db) = Database::connect(url)
        {
            let _ = db.execute(&format!("DROP TABLE IF EXISTS {}", self.name));
        }
    }
}
