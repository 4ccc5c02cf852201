//! MySQL and MariaDB: a multi-table `UPDATE … JOIN (SELECT … UNION ALL …)` and backquoted
//! identifiers.

use ::diesel::MysqlConnection;

use super::{Backend, ColumnTarget, Database, Dialect, LEGACY_VALUES_TABLE};
use crate::model::{KeyKind, Storage};

/// The backend's name, as [`Database::backend_name`] gives it.
pub(super) const NAME: &str = "mysql";

pub(super) struct MysqlDialect;

impl Dialect for MysqlDialect {
    fn quote(&self, identifier: &str) -> String {
        format!("`{}`", identifier.replace('`', "``"))
    }

    fn placeholder(&self, _n: usize) -> String {
        "?".to_owned()
    }

    fn key_expression(&self, quoted_key: &str, kind: KeyKind) -> String {
        match kind {
            KeyKind::Integer => format!("CAST({quoted_key} AS SIGNED)"),
            KeyKind::Text => quoted_key.to_owned(),
        }
    }

    fn swap_statement(&self, target: &ColumnTarget<'_>, rows: usize) -> String {
        let (table, key, column) = (
            self.quote(target.table),
            self.quote(target.primary_key),
            self.quote(target.column),
        );
        let (first, row, set_index) = match target.blind_index {
            Some((index, _)) => (
                "SELECT ? AS k, ? AS o, ? AS n, ? AS i",
                " UNION ALL SELECT ?, ?, ?, ?",
                format!(", {table}.{} = v.i", self.quote(index)),
            ),
            None => (
                "SELECT ? AS k, ? AS o, ? AS n",
                " UNION ALL SELECT ?, ?, ?",
                String::new(),
            ),
        };
        let mut values = String::from(first);
        for _ in 1..rows {
            values.push_str(row);
        }
        // Text comparisons follow the column's collation, which may ignore case; base64 does not.
        let same = match target.storage {
            Storage::Binary => format!("{table}.{column} = v.o"),
            Storage::Text => format!("CAST({table}.{column} AS BINARY) = CAST(v.o AS BINARY)"),
        };
        format!(
            "UPDATE {table} JOIN ({values}) AS v ON {table}.{key} = v.k AND {same} \
             SET {table}.{column} = v.n{set_index}"
        )
    }

    fn insert_metadata_if_absent(&self) -> String {
        "INSERT IGNORE INTO encrypted_field_metadata (name, value) VALUES (?, ?)".to_owned()
    }

    fn upsert_metadata(&self) -> String {
        "INSERT INTO encrypted_field_metadata (name, value) VALUES (?, ?) \
         ON DUPLICATE KEY UPDATE value = VALUES(value)"
            .to_owned()
    }

    fn now_seconds(&self) -> &'static str {
        "CAST(UNIX_TIMESTAMP() AS SIGNED)"
    }

    /// Arithmetic on UTC alone: `UNIX_TIMESTAMP(NOW(3))` would read `NOW` in the session's time
    /// zone, ambiguous for an hour a year where it has daylight saving time.
    fn now_millis(&self) -> &'static str {
        "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000 AS SIGNED)"
    }

    /// `IGNORE` turns other errors into warnings too; the lease row it inserts is constant.
    fn ignore_duplicate(&self) -> (&'static str, &'static str) {
        ("IGNORE", "")
    }

    fn long_text(&self) -> &'static str {
        "MEDIUMTEXT"
    }

    fn upsert_instance(&self) -> String {
        format!(
            "INSERT INTO encrypted_field_instances \
             (id, host, pid, loaded_versions, active_version, pinned_version, \
              blind_index_versions, active_blind_index_version, pinned_blind_index_version, \
              checked_in_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {now}) ON DUPLICATE KEY UPDATE \
             host = VALUES(host), pid = VALUES(pid), loaded_versions = VALUES(loaded_versions), \
             active_version = VALUES(active_version), pinned_version = VALUES(pinned_version), \
             blind_index_versions = VALUES(blind_index_versions), \
             active_blind_index_version = VALUES(active_blind_index_version), \
             pinned_blind_index_version = VALUES(pinned_blind_index_version), \
             checked_in_at = VALUES(checked_in_at)",
            now = self.now_seconds()
        )
    }

    /// The key text compares byte for byte (`utf8mb4_bin`), as the application's keys may.
    fn create_legacy_values_table(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS encrypted_field_legacy_values (\
         table_name VARCHAR(191) NOT NULL, column_name VARCHAR(191) NOT NULL, \
         primary_key VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
         legacy_value LONGBLOB NOT NULL, migrated_value LONGBLOB NOT NULL, \
         migrated_at VARCHAR(40) NOT NULL, PRIMARY KEY (table_name, column_name, primary_key))"
    }

    /// The primary key or a unique index of exactly that one column (a prefix of it is unique
    /// too: equal values have equal prefixes).
    fn unique_single_column_indexes(&self) -> &'static str {
        "SELECT COUNT(*) AS n FROM (\
           SELECT index_name FROM information_schema.statistics \
            WHERE table_schema = DATABASE() AND table_name = ? AND non_unique = 0 \
            GROUP BY index_name \
           HAVING COUNT(*) = 1 AND LOWER(MAX(column_name)) = LOWER(?)) AS u"
    }

    fn legacy_values_table_exists(&self) -> &'static str {
        "SELECT COUNT(*) AS n FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = 'encrypted_field_legacy_values'"
    }

    /// `ON DUPLICATE KEY UPDATE` with no change, not `INSERT IGNORE`: `IGNORE` would also turn a
    /// truncation into a warning.
    fn keep_replaced_statement(&self, target: &ColumnTarget<'_>, rows: usize) -> String {
        let (table, key, column) = (
            self.quote(target.table),
            self.quote(target.primary_key),
            self.quote(target.column),
        );
        let mut values = String::from("SELECT ? AS k, ? AS p, ? AS l, ? AS m, ? AS n");
        for _ in 1..rows {
            values.push_str(" UNION ALL SELECT ?, ?, ?, ?, ?");
        }
        let same = match target.storage {
            Storage::Binary => format!("{table}.{column} = v.n"),
            Storage::Text => format!("CAST({table}.{column} AS BINARY) = CAST(v.n AS BINARY)"),
        };
        format!(
            "INSERT INTO {LEGACY_VALUES_TABLE} (table_name, column_name, primary_key, legacy_value, \
             migrated_value, migrated_at) SELECT ?, ?, v.p, v.l, v.m, ? FROM ({values}) AS v \
             JOIN {table} ON {table}.{key} = v.k AND {same} \
             ON DUPLICATE KEY UPDATE {LEGACY_VALUES_TABLE}.migrated_at = {LEGACY_VALUES_TABLE}.migrated_at"
        )
    }
}

pub(super) fn connect(url: String) -> std::result::Result<Database, ::diesel::ConnectionError> {
    <MysqlConnection as ::diesel::Connection>::establish(&url).map(Database::from)
}

impl From<MysqlConnection> for Database {
    fn from(conn: MysqlConnection) -> Self {
        Self::new(Backend::Mysql(conn), None)
    }
}
