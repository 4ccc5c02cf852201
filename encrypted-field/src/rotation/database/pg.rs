//! PostgreSQL: `UPDATE … FROM (VALUES …)` with typed placeholders and double-quoted identifiers.

use ::diesel::PgConnection;

use super::{Backend, ColumnTarget, Database, Dialect, LEGACY_VALUES_TABLE};
use crate::model::{KeyKind, Storage};

/// The backend's name, as [`Database::backend_name`] gives it.
pub(super) const NAME: &str = "postgres";

pub(super) struct PgDialect;

impl Dialect for PgDialect {
    fn quote(&self, identifier: &str) -> String {
        format!("\"{}\"", identifier.replace('"', "\"\""))
    }

    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn key_expression(&self, quoted_key: &str, kind: KeyKind) -> String {
        match kind {
            KeyKind::Integer => format!("CAST({quoted_key} AS BIGINT)"),
            KeyKind::Text => format!("CAST({quoted_key} AS TEXT)"),
        }
    }

    fn swap_statement(&self, target: &ColumnTarget<'_>, rows: usize) -> String {
        let (table, key, column) = (
            self.quote(target.table),
            self.quote(target.primary_key),
            self.quote(target.column),
        );
        let key_type = match target.key_kind {
            KeyKind::Integer => "bigint",
            KeyKind::Text => "text",
        };
        let sql_type = |storage| match storage {
            Storage::Binary => "bytea",
            Storage::Text => "text",
        };
        let value_type = sql_type(target.storage);
        let index = target
            .blind_index
            .map(|(name, storage)| (self.quote(name), sql_type(storage)));
        let binds = if index.is_some() { 4 } else { 3 };
        let values: Vec<String> = (0..rows)
            .map(|i| {
                let first = binds * i + 1;
                let index_bind = index
                    .as_ref()
                    .map_or_else(String::new, |(_, t)| format!(", ${}::{t}", first + 3));
                format!(
                    "(${first}::{key_type}, ${}::{value_type}, ${}::{value_type}{index_bind})",
                    first + 1,
                    first + 2,
                )
            })
            .collect();
        let key_cast = match target.key_kind {
            KeyKind::Integer => format!("{table}.{key}"),
            KeyKind::Text => format!("CAST({table}.{key} AS TEXT)"),
        };
        let (set_index, index_alias) = match &index {
            Some((name, _)) => (format!(", {name} = v.i"), ", i"),
            None => (String::new(), ""),
        };
        format!(
            "UPDATE {table} SET {column} = v.n{set_index} FROM (VALUES {}) AS v(k, o, n{index_alias}) \
             WHERE {key_cast} = v.k AND {table}.{column} = v.o",
            values.join(", ")
        )
    }

    fn insert_metadata_if_absent(&self) -> String {
        "INSERT INTO encrypted_field_metadata (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING".to_owned()
    }

    fn upsert_metadata(&self) -> String {
        "INSERT INTO encrypted_field_metadata (name, value) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"
            .to_owned()
    }

    fn now_seconds(&self) -> &'static str {
        "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)"
    }

    /// `clock_timestamp()`, not `now()`: the time the statement runs, not its transaction's
    /// start.
    fn now_millis(&self) -> &'static str {
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    }

    fn ignore_duplicate(&self) -> (&'static str, &'static str) {
        ("", " ON CONFLICT DO NOTHING")
    }

    fn upsert_instance(&self) -> String {
        format!(
            "INSERT INTO encrypted_field_instances \
             (id, host, pid, loaded_versions, active_version, pinned_version, \
              blind_index_versions, active_blind_index_version, pinned_blind_index_version, \
              checked_in_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {now}) ON CONFLICT (id) DO UPDATE SET \
             host = EXCLUDED.host, pid = EXCLUDED.pid, loaded_versions = EXCLUDED.loaded_versions, \
             active_version = EXCLUDED.active_version, pinned_version = EXCLUDED.pinned_version, \
             blind_index_versions = EXCLUDED.blind_index_versions, \
             active_blind_index_version = EXCLUDED.active_blind_index_version, \
             pinned_blind_index_version = EXCLUDED.pinned_blind_index_version, \
             checked_in_at = EXCLUDED.checked_in_at",
            now = self.now_seconds()
        )
    }

    fn create_legacy_values_table(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS encrypted_field_legacy_values (\
         table_name VARCHAR(191) NOT NULL, column_name VARCHAR(191) NOT NULL, \
         primary_key TEXT NOT NULL, legacy_value BYTEA NOT NULL, migrated_value BYTEA NOT NULL, \
         migrated_at VARCHAR(40) NOT NULL, PRIMARY KEY (table_name, column_name, primary_key))"
    }

    /// The primary key or a unique index of exactly that one column, with no predicate (a partial
    /// index is unique only where its predicate holds), of the table the search path finds.
    fn unique_single_column_indexes(&self) -> &'static str {
        "SELECT COUNT(*) AS n FROM pg_index AS i \
           JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
          WHERE i.indrelid = to_regclass(quote_ident($1)) AND i.indisunique AND i.indnkeyatts = 1 \
            AND i.indpred IS NULL AND a.attname = $2"
    }

    fn legacy_values_table_exists(&self) -> &'static str {
        "SELECT COUNT(*) AS n FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = 'encrypted_field_legacy_values'"
    }

    fn keep_replaced_statement(&self, target: &ColumnTarget<'_>, rows: usize) -> String {
        let (table, column) = (self.quote(target.table), self.quote(target.column));
        let (key_type, value_type) = types(target);
        let values: Vec<String> = (0..rows)
            .map(|i| {
                let n = 3 + 5 * i;
                format!(
                    "(${}::{key_type}, ${}::text, ${}::bytea, ${}::bytea, ${}::{value_type})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5
                )
            })
            .collect();
        format!(
            "INSERT INTO {LEGACY_VALUES_TABLE} (table_name, column_name, primary_key, legacy_value, \
             migrated_value, migrated_at) SELECT $1::text, $2::text, v.p, v.l, v.m, $3::text \
             FROM (VALUES {}) AS v(k, p, l, m, n) JOIN {table} ON {} = v.k AND {table}.{column} = v.n \
             ON CONFLICT DO NOTHING",
            values.join(", "),
            key_cast(self, target)
        )
    }
}

/// The SQL types of a target's key and values in a `VALUES` list.
fn types(target: &ColumnTarget<'_>) -> (&'static str, &'static str) {
    let key_type = match target.key_kind {
        KeyKind::Integer => "bigint",
        KeyKind::Text => "text",
    };
    let value_type = match target.storage {
        Storage::Binary => "bytea",
        Storage::Text => "text",
    };
    (key_type, value_type)
}

/// The target table's key, comparable with a `VALUES` key of [`types`].
fn key_cast(dialect: &PgDialect, target: &ColumnTarget<'_>) -> String {
    let key = format!(
        "{}.{}",
        dialect.quote(target.table),
        dialect.quote(target.primary_key)
    );
    match target.key_kind {
        KeyKind::Integer => key,
        KeyKind::Text => format!("CAST({key} AS TEXT)"),
    }
}

/// Opens a connection that prepares no named statement, so it works through a pooler in
/// transaction mode (PgBouncer before 1.21 keeps no prepared statement across transactions, which
/// may run on different server sessions).
///
/// Diesel prepares a statement it does not cache unnamed, and sends it with its parameters in one
/// message (`PQsendQueryParams`), which any pooler passes through; it caches, under a name, the
/// statements of its query builder. Every statement here is a `sql_query`, which Diesel never
/// caches, so the cache would stay empty anyway: disabling it keeps that true of any statement a
/// later change adds, at no cost.
pub(super) fn connect(url: String) -> std::result::Result<Database, ::diesel::ConnectionError> {
    let mut conn = <PgConnection as ::diesel::Connection>::establish(&url)?;
    ::diesel::Connection::set_prepared_statement_cache_size(
        &mut conn,
        ::diesel::connection::CacheSize::Disabled,
    );
    Ok(Database::from(conn))
}

impl From<PgConnection> for Database {
    fn from(conn: PgConnection) -> Self {
        Self::new(Backend::Postgres(conn), None)
    }
}
