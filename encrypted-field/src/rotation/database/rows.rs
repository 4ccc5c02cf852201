//! The statements of [`Database`](super::Database), written once over any Diesel connection whose
//! backend has the three SQL types they bind; the SQL text comes from a [`Dialect`].

use ::diesel::backend::Backend;
use ::diesel::connection::Connection;
use ::diesel::deserialize::{FromSql, QueryableByName};
use ::diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use ::diesel::query_dsl::RunQueryDsl;
use ::diesel::query_dsl::methods::{ExecuteDsl, LoadQuery};
use ::diesel::result::QueryResult;
use ::diesel::row::NamedRow;
use ::diesel::serialize::ToSql;
use ::diesel::sql_types::{BigInt, Binary, Nullable, Text};

use super::lease::{HeldLease, WriteError, create_if_missing, fence};
use super::supported_backend::SupportedBackend;
use super::{
    ColumnTarget, Dialect, KeptValue, LEGACY_VALUES_TABLE, MAX_BYTES_PER_STATEMENT,
    MAX_ROWS_PER_STATEMENT, PrimaryKey, StoredRow, Swap,
};
use crate::model::{KeyKind, ModelSpec, Storage};

type Query<'q, DB> = BoxedSqlQuery<'q, DB, SqlQuery>;

/// A row read by `read_batch`: the key (column `pk`, of SQL type `K`), then every other column of
/// the select list, by position, as nullable bytes. A TEXT column's value reads as its UTF-8
/// bytes on every backend.
pub(super) struct KeyedRow<K>(KeyAndFields, std::marker::PhantomData<K>);

/// A row's key, and its other columns as nullable bytes.
type KeyAndFields = (PrimaryKey, Vec<Option<Vec<u8>>>);

/// How a primary key of one kind is read.
pub(super) trait KeyColumn {
    type Sql: ::diesel::sql_types::SingleValue;
    type Rust;
    fn key(value: Self::Rust) -> PrimaryKey;
}

pub(super) struct IntegerKey;
impl KeyColumn for IntegerKey {
    type Sql = BigInt;
    type Rust = i64;
    fn key(value: i64) -> PrimaryKey {
        PrimaryKey::Integer(value)
    }
}

pub(super) struct TextKey;
impl KeyColumn for TextKey {
    type Sql = Text;
    type Rust = String;
    fn key(value: String) -> PrimaryKey {
        PrimaryKey::Text(value)
    }
}

impl<DB, K> QueryableByName<DB> for KeyedRow<K>
where
    DB: Backend,
    K: KeyColumn,
    K::Rust: FromSql<K::Sql, DB>,
    Vec<u8>: FromSql<Binary, DB>,
{
    fn build<'a>(row: &impl NamedRow<'a, DB>) -> ::diesel::deserialize::Result<Self> {
        let key = K::key(NamedRow::get::<K::Sql, K::Rust>(row, "pk")?);
        let values = (1..row.field_count())
            .map(|index| {
                let field = ::diesel::row::Row::get(row, index)
                    .ok_or("a selected column is missing from the row")?;
                <Option<Vec<u8>> as FromSql<Nullable<Binary>, DB>>::from_nullable_sql(
                    ::diesel::row::Field::value(&field),
                )
            })
            .collect::<::diesel::deserialize::Result<_>>()?;
        Ok(Self((key, values), std::marker::PhantomData))
    }
}

fn bind_key<'q, DB>(query: Query<'q, DB>, key: &PrimaryKey) -> Query<'q, DB>
where
    DB: SupportedBackend,
    i64: ToSql<BigInt, DB>,
    String: ToSql<Text, DB>,
{
    match key {
        PrimaryKey::Integer(value) => query.bind::<BigInt, _>(*value),
        PrimaryKey::Text(value) => query.bind::<Text, _>(value.clone()),
    }
}

fn bind_value<'q, DB>(query: Query<'q, DB>, storage: Storage, value: &[u8]) -> Query<'q, DB>
where
    DB: SupportedBackend,
    Vec<u8>: ToSql<Binary, DB>,
    String: ToSql<Text, DB>,
{
    match storage {
        Storage::Binary => query.bind::<Binary, _>(value.to_vec()),
        // Values of TEXT columns were read as `String` or produced as base64, so they are UTF-8.
        Storage::Text => query.bind::<Text, _>(String::from_utf8_lossy(value).into_owned()),
    }
}

/// Reads one batch of a model in key order, every encrypted column at once: rows after `after`
/// and up to `until` (both included when given), at most `limit`.
pub(super) fn read_batch<C, D>(
    conn: &mut C,
    dialect: &D,
    model: &ModelSpec,
    (after, until): (Option<&PrimaryKey>, Option<&PrimaryKey>),
    limit: i64,
) -> QueryResult<Vec<StoredRow>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: ToSql<BigInt, C::Backend> + FromSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend> + FromSql<Text, C::Backend>,
    Vec<u8>: ToSql<Binary, C::Backend> + FromSql<Binary, C::Backend>,
    for<'q> Query<'q, C::Backend>:
        LoadQuery<'q, C, KeyedRow<IntegerKey>> + LoadQuery<'q, C, KeyedRow<TextKey>>,
{
    let sql = dialect.select_batch_statement(model, after.is_some(), until.is_some());
    let mut query = ::diesel::sql_query(sql).into_boxed::<C::Backend>();
    for key in [after, until].into_iter().flatten() {
        query = bind_key(query, key);
    }
    let query = query.bind::<BigInt, _>(limit);
    let rows = load_keyed(query, conn, model.primary_key_kind())?;
    Ok(rows
        .into_iter()
        .map(|(key, fields)| StoredRow::from_fields(key, fields, model))
        .collect())
}

/// The key `offset` rows after `after` (or from the first row) in key order, if there is one.
pub(super) fn key_at_offset<C, D>(
    conn: &mut C,
    dialect: &D,
    model: &ModelSpec,
    after: Option<&PrimaryKey>,
    offset: i64,
) -> QueryResult<Option<PrimaryKey>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: ToSql<BigInt, C::Backend> + FromSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend> + FromSql<Text, C::Backend>,
    Vec<u8>: FromSql<Binary, C::Backend>,
    for<'q> Query<'q, C::Backend>:
        LoadQuery<'q, C, KeyedRow<IntegerKey>> + LoadQuery<'q, C, KeyedRow<TextKey>>,
{
    let sql = dialect.select_key_at_offset_statement(model, after.is_some());
    let mut query = ::diesel::sql_query(sql).into_boxed::<C::Backend>();
    if let Some(key) = after {
        query = bind_key(query, key);
    }
    let query = query.bind::<BigInt, _>(offset);
    let rows = load_keyed(query, conn, model.primary_key_kind())?;
    Ok(rows.into_iter().next().map(|(key, _)| key))
}

/// Runs a query whose first column is the key `pk` (of `kind`), and whose others are bytes.
fn load_keyed<'q, C>(
    query: Query<'q, C::Backend>,
    conn: &mut C,
    kind: KeyKind,
) -> QueryResult<Vec<KeyAndFields>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    Query<'q, C::Backend>:
        LoadQuery<'q, C, KeyedRow<IntegerKey>> + LoadQuery<'q, C, KeyedRow<TextKey>>,
{
    Ok(match kind {
        KeyKind::Integer => query
            .load::<KeyedRow<IntegerKey>>(conn)?
            .into_iter()
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        KeyKind::Text => query
            .load::<KeyedRow<TextKey>>(conn)?
            .into_iter()
            .map(|r| r.0)
            .collect(),
    })
}

/// Applies the swaps of every column in one transaction that first checks `lease` (see
/// `lease::fence`), in statements of at most [`MAX_ROWS_PER_STATEMENT`] rows and
/// [`MAX_BYTES_PER_STATEMENT`] bytes; returns the rows updated per column.
pub(super) fn swap_batch<C, D>(
    conn: &mut C,
    dialect: &D,
    lease: Option<&HeldLease>,
    swaps: &[(ColumnTarget<'_>, Vec<Swap>)],
) -> Result<Vec<usize>, WriteError>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: ToSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend>,
    Vec<u8>: ToSql<Binary, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    conn.transaction(|conn| {
        fence(conn, dialect, lease)?;
        Ok(swap_rows(conn, dialect, swaps)?)
    })
}

/// The statements of [`swap_batch`], in the caller's transaction.
fn swap_rows<C, D>(
    conn: &mut C,
    dialect: &D,
    swaps: &[(ColumnTarget<'_>, Vec<Swap>)],
) -> QueryResult<Vec<usize>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: ToSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend>,
    Vec<u8>: ToSql<Binary, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    {
        swaps
            .iter()
            .map(|(target, swaps)| {
                let mut updated = 0;
                // Swaps that set the blind index too and swaps that do not take two statements.
                let runs =
                    swaps.chunk_by(|a, b| a.blind_index.is_some() == b.blind_index.is_some());
                for chunk in runs.flat_map(chunks) {
                    // A run's swaps all set the index, or none does.
                    let sets_index = chunk.first().is_some_and(|s| s.blind_index.is_some());
                    let target = ColumnTarget {
                        blind_index: target.blind_index.filter(|_| sets_index),
                        ..*target
                    };
                    let index_storage = target.blind_index.map(|(_, storage)| storage);
                    let mut query =
                        ::diesel::sql_query(dialect.swap_statement(&target, chunk.len()))
                            .into_boxed::<C::Backend>();
                    for swap in chunk {
                        query = bind_key(query, &swap.key);
                        query = bind_value(query, target.storage, &swap.old);
                        query = bind_value(query, target.storage, &swap.new);
                        if let (Some(storage), Some(index)) = (index_storage, &swap.blind_index) {
                            query = bind_value(query, storage, index);
                        }
                    }
                    updated += query.execute(conn)?;
                }
                Ok(updated)
            })
            .collect()
    }
}

/// Splits swaps into runs that respect both statement limits (a run holds at least one swap).
fn chunks(swaps: &[Swap]) -> impl Iterator<Item = &[Swap]> {
    let mut rest = swaps;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut len = 0;
        for swap in rest.iter().take(MAX_ROWS_PER_STATEMENT) {
            bytes +=
                swap.old.len() + swap.new.len() + swap.blind_index.as_ref().map_or(0, Vec::len);
            if len > 0 && bytes > MAX_BYTES_PER_STATEMENT {
                break;
            }
            len += 1;
        }
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        Some(chunk)
    })
}

/// [`swap_batch`], then in the same transaction the replaced bytes of every swap that was
/// applied, into [`LEGACY_VALUES_TABLE`].
pub(super) fn swap_batch_keeping_replaced<C, D>(
    conn: &mut C,
    dialect: &D,
    lease: Option<&HeldLease>,
    swaps: &[(ColumnTarget<'_>, Vec<Swap>)],
    when: &str,
) -> Result<Vec<usize>, WriteError>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: ToSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend>,
    Vec<u8>: ToSql<Binary, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    conn.transaction(|conn| {
        fence(conn, dialect, lease)?;
        let updated = swap_rows(conn, dialect, swaps)?;
        for (target, swaps) in swaps {
            for chunk in chunks(swaps) {
                let mut query =
                    ::diesel::sql_query(dialect.keep_replaced_statement(target, chunk.len()))
                        .into_boxed::<C::Backend>()
                        .bind::<Text, _>(target.table.to_owned())
                        .bind::<Text, _>(target.column.to_owned())
                        .bind::<Text, _>(when.to_owned());
                for swap in chunk {
                    query = bind_key(query, &swap.key);
                    query = query
                        .bind::<Text, _>(swap.key.as_text())
                        .bind::<Binary, _>(swap.old.clone())
                        .bind::<Binary, _>(swap.new.clone());
                    query = bind_value(query, target.storage, &swap.new);
                }
                query.execute(conn)?;
            }
        }
        Ok(updated)
    })
}

/// Runs one statement with no bind.
pub(super) fn run<C>(conn: &mut C, sql: &str) -> QueryResult<usize>
where
    C: Connection,
    C::Backend: SupportedBackend,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    ::diesel::sql_query(sql)
        .into_boxed::<C::Backend>()
        .execute(conn)
}

#[derive(QueryableByName)]
pub(super) struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
pub(super) struct KeptRow {
    #[diesel(sql_type = Text)]
    primary_key: String,
    #[diesel(sql_type = Binary)]
    legacy_value: Vec<u8>,
    #[diesel(sql_type = Binary)]
    migrated_value: Vec<u8>,
}

/// Whether [`LEGACY_VALUES_TABLE`] exists.
fn kept_table_exists<C, D>(conn: &mut C, dialect: &D) -> QueryResult<bool>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: FromSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, Count>,
{
    let rows = ::diesel::sql_query(dialect.legacy_values_table_exists())
        .into_boxed::<C::Backend>()
        .load::<Count>(conn)?;
    Ok(rows.first().is_some_and(|r| r.n > 0))
}

/// Whether `table.column` has a unique index of its own, and how many rows have a NULL there.
pub(super) fn unique_key<C, D>(
    conn: &mut C,
    dialect: &D,
    table: &str,
    column: &str,
) -> QueryResult<(bool, i64)>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: FromSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, Count>,
{
    // The NULL count first: on a missing table or column it is the database's own error, which
    // names them.
    let sql = format!(
        "SELECT COUNT(*) AS n FROM {} WHERE {} IS NULL",
        dialect.quote(table),
        dialect.quote(column)
    );
    let nulls = ::diesel::sql_query(sql)
        .into_boxed::<C::Backend>()
        .load::<Count>(conn)?;
    let indexes = ::diesel::sql_query(dialect.unique_single_column_indexes())
        .into_boxed::<C::Backend>()
        .bind::<Text, _>(table.to_owned())
        .bind::<Text, _>(column.to_owned())
        .load::<Count>(conn)?;
    let unique = indexes.first().is_some_and(|r| r.n > 0);
    Ok((unique, nulls.first().map_or(0, |r| r.n)))
}

/// How many values of `table.column` are kept (0 when the table does not exist).
pub(super) fn count_kept<C, D>(
    conn: &mut C,
    dialect: &D,
    table: &str,
    column: &str,
) -> QueryResult<u64>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: FromSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, Count>,
{
    if !kept_table_exists(conn, dialect)? {
        return Ok(0);
    }
    let sql = format!(
        "SELECT COUNT(*) AS n FROM {LEGACY_VALUES_TABLE} WHERE table_name = {} AND column_name = {}",
        dialect.placeholder(1),
        dialect.placeholder(2)
    );
    let rows = ::diesel::sql_query(sql)
        .into_boxed::<C::Backend>()
        .bind::<Text, _>(table.to_owned())
        .bind::<Text, _>(column.to_owned())
        .load::<Count>(conn)?;
    Ok(rows.first().map_or(0, |r| u64::try_from(r.n).unwrap_or(0)))
}

/// Up to `limit` kept values of `target` after `after`, in key order (none when the table does not
/// exist).
pub(super) fn read_kept<C, D>(
    conn: &mut C,
    dialect: &D,
    target: &ColumnTarget<'_>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<KeptValue>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: ToSql<BigInt, C::Backend> + FromSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend> + FromSql<Text, C::Backend>,
    Vec<u8>: FromSql<Binary, C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, Count> + LoadQuery<'q, C, KeptRow>,
{
    if !kept_table_exists(conn, dialect)? {
        return Ok(Vec::new());
    }
    let mut query = ::diesel::sql_query(dialect.select_kept_statement(after.is_some()))
        .into_boxed::<C::Backend>()
        .bind::<Text, _>(target.table.to_owned())
        .bind::<Text, _>(target.column.to_owned());
    if let Some(after) = after {
        query = query.bind::<Text, _>(after.to_owned());
    }
    query
        .bind::<BigInt, _>(limit)
        .load::<KeptRow>(conn)?
        .into_iter()
        .map(|row| {
            let key = match target.key_kind {
                KeyKind::Integer => {
                    row.primary_key
                        .parse()
                        .map(PrimaryKey::Integer)
                        .map_err(|_| {
                            ::diesel::result::Error::DeserializationError(
                                format!(
                                    "the kept primary key `{}` is not an integer",
                                    row.primary_key
                                )
                                .into(),
                            )
                        })?
                }
                KeyKind::Text => PrimaryKey::Text(row.primary_key),
            };
            Ok(KeptValue {
                key,
                legacy: row.legacy_value,
                migrated: row.migrated_value,
            })
        })
        .collect()
}

/// Puts kept legacy bytes back with compare-and-swap and deletes the kept row of each value
/// restored, in one transaction; returns the keys of the values left alone.
pub(super) fn restore_kept<C, D>(
    conn: &mut C,
    dialect: &D,
    lease: Option<&HeldLease>,
    target: &ColumnTarget<'_>,
    kept: &[KeptValue],
) -> Result<Vec<PrimaryKey>, WriteError>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: ToSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend>,
    Vec<u8>: ToSql<Binary, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    let delete = format!(
        "DELETE FROM {LEGACY_VALUES_TABLE} WHERE table_name = {} AND column_name = {} AND primary_key = {}",
        dialect.placeholder(1),
        dialect.placeholder(2),
        dialect.placeholder(3)
    );
    conn.transaction(|conn| {
        fence(conn, dialect, lease)?;
        let mut left = Vec::new();
        for value in kept {
            let mut query =
                ::diesel::sql_query(dialect.swap_statement(target, 1)).into_boxed::<C::Backend>();
            query = bind_key(query, &value.key);
            query = bind_value(query, target.storage, &value.migrated);
            query = bind_value(query, target.storage, &value.legacy);
            if query.execute(conn)? == 0 {
                left.push(value.key.clone());
                continue;
            }
            ::diesel::sql_query(delete.as_str())
                .into_boxed::<C::Backend>()
                .bind::<Text, _>(target.table.to_owned())
                .bind::<Text, _>(target.column.to_owned())
                .bind::<Text, _>(value.key.as_text())
                .execute(conn)?;
        }
        Ok(left)
    })
}

/// Deletes every kept value of `table.column`, in one transaction that first checks `lease`;
/// returns how many were deleted (0 when the table does not exist). The first of finalization's
/// two steps, each retried on its own: run again, it would find nothing left to delete, so its
/// count is the one of the attempt that committed.
pub(super) fn delete_kept<C, D>(
    conn: &mut C,
    dialect: &D,
    lease: Option<&HeldLease>,
    table: &str,
    column: &str,
) -> Result<u64, WriteError>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: ToSql<BigInt, C::Backend> + FromSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C> + LoadQuery<'q, C, Count>,
{
    if !kept_table_exists(conn, dialect)? {
        return Ok(0);
    }
    let sql = format!(
        "DELETE FROM {LEGACY_VALUES_TABLE} WHERE table_name = {} AND column_name = {}",
        dialect.placeholder(1),
        dialect.placeholder(2)
    );
    let deleted = conn.transaction(|conn| {
        fence(conn, dialect, lease)?;
        Ok::<_, WriteError>(
            ::diesel::sql_query(sql)
                .into_boxed::<C::Backend>()
                .bind::<Text, _>(table.to_owned())
                .bind::<Text, _>(column.to_owned())
                .execute(conn)?,
        )
    })?;
    Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
}

/// Drops [`LEGACY_VALUES_TABLE`] if it holds no value of any column; returns whether it did.
/// The second step of finalization: `lease` is checked first, in the same transaction as the
/// count and the `DROP TABLE` on PostgreSQL and SQLite, whose DDL is transactional; MySQL and
/// MariaDB commit the check implicitly right before the `DROP TABLE`, so the check still comes
/// right before it, and a `DROP` that waits for a metadata lock and times out is retried from
/// the check.
pub(super) fn drop_kept_table_if_empty<C, D>(
    conn: &mut C,
    dialect: &D,
    lease: Option<&HeldLease>,
) -> Result<bool, WriteError>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: ToSql<BigInt, C::Backend> + FromSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C> + LoadQuery<'q, C, Count>,
{
    if !kept_table_exists(conn, dialect)? {
        return Ok(false);
    }
    conn.transaction(|conn| {
        fence(conn, dialect, lease)?;
        let left = ::diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {LEGACY_VALUES_TABLE}"))
            .into_boxed::<C::Backend>()
            .load::<Count>(conn)?;
        if left.first().is_none_or(|r| r.n != 0) {
            return Ok(false);
        }
        run(conn, &format!("DROP TABLE {LEGACY_VALUES_TABLE}"))?;
        Ok(true)
    })
}

#[derive(QueryableByName)]
pub(super) struct MetadataValue {
    #[diesel(sql_type = Text)]
    value: String,
}

/// Reads a metadata value, creating the table first if needed.
pub(super) fn metadata<C, D>(conn: &mut C, dialect: &D, name: &str) -> QueryResult<Option<String>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend> + FromSql<Text, C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, MetadataValue> + ExecuteDsl<C>,
{
    create_if_missing(conn, dialect.create_metadata_table())?;
    let sql = format!(
        "SELECT value FROM encrypted_field_metadata WHERE name = {}",
        dialect.placeholder(1)
    );
    let rows = ::diesel::sql_query(sql)
        .into_boxed::<C::Backend>()
        .bind::<Text, _>(name.to_owned())
        .load::<MetadataValue>(conn)?;
    Ok(rows.into_iter().next().map(|row| row.value))
}

/// Inserts a metadata row unless one with that name exists, creating the table first if needed.
/// The insertion is one transaction that first checks `lease` (the table is created before it:
/// MySQL commits before DDL).
pub(super) fn insert_metadata_if_absent<C, D>(
    conn: &mut C,
    dialect: &D,
    lease: Option<&HeldLease>,
    name: &str,
    value: &str,
) -> Result<(), WriteError>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    create_if_missing(conn, dialect.create_metadata_table())?;
    conn.transaction(|conn| {
        fence(conn, dialect, lease)?;
        ::diesel::sql_query(dialect.insert_metadata_if_absent())
            .into_boxed::<C::Backend>()
            .bind::<Text, _>(name.to_owned())
            .bind::<Text, _>(value.to_owned())
            .execute(conn)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swap(bytes: usize) -> Swap {
        Swap {
            key: PrimaryKey::Integer(1),
            old: vec![0; bytes],
            new: vec![0; bytes],
            blind_index: None,
        }
    }

    #[test]
    fn chunks_respect_the_row_limit() {
        let swaps: Vec<Swap> = (0..2500).map(|_| swap(10)).collect();
        let sizes: Vec<usize> = chunks(&swaps).map(<[Swap]>::len).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
    }

    #[test]
    fn chunks_respect_the_byte_limit_but_always_take_one() {
        let swaps: Vec<Swap> = (0..3).map(|_| swap(MAX_BYTES_PER_STATEMENT)).collect();
        let sizes: Vec<usize> = chunks(&swaps).map(<[Swap]>::len).collect();
        assert_eq!(sizes, [1, 1, 1]);
    }
}
