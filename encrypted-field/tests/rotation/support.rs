//! The harness: which backends a scenario runs on, tables that drop themselves, raw reads and
//! writes with plain SQL (the engine under test is never used to set up or check), key rings, and
//! rotations that wait their turn for the database-wide rotation lock.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use diesel::backend::Backend as DieselBackend;
use diesel::connection::Connection;
use diesel::deserialize::QueryableByName;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::query_dsl::RunQueryDsl as _;
use diesel::query_dsl::methods::{ExecuteDsl, LoadQuery};
use diesel::result::QueryResult;
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Binary, HasSqlType, Nullable, Text};
use encrypted_field::database::{Database, PrimaryKey};
use encrypted_field::model::{KeyKind, Storage};
use encrypted_field::rotation::{ColumnReport, RotationReport};
use encrypted_field::{Error, KeyRing, MasterKey};

/// Runs every listed scenario (a `fn(&Backend)` of the enclosing module) as one test per backend
/// the build supports: `sqlite::name`, `mysql::name`, `postgres::name`.
macro_rules! per_backend {
    ($($scenario:ident),* $(,)?) => {
        #[cfg(feature = "sqlite")]
        mod sqlite {
            $(#[test] fn $scenario() { crate::support::run(crate::support::Kind::Sqlite, super::$scenario) })*
        }
        #[cfg(feature = "mysql")]
        mod mysql {
            $(#[test] fn $scenario() { crate::support::run(crate::support::Kind::Mysql, super::$scenario) })*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(#[test] fn $scenario() { crate::support::run(crate::support::Kind::Postgres, super::$scenario) })*
        }
    };
}
pub(crate) use per_backend;

/// Runs `$body` with `$conn` bound to the Diesel connection inside a [`Database`].
macro_rules! on_connection {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            #[cfg(feature = "sqlite")]
            Database::Sqlite($conn, _) => $body,
            #[cfg(feature = "mysql")]
            Database::Mysql($conn) => $body,
            #[cfg(feature = "postgres")]
            Database::Postgres($conn) => $body,
            _ => unreachable!("a backend this build does not support"),
        }
    };
}

/// A backend of the three (only those of the enabled features are run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(all(feature = "sqlite", feature = "mysql", feature = "postgres")),
    allow(dead_code)
)]
pub enum Kind {
    Sqlite,
    Mysql,
    Postgres,
}

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
}

/// One lock per server: rotations in this process take turns for the database-wide lock instead
/// of refusing each other (`RotationInProgress`). SQLite files are per test and need none.
static SERVER_TURNS: [Mutex<()>; 2] = [Mutex::new(()), Mutex::new(())];

/// How long a rotation waits for another process's rotation on the same server database.
const LOCK_PATIENCE: Duration = Duration::from_secs(120);

impl Backend {
    fn open(kind: Kind) -> Option<Self> {
        let server = |variable: &str| match std::env::var(variable) {
            Ok(url) if !url.trim().is_empty() => Some(url),
            _ => {
                assert_ne!(
                    std::env::var("ENCRYPTED_FIELD_REQUIRE_BACKENDS").as_deref(),
                    Ok("1"),
                    "ENCRYPTED_FIELD_REQUIRE_BACKENDS=1 but {variable} is not set"
                );
                println!("skipped: set {variable}");
                None
            }
        };
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = dir.path().join("rotation.db").display().to_string();
                Some(Self {
                    kind,
                    url,
                    _dir: Some(dir),
                })
            }
            Kind::Mysql => server("MYSQL_DATABASE_URL").map(|url| Self {
                kind,
                url,
                _dir: None,
            }),
            Kind::Postgres => server("PG_DATABASE_URL").map(|url| Self {
                kind,
                url,
                _dir: None,
            }),
        }
    }

    /// A new connection.
    pub fn connect(&self) -> Database {
        Database::connect(&self.url).unwrap()
    }

    /// Runs `work` (a rotation or migration) when no other rotation of this process holds the
    /// server's lock, and again while another process holds it.
    pub fn rotate<T>(
        &self,
        mut work: impl FnMut() -> encrypted_field::Result<T>,
    ) -> encrypted_field::Result<T> {
        let _turn = self.turn();
        let started = Instant::now();
        loop {
            match work() {
                Err(Error::RotationInProgress) if started.elapsed() < LOCK_PATIENCE => {
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
        if let Some(url) = &self.url {
            if let Ok(mut db) = Database::connect(url) {
                let _ = db.execute(&format!("DROP TABLE IF EXISTS {}", self.name));
            }
        }
    }
}

/// The keys of a test: v1 (the old key) and v2 (the new one), and v3 for a later rotation.
#[derive(Debug, Clone)]
pub struct Keys {
    v1: MasterKey,
    v2: MasterKey,
    v3: MasterKey,
}

impl Keys {
    pub fn generate() -> Self {
        Self {
            v1: MasterKey::generate(),
            v2: MasterKey::generate(),
            v3: MasterKey::generate(),
        }
    }

    /// The ring before the rotation: v1 only.
    pub fn ring_v1(&self) -> KeyRing {
        KeyRing::builder().key(1, self.v1.clone()).build().unwrap()
    }

    /// The ring of the rotation: v1 and v2, v2 active.
    pub fn ring_v2(&self) -> KeyRing {
        KeyRing::builder()
            .key(1, self.v1.clone())
            .key(2, self.v2.clone())
            .build()
            .unwrap()
    }

    /// A later ring: v1, v2 and v3, v3 active.
    pub fn ring_v3(&self) -> KeyRing {
        KeyRing::builder()
            .key(1, self.v1.clone())
            .key(2, self.v2.clone())
            .key(3, self.v3.clone())
            .build()
            .unwrap()
    }
}

/// What a column stores for `plaintext` sealed with `ring`'s active key under `context`.
pub fn seal(ring: &KeyRing, storage: Storage, context: &str, plaintext: &[u8]) -> Vec<u8> {
    let envelope = ring.encrypt_with_context(plaintext, context);
    match storage {
        Storage::Binary => envelope,
        _ => STANDARD.encode(envelope).into_bytes(),
    }
}

/// The envelope a stored value holds.
pub fn envelope(storage: Storage, stored: &[u8]) -> Vec<u8> {
    match storage {
        Storage::Binary => stored.to_vec(),
        _ => STANDARD.decode(stored).unwrap(),
    }
}

/// Opens a stored value.
pub fn open(
    ring: &KeyRing,
    storage: Storage,
    context: &str,
    stored: &[u8],
) -> encrypted_field::Result<Vec<u8>> {
    ring.decrypt_with_context(&envelope(storage, stored), context)
}

/// The key version of a stored value.
pub fn version(storage: Storage, stored: &[u8]) -> u32 {
    let ring = Keys::generate().ring_v1();
    ring.version_of(&envelope(storage, stored)).unwrap().get()
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

/// The report of `column` of `table`.
pub fn column_report<'r>(
    report: &'r RotationReport,
    table: &str,
    column: &str,
) -> &'r ColumnReport {
    report
        .models
        .iter()
        .find(|m| m.table == table)
        .and_then(|m| m.columns.iter().find(|c| c.column == column))
        .unwrap_or_else(|| panic!("no report for {table}.{column} in {report:#?}"))
}

/// The counts of a [`ColumnReport`], comparable in one assertion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: u64,
    pub null: u64,
    pub unchanged: u64,
    pub rewritten: u64,
    pub changed_concurrently: u64,
    pub failed: u64,
}

impl Counts {
    pub fn of(report: &ColumnReport) -> Self {
        Self {
            rows: report.rows,
            null: report.null,
            unchanged: report.unchanged,
            rewritten: report.rewritten,
            changed_concurrently: report.changed_concurrently,
            failed: report.failed,
        }
    }
}

/// The top-level counts must be the sums of the per-column counts.
pub fn assert_totals_match_columns(report: &RotationReport) {
    let columns = || report.models.iter().flat_map(|m| &m.columns);
    assert_eq!(
        report.records_processed,
        columns().map(|c| c.rows - c.null).sum::<u64>(),
        "records_processed"
    );
    assert_eq!(
        report.records_rewritten,
        columns().map(|c| c.rewritten).sum::<u64>(),
        "records_rewritten"
    );
    assert_eq!(
        report.records_changed_concurrently,
        columns().map(|c| c.changed_concurrently).sum::<u64>(),
        "records_changed_concurrently"
    );
    assert_eq!(
        report.failed_records,
        columns().map(|c| c.failed).sum::<u64>(),
        "failed_records"
    );
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

/// An encrypted column of a test table (keyed by `id`) and the plaintext each row should hold.
#[derive(Debug)]
pub struct Expected<'t> {
    pub table: &'t Table,
    pub column: &'static str,
    pub storage: Storage,
    pub key_kind: KeyKind,
    pub plaintexts: BTreeMap<PrimaryKey, Option<Vec<u8>>>,
}

impl<'t> Expected<'t> {
    pub fn new(
        table: &'t Table,
        column: &'static str,
        storage: Storage,
        key_kind: KeyKind,
    ) -> Self {
        Self {
            table,
            column,
            storage,
            key_kind,
            plaintexts: BTreeMap::new(),
        }
    }

    /// The column's context.
    pub fn context(&self) -> String {
        self.table.context(self.column)
    }

    /// What the column stores now, by key.
    pub fn stored(&self, db: &mut Database) -> BTreeMap<PrimaryKey, Option<Vec<u8>>> {
        read_column(
            db,
            self.table,
            "id",
            self.key_kind,
            self.column,
            self.storage,
        )
    }

    /// Every row is there; NULLs are NULL; every other value is on `version` and opens to its
    /// plaintext with `ring`.
    pub fn assert_all_on(&self, db: &mut Database, ring: &KeyRing, version_number: u32) {
        let stored = self.stored(db);
        assert_eq!(
            stored.keys().collect::<Vec<_>>(),
            self.plaintexts.keys().collect::<Vec<_>>(),
            "rows of {}.{}",
            self.table.name,
            self.column
        );
        self.assert_rows_on(db, ring, version_number);
    }

    /// Every listed row opens to its plaintext with `ring`, whatever its version.
    pub fn assert_rows_on_any_version(&self, db: &mut Database, ring: &KeyRing) {
        self.check_rows(db, ring, None);
    }

    /// Like [`assert_all_on`](Self::assert_all_on), for the rows listed only.
    pub fn assert_rows_on(&self, db: &mut Database, ring: &KeyRing, version_number: u32) {
        self.check_rows(db, ring, Some(version_number));
    }

    fn check_rows(&self, db: &mut Database, ring: &KeyRing, version_number: Option<u32>) {
        let stored = self.stored(db);
        for (key, plaintext) in &self.plaintexts {
            let at = format!("{}.{} id={key}", self.table.name, self.column);
            match (plaintext, &stored[key]) {
                (None, None) => {}
                (Some(plaintext), Some(value)) => {
                    if let Some(version_number) = version_number {
                        assert_eq!(version(self.storage, value), version_number, "{at}");
                    }
                    assert_eq!(
                        &open(ring, self.storage, &self.context(), value)
                            .unwrap_or_else(|e| panic!("{at}: {e}")),
                        plaintext,
                        "{at}"
                    );
                }
                (expected, found) => panic!("{at}: expected {expected:?}, found {found:?}"),
            }
        }
    }
}
