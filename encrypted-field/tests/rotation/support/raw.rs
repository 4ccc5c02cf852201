//! Raw reads and writes with plain SQL, bound through Diesel on the connection inside a
//! [`Database`]: how scenarios set tables up and look at the bytes a rotation left.

use std::collections::BTreeMap;

use diesel::backend::Backend as DieselBackend;
use diesel::connection::Connection;
use diesel::deserialize::QueryableByName;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::query_dsl::RunQueryDsl as _;
use diesel::query_dsl::methods::{ExecuteDsl, LoadQuery};
use diesel::result::QueryResult;
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Binary, HasSqlType, Nullable, Text};
use encrypted_field::model::{KeyKind, Storage};
use encrypted_field::rotation::database::{Database, PrimaryKey};

use super::Table;

/// Runs `$body` with `$conn` bound to the Diesel connection inside a [`Database`].
macro_rules! on_connection {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db.connection() {
            #[cfg(feature = "sqlite")]
            encrypted_field::rotation::database::Connection::Sqlite($conn) => $body,
            #[cfg(feature = "mysql")]
            encrypted_field::rotation::database::Connection::Mysql($conn) => $body,
            #[cfg(feature = "postgres")]
            encrypted_field::rotation::database::Connection::Postgres($conn) => $body,
            _ => unreachable!("a backend this build does not support"),
        }
    };
}

/// A value written with plain SQL.
#[derive(Debug, Clone)]
pub enum Cell {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Null,
}

impl Cell {
    /// A stored value as its column holds it: bytes, or (text storage) the text of those bytes.
    pub fn stored(storage: Storage, stored: &[u8]) -> Self {
        match storage {
            Storage::Binary => Self::Bytes(stored.to_vec()),
            _ => Self::Text(String::from_utf8(stored.to_vec()).unwrap()),
        }
    }

    /// A stored value, or NULL.
    pub fn stored_or_null(storage: Storage, stored: Option<&[u8]>) -> Self {
        stored.map_or(Self::Null, |s| Self::stored(storage, s))
    }

    /// A primary key.
    pub fn key(key: &PrimaryKey) -> Self {
        match key {
            PrimaryKey::Integer(value) => Self::Int(*value),
            PrimaryKey::Text(value) => Self::Text(value.clone()),
        }
    }
}

/// `INSERT INTO table (columns) VALUES (cells)`.
pub fn insert(db: &mut Database, table: &Table, columns: &str, cells: &[Cell]) {
    let mut placeholders = Vec::new();
    let mut bound = Vec::new();
    for cell in cells {
        if let Cell::Null = cell {
            placeholders.push("NULL".to_owned());
        } else {
            bound.push(cell.clone());
            placeholders.push(placeholder(db, bound.len()));
        }
    }
    let sql = format!(
        "INSERT INTO {} ({columns}) VALUES ({})",
        table.name,
        placeholders.join(", ")
    );
    assert_eq!(execute(db, &sql, &bound), 1, "{sql}");
}

/// Inserts many rows, a few hundred per statement (no cell may be NULL).
pub fn insert_rows(db: &mut Database, table: &Table, columns: &str, rows: &[Vec<Cell>]) {
    for chunk in rows.chunks(200) {
        let mut bound = Vec::new();
        let mut tuples = Vec::new();
        for row in chunk {
            let mut placeholders = Vec::new();
            for cell in row {
                bound.push(cell.clone());
                placeholders.push(placeholder(db, bound.len()));
            }
            tuples.push(format!("({})", placeholders.join(", ")));
        }
        let sql = format!(
            "INSERT INTO {} ({columns}) VALUES {}",
            table.name,
            tuples.join(", ")
        );
        assert_eq!(execute(db, &sql, &bound), chunk.len());
    }
}

/// `UPDATE table SET column = value WHERE key_column = key`, as an application writes.
pub fn update(
    db: &mut Database,
    table: &Table,
    key_column: &str,
    key: &PrimaryKey,
    column: &str,
    value: Cell,
) {
    let (value_sql, mut bound) = match value {
        Cell::Null => ("NULL".to_owned(), vec![]),
        other => (placeholder(db, 1), vec![other]),
    };
    bound.push(Cell::key(key));
    let sql = format!(
        "UPDATE {} SET {column} = {value_sql} WHERE {key_column} = {}",
        table.name,
        placeholder(db, bound.len())
    );
    assert_eq!(execute(db, &sql, &bound), 1, "{sql}");
}

/// Every row's stored value of `column`, by primary key.
pub fn read_column(
    db: &mut Database,
    table: &Table,
    key_column: &str,
    key_kind: KeyKind,
    column: &str,
    storage: Storage,
) -> BTreeMap<PrimaryKey, Option<Vec<u8>>> {
    let key_sql = match (db.backend_name(), key_kind) {
        ("mysql", KeyKind::Integer) => format!("CAST({key_column} AS SIGNED)"),
        ("postgres", KeyKind::Integer) => format!("CAST({key_column} AS BIGINT)"),
        ("postgres", _) => format!("CAST({key_column} AS TEXT)"),
        _ => key_column.to_owned(),
    };
    let sql = format!(
        "SELECT {key_sql} AS pk, {column} AS value FROM {}",
        table.name
    );
    macro_rules! load {
        ($row:ident, $key:expr, $value:expr) => {
            on_connection!(db, |conn| load::<_, $row>(conn, &sql))
                .unwrap()
                .into_iter()
                .map(|r| ($key(r.pk), r.value.map($value)))
                .collect()
        };
    }
    match (key_kind, storage) {
        (KeyKind::Integer, Storage::Binary) => load!(IntBinary, PrimaryKey::Integer, |v| v),
        (KeyKind::Integer, _) => load!(IntText, PrimaryKey::Integer, String::into_bytes),
        (_, Storage::Binary) => load!(TextBinary, PrimaryKey::Text, |v| v),
        (_, _) => load!(TextText, PrimaryKey::Text, String::into_bytes),
    }
}

/// The stored value of `column` in the row whose `id` is `key` (which must exist).
pub fn read_one(
    db: &mut Database,
    table: &Table,
    key: &PrimaryKey,
    column: &str,
    storage: Storage,
) -> Option<Vec<u8>> {
    let kind = match key {
        PrimaryKey::Integer(_) => KeyKind::Integer,
        PrimaryKey::Text(_) => KeyKind::Text,
    };
    read_column(db, table, "id", kind, column, storage)
        .remove(key)
        .unwrap()
}

/// The ids of the rows whose `column` is one of `candidates`, ascending: an application's
/// `WHERE column IN (…)` lookup, the candidates bound as parameters.
pub fn ids_where_in(
    db: &mut Database,
    table: &Table,
    column: &str,
    candidates: &[Cell],
) -> Vec<i64> {
    let key_sql = match db.backend_name() {
        "mysql" => "CAST(id AS SIGNED)",
        "postgres" => "CAST(id AS BIGINT)",
        _ => "id",
    };
    let placeholders: Vec<String> = (1..=candidates.len()).map(|n| placeholder(db, n)).collect();
    let sql = format!(
        "SELECT {key_sql} AS pk FROM {} WHERE {column} IN ({}) ORDER BY id",
        table.name,
        placeholders.join(", ")
    );
    on_connection!(db, |conn| load_bound::<_, Id>(conn, &sql, candidates))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|row| row.pk)
        .collect()
}

// --- Diesel plumbing -----------------------------------------------------------------------------

fn placeholder(db: &Database, n: usize) -> String {
    match db.backend_name() {
        "postgres" => format!("${n}"),
        _ => "?".to_owned(),
    }
}

fn execute(db: &mut Database, sql: &str, cells: &[Cell]) -> usize {
    on_connection!(db, |conn| execute_on(conn, sql, cells)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

type Query<'q, DB> = BoxedSqlQuery<'q, DB, SqlQuery>;

trait Sql: DieselBackend + HasSqlType<BigInt> + HasSqlType<Text> + HasSqlType<Binary> {}
impl<DB> Sql for DB where
    DB: DieselBackend + HasSqlType<BigInt> + HasSqlType<Text> + HasSqlType<Binary>
{
}

fn execute_on<C>(conn: &mut C, sql: &str, cells: &[Cell]) -> QueryResult<usize>
where
    C: Connection,
    C::Backend: Sql,
    i64: ToSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend>,
    Vec<u8>: ToSql<Binary, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    let mut query = diesel::sql_query(sql).into_boxed::<C::Backend>();
    for cell in cells {
        query = match cell {
            Cell::Int(value) => query.bind::<BigInt, _>(*value),
            Cell::Text(value) => query.bind::<Text, _>(value.clone()),
            Cell::Bytes(value) => query.bind::<Binary, _>(value.clone()),
            Cell::Null => unreachable!("NULL is written as a literal"),
        };
    }
    query.execute(conn)
}

fn load<C, R>(conn: &mut C, sql: &str) -> QueryResult<Vec<R>>
where
    C: Connection,
    C::Backend: Sql,
    R: QueryableByName<C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, R>,
{
    diesel::sql_query(sql)
        .into_boxed::<C::Backend>()
        .load::<R>(conn)
}

macro_rules! keyed_row {
    ($name:ident, $key_sql:ty, $key:ty, $value_sql:ty, $value:ty) => {
        #[derive(diesel::QueryableByName)]
        struct $name {
            #[diesel(sql_type = $key_sql)]
            pk: $key,
            #[diesel(sql_type = Nullable<$value_sql>)]
            value: Option<$value>,
        }
    };
}

keyed_row!(IntBinary, BigInt, i64, Binary, Vec<u8>);
keyed_row!(IntText, BigInt, i64, Text, String);
keyed_row!(TextBinary, Text, String, Binary, Vec<u8>);
keyed_row!(TextText, Text, String, Text, String);

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

fn load_bound<C, R>(conn: &mut C, sql: &str, cells: &[Cell]) -> QueryResult<Vec<R>>
where
    C: Connection,
    C::Backend: Sql,
    i64: ToSql<BigInt, C::Backend>,
    String: ToSql<Text, C::Backend>,
    Vec<u8>: ToSql<Binary, C::Backend>,
    R: QueryableByName<C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, R>,
{
    let mut query = diesel::sql_query(sql).into_boxed::<C::Backend>();
    for cell in cells {
        query = match cell {
            Cell::Int(value) => query.bind::<BigInt, _>(*value),
            Cell::Text(value) => query.bind::<Text, _>(value.clone()),
            Cell::Bytes(value) => query.bind::<Binary, _>(value.clone()),
            Cell::Null => unreachable!("NULL matches nothing"),
        };
    }
    query.load::<R>(conn)
}
