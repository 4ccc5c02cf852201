//! SQLite: `UPDATE … FROM (VALUES …)`, backquoted identifiers, and a file lock beside the
//! database file in place of a server-side lock.

use std::path::{Path, PathBuf};

use ::diesel::{Connection as _, ConnectionError, RunQueryDsl as _, SqliteConnection};

use super::{Backend, ColumnTarget, Database, Dialect, LEGACY_VALUES_TABLE, RotationLock};
use crate::model::{KeyKind, Storage};
use crate::rotation::error::{Error, Result};

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

    fn upsert_instance(&self) -> String {
        format!(
            "INSERT INTO encrypted_field_instances \
             (id, host, pid, loaded_versions, active_version, pinned_version, \
              blind_index_versions, active_blind_index_version, pinned_blind_index_version, \
              checked_in_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {now}) ON CONFLICT (id) DO UPDATE SET \
             host = excluded.host, pid = excluded.pid, loaded_versions = excluded.loaded_versions, \
             active_version = excluded.active_version, pinned_version = excluded.pinned_version, \
             blind_index_versions = excluded.blind_index_versions, \
             active_blind_index_version = excluded.active_blind_index_version, \
             pinned_blind_index_version = excluded.pinned_blind_index_version, \
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
    Ok(Database {
        backend: Backend::Sqlite(conn),
        file: path,
    })
}

/// An application's own connection. Its file is not known, so rotation takes no lock file beside
/// it.
impl From<SqliteConnection> for Database {
    fn from(conn: SqliteConnection) -> Self {
        Self {
            backend: Backend::Sqlite(conn),
            file: None,
        }
    }
}

/// An exclusive lock on `<database>.encrypted-field.lock`, which the operating system releases
/// when the process ends, however it ends. An in-memory database needs none.
pub(super) fn try_lock(
    _conn: &mut SqliteConnection,
    path: Option<&Path>,
) -> Result<Option<RotationLock>> {
    try_lock_file(path)
}

/// A file lock is released when its file is closed.
pub(super) fn unlock(_conn: &mut SqliteConnection, _lock: RotationLock) -> Result<()> {
    Ok(())
}

/// The lock file of [`try_lock`].
fn try_lock_file(path: Option<&Path>) -> Result<Option<RotationLock>> {
    let Some(path) = path else {
        return Ok(Some(RotationLock::File { _file: None }));
    };
    // One lock per database file, however its path is spelled (a symbolic link, `..`, a relative
    // path): the lock file is named after the file's canonical path.
    let canonical = std::fs::canonicalize(path);
    let path = canonical.as_deref().unwrap_or(path);
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".encrypted-field.lock");
    let lock_path = PathBuf::from(lock_path);
    let io = |source| Error::Io {
        action: "opening the rotation lock file",
        path: lock_path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    // A link planted at the lock's name would have us create or lock a file elsewhere.
    crate::keys::secret_file::no_follow(&mut options);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&lock_path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(RotationLock::File { _file: Some(file) })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(source)) => Err(io(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_the_lock_file_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let database = tmp.path().join("app.db");
        let elsewhere = tmp.path().join("created-through-the-link");
        std::os::unix::fs::symlink(&elsewhere, tmp.path().join("app.db.encrypted-field.lock"))
            .unwrap();
        assert!(try_lock_file(Some(&database)).is_err());
        assert!(!elsewhere.exists(), "the lock was opened through the link");
    }
}
