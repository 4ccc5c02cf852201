//! Rotation benchmark: re-encrypting a table of two encrypted columns (one nullable) from key v1
//! to v2, against the I/O limit measured in the same run: the same keyset-batched read and
//! set-based compare-and-swap UPDATE, with precomputed bytes and no cryptography.
//!
//! ```text
//! cargo bench -p encrypted-field --bench rotation --features mysql,postgres            # 100k rows
//! ROTATION_BENCH_ROWS=100000,1000000 ROTATION_BENCH_BATCH=1000 cargo bench -p encrypted-field --bench rotation --features mysql,postgres
//! ```
//!
//! Backends: SQLite (temp file) always; MariaDB and PostgreSQL when `MYSQL_DATABASE_URL` /
//! `PG_DATABASE_URL` are set. Each (backend, size) runs in a child process of its own so that its
//! peak RSS (`VmHWM`) is its own.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Instant;

use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
use encrypted_field::rotation::database::Database;
use encrypted_field::rotation::{Pacing, Progress, Rotation};
use encrypted_field::{KeyRing, MasterKey};

const TABLE: &str = "ef_rotation_bench";
const CHILD_ENV: &str = "ROTATION_BENCH_CHILD";

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let (backend, rows) = spec.split_once(':').expect("child spec is backend:rows");
        child(backend, rows.parse().expect("rows is a number"));
        return;
    }
    let sizes = std::env::var("ROTATION_BENCH_ROWS").unwrap_or_else(|_| "100000".to_owned());
    let mut backends = vec![("sqlite", tempfile_url())];
    if let Ok(url) = std::env::var("MYSQL_DATABASE_URL") {
        backends.push(("mysql", url));
    }
    if let Ok(url) = std::env::var("PG_DATABASE_URL") {
        backends.push(("postgres", url));
    }
    println!(
        "| backend | rows | plain UPDATE rows/s | rotation rows/s | rotation / plain | verify rows/s | peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (backend, url) in &backends {
        for rows in sizes.split(',') {
            let out = Command::new(std::env::current_exe().unwrap())
                .env(CHILD_ENV, format!("{backend}:{rows}"))
                .env("ROTATION_BENCH_URL", url)
                .arg("--bench")
                .output()
                .expect("child runs");
            if !out.status.success() {
                panic!("{backend} {rows}: {}", String::from_utf8_lossy(&out.stderr));
            }
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
}

fn tempfile_url() -> String {
    let dir = std::env::temp_dir().join(format!("ef-rotation-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("bench.sqlite3").display().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn literal(backend: &str, bytes: &[u8]) -> String {
    match backend {
        "postgres" => format!("'\\x{}'::bytea", hex(bytes)),
        _ => format!("x'{}'", hex(bytes)),
    }
}

fn batch_size() -> usize {
    std::env::var("ROTATION_BENCH_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(encrypted_field::rotation::DEFAULT_BATCH_SIZE)
}

/// Fixed batches of [`batch_size`] rows, as the first release wrote them, unless
/// `ROTATION_BENCH_PACED=1` asks for the default pacing (batches sized by time, with pauses).
fn pacing() -> Pacing {
    if std::env::var("ROTATION_BENCH_PACED").is_ok_and(|v| v == "1") {
        Pacing::default().with_max_rows(batch_size())
    } else {
        Pacing::fixed(batch_size())
    }
}

fn setup(db: &mut Database, backend: &str, rows: usize, ring: &KeyRing) {
    let blob = match backend {
        "mysql" => "VARBINARY(255)",
        "postgres" => "BYTEA",
        _ => "BLOB",
    };
    db.execute(&format!("DROP TABLE IF EXISTS {TABLE}"))
        .unwrap();
    db.execute(&format!(
        "CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, ssn {blob} NOT NULL, phone {blob})"
    ))
    .unwrap();
    if backend == "sqlite" {
        db.execute("BEGIN").unwrap();
    }
    for start in (0..rows).step_by(1000) {
        let values: Vec<String> = (start..rows.min(start + 1000))
            .map(|i| {
                let ssn = ring.encrypt_with_context(
                    format!("{:03}-{:02}-{:04}", i % 1000, i % 100, i % 10000).as_bytes(),
                    &format!("{TABLE}.ssn"),
                );
                let phone = if i % 10 == 0 {
                    "NULL".to_owned()
                } else {
                    literal(
                        backend,
                        &ring.encrypt_with_context(
                            format!("+1 555 {i:07}").as_bytes(),
                            &format!("{TABLE}.phone"),
                        ),
                    )
                };
                format!("({i}, {}, {phone})", literal(backend, &ssn))
            })
            .collect();
        db.execute(&format!(
            "INSERT INTO {TABLE} (id, ssn, phone) VALUES {}",
            values.join(", ")
        ))
        .unwrap();
    }
    if backend == "sqlite" {
        db.execute("COMMIT").unwrap();
    }
}

/// Counts rows as the scan reports them.
#[derive(Default)]
struct Quiet;
impl Progress for Quiet {}

fn child(backend: &str, rows: usize) {
    let url = std::env::var("ROTATION_BENCH_URL").unwrap();
    let mut db = Database::connect(&url).unwrap();
    let (v1, v2) = (MasterKey::generate(), MasterKey::generate());
    let old = KeyRing::builder().key(1, v1.clone()).build().unwrap();
    let new = KeyRing::builder().key(1, v1).key(2, v2).build().unwrap();
    setup(&mut db, backend, rows, &old);
    let registry = Registry::new()
        .register_spec(
            ModelSpec::new(TABLE, "id")
                .column(ColumnSpec::binary("ssn"))
                .column(ColumnSpec::binary("phone").nullable()),
        )
        .unwrap();

    // The I/O limit: the same scan and statements, bytes changed without cryptography. Two passes
    // (flip, flip back) leave the table as it was.
    let started = Instant::now();
    for _ in 0..2 {
        encrypted_field::rotation::bench_plain_pass(&mut db, &registry, pacing()).unwrap();
    }
    let plain = (2 * rows) as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let report = Rotation::new(&registry)
        .pacing(pacing())
        .verify(false)
        .progress(&Quiet)
        .run(&mut db, &new)
        .unwrap();
    let rotation = rows as f64 / started.elapsed().as_secs_f64();
    assert_eq!(report.failed_records, 0);

    let started = Instant::now();
    let verified = Rotation::new(&registry)
        .batch_size(batch_size())
        .verify_only(&mut db, &new)
        .unwrap();
    let verify = rows as f64 / started.elapsed().as_secs_f64();
    assert!(
        verified.verification.as_ref().is_some_and(|v| v.ok),
        "verification failed"
    );

    db.execute(&format!("DROP TABLE {TABLE}")).unwrap();
    println!(
        "| {backend} | {rows} | {plain:.0} | {rotation:.0} | {:.2} | {verify:.0} | {:.1} |",
        rotation / plain,
        peak_rss_mib()
    );
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
