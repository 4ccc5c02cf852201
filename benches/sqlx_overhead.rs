//! What `Encrypted<String>` costs through sqlx: insert and select of 10,000 rows with one
//! encrypted column (a binary column holding envelopes) beside the same rows with a plain
//! `String` column, in the same run, on the same backend: the shape of `diesel_overhead`. Inserts
//! are batched (1,000 rows per INSERT, built with `QueryBuilder::push_values`) inside one
//! transaction, the same shape for both; selects read every row into a `FromRow` struct. A third
//! line, `envelope_bytes`, moves the same envelopes as plain `Vec<u8>` (sealed before the clock
//! starts, never opened): the gap between it and `plain` is what the larger value costs the
//! database, the gap between it and `encrypted` is what encrypting or decrypting costs.
//!
//! SQLite (a temporary file, WAL journal, `synchronous = NORMAL`) always; MySQL/MariaDB and
//! PostgreSQL when `MYSQL_DATABASE_URL` / `PG_DATABASE_URL` are set (the bench creates and drops
//! tables `ef_sqlx_bench_plain` and `ef_sqlx_bench_encrypted` there). One current-thread tokio
//! runtime drives every query.
//!
//! Run: `cargo bench --bench sqlx_overhead --features sqlx,mysql,postgres`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use encrypted_field::sqlx::Encrypted;
use encrypted_field::{KeyRing, MasterKey};
use sqlx::Connection as _;
use tokio::runtime::Runtime;

const ROWS: i64 = 10_000;
const ROWS_PER_INSERT: usize = 1_000;

encrypted_field::column_context!(PhoneNumber = "ef_sqlx_bench_encrypted.phone");

#[derive(sqlx::FromRow)]
#[allow(
    dead_code,
    reason = "decoded, counted and dropped: what a select costs"
)]
struct PlainRow {
    id: i64,
    phone: String,
}

#[derive(sqlx::FromRow)]
#[allow(
    dead_code,
    reason = "decoded, counted and dropped: what a select costs"
)]
struct EncryptedRow {
    id: i64,
    phone: Encrypted<String, PhoneNumber>,
}

/// The encrypted table's rows as bytes, sealed before the clock starts: the reference that tells
/// what the envelope's size costs the database apart from what encrypting costs.
#[derive(sqlx::FromRow)]
#[allow(
    dead_code,
    reason = "decoded, counted and dropped: what a select costs"
)]
struct EnvelopeRow {
    id: i64,
    phone: Vec<u8>,
}

fn phone(i: i64) -> String {
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

/// One function per backend: sqlx's executors are concrete per connection type.
macro_rules! bench_backend {
    ($name:ident, $db:ty, binary = $binary:literal, bigint = $bigint:literal, empty = $empty:literal) => {
        fn $name(
            c: &mut Criterion,
            rt: &Runtime,
            backend: &str,
            conn: &mut <$db as sqlx::Database>::Connection,
        ) {
            type Conn = <$db as sqlx::Database>::Connection;

            async fn execute(conn: &mut Conn, sql: String) {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
            fn empty(rt: &Runtime, conn: &mut Conn, table: &str) {
                rt.block_on(execute(conn, format!("{} {table}", $empty)));
            }
            /// 1,000 rows per INSERT, in one transaction: the same shape for every table and type.
            async fn insert<T>(conn: &mut Conn, table: &str, rows: &[(i64, T)])
            where
                for<'t> &'t T: sqlx::Encode<'t, $db> + sqlx::Type<$db>,
            {
                let mut tx = conn.begin().await.unwrap();
                for batch in rows.chunks(ROWS_PER_INSERT) {
                    let mut query =
                        sqlx::QueryBuilder::<$db>::new(format!("INSERT INTO {table} (id, phone) "));
                    query.push_values(batch, |mut row, (id, phone)| {
                        row.push_bind(*id).push_bind(phone);
                    });
                    query.build().execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
            async fn select<R>(conn: &mut Conn, table: &str) -> Vec<R>
            where
                R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
            {
                let rows = sqlx::query_as::<$db, R>(sqlx::AssertSqlSafe(format!(
                    "SELECT id, phone FROM {table}"
                )))
                .fetch_all(&mut *conn)
                .await
                .unwrap();
                assert_eq!(rows.len(), ROWS as usize);
                rows
            }

            for ddl in [
                "DROP TABLE IF EXISTS ef_sqlx_bench_plain".to_owned(),
                "DROP TABLE IF EXISTS ef_sqlx_bench_encrypted".to_owned(),
                format!(
                    "CREATE TABLE ef_sqlx_bench_plain (id {} PRIMARY KEY, phone TEXT NOT NULL)",
                    $bigint
                ),
                format!(
                    "CREATE TABLE ef_sqlx_bench_encrypted (id {} PRIMARY KEY, phone {} NOT NULL)",
                    $bigint, $binary
                ),
            ] {
                rt.block_on(execute(conn, ddl));
            }
            let plain: Vec<(i64, String)> = (1..=ROWS).map(|id| (id, phone(id))).collect();
            let encrypted: Vec<(i64, Encrypted<String, PhoneNumber>)> = (1..=ROWS)
                .map(|id| (id, Encrypted::new(phone(id))))
                .collect();
            let ring = encrypted_field::global().unwrap();
            let envelopes: Vec<(i64, Vec<u8>)> = (1..=ROWS)
                .map(|id| {
                    let envelope = ring.encrypt_with_context(
                        phone(id).as_bytes(),
                        "ef_sqlx_bench_encrypted.phone",
                    );
                    (id, envelope)
                })
                .collect();

            let mut group = c.benchmark_group(format!("sqlx_overhead/{backend}"));
            group.bench_function("insert/plain", |b| {
                b.iter_custom(|iters| {
                    timed_after(
                        iters,
                        conn,
                        |conn| empty(rt, conn, "ef_sqlx_bench_plain"),
                        |conn| rt.block_on(insert(conn, "ef_sqlx_bench_plain", &plain)),
                    )
                })
            });
            group.bench_function("insert/encrypted", |b| {
                b.iter_custom(|iters| {
                    timed_after(
                        iters,
                        conn,
                        |conn| empty(rt, conn, "ef_sqlx_bench_encrypted"),
                        |conn| rt.block_on(insert(conn, "ef_sqlx_bench_encrypted", &encrypted)),
                    )
                })
            });
            group.bench_function("insert/envelope_bytes", |b| {
                b.iter_custom(|iters| {
                    timed_after(
                        iters,
                        conn,
                        |conn| empty(rt, conn, "ef_sqlx_bench_encrypted"),
                        |conn| rt.block_on(insert(conn, "ef_sqlx_bench_encrypted", &envelopes)),
                    )
                })
            });
            // The select benchmarks read the 10,000 rows of each table (also when the insert
            // benchmarks are filtered out).
            empty(rt, conn, "ef_sqlx_bench_plain");
            rt.block_on(insert(conn, "ef_sqlx_bench_plain", &plain));
            empty(rt, conn, "ef_sqlx_bench_encrypted");
            rt.block_on(insert(conn, "ef_sqlx_bench_encrypted", &encrypted));
            group.bench_function("select/plain", |b| {
                b.iter(|| rt.block_on(select::<PlainRow>(conn, "ef_sqlx_bench_plain")))
            });
            group.bench_function("select/encrypted", |b| {
                b.iter(|| rt.block_on(select::<EncryptedRow>(conn, "ef_sqlx_bench_encrypted")))
            });
            group.bench_function("select/envelope_bytes", |b| {
                b.iter(|| rt.block_on(select::<EnvelopeRow>(conn, "ef_sqlx_bench_encrypted")))
            });
            group.finish();
            for ddl in [
                "DROP TABLE ef_sqlx_bench_plain",
                "DROP TABLE ef_sqlx_bench_encrypted",
            ] {
                rt.block_on(execute(conn, ddl.to_owned()));
            }
        }
    };
}

// PostgreSQL empties its tables with TRUNCATE: repeated DELETEs would leave it a table of dead
// rows for the select benchmarks to wade through (until autovacuum runs). On MariaDB, TRUNCATE
// recreates the table's file, whose regrowth then dominates the insert; InnoDB purges deleted
// rows by itself. SQLite's DELETE without WHERE truncates.
#[cfg(feature = "sqlite")]
bench_backend!(
    bench_sqlite,
    sqlx::Sqlite,
    binary = "BLOB",
    bigint = "INTEGER",
    empty = "DELETE FROM"
);
#[cfg(feature = "mysql")]
bench_backend!(
    bench_mysql,
    sqlx::MySql,
    binary = "BLOB",
    bigint = "BIGINT",
    empty = "DELETE FROM"
);
#[cfg(feature = "postgres")]
bench_backend!(
    bench_pg,
    sqlx::Postgres,
    binary = "BYTEA",
    bigint = "BIGINT",
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

fn sqlx_overhead(c: &mut Criterion) {
    encrypted_field::install(
        KeyRing::builder()
            .key(1, MasterKey::generate())
            .build()
            .unwrap(),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    #[cfg(feature = "sqlite")]
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.sqlite");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut sqlite = rt.block_on(sqlx::SqliteConnection::connect(&url)).unwrap();
        // The usual production setting, and it keeps the shared disk's fsync latency out of the
        // numbers: a commit appends to the write-ahead log without waiting for the disk.
        for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"] {
            rt.block_on(sqlx::query(pragma).execute(&mut sqlite))
                .unwrap();
        }
        bench_sqlite(c, &rt, "sqlite", &mut sqlite);
    }
    #[cfg(feature = "mysql")]
    if let Some(url) = server_url("MYSQL_DATABASE_URL") {
        let mut mysql = rt.block_on(sqlx::MySqlConnection::connect(&url)).unwrap();
        bench_mysql(c, &rt, "mysql", &mut mysql);
    }
    #[cfg(feature = "postgres")]
    if let Some(url) = server_url("PG_DATABASE_URL") {
        let mut pg = rt.block_on(sqlx::PgConnection::connect(&url)).unwrap();
        bench_pg(c, &rt, "postgres", &mut pg);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = sqlx_overhead
}
criterion_main!(benches);
