//! What a rotation costs the application beside it: an application thread updates random rows of
//! the table being rotated (a plain column, so compare-and-swap never conflicts) every 2 ms and
//! times each write, first with no rotation running, then during a rotation under each pacing.
//!
//! ```text
//! cargo bench -p encrypted-field --bench app_writes --features mysql,postgres
//! APP_WRITES_BENCH_ROWS=200000 cargo bench -p encrypted-field --bench app_writes
//! ```
//!
//! Backends: SQLite (a temp file in WAL mode, the application's busy timeout 10 s) always;
//! MariaDB and PostgreSQL when `MYSQL_DATABASE_URL` / `PG_DATABASE_URL` are set.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
use encrypted_field::rotation::database::Database;
use encrypted_field::rotation::{Pacing, Rotation};
use encrypted_field::{KeyRing, MasterKey};
use rand::Rng as _;

const TABLE: &str = "ef_app_writes_bench";

fn main() {
    let rows: usize = std::env::var("APP_WRITES_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let mut backends = vec![(
        "sqlite",
        dir.path().join("bench.sqlite3").display().to_string(),
    )];
    if let Ok(url) = std::env::var("MYSQL_DATABASE_URL") {
        backends.push(("mysql", url));
    }
    if let Ok(url) = std::env::var("PG_DATABASE_URL") {
        backends.push(("postgres", url));
    }
    let pacings = [
        ("fixed 1000 rows, no pause (0.1.0)", Pacing::fixed(1000)),
        ("fixed 10000 rows, no pause", Pacing::fixed(10_000)),
        (
            "default: 50 ms, max 1000 rows, pause per backend",
            Pacing::default(),
        ),
        (
            "50 ms, max 10000 rows, pause per backend",
            Pacing::default().with_max_rows(10_000),
        ),
        (
            "50 ms, max 1000 rows, pause 0.5",
            Pacing::default().with_pause_ratio(0.5),
        ),
        (
            "20 ms, pause 1.0",
            Pacing::default()
                .with_transaction_time(Duration::from_millis(20))
                .with_pause_ratio(1.0),
        ),
    ];
    println!(
        "| backend | rows | pacing | rotation rows/s | app writes | p50 ms | p99 ms | max ms | failed |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|");
    for (backend, url) in &backends {
        let (v1, v2) = (MasterKey::generate(), MasterKey::generate());
        let old = KeyRing::builder().key(1, v1.clone()).build().unwrap();
        let new = KeyRing::builder().key(1, v1).key(2, v2).build().unwrap();
        let registry = Registry::new()
            .register_spec(ModelSpec::new(TABLE, "id").column(ColumnSpec::binary("ssn")))
            .unwrap();

        setup(url, backend, rows, &old);
        let idle = measure(url, rows, || thread::sleep(Duration::from_secs(3)));
        print_row(backend, rows, "no rotation (baseline)", None, &idle);

        for (name, pacing) in &pacings {
            setup(url, backend, rows, &old);
            let mut rate = 0.0;
            let writes = measure(url, rows, || {
                let mut db = Database::connect(url).unwrap();
                let started = Instant::now();
                let report = Rotation::new(&registry)
                    .pacing(*pacing)
                    .verify(false)
                    .run(&mut db, &new)
                    .unwrap();
                assert_eq!(report.failed_records, 0);
                rate = report.records_rewritten as f64 / started.elapsed().as_secs_f64();
            });
            print_row(backend, rows, name, Some(rate), &writes);
        }
        let mut db = Database::connect(url).unwrap();
        db.execute(&format!("DROP TABLE {TABLE}")).unwrap();
    }
}

/// Application writes timed while `during` runs: each write's latency, or `None` if it failed.
fn measure(url: &str, rows: usize, during: impl FnOnce()) -> Vec<Option<Duration>> {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, url) = (Arc::clone(&stop), url.to_owned());
        thread::spawn(move || {
            let mut db = Database::connect(&url).unwrap();
            let mut random = rand::rng();
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let id = random.random_range(0..rows);
                let started = Instant::now();
                let ok = db
                    .execute(&format!(
                        "UPDATE {TABLE} SET touched = touched + 1 WHERE id = {id}"
                    ))
                    .is_ok();
                latencies.push(ok.then(|| started.elapsed()));
                thread::sleep(Duration::from_millis(2));
            }
            latencies
        })
    };
    during();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap()
}

fn print_row(
    backend: &str,
    rows: usize,
    pacing: &str,
    rate: Option<f64>,
    writes: &[Option<Duration>],
) {
    let failed = writes.iter().filter(|w| w.is_none()).count();
    let mut ok: Vec<Duration> = writes.iter().flatten().copied().collect();
    ok.sort();
    let at = |q: f64| {
        ok.get(((ok.len() as f64 * q) as usize).min(ok.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let rate = rate.map_or_else(|| "–".to_owned(), |r| format!("{r:.0}"));
    println!(
        "| {backend} | {rows} | {pacing} | {rate} | {} | {:.2} | {:.2} | {:.1} | {failed} |",
        writes.len(),
        at(0.5),
        at(0.99),
        ok.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
}

fn setup(url: &str, backend: &str, rows: usize, ring: &KeyRing) {
    let mut db = Database::connect(url).unwrap();
    let blob = match backend {
        "mysql" => "VARBINARY(255)",
        "postgres" => "BYTEA",
        _ => "BLOB",
    };
    if backend == "sqlite" {
        db.execute("PRAGMA journal_mode = WAL").unwrap();
    }
    db.execute(&format!("DROP TABLE IF EXISTS {TABLE}"))
        .unwrap();
    db.execute(&format!(
        "CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, ssn {blob} NOT NULL, touched BIGINT NOT NULL)"
    ))
    .unwrap();
    for start in (0..rows).step_by(1000) {
        let values: Vec<String> = (start..rows.min(start + 1000))
            .map(|i| {
                let ssn = ring.encrypt_with_context(
                    format!("{:03}-{:02}-{:04}", i % 1000, i % 100, i % 10000).as_bytes(),
                    &format!("{TABLE}.ssn"),
                );
                let hex: String = ssn.iter().map(|b| format!("{b:02x}")).collect();
                let literal = match backend {
                    "postgres" => format!("'\\x{hex}'::bytea"),
                    _ => format!("x'{hex}'"),
                };
                format!("({i}, {literal}, 0)")
            })
            .collect();
        db.execute(&format!(
            "INSERT INTO {TABLE} (id, ssn, touched) VALUES {}",
            values.join(", ")
        ))
        .unwrap();
    }
}
