//! What `Encrypted<String>` costs through Diesel: insert and select of 10,000 rows with one
//! encrypted column (a `Binary` column holding envelopes) beside the same rows with a plain
//! `String` column, in the same run, on the same backend. Inserts are batched (1,000 rows per
//! INSERT) inside one transaction, the same shape for both. A third line, `envelope_bytes`, moves
//! the same envelopes as plain `Vec<u8>` (sealed before the clock starts, never opened): the gap
//! between it and `plain` is what the larger value costs the database, the gap between it and
//! `encrypted` is what encrypting or decrypting costs.
//!
//! SQLite (a temporary file, WAL journal, `synchronous = NORMAL`) always; MySQL/MariaDB and PostgreSQL when `MYSQL_DATABASE_URL` /
//! `PG_DATABASE_URL` are set (the bench creates and drops tables `ef_bench_plain` and
//! `ef_bench_encrypted` there).
//!
//! Run: `cargo bench --bench diesel_overhead --features mysql,postgres`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use diesel::prelude::*;
use encrypted_field::diesel::Encrypted;
use encrypted_field::{KeyRing, MasterKey};

const ROWS: i32 = 10_000;
const ROWS_PER_INSERT: usize = 1_000;

diesel::table! {
    ef_bench_plain (id) {
        id -> Integer,
        phone -> Text,
    }
}

diesel::table! {
    ef_bench_encrypted (id) {
        id -> Integer,
        phone -> Binary,
    }
}

encrypted_field::column_context!(PhoneNumber = "ef_bench_encrypted.phone");

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = ef_bench_plain)]
struct PlainRow {
    id: i32,
    phone: String,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = ef_bench_encrypted)]
struct EncryptedRow {
    id: i32,
    phone: Encrypted<String, PhoneNumber>,
}

/// The encrypted table's rows as bytes, sealed before the clock starts: the reference that tells
/// what the envelope's size costs the database apart from what encrypting costs.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = ef_bench_encrypted)]
struct EnvelopeRow {
    id: i32,
    phone: Vec<u8>,
}

fn phone(i: i32) -> String {
    format!("+1 555 {:04}", i % 10_000)
}

/// Sums the time of `timed` over `iters` runs, running `untimed` before each one.
fn timed_after<C>(
    iters: u64,
    conn: &mut C,
    mut untimed: impl FnMut(&mut C),
    mut timed: impl FnMut(&mut C),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        untimed(conn);
        let start = Instant::now();
        timed(conn);
        total += start.elapsed();
    }
    total
}

/// One function per backend: Diesel's query types are concrete per connection.
macro_rules! bench_backend {
    ($name:ident, $conn:ty, binary = $binary:literal, empty = $empty:literal) => {
        fn $name(c: &mut Criterion, backend: &str, conn: &mut $conn) {
            fn empty(conn: &mut $conn, table: &str) {
                diesel::sql_query(format!("{} {table}", $empty))
                    .execute(conn)
                    .unwrap();
            }
            /// 1,000 rows per INSERT, in one transaction: the same shape for both tables.
            fn insert_plain(conn: &mut $conn, rows: &[PlainRow]) {
                conn.transaction(|conn| {
                    for batch in rows.chunks(ROWS_PER_INSERT) {
                        diesel::insert_into(ef_bench_plain::table)
                            .values(batch)
                            .execute(conn)?;
                    }
                    QueryResult::Ok(())
                })
                .unwrap()
            }
            fn insert_encrypted(conn: &mut $conn, rows: &[EncryptedRow]) {
                conn.transaction(|conn| {
                    for batch in rows.chunks(ROWS_PER_INSERT) {
                        diesel::insert_into(ef_bench_encrypted::table)
                            .values(batch)
                            .execute(conn)?;
                    }
                    QueryResult::Ok(())
                })
                .unwrap()
            }
            fn insert_envelopes(conn: &mut $conn, rows: &[EnvelopeRow]) {
                conn.transaction(|conn| {
                    for batch in rows.chunks(ROWS_PER_INSERT) {
                        diesel::insert_into(ef_bench_encrypted::table)
                            .values(batch)
                            .execute(conn)?;
                    }
                    QueryResult::Ok(())
                })
                .unwrap()
            }
            fn refill_plain(conn: &mut $conn, rows: &[PlainRow]) {
                empty(conn, "ef_bench_plain");
                insert_plain(conn, rows);
            }
            fn refill_encrypted(conn: &mut $conn, rows: &[EncryptedRow]) {
                empty(conn, "ef_bench_encrypted");
                insert_encrypted(conn, rows);
            }

            for ddl in [
                "DROP TABLE IF EXISTS ef_bench_plain".to_owned(),
                "DROP TABLE IF EXISTS ef_bench_encrypted".to_owned(),
                "CREATE TABLE ef_bench_plain (id INTEGER PRIMARY KEY, phone TEXT NOT NULL)"
                    .to_owned(),
                format!(
                    "CREATE TABLE ef_bench_encrypted (id INTEGER PRIMARY KEY, phone {} NOT NULL)",
                    $binary
                ),
            ] {
                diesel::sql_query(ddl).execute(conn).unwrap();
            }
            let plain: Vec<PlainRow> = (1..=ROWS)
                .map(|id| PlainRow {
                    id,
                    phone: phone(id),
                })
                .collect();
            let encrypted: Vec<EncryptedRow> = (1..=ROWS)
                .map(|id| EncryptedRow {
                    id,
                    phone: Encrypted::new(phone(id)),
                })
                .collect();
            let ring = encrypted_field::global().unwrap();
            let envelopes: Vec<EnvelopeRow> = (1..=ROWS)
                .map(|id| EnvelopeRow {
                    id,
                    phone: ring
                        .encrypt_with_context(phone(id).as_bytes(), "ef_bench_encrypted.phone"),
                })
                .collect();

            let mut group = c.benchmark_group(format!("diesel_overhead/{backend}"));
            group.bench_function("insert/plain", |b| {
                b.iter_custom(|iters| {
                    timed_after(
                        iters,
                        conn,
                        |conn| empty(conn, "ef_bench_plain"),
                        |conn| insert_plain(conn, &plain),
                    )
                })
            });
            group.bench_function("insert/encrypted", |b| {
                b.iter_custom(|iters| {
                    timed_after(
                        iters,
                        conn,
                        |conn| empty(conn, "ef_bench_encrypted"),
                        |conn| insert_encrypted(conn, &encrypted),
                    )
                })
            });
            group.bench_function("insert/envelope_bytes", |b| {
                b.iter_custom(|iters| {
                    timed_after(
                        iters,
                        conn,
                        |conn| empty(conn, "ef_bench_encrypted"),
                        |conn| insert_envelopes(conn, &envelopes),
                    )
                })
            });
            // The select benchmarks read the 10,000 rows of each table (also when the insert
            // benchmarks are filtered out).
            refill_plain(conn, &plain);
            refill_encrypted(conn, &encrypted);
            group.bench_function("select/plain", |b| {
                b.iter(|| {
                    let rows: Vec<PlainRow> = ef_bench_plain::table
                        .select(PlainRow::as_select())
                        .load(conn)
                        .unwrap();
                    assert_eq!(rows.len(), ROWS as usize);
                    rows
                })
            });
            group.bench_function("select/encrypted", |b| {
                b.iter(|| {
                    let rows: Vec<EncryptedRow> = ef_bench_encrypted::table
                        .select(EncryptedRow::as_select())
                        .load(conn)
                        .unwrap();
                    assert_eq!(rows.len(), ROWS as usize);
                    rows
                })
            });
            group.bench_function("select/envelope_bytes", |b| {
                b.iter(|| {
                    let rows: Vec<EnvelopeRow> = ef_bench_encrypted::table
                        .select(EnvelopeRow::as_select())
                        .load(conn)
                        .unwrap();
                    assert_eq!(rows.len(), ROWS as usize);
                    rows
                })
            });
            group.finish();
            for ddl in ["DROP TABLE ef_bench_plain", "DROP TABLE ef_bench_encrypted"] {
                diesel::sql_query(ddl).execute(conn).unwrap();
            }
        }
    };
}

// PostgreSQL empties its tables with TRUNCATE: repeated DELETEs would leave it a table of dead
// rows for the select benchmarks to wade through (until autovacuum runs). On MariaDB, TRUNCATE
// recreates the table's file, whose regrowth then dominates the insert; InnoDB purges deleted
// rows by itself. SQLite's DELETE without WHERE truncates.
bench_backend!(
    bench_sqlite,
    diesel::SqliteConnection,
    binary = "BLOB",
    empty = "DELETE FROM"
);
#[cfg(feature = "mysql")]
bench_backend!(
    bench_mysql,
    diesel::MysqlConnection,
    binary = "BLOB",
    empty = "DELETE FROM"
);
#[cfg(feature = "postgres")]
bench_backend!(
    bench_pg,
    diesel::PgConnection,
    binary = "BYTEA",
    empty = "TRUNCATE TABLE"
);

#[cfg(any(feature = "mysql", feature = "postgres"))]
fn server_url(var: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|url| !url.trim().is_empty());
    if url.is_none() {
        eprintln!("skipped: set {var}");
    }
    url
}

fn diesel_overhead(c: &mut Criterion) {
    encrypted_field::install(
        KeyRing::builder()
            .key(1, MasterKey::generate())
            .build()
            .unwrap(),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.sqlite");
    let mut sqlite = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    // The usual production setting, and it keeps the shared disk's fsync latency out of the
    // numbers: a commit appends to the write-ahead log without waiting for the disk.
    diesel::sql_query("PRAGMA journal_mode = WAL")
        .execute(&mut sqlite)
        .unwrap();
    diesel::sql_query("PRAGMA synchronous = NORMAL")
        .execute(&mut sqlite)
        .unwrap();
    bench_sqlite(c, "sqlite", &mut sqlite);

    #[cfg(feature = "mysql")]
    if let Some(url) = server_url("MYSQL_DATABASE_URL") {
        bench_mysql(
            c,
            "mysql",
            &mut diesel::MysqlConnection::establish(&url).unwrap(),
        );
    }
    #[cfg(feature = "postgres")]
    if let Some(url) = server_url("PG_DATABASE_URL") {
        bench_pg(
            c,
            "postgres",
            &mut diesel::PgConnection::establish(&url).unwrap(),
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = diesel_overhead
}
criterion_main!(benches);
