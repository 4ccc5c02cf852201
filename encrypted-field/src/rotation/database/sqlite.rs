//! SQLite: `UPDATE … FROM (VALUES …)` and backquoted identifiers.

use std::path::PathBuf;

use ::diesel::{Connection as _, ConnectionError, RunQueryDsl as _, SqliteConnection};

use super::{Backend, ColumnTarget, Database, Dialect, LEGACY_VALUES_TABLE};
use crate::model::{KeyKind, Storage};

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// The backend's name, as [`Database::backend_name`] gives it.
pub(super) const NAME: &str = "sqlite";

pub(super) struct SqliteDialect;

impl Dialect for SqliteDialect {
    /// Backquotes, not double quotes: SQLite reads a double-quoted name that matches no column
    /// as a string literal, so a misspelt column would be read as that text instead of failing.
    fn quote(&self, identifier: &str) -> String {
        format!("`{}`", identifier.replace('`', "``"))
    }

    fn placeholder(&self, _n: usize) -> String {
        "?".to_owned()
    }

    fn key_expression(&self, quoted_key: &str, _kind: KeyKind) -> String {
        quoted_key.to_owned()
    }

    fn swap_statement(&self, target: &ColumnTarget<'_>, rows: usize) -> String {
        let (table, key, column) = (
            self.quote(target.table),
            self.quote(target.primary_key),
            self.quote(target.column),
        );
        let (row, set_index) = match target.blind_index {
            Some((index, _)) => (
                "(?, ?, ?, ?)",
                format!(", {} = v.column4", self.quote(index)),
            ),
            None => ("(?, ?, ?)", String::new()),
        };
        let values = vec![row; rows].join(", ");
        // A BLOB column may hold TEXT values (legacy data inserted as text), which never equal
        // the bytes bound for them: compare the bytes.
        let stored = match target.storage {
            Storage::Binary => format!("CAST({table}.{column} AS BLOB)"),
            Storage::Text => format!("{table}.{column}"),
        };
        format!(
            "UPDATE {table} SET {column} = v.column3{set_index} FROM (VALUES {values}) AS v \
             WHERE {table}.{key} = v.column1 AND {stored} = v.column2"
        )
    }

    fn insert_metadata_if_absent(&self) -> String {
        "INSERT OR IGNORE INTO encrypted_field_metadata (name, value) VALUES (?, ?)".to_owned()
    }

    fn upsert_metadata(&self) -> String {
        "INSERT INTO encrypted_field_metadata (name, value) VALUES (?, ?) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value"
            .to_owned()
    }

    fn now_seconds(&self) -> &'static str {
        "CAST(strftime('%s', 'now') AS INTEGER)"
    }

    /// `julianday`, not `unixepoch('subsec')`: the latter needs SQLite 3.42, and a system
    /// library may be older.
    fn now_millis(&self) -> &'static str {
        "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    }

    fn ignore_duplicate(&self) -> (&'static str, &'static str) {
        ("OR IGNORE", "")
    }

    fn upsert_instance(&self) -> String {
        format!(
            "INSERT INTO encrypted_field_instances \
             (id, host, pid, loaded_versions, active_version, pinned_version, checked_in_at) \
             VALUES (?, ?, ?, ?, ?, ?, {now}) ON CONFLICT (id) DO UPDATE SET \
             host = excluded.host, pid = excluded.pid, loaded_versions = excluded.loaded_versions, \
             active_version = excluded.active_version, pinned_version = excluded.pinned_version, \
             checked_in_at = excluded.checked_in_at",
            now = self.now_seconds()
        )
    }

    fn create_legacy_values_table(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS encrypted_field_legacy_values (\
         table_name VARCHAR(191) NOT NULL, column_name VARCHAR(191) NOT NULL, \
         primary_key TEXT NOT NULL, legacy_value BLOB NOT NULL, migrated_value BLOB NOT NULL, \
         migrated_at VARCHAR(40) NOT NULL, PRIMARY KEY (table_name, column_name, primary_key))"
    }

    /// The table's one-column primary key (an `INTEGER PRIMARY KEY` has no index of its own), or
    /// a unique, non-partial index of that column alone.
    fn unique_single_column_indexes(&self) -> &'static str {
        "SELECT COUNT(*) AS n FROM (\
           SELECT 1 FROM pragma_table_info(?1) AS c \
            WHERE c.name = ?2 AND c.pk = 1 \
              AND (SELECT COUNT(*) FROM pragma_table_info(?1) WHERE pk > 0) = 1 \
           UNION ALL \
           SELECT 1 FROM pragma_index_list(?1) AS i \
            WHERE i.\"unique\" = 1 AND i.partial = 0 \
              AND (SELECT COUNT(*) FROM pragma_index_info(i.name)) = 1 \
              AND (SELECT name FROM pragma_index_info(i.name)) = ?2)"
    }

    fn legacy_values_table_exists(&self) -> &'static str {
        "SELECT COUNT(*) AS n FROM sqlite_master \
         WHERE type = 'table' AND name = 'encrypted_field_legacy_values'"
    }

    /// The join is in `WHERE`, not `ON`: SQLite reads `ON CONFLICT` after a join's `ON` as part
    /// of it unless the `SELECT` has a `WHERE` clause.
    fn keep_replaced_statement(&self, target: &ColumnTarget<'_>, rows: usize) -> String {
        let (table, key, column) = (
            self.quote(target.table),
            self.quote(target.primary_key),
            self.quote(target.column),
        );
        let values = vec!["(?, ?, ?, ?, ?)"; rows].join(", ");
        format!(
            "INSERT INTO {LEGACY_VALUES_TABLE} (table_name, column_name, primary_key, legacy_value, \
             migrated_value, migrated_at) SELECT ?, ?, v.column2, v.column3, v.column4, ? \
             FROM (VALUES {values}) AS v, {table} \
             WHERE {table}.{key} = v.column1 AND {table}.{column} = v.column5 ON CONFLICT DO NOTHING"
        )
    }
}

pub(super) fn connect(path: Option<PathBuf>) -> std::result::Result<Database, ConnectionError> {
    let url = path
        .as_deref()
        .map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string());
    let mut conn = SqliteConnection::establish(&url)?;
    // Wait for an application's write instead of failing at once: rotation runs beside it.
    ::diesel::sql_query(format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"))
        .execute(&mut conn)
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(Database::new(Backend::Sqlite(conn), path))
}

/// An application's own connection (its file is not known: key backups are not checked against
/// its directory).
impl From<SqliteConnection> for Database {
    fn from(conn: SqliteConnection) -> Self {
        Self::new(Backend::Sqlite(conn), None)
    }
}
