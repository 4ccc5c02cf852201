//! Rotation benchmark: re-encrypting a table of two encrypted columns (one nullable), against the
//! I/O limit measured in the same run: the same keyset-batched read and set-based compare-and-swap
//! UPDATE, with precomputed bytes and no cryptography ("plain UPDATE"); and beside one whole-table
//! set-based `UPDATE` of the same columns (after the rotations). On PostgreSQL the table is
//! vacuumed before each measured pass, so that no pass pays for the dead rows of the ones before. Each rotation is run by one stream, then by parallel
//! workers (`Rotation::workers`), each rotating the table to the next key version. For every pass,
//! the CPU time of this process (the client) and of the database server's processes, per row:
//! what more cores on either side would give.
//!
//! ```text
//! cargo bench -p encrypted-field --bench rotation --features mysql,postgres            # 100k rows
//! ROTATION_BENCH_ROWS=1000000 ROTATION_BENCH_WORKERS=0,1,2,4 MYSQL_DATABASE_URL=... PG_DATABASE_URL=... \
//!   cargo bench -p encrypted-field --bench rotation --features mysql,postgres
//! ```
//!
//! `ROTATION_BENCH_WORKERS`: the rotations to run, in order; 0 is one stream (no workers), N is N
//! parallel workers (default `0`); `ROTATION_BENCH_CHUNK_ROWS` sets their chunks' size (default
//! `DEFAULT_CHUNK_ROWS`). Backends: SQLite (temp file) always; MariaDB and PostgreSQL
//! when `MYSQL_DATABASE_URL` / `PG_DATABASE_URL` are set. Each (backend, size) runs in a child
//! process of its own so that its peak RSS (`VmHWM`) is its own.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/process_cpu.rs"]
mod process_cpu;

use std::process::Command;

use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
use encrypted_field::rotation::database::Database;
use encrypted_field::rotation::{Pacing, Progress, Rotation, RotationReport};
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
        "| backend | rows | pass | rows/s | / plain UPDATE | client CPU µs/row | server CPU µs/row \
         | peak RSS MiB |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
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

/// The rotations `ROTATION_BENCH_WORKERS` asks for: 0 for one stream, N for N workers.
fn worker_counts() -> Vec<usize> {
    std::env::var("ROTATION_BENCH_WORKERS")
        .unwrap_or_else(|_| "0".to_owned())
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .expect("ROTATION_BENCH_WORKERS lists numbers")
        })
        .collect()
}

/// The server's process name, whose CPU time is the server's.
fn server_process(backend: &str) -> Option<&'static str> {
    match backend {
        "mysql" => Some("mariadbd"),
        "postgres" => Some("postgres"),
        _ => None,
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

/// Rotates the table to `ring`'s active key, by one stream (`workers` 0) or `workers` workers.
fn rotate(
    db: &mut Database,
    registry: &Registry,
    ring: &KeyRing,
    workers: usize,
) -> RotationReport {
    let url = std::env::var("ROTATION_BENCH_URL").unwrap();
    let connect = || Database::connect(&url);
    let rotation = Rotation::new(registry)
        .pacing(pacing())
        .verify(false)
        .progress(&Quiet);
    let rotation = if workers == 0 {
        rotation
    } else {
        let rotation = rotation.workers(workers, &connect);
        match std::env::var("ROTATION_BENCH_CHUNK_ROWS") {
            Ok(rows) => rotation.chunk_rows(rows.parse().expect("a number of rows")),
            Err(_) => rotation,
        }
    };
    rotation.run(db, ring).unwrap()
}

/// Before each measured pass on PostgreSQL, `VACUUM` the table: every pass leaves a dead version
/// of each row it rewrote, and without this each pass would pay for the ones before it (the
/// server's autovacuum would get to them at a time of its choosing). Not measured.
fn settle(db: &mut Database, backend: &str) {
    if backend == "postgres" {
        db.execute(&format!("VACUUM ANALYZE {TABLE}")).unwrap();
    }
}

/// One line of the table.
struct Line<'a> {
    backend: &'a str,
    rows: usize,
    server: Option<&'a str>,
    plain: f64,
}

impl Line<'_> {
    /// Prints the line of `pass`, which handled `handled` rows at `cost`.
    fn print(&self, pass: &str, handled: usize, cost: process_cpu::CpuCost, rss: Option<f64>) {
        let rate = handled as f64 / cost.wall;
        let per_row = |seconds: f64| seconds * 1e6 / handled as f64;
        let server = match self.server {
            Some(_) => format!("{:.1}", per_row(cost.server)),
            None => "(in the client)".to_owned(),
        };
        let ratio = if self.plain > 0.0 {
            format!("{:.2}", rate / self.plain)
        } else {
            "1.00".to_owned()
        };
        println!(
            "| {} | {} | {pass} | {rate:.0} | {ratio} | {:.1} | {server} | {} |",
            self.backend,
            self.rows,
            per_row(cost.client),
            rss.map_or_else(String::new, |r| format!("{r:.1}"))
        );
    }
}

fn child(backend: &str, rows: usize) {
    let url = std::env::var("ROTATION_BENCH_URL").unwrap();
    let server = server_process(backend);
    let mut db = Database::connect(&url).unwrap();
    let workers = worker_counts();
    let keys: Vec<MasterKey> = (0..=workers.len()).map(|_| MasterKey::generate()).collect();
    // Ring `n` holds versions 1..=n+1, the last one active.
    let ring = |n: usize| {
        let mut builder = KeyRing::builder();
        for (i, key) in keys.iter().take(n + 1).enumerate() {
            builder = builder.key(u32::try_from(i + 1).unwrap(), key.clone());
        }
        builder.build().unwrap()
    };
    setup(&mut db, backend, rows, &ring(0));
    let registry = Registry::new()
        .register_spec(
            ModelSpec::new(TABLE, "id")
                .column(ColumnSpec::binary("ssn"))
                .column(ColumnSpec::binary("phone").nullable()),
        )
        .unwrap();
    let mut line = Line {
        backend,
        rows,
        server,
        plain: 0.0,
    };

    // The I/O limit: the same scan and statements, bytes changed without cryptography. Two passes
    // (flip, flip back) leave the table as it was.
    settle(&mut db, backend);
    let before = process_cpu::CpuSnapshot::take(server);
    for _ in 0..2 {
        encrypted_field::rotation::bench_plain_pass(&mut db, &registry, pacing()).unwrap();
    }
    let cost = before.cost_since(server);
    line.print("plain UPDATE (I/O limit), 1 stream", 2 * rows, cost, None);
    line.plain = (2 * rows) as f64 / cost.wall;

    for (n, &count) in workers.iter().enumerate() {
        settle(&mut db, backend);
        let before = process_cpu::CpuSnapshot::take(server);
        let report = rotate(&mut db, &registry, &ring(n + 1), count);
        let cost = before.cost_since(server);
        assert_eq!(report.failed_records, 0);
        assert_eq!(report.records_rewritten as usize, rows * 2 - rows / 10);
        let pass = match count {
            0 => "rotation, 1 stream".to_owned(),
            1 => "rotation, 1 worker".to_owned(),
            n => format!("rotation, {n} workers"),
        };
        line.print(&pass, rows, cost, None);
    }

    // The same columns rewritten by one whole-table statement, twice (swap, swap back).
    let update = whole_table_update(backend);
    settle(&mut db, backend);
    let before = process_cpu::CpuSnapshot::take(server);
    for _ in 0..2 {
        assert_eq!(db.execute(&update).unwrap(), rows);
    }
    line.print(
        "whole-table UPDATE",
        2 * rows,
        before.cost_since(server),
        None,
    );

    // Every value opened (the whole-table UPDATE damaged none), by one stream.
    let last = ring(workers.len());
    let before = process_cpu::CpuSnapshot::take(server);
    let verified = Rotation::new(&registry)
        .batch_size(batch_size())
        .verify_only(&mut db, &last)
        .unwrap();
    let verification = verified.verification.as_ref();
    assert!(verification.is_some_and(|v| v.ok), "verification failed");
    line.print(
        "verify, 1 stream",
        rows,
        before.cost_since(server),
        Some(peak_rss_mib()),
    );
    db.execute(&format!("DROP TABLE {TABLE}")).unwrap();
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
