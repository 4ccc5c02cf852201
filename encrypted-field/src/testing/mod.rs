//! Helpers for testing models against real databases, as this crate tests its own (feature
//! `testing`; for `[dev-dependencies]`, never for production builds).
//!
//! A key ring in one line ([`ring`], or [`install_ring`] for the process-wide ring that
//! `Encrypted<T, C>` columns and derived models use), and [`assert_no_plaintext`] to check that
//! what a column holds is ciphertext:
//!
//! ```
//! # #[cfg(feature = "sqlite")] mod example {
//! use diesel::prelude::*;
//! use encrypted_field::diesel::Encrypted;
//! use encrypted_field::testing;
//!
//! diesel::table! {
//!     customers (id) {
//!         id -> Integer,
//!         ssn -> Text,
//!     }
//! }
//! encrypted_field::column_context!(Ssn = "customers.ssn");
//!
//! #[derive(Insertable)]
//! #[diesel(table_name = customers)]
//! struct Customer {
//!     id: i32,
//!     ssn: Encrypted<String, Ssn>,
//! }
//!
//! pub fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     testing::install_ring();
//!     let conn = &mut SqliteConnection::establish(":memory:")?;
//!     diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY, ssn TEXT NOT NULL)")
//!         .execute(conn)?;
//!     let ssns = ["078-05-1120", "219-09-9999"];
//!     for (id, ssn) in (1..).zip(ssns) {
//!         let row = Customer { id, ssn: Encrypted::new(ssn.to_owned()) };
//!         diesel::insert_into(customers::table).values(&row).execute(conn)?;
//!     }
//!
//!     // The column as the database holds it (`Vec<u8>` for a binary column).
//!     let stored: Vec<String> = customers::table.select(customers::ssn).load(conn)?;
//!     testing::assert_no_plaintext(&stored, ssns);
//!     Ok(())
//! }
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! #     #[cfg(feature = "sqlite")] example::main()?;
//! #     Ok(())
//! # }
//! ```
//!
//! A test picks its database with [`Backend`]: SQLite is embedded and always there; the server
//! backends are named by environment variables holding their URL, e.g.
//! `MYSQL_DATABASE_URL=mysql://root@127.0.0.1:3306/test` and
//! `PG_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test`. A test whose server is not
//! configured is skipped with a line on stderr, so `cargo test` works on a machine without
//! servers; CI sets [`REQUIRE_BACKENDS`]`=1`, and then a missing server fails the test instead of
//! letting a backend's suite pass silently.
//!
//! ```no_run
//! use encrypted_field::testing::Backend;
//!
//! for backend in Backend::ALL {
//!     let Some(url) = backend.url() else {
//!         continue; // skipped: this machine has no such server configured
//!     };
//!     // connect to `url`, create the test's own tables, …
//!     # let _ = url;
//! }
//! ```
#![allow(
    clippy::panic,
    reason = "test helpers fail the test that calls them by panicking"
)]

mod no_plaintext;
mod ring;

use std::io::Write as _;
use std::sync::Mutex;

pub use no_plaintext::{MIN_PLAINTEXT_LEN, assert_no_plaintext};
pub use ring::{blind_index_key, install_ring, ring};

/// The environment variable that, set to `1`, turns a skipped backend into a failed test.
pub const REQUIRE_BACKENDS: &str = "ENCRYPTED_FIELD_REQUIRE_BACKENDS";

/// A database backend a test runs on.
///
/// ```
/// use encrypted_field::testing::Backend;
///
/// assert_eq!(Backend::Sqlite.url().as_deref(), Some(":memory:"));
/// assert_eq!(Backend::Sqlite.url_variable(), None);
/// assert_eq!(Backend::Postgres.url_variable(), Some("PG_DATABASE_URL"));
/// assert_eq!(Backend::Mysql.name(), "mysql");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite, embedded: always available, no server to configure.
    Sqlite,
    /// MySQL or MariaDB, at the URL in `MYSQL_DATABASE_URL`.
    Mysql,
    /// PostgreSQL, at the URL in `PG_DATABASE_URL`.
    Postgres,
}

impl Backend {
    /// The three backends, SQLite first.
    pub const ALL: [Self; 3] = [Self::Sqlite, Self::Mysql, Self::Postgres];

    /// The backend's name as the crate's features spell it: `sqlite`, `mysql`, `postgres`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Mysql => "mysql",
            Self::Postgres => "postgres",
        }
    }

    /// The environment variable that holds the server's URL; `None` for SQLite, which needs
    /// no server.
    pub const fn url_variable(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => None,
            Self::Mysql => Some("MYSQL_DATABASE_URL"),
            Self::Postgres => Some("PG_DATABASE_URL"),
        }
    }

    /// Where a test on this backend connects, or `None` when the test is to be skipped: for a
    /// server, [`server_url`] of its [`url_variable`](Self::url_variable); for SQLite, always
    /// `:memory:`, a private database for each connection (a test that needs several
    /// connections to one database makes a file of its own).
    ///
    /// # Panics
    ///
    /// When the server's variable is not set and [`REQUIRE_BACKENDS`] is `1`.
    ///
    /// ```no_run
    /// use encrypted_field::testing::Backend;
    ///
    /// let Some(url) = Backend::Mysql.url() else {
    ///     return; // skipped: set MYSQL_DATABASE_URL
    /// };
    /// # let _ = url;
    /// ```
    pub fn url(self) -> Option<String> {
        match self.url_variable() {
            None => Some(":memory:".to_owned()),
            Some(variable) => server_url(variable),
        }
    }
}

/// The URL of the server backend that `variable` names, or `None` when it is not set (after
/// printing `skipped: set VARIABLE` on stderr, once per variable and process).
///
/// # Panics
///
/// When `variable` is not set and [`REQUIRE_BACKENDS`] is `1`.
///
/// ```no_run
/// use encrypted_field::testing::server_url;
///
/// let Some(url) = server_url("PG_DATABASE_URL") else {
///     return; // skipped: this machine has no PostgreSQL server configured
/// };
/// // connect to `url`, create the test's own tables, …
/// # let _ = url;
/// ```
pub fn server_url(variable: &str) -> Option<String> {
    if let Some(url) = std::env::var(variable)
        .ok()
        .filter(|url| !url.trim().is_empty())
    {
        return Some(url);
    }
    if std::env::var(REQUIRE_BACKENDS).is_ok_and(|value| value == "1") {
        panic!("{variable} is not set, and {REQUIRE_BACKENDS}=1 requires every backend");
    }
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut said = SAID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !said.iter().any(|v| v == variable) {
        said.push(variable.to_owned());
        // Straight to the process's stderr: the test harness captures `eprintln!`.
        let _ = writeln!(std::io::stderr(), "skipped: set {variable}");
    }
    None
}

/// `url` (`scheme://user@host:port/database?options`) with its database replaced by `database`:
/// how a test reaches a database of its own, or one that does not exist, on a configured server.
///
/// ```
/// use encrypted_field::testing::with_database;
///
/// assert_eq!(
///     with_database("mysql://root@127.0.0.1:3306/test", "x"),
///     "mysql://root@127.0.0.1:3306/x"
/// );
/// assert_eq!(
///     with_database("postgres://u:p@h/test?sslmode=disable", "x"),
///     "postgres://u:p@h/x?sslmode=disable"
/// );
/// assert_eq!(with_database("mysql://root@h", "x"), "mysql://root@h/x");
/// ```
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    // Both indexes come from `find`, so they fall on character boundaries.
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}
