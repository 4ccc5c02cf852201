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
use encrypted_field::rotation::{Pacing, Progress, Rotation, RotationReport};
use encrypted_field::{KeyRing, MasterKey};

const TABLE: &str = "ef_rotation_bench";
const CHILD_ENV: &str = "ROTATION_BENCH_CHILD";

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let mut parts = spec.split(':');
        let (Some(backend), Some(rows), Some(workers)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("child spec is backend:rows:workers, not {spec}");
        };
        child(
            backend,
            rows.parse().expect("rows is a number"),
            workers.parse().expect("workers is a number"),
        );
        return;
    }
    let sizes = std::env::var("ROTATION_BENCH_ROWS").unwrap_or_else(|_| "100000".to_owned());
    // One rotation worker until `Rotation::workers` exists; then `ROTATION_BENCH_WORKERS=1,2,4`
    // runs each (backend, size) once per count (see `rotate`).
    let workers = std::env::var("ROTATION_BENCH_WORKERS").unwrap_or_else(|_| "1".to_owned());
    let mut backends = vec![("sqlite", tempfile_url())];
    if let Ok(url) = std::env::var("MYSQL_DATABASE_URL") {
        backends.push(("mysql", url));
    }
    if let Ok(url) = std::env::var("PG_DATABASE_URL") {
        backends.push(("postgres", url));
    }
    println!(
        "| backend | rows | workers | plain UPDATE rows/s | rotation rows/s | rotation / plain \
         | whole-table UPDATE rows/s | verify rows/s | peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (backend, url) in &backends {
        for rows in sizes.split(',') {
            for workers in workers.split(',') {
                let out = Command::new(std::env::current_exe().unwrap())
                    .env(CHILD_ENV, format!("{backend}:{rows}:{workers}"))
                    .env("ROTATION_BENCH_URL", url)
                    .arg("--bench")
                    .output()
                    .expect("child runs");
                if !out.status.success() {
                    panic!(
                        "{backend} {rows} x{workers}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                print!("{}", String::from_utf8_lossy(&out.stdout));
            }
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

/// The whole-table reference: one set-based `UPDATE` of both columns over every row, no batches,
/// no compare-and-swap, no bytes sent. It swaps the first two IV bytes of each value (NULL stays
/// NULL), so running it twice leaves the table as it was. SQLite has no byte functions for BLOBs:
/// its statement goes through `hex`/`unhex` (SQLite 3.41).
fn whole_table_update(backend: &str) -> String {
    // The IV starts after the 7-byte header: bytes 8 and 9 (1-based) are swapped.
    let swap = |column: &str| match backend {
        "postgres" => format!(
            "substring({column} from 1 for 7) || substring({column} from 9 for 1) \
             || substring({column} from 8 for 1) || substring({column} from 10)"
        ),
        "mysql" => format!(
            "CONCAT(SUBSTRING({column}, 1, 7), SUBSTRING({column}, 9, 1), \
             SUBSTRING({column}, 8, 1), SUBSTRING({column}, 10))"
        ),
        // `hex(NULL)` is the empty string, which `unhex` turns into an empty BLOB: keep NULL.
        _ => format!(
            "CASE WHEN {column} IS NULL THEN NULL ELSE \
             unhex(substr(hex({column}), 1, 14) || substr(hex({column}), 17, 2) \
             || substr(hex({column}), 15, 2) || substr(hex({column}), 19)) END"
        ),
    };
    format!(
        "UPDATE {TABLE} SET ssn = {}, phone = {}",
        swap("ssn"),
        swap("phone")
    )
}

/// Rotates the table with `workers` workers.
fn rotate(
    db: &mut Database,
    registry: &Registry,
    ring: &KeyRing,
    workers: usize,
) -> RotationReport {
    // ---- ROTATION_BENCH_WORKERS: when `Rotation::workers(count, connect)` lands, replace this
    // check with `.workers(workers, &connect)` on the builder below, where
    // `let connect = || Database::connect(&std::env::var("ROTATION_BENCH_URL").unwrap());`
    // (each worker opens its own connection; the plain pass stays single-connection). ----
    assert_eq!(
        workers, 1,
        "ROTATION_BENCH_WORKERS > 1 needs Rotation::workers (not in this build)"
    );
    Rotation::new(registry)
        .pacing(pacing())
        .verify(false)
        .progress(&Quiet)
        .run(db, ring)
        .unwrap()
}

fn child(backend: &str, rows: usize, workers: usize) {
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
    let report = rotate(&mut db, &registry, &new, workers);
    let rotation = rows as f64 / started.elapsed().as_secs_f64();
    assert_eq!(report.failed_records, 0);
    assert_eq!(report.records_rewritten as usize, rows * 2 - rows / 10);

    // A second reference, after the rotation so that the figures above stay comparable with
    // earlier runs: the same columns rewritten by one whole-table statement, twice (swap, swap
    // back). The verification below opens every value, so a statement that damaged a byte fails
    // the run.
    let update = whole_table_update(backend);
    let started = Instant::now();
    for _ in 0..2 {
        assert_eq!(db.execute(&update).unwrap(), rows);
    }
    let whole_table = (2 * rows) as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let verified = Rotation::new(&registry)
        .batch_size(batch_size())
        .verify_only(&mut db, &new)
        .unwrap();
    let verify = rows as f64 / started.elapsed().as_secs_f64();
    let verification = verified.verification.as_ref();
    assert!(verification.is_some_and(|v| v.ok), "verification failed");

    db.execute(&format!("DROP TABLE {TABLE}")).unwrap();
    println!(
        "| {backend} | {rows} | {workers} | {plain:.0} | {rotation:.0} | {:.2} | {whole_table:.0} \
         | {verify:.0} | {:.1} |",
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
