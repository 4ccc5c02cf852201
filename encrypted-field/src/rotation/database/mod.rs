//! A connection to any of the three backends, and the few statements rotation, verification and
//! migration need, written once over a `Dialect` with only the SQL that truly differs per backend
//! in `sqlite.rs`, `mysql.rs` and `pg.rs`.
//!
//! Identifiers come from a validated [`ModelSpec`] (ASCII letters, digits
//! and `_`) and are quoted as well; values are always bound, never interpolated.

use std::fmt;

use crate::model::{KeyKind, ModelSpec, Storage};
use crate::rotation::error::{Error, Result};

mod chunks;
pub(crate) mod lease;
mod retry;
mod rows;
mod supported_backend;
mod url;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use url::{DatabaseUrl, redact};

/// The value of a primary key, as rotation reads and reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrimaryKey {
    /// An integer key.
    Integer(i64),
    /// A text key.
    Text(String),
}

impl fmt::Display for PrimaryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Integer(value) => write!(f, "{value}"),
            Self::Text(value) => write!(f, "{value:?}"),
        }
    }
}

impl PrimaryKey {
    /// The key in the canonical form a row-bound value binds (`FORMAT.md`, "Row-bound
    /// contexts"): the integer's decimal digits, or the text itself.
    pub(crate) fn row_key(&self) -> crate::format::row_key::RowKey {
        match self {
            Self::Integer(value) => (*value).into(),
            Self::Text(value) => value.into(),
        }
    }

    /// The key as [`LEGACY_VALUES_TABLE`] stores it: the integer's digits, or the text itself.
    pub(crate) fn as_text(&self) -> String {
        match self {
            Self::Integer(value) => value.to_string(),
            Self::Text(value) => value.clone(),
        }
    }
}

/// The rows of a table a scan reads: those after `after` and up to `until` (included), in
/// primary-key order; both unbounded for a whole table, both set for a chunk of a parallel pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyRange {
    /// The last key before the range (excluded), or none from the first row.
    pub after: Option<PrimaryKey>,
    /// The last key of the range (included), or none to the last row.
    pub until: Option<PrimaryKey>,
}

impl fmt::Display for KeyRange {
    /// Empty for a whole table; ` after primary key 10`, ` up to primary key 20`, or both.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(after) = &self.after {
            write!(f, " after primary key {after}")?;
        }
        if let Some(until) = &self.until {
            let and = if self.after.is_some() { " and" } else { "" };
            write!(f, "{and} up to primary key {until}")?;
        }
        Ok(())
    }
}

/// One encrypted column of one table, as the statements here need it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColumnTarget<'a> {
    pub table: &'a str,
    pub primary_key: &'a str,
    #[cfg_attr(not(any(feature = "mysql", feature = "postgres")), allow(dead_code))]
    pub key_kind: KeyKind,
    pub column: &'a str,
    pub storage: Storage,
    /// The blind-index column a swap also sets, and how it stores the index.
    pub blind_index: Option<(&'a str, Storage)>,
}

impl fmt::Display for ColumnTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

/// A row as read: its key and, for each encrypted column of its model in order, the stored bytes
/// (for a TEXT column, the text's bytes) and the blind index stored beside it (`None` when the
/// column has no blind index or the index is NULL).
#[derive(Debug, Clone)]
pub(crate) struct StoredRow {
    pub key: PrimaryKey,
    pub values: Vec<Option<Vec<u8>>>,
    pub blind_indexes: Vec<Option<Vec<u8>>>,
}

impl StoredRow {
    /// Splits the fields read after the key (every encrypted column, then the blind-index column
    /// of each column that has one, as [`Dialect::select_batch_statement`] lists them).
    fn from_fields(key: PrimaryKey, mut fields: Vec<Option<Vec<u8>>>, model: &ModelSpec) -> Self {
        let columns = model.columns();
        let mut indexes = fields
            .split_off(columns.len().min(fields.len()))
            .into_iter();
        let blind_indexes = columns
            .iter()
            .map(|c| c.blind_index().and_then(|_| indexes.next().flatten()))
            .collect();
        Self {
            key,
            values: fields,
            blind_indexes,
        }
    }
}

/// A compare-and-swap write: set the column to `new` (and its blind-index column to
/// `blind_index`, when given) where the key is `key` and the column still holds `old`.
#[derive(Debug, Clone)]
pub(crate) struct Swap {
    pub key: PrimaryKey,
    pub old: Vec<u8>,
    pub new: Vec<u8>,
    pub blind_index: Option<Vec<u8>>,
}

/// What differs in SQL between backends.
pub(crate) trait Dialect {
    /// Quotes a (validated) identifier.
    fn quote(&self, identifier: &str) -> String;
    /// The placeholder of the `n`-th bind (1-based).
    fn placeholder(&self, n: usize) -> String;
    /// The primary key as a 64-bit integer or text, for the select list.
    fn key_expression(&self, quoted_key: &str, kind: KeyKind) -> String;
    /// One statement that applies `rows` swaps (binds: key, old, new, and the blind index when
    /// `target.blind_index` is set, per row, in order), updating a row only where the column
    /// still holds `old`.
    fn swap_statement(&self, target: &ColumnTarget<'_>, rows: usize) -> String;
    /// One row (`n`) counting the unique indexes (primary key included) of exactly one column,
    /// with no predicate, on the table and column bound in that order: 0 when the column is not
    /// unique on its own.
    fn unique_single_column_indexes(&self) -> &'static str;
    /// The statement that creates the metadata table if it is missing.
    fn create_metadata_table(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS encrypted_field_metadata (\
         name VARCHAR(191) NOT NULL PRIMARY KEY, value VARCHAR(255) NOT NULL)"
    }
    /// Inserts a metadata row unless one with that name exists (binds: name, value).
    fn insert_metadata_if_absent(&self) -> String;
    /// Inserts a metadata row, or replaces the value of the one with that name (binds: name,
    /// value).
    fn upsert_metadata(&self) -> String;
    /// The database server's clock, in whole seconds since the Unix epoch: every instance's
    /// check-in is stamped and judged by this one clock, never by the hosts' own.
    fn now_seconds(&self) -> &'static str;
    /// The database server's clock in milliseconds since the Unix epoch, read when the statement
    /// runs: what leases expire by.
    fn now_millis(&self) -> &'static str;
    /// The words that make an `INSERT` skip a row whose key exists: before `INTO`, and after
    /// the values.
    fn ignore_duplicate(&self) -> (&'static str, &'static str);
    /// The statement that creates the leases table if it is missing.
    fn create_leases_table(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS encrypted_field_leases (\
         name VARCHAR(191) NOT NULL PRIMARY KEY, owner VARCHAR(64) NOT NULL, \
         host VARCHAR(255) NOT NULL, pid BIGINT NOT NULL, fence BIGINT NOT NULL, \
         acquired_at_ms BIGINT NOT NULL, expires_at_ms BIGINT NOT NULL, renewals BIGINT NOT NULL)"
    }
    /// The type of a text column that may hold more than 64 KiB (a chunk's counts and failures).
    fn long_text(&self) -> &'static str {
        "TEXT"
    }
    /// The statement that creates the fleet's instances table if it is missing.
    fn create_instances_table(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS encrypted_field_instances (\
         id VARCHAR(64) NOT NULL PRIMARY KEY, host VARCHAR(255) NOT NULL, pid BIGINT NOT NULL, \
         loaded_versions VARCHAR(255) NOT NULL, active_version BIGINT NOT NULL, \
         pinned_version BIGINT NOT NULL, \
         blind_index_versions VARCHAR(255) NOT NULL DEFAULT '', \
         active_blind_index_version BIGINT NOT NULL DEFAULT 0, \
         pinned_blind_index_version BIGINT NOT NULL DEFAULT 0, checked_in_at BIGINT NOT NULL)"
    }
    /// Inserts or replaces an instance's row, stamped with [`now_seconds`](Self::now_seconds)
    /// (binds: id, host, pid, loaded versions, active version, pinned version or 0, loaded
    /// blind-index versions, active blind-index version or 0, pinned blind-index version or 0).
    fn upsert_instance(&self) -> String;

    /// The statement that creates the legacy-values table if it is missing (its byte types
    /// differ per backend).
    fn create_legacy_values_table(&self) -> &'static str;
    /// One row (`n`) counting the legacy-values tables of the current database: 0 or 1.
    fn legacy_values_table_exists(&self) -> &'static str;
    /// Keeps the bytes `rows` swaps just replaced (binds: table, column, when; then per row: key,
    /// key as text, replaced bytes, new bytes, new bytes as the column stores them), only where the
    /// column now holds the new bytes, and never over a row already kept for that value.
    fn keep_replaced_statement(&self, target: &ColumnTarget<'_>, rows: usize) -> String;

    /// `SELECT primary_key, legacy_value, migrated_value` of one column's kept values, in
    /// primary-key order (binds: table, column, [after,] limit).
    fn select_kept_statement(&self, after: bool) -> String {
        let (table, column) = (self.placeholder(1), self.placeholder(2));
        let filter = if after {
            format!(" AND primary_key > {}", self.placeholder(3))
        } else {
            String::new()
        };
        format!(
            "SELECT primary_key, legacy_value, migrated_value FROM {LEGACY_VALUES_TABLE} \
             WHERE table_name = {table} AND column_name = {column}{filter} \
             ORDER BY primary_key LIMIT {}",
            self.placeholder(if after { 4 } else { 3 })
        )
    }

    /// `SELECT key AS pk, table.c1, table.c2, …, table.c1_bidx, … FROM table [WHERE table.key > ?]
    /// [AND table.key <= ?] ORDER BY table.key LIMIT ?`: every encrypted column of the model, then
    /// the blind-index column of each that has one, in one read, of the rows after a key (when
    /// `after`) and up to a key (when `until`: a chunk of a parallel pass). Names are qualified
    /// with the table: a bare name in `ORDER BY` means an output column first.
    fn select_batch_statement(&self, model: &ModelSpec, after: bool, until: bool) -> String {
        let table = self.quote(model.table());
        let key = format!("{table}.{}", self.quote(model.primary_key()));
        let mut binds = 0;
        let mut conditions = Vec::new();
        if after {
            binds += 1;
            conditions.push(format!("{key} > {}", self.placeholder(binds)));
        }
        if until {
            binds += 1;
            conditions.push(format!("{key} <= {}", self.placeholder(binds)));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let columns: Vec<String> = model
            .columns()
            .iter()
            .map(|c| c.column())
            .chain(
                model
                    .columns()
                    .iter()
                    .filter_map(|c| c.blind_index().map(|b| b.column())),
            )
            .map(|column| format!("{table}.{}", self.quote(column)))
            .collect();
        format!(
            "SELECT {} AS pk, {} FROM {table}{filter} ORDER BY {key} LIMIT {}",
            self.key_expression(&key, model.primary_key_kind()),
            columns.join(", "),
            self.placeholder(binds + 1),
        )
    }

    /// `SELECT key AS pk FROM table [WHERE table.key > ?] ORDER BY table.key LIMIT 1 OFFSET ?`:
    /// the key `offset` rows after a key (or from the start), read from the key's index alone:
    /// where a parallel pass cuts a table into chunks.
    fn select_key_at_offset_statement(&self, model: &ModelSpec, after: bool) -> String {
        let table = self.quote(model.table());
        let key = format!("{table}.{}", self.quote(model.primary_key()));
        let filter = if after {
            format!(" WHERE {key} > {}", self.placeholder(1))
        } else {
            String::new()
        };
        format!(
            "SELECT {} AS pk FROM {table}{filter} ORDER BY {key} LIMIT 1 OFFSET {}",
            self.key_expression(&key, model.primary_key_kind()),
            self.placeholder(if after { 2 } else { 1 }),
        )
    }
}

/// The table in which `migrate` keeps the bytes it replaced (the legacy ciphertext, never a
/// plaintext the column did not already hold) until `migrate --finalize` or `migrate --undo`.
pub const LEGACY_VALUES_TABLE: &str = "encrypted_field_legacy_values";

/// A legacy value kept in [`LEGACY_VALUES_TABLE`]: the row it came from, the bytes the migration
/// replaced and the bytes it wrote.
#[derive(Debug, Clone)]
pub(crate) struct KeptValue {
    pub key: PrimaryKey,
    pub legacy: Vec<u8>,
    pub migrated: Vec<u8>,
}

/// The most rows one compare-and-swap statement carries (3 or 4 binds each: well under every
/// backend's limit on bound parameters).
pub(crate) const MAX_ROWS_PER_STATEMENT: usize = 1000;
/// The most bytes of values one statement carries, to stay under MySQL's `max_allowed_packet`.
pub(crate) const MAX_BYTES_PER_STATEMENT: usize = 4 << 20;

/// An open connection to one of the backends this build supports: what rotation, verification,
/// migration and the CLI work on. Which Diesel connection it holds is its own business.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use encrypted_field::rotation::database::Database;
/// let db = Database::connect(":memory:")?;
/// assert_eq!(db.backend_name(), "sqlite");
/// # }
/// # Ok::<(), encrypted_field::rotation::Error>(())
/// ```
pub struct Database {
    backend: Backend,
    /// The SQLite database file (`None` in memory, and for a server).
    file: Option<std::path::PathBuf>,
    /// The lease this connection holds, which every fenced write checks.
    lease: Option<lease::HeldLease>,
    /// Statements and batches run again after a transient conflict, since it was opened.
    conflicts_retried: u64,
}

/// Public only to be re-exported under the feature `internals`: the module is private.
mod connection {
    /// The Diesel connection inside a [`Database`](super::Database), of one of the backends this
    /// build has (feature `internals`: for this crate's tests, not API).
    #[allow(missing_debug_implementations)]
    #[non_exhaustive]
    pub enum Connection {
        /// SQLite.
        #[cfg(feature = "sqlite")]
        Sqlite(::diesel::SqliteConnection),
        /// MySQL or MariaDB.
        #[cfg(feature = "mysql")]
        Mysql(::diesel::MysqlConnection),
        /// PostgreSQL.
        #[cfg(feature = "postgres")]
        Postgres(::diesel::PgConnection),
    }
}
use connection::Connection as Backend;
#[cfg(feature = "internals")]
#[cfg_attr(docsrs, doc(cfg(feature = "internals")))]
pub use connection::Connection;

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({})", self.backend_name())
    }
}

/// Wraps a driver error with what was being done.
pub(crate) fn db_error(action: impl Into<String>) -> impl FnOnce(::diesel::result::Error) -> Error {
    let action = action.into();
    move |source| Error::Database {
        action,
        source: Box::new(source),
    }
}

/// The one place that lists the backends and their features: every method goes through it.
///
/// - `with_backend!(backend, |conn, dialect, module| body)` runs `body` with `conn` bound to the
///   Diesel connection in `backend` (a [`Backend`] or a reference to one), `dialect` to its
///   [`Dialect`] and `module` to its module (`sqlite`, `mysql` or `pg`), whose functions have the
///   same names and shapes.
/// - `with_backend!(url url, |module, target| body, missing |feature| other)` runs `body` with
///   the module of the backend a [`DatabaseUrl`] names and `target` bound to what the URL holds,
///   or `other` with the name of the cargo feature this build lacks for it.
macro_rules! with_backend {
    ($backend:expr, |$conn:ident, $dialect:ident, $module:ident| $body:expr) => {
        match $backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite($conn) => {
                use sqlite as $module;
                let $dialect = &$module::SqliteDialect;
                $body
            }
            #[cfg(feature = "mysql")]
            Backend::Mysql($conn) => {
                use mysql as $module;
                let $dialect = &$module::MysqlDialect;
                $body
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres($conn) => {
                use pg as $module;
                let $dialect = &$module::PgDialect;
                $body
            }
        }
    };
    (url $url:expr, |$module:ident, $target:ident| $body:expr, missing |$feature:ident| $missing:expr) => {
        match $url {
            #[cfg(feature = "sqlite")]
            DatabaseUrl::Sqlite($target) => {
                use sqlite as $module;
                $body
            }
            #[cfg(feature = "mysql")]
            DatabaseUrl::Mysql($target) => {
                use mysql as $module;
                $body
            }
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres($target) => {
                use pg as $module;
                $body
            }
            #[allow(unreachable_patterns)]
            other => {
                let $feature = other.feature();
                $missing
            }
        }
    };
}

// After `with_backend!`, which they use.
mod chunked;
mod column_width;
mod instances;
mod leased;
pub(crate) use chunks::{ChunkRow, JobRow};
pub(crate) use instances::{InstanceCheckIn, InstanceRow};

impl Database {
    fn new(backend: Backend, file: Option<std::path::PathBuf>) -> Self {
        Self {
            backend,
            file,
            lease: None,
            conflicts_retried: 0,
        }
    }

    /// Connects to `url` (see [`DatabaseUrl::parse`]). A backend this build was compiled without
    /// is a clear error naming the feature to enable.
    pub fn connect(url: &str) -> Result<Self> {
        let parsed = DatabaseUrl::parse(url)?;
        let redacted = parsed.redacted();
        let failed = |source: ::diesel::ConnectionError| Error::Database {
            action: format!("connecting to {redacted}"),
            source: Box::new(source),
        };
        with_backend!(url parsed, |module, target| module::connect(target).map_err(failed),
        missing |feature| Err(Error::DatabaseUrl {
            url: redacted.clone(),
            reason: format!(
                "this build has no support for it (enable the `{feature}` feature of encrypted-field)"
            ),
        }))
    }

    /// The Diesel connection inside (feature `internals`: a hook for this crate's tests, not API).
    #[cfg(feature = "internals")]
    #[cfg_attr(docsrs, doc(cfg(feature = "internals")))]
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.backend
    }

    /// `sqlite`, `mysql` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        with_backend!(&self.backend, |_conn, _dialect, module| module::NAME)
    }

    /// The directory of the SQLite database file, if this is one (key backups must not go there).
    pub fn sqlite_directory(&self) -> Option<std::path::PathBuf> {
        let file = std::path::absolute(self.file.as_ref()?).ok()?;
        file.parent().map(std::path::Path::to_path_buf)
    }

    /// Runs one SQL statement with no result (feature `internals`: a hook for this crate's tests
    /// and benchmarks to set tables up, not API).
    #[cfg(feature = "internals")]
    #[cfg_attr(docsrs, doc(cfg(feature = "internals")))]
    pub fn execute(&mut self, sql: &str) -> Result<usize> {
        use ::diesel::RunQueryDsl as _;
        with_backend!(&mut self.backend, |conn, _dialect, _module| {
            ::diesel::sql_query(sql).execute(conn)
        })
        .map_err(db_error(format!("running `{sql}`")))
    }

    /// Reads up to `limit` rows of `model` whose key is greater than `after`, in key order, with
    /// every encrypted column.
    pub(crate) fn read_batch(
        &mut self,
        model: &ModelSpec,
        range: &KeyRange,
        limit: usize,
    ) -> Result<Vec<StoredRow>> {
        let action = || format!("reading {}{range}", model.table());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let bounds = (range.after.as_ref(), range.until.as_ref());
        self.retrying(action, |backend, _lease| {
            with_backend!(backend, |conn, dialect, _module| rows::read_batch(
                conn, dialect, model, bounds, limit
            ))
            .map_err(lease::WriteError::from)
        })
    }

    /// The key `offset` rows after `after` (or from the first row) in key order, if the table has
    /// that many: where a parallel pass ends one chunk.
    pub(crate) fn key_at_offset(
        &mut self,
        model: &ModelSpec,
        after: Option<&PrimaryKey>,
        offset: usize,
    ) -> Result<Option<PrimaryKey>> {
        let action = || format!("cutting {} into chunks", model.table());
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        self.retrying(action, |backend, _lease| {
            with_backend!(backend, |conn, dialect, _module| rows::key_at_offset(
                conn, dialect, model, after, offset
            ))
            .map_err(lease::WriteError::from)
        })
    }

    /// Applies the swaps of every column of a batch in one transaction, in as few statements as
    /// the limits allow, and returns for each column how many rows were updated (a row whose value
    /// changed since it was read is not).
    pub(crate) fn swap_batch(
        &mut self,
        swaps: &[(ColumnTarget<'_>, Vec<Swap>)],
    ) -> Result<Vec<usize>> {
        let count: usize = swaps.iter().map(|(_, s)| s.len()).sum();
        if count == 0 {
            return Ok(vec![0; swaps.len()]);
        }
        let table = swaps.first().map_or("", |(t, _)| t.table);
        let action = || format!("writing {count} re-encrypted values of {table}");
        let updated = self.retrying(action, |backend, lease| {
            with_backend!(backend, |conn, dialect, _module| rows::swap_batch(
                conn, dialect, lease, swaps
            ))
        })?;
        self.lease_renewed();
        Ok(updated)
    }

    /// Like [`swap_batch`](Self::swap_batch), and in the same transaction keeps the bytes each
    /// applied swap replaced in [`LEGACY_VALUES_TABLE`] (which must exist).
    pub(crate) fn swap_batch_keeping_replaced(
        &mut self,
        swaps: &[(ColumnTarget<'_>, Vec<Swap>)],
    ) -> Result<Vec<usize>> {
        let count: usize = swaps.iter().map(|(_, s)| s.len()).sum();
        if count == 0 {
            return Ok(vec![0; swaps.len()]);
        }
        let table = swaps.first().map_or("", |(t, _)| t.table);
        let action =
            || format!("writing {count} migrated values of {table} (keeping the legacy ones)");
        let when = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let updated = self.retrying(action, |backend, lease| {
            with_backend!(backend, |conn, dialect, _module| {
                rows::swap_batch_keeping_replaced(conn, dialect, lease, swaps, &when)
            })
        })?;
        self.lease_renewed();
        Ok(updated)
    }

    /// Refuses a model whose primary key is not unique on its own, or has NULL keys: a keyset scan
    /// over it would skip rows without a word ([`Error::PrimaryKeyNotUnique`]).
    pub(crate) fn check_unique_key(&mut self, model: &ModelSpec) -> Result<()> {
        let (table, column) = (model.table(), model.primary_key());
        let (unique, null_keys) = with_backend!(&mut self.backend, |conn, dialect, _module| {
            rows::unique_key(conn, dialect, table, column)
        })
        .map_err(db_error(format!(
            "checking that {table}.{column} is a unique key"
        )))?;
        let reason = if !unique {
            "no unique index or primary key covers that column alone".to_owned()
        } else if null_keys > 0 {
            format!("{null_keys} rows have a NULL {column}")
        } else {
            return Ok(());
        };
        Err(Error::PrimaryKeyNotUnique {
            table: table.to_owned(),
            column: column.to_owned(),
            reason,
        })
    }

    /// Creates [`LEGACY_VALUES_TABLE`] if it is missing.
    pub(crate) fn create_legacy_values_table(&mut self) -> Result<()> {
        with_backend!(&mut self.backend, |conn, dialect, _module| {
            lease::create_if_missing(conn, dialect.create_legacy_values_table())
        })
        .map_err(db_error(format!("creating {LEGACY_VALUES_TABLE}")))
    }

    /// How many legacy values are kept for `table.column` (0 when the table does not exist).
    pub(crate) fn count_kept(&mut self, table: &str, column: &str) -> Result<u64> {
        with_backend!(
            &mut self.backend,
            |conn, dialect, _module| rows::count_kept(conn, dialect, table, column)
        )
        .map_err(db_error(format!(
            "counting the legacy values of {table}.{column} in {LEGACY_VALUES_TABLE}"
        )))
    }

    /// Up to `limit` kept values of `target`'s column after primary key `after`, in key order.
    pub(crate) fn read_kept(
        &mut self,
        target: &ColumnTarget<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<KeptValue>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        with_backend!(&mut self.backend, |conn, dialect, _module| rows::read_kept(
            conn, dialect, target, after, limit
        ))
        .map_err(db_error(format!(
            "reading the legacy values of {target} from {LEGACY_VALUES_TABLE}"
        )))
    }

    /// Puts kept legacy bytes back, in one transaction: each row only where the column still
    /// holds the migrated bytes, deleting the kept row of each one restored. Returns the keys
    /// that were not restored (the application changed or deleted the row since).
    pub(crate) fn restore_kept(
        &mut self,
        target: &ColumnTarget<'_>,
        kept: &[KeptValue],
    ) -> Result<Vec<PrimaryKey>> {
        let restored = self.retrying(
            || format!("restoring the legacy values of {target}"),
            |backend, lease| {
                with_backend!(backend, |conn, dialect, _module| {
                    rows::restore_kept(conn, dialect, lease, target, kept)
                })
            },
        )?;
        self.lease_renewed();
        Ok(restored)
    }

    /// Deletes the kept values of `table.column`, and the table once it is empty; returns how
    /// many values were deleted.
    ///
    /// Two steps, each fenced and retried on its own: the deletion, whose count is the one of the
    /// attempt that committed, then the `DROP TABLE` (which on MySQL may wait for a metadata
    /// lock, time out and be retried without running the deletion again).
    pub(crate) fn delete_kept(&mut self, table: &str, column: &str) -> Result<u64> {
        self.delete_kept_then_drop(table, column, |backend, lease| {
            with_backend!(backend, |conn, dialect, _module| {
                rows::drop_kept_table_if_empty(conn, dialect, lease)
            })
        })
    }

    /// [`delete_kept`](Self::delete_kept) with its second step, `drop_step`, given (the tests
    /// make it fail).
    fn delete_kept_then_drop(
        &mut self,
        table: &str,
        column: &str,
        drop_step: impl FnMut(
            &mut Backend,
            Option<&lease::HeldLease>,
        ) -> Result<bool, lease::WriteError>,
    ) -> Result<u64> {
        let deleted = self.retrying(
            || format!("deleting the legacy values of {table}.{column} from {LEGACY_VALUES_TABLE}"),
            |backend, lease| {
                with_backend!(backend, |conn, dialect, _module| {
                    rows::delete_kept(conn, dialect, lease, table, column)
                })
            },
        )?;
        self.lease_renewed();
        self.retrying(
            || {
                format!(
                    "dropping {LEGACY_VALUES_TABLE} once no legacy value is left (after deleting \
                     the {deleted} of {table}.{column})"
                )
            },
            drop_step,
        )?;
        self.lease_renewed();
        Ok(deleted)
    }

    /// Reads a metadata value (the table is created if missing).
    pub(crate) fn metadata(&mut self, name: &str) -> Result<Option<String>> {
        with_backend!(&mut self.backend, |conn, dialect, _module| rows::metadata(
            conn, dialect, name
        ))
        .map_err(db_error(format!(
            "reading metadata `{name}` from encrypted_field_metadata"
        )))
    }

    /// Records a metadata value unless one is already recorded under that name, in a
    /// transaction that first checks the lease this connection holds, if any
    /// ([`Error::LeaseLost`] when another run has taken it over).
    pub(crate) fn record_metadata_if_absent(&mut self, name: &str, value: &str) -> Result<()> {
        self.retrying(
            || format!("recording metadata `{name}` in encrypted_field_metadata"),
            |backend, lease| {
                with_backend!(backend, |conn, dialect, _module| {
                    rows::insert_metadata_if_absent(conn, dialect, lease, name, value)
                })
            },
        )?;
        self.lease_renewed();
        Ok(())
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use ::diesel::result::{DatabaseErrorKind, Error as DieselError};

    use super::*;

    /// Finalization's `DROP TABLE` timing out on a metadata lock (MySQL's error 1205, transient)
    /// is retried alone: the deletion is not run again, and its count stands.
    #[test]
    fn a_retried_drop_keeps_the_count_of_the_deletion_that_committed() {
        let mut db = Database::connect(":memory:").unwrap();
        db.create_legacy_values_table().unwrap();
        with_backend!(&mut db.backend, |conn, _dialect, _module| {
            for id in 1..=3 {
                rows::run(
                    conn,
                    &format!(
                        "INSERT INTO {LEGACY_VALUES_TABLE} \
                         VALUES ('t', 'c', '{id}', x'01', x'02', 'then')"
                    ),
                )
                .unwrap();
            }
        });
        let mut attempts = Vec::new();
        let deleted = db
            .delete_kept_then_drop("t", "c", |backend, lease| {
                if attempts.is_empty() {
                    attempts.push(None);
                    return Err(lease::WriteError::Database(DieselError::DatabaseError(
                        DatabaseErrorKind::Unknown,
                        Box::new(
                            "Lock wait timeout exceeded; try restarting transaction".to_owned(),
                        ),
                    )));
                }
                let dropped = with_backend!(backend, |conn, dialect, _module| {
                    rows::drop_kept_table_if_empty(conn, dialect, lease)
                })?;
                attempts.push(Some(dropped));
                Ok(dropped)
            })
            .unwrap();
        assert_eq!(deleted, 3, "the count of the deletion, not of a re-run");
        assert_eq!(
            attempts,
            [None, Some(true)],
            "the drop, retried, dropped the table"
        );
        assert_eq!(db.conflicts_retried(), 1);
        assert_eq!(db.count_kept("t", "c").unwrap(), 0);
    }

    /// The drop step checks the lease first: a run whose lease was taken over drops nothing.
    #[test]
    fn the_drop_step_is_fenced() {
        let mut db = Database::connect(":memory:").unwrap();
        db.create_legacy_values_table().unwrap();
        db.lease = Some(lease::HeldLease {
            name: "rotation".to_owned(),
            owner: "not the holder".to_owned(),
            fence: 1,
            ttl_ms: 60_000,
            renewed_at: std::time::Instant::now(),
        });
        let dropped = with_backend!(&mut db.backend, |conn, dialect, _module| {
            rows::run(conn, dialect.create_leases_table()).unwrap();
            rows::drop_kept_table_if_empty(conn, dialect, db.lease.as_ref())
        });
        assert!(matches!(dropped, Err(lease::WriteError::LeaseLost)));
        let exists = with_backend!(&mut db.backend, |conn, _dialect, _module| {
            rows::run(conn, &format!("SELECT COUNT(*) FROM {LEGACY_VALUES_TABLE}"))
        });
        assert!(exists.is_ok(), "the table is still there: {exists:?}");
    }
}
