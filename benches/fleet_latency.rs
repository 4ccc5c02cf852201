//! The fleet's request latency with and without a rotation running, in the same run: three
//! `phone_requests serve` processes (release build) on one database, the fleet test's load (6
//! client threads × 50 requests/s: reads, writes, blind-index lookups, creations, each answer
//! checked), and from a fourth process a rotation that rewrites every value. p50 and p99 of the
//! requests started before the rotation (after a second of warm-up) against those started while
//! it ran.
//!
//! The rotation is the fleet test's: `rotate --new-key --force`, which provisions `enc_key_v2`,
//! waits until every instance has loaded it (the instances reload every second,
//! `ENCRYPTED_FIELD_RELOAD_INTERVAL=1s`, and check in every second), records it active, waits
//! until every instance seals with it, then rewrites every value. "During" is the whole command,
//! its waits included.
//!
//! SQLite (a WAL file) always; MariaDB and PostgreSQL when `MYSQL_DATABASE_URL` /
//! `PG_DATABASE_URL` are set and the bench is built with their features (each in a database of
//! its own, dropped afterwards). `FLEET_BENCH_ROWS` (default 100000) rows are seeded first.
//!
//! Run: `cargo bench --bench fleet_latency` (add `--features mysql,postgres` for the servers).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/phone_requests_e2e/example.rs"]
#[allow(dead_code, reason = "shared with the tests, which use all of it")]
mod example;
#[path = "../tests/phone_requests_fleet/fleet.rs"]
#[allow(dead_code, reason = "shared with the fleet test")]
mod fleet;
#[path = "../tests/phone_requests_fleet/load.rs"]
mod load;
#[cfg(any(feature = "mysql", feature = "postgres"))]
#[path = "../tests/phone_requests_e2e/servers.rs"]
mod servers;

use std::path::Path;
use std::time::{Duration, Instant};

use example::App;
use fleet::Instance;
use load::{Load, LoadReport, LoadShape, Op, Sample};

/// The fleet test's load: 300 requests/s across the three instances.
const SHAPE: LoadShape = LoadShape {
    threads: 6,
    per_thread_rate: 50.0,
    rows_per_thread: 10,
};

/// Load before the rotation (the first second is warm-up, not counted) and after it.
const BEFORE: Duration = Duration::from_secs(11);
const WARM_UP: Duration = Duration::from_secs(1);
const AFTER: Duration = Duration::from_secs(3);

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, without it: then
    // only check that it builds.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let rows: u32 = std::env::var("FLEET_BENCH_ROWS")
        .ok()
        .and_then(|rows| rows.parse().ok())
        .unwrap_or(100_000);
    println!(
        "fleet latency: 3 instances, {} threads × {} requests/s, {rows} rows seeded",
        SHAPE.threads, SHAPE.per_thread_rate
    );
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("data/fleet.sqlite3").display()
    );
    measure("SQLite (WAL)", dir.path(), &url, rows);
    #[cfg(feature = "mysql")]
    on_server("MariaDB", encrypted_field::testing::Backend::Mysql, rows);
    #[cfg(feature = "postgres")]
    on_server(
        "PostgreSQL",
        encrypted_field::testing::Backend::Postgres,
        rows,
    );
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
fn on_server(name: &str, backend: encrypted_field::testing::Backend, rows: u32) {
    let Some(database) = servers::FreshDatabase::create(backend) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    measure(name, dir.path(), database.url(), rows);
}

/// One backend: the load before and during the rotation, and the figures.
fn measure(backend: &str, dir: &Path, database_url: &str, rows: u32) {
    let app = provisioned(App::new(dir), dir).var("DATABASE_URL", database_url);
    app.ok(["seed", "--count", &rows.to_string()]);
    let instances: Vec<Instance> = (0..3)
        .map(|i| Instance::start(&app, &dir.join(format!("serve-{i}.log"))))
        .collect();
    let urls: Vec<String> = instances.iter().map(|i| i.url().to_owned()).collect();

    let started = Instant::now();
    let load = Load::start(&urls, SHAPE);
    std::thread::sleep(BEFORE);
    let rotation_started = Instant::now();
    let backups = dir.join("backups");
    let rotation = app.run([
        "rotate".as_ref(),
        "--new-key".as_ref(),
        "--force".as_ref(),
        "--json".as_ref(),
        "--backup-dir".as_ref(),
        backups.as_os_str(),
    ]);
    let rotation_ended = Instant::now();
    std::thread::sleep(AFTER);
    let report = load.stop();
    for instance in instances {
        instance.terminate();
    }

    let rotated: serde_json::Value = serde_json::from_str(&rotation.stdout).unwrap_or_default();
    let before = latencies(&report, started + WARM_UP, rotation_started);
    let during = latencies(&report, rotation_started, rotation_ended);
    println!("\n{backend}");
    println!(
        "  rotation: exit {:?}, {} values rewritten in {} ms",
        rotation.code,
        rotated["records_rewritten"],
        (rotation_ended - rotation_started).as_millis()
    );
    println!(
        "  requests: {}, failed: {}{}",
        report.requests,
        report.failed,
        report
            .failures
            .first()
            .map_or(String::new(), |f| format!(" (first: {f})"))
    );
    print_line("without rotation", &before);
    print_line("during rotation", &during);
    for op in [Op::Read, Op::Update, Op::Lookup, Op::Create] {
        let of = |from, to| latencies_of(&report, Some(op), from, to);
        let p99 = |l: &[Duration]| percentile(l, 0.99).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
        println!(
            "    {op:?}: p99 {:.2} ms without, {:.2} ms during",
            p99(&of(started + WARM_UP, rotation_started)),
            p99(&of(rotation_started, rotation_ended))
        );
    }
    if let (Some(p99_before), Some(p99_during)) =
        (percentile(&before, 0.99), percentile(&during, 0.99))
    {
        println!(
            "  p99 during / p99 without: {:.2}",
            p99_during.as_secs_f64() / p99_before.as_secs_f64()
        );
    }
}

/// Latencies of the requests started in `[from, to)`, sorted.
fn latencies(report: &LoadReport, from: Instant, to: Instant) -> Vec<Duration> {
    latencies_of(report, None, from, to)
}

/// Latencies of the requests of kind `op` (any if `None`) started in `[from, to)`, sorted.
fn latencies_of(report: &LoadReport, op: Option<Op>, from: Instant, to: Instant) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = report
        .samples
        .iter()
        .filter(|s: &&Sample| s.started >= from && s.started < to && op.is_none_or(|op| s.op == op))
        .map(|sample| sample.latency)
        .collect();
    latencies.sort();
    latencies
}

/// The `q` quantile of sorted `latencies` (nearest rank).
fn percentile(latencies: &[Duration], q: f64) -> Option<Duration> {
    let rank = (q * latencies.len() as f64).ceil() as usize;
    latencies.get(rank.saturating_sub(1)).copied()
}

fn print_line(label: &str, latencies: &[Duration]) {
    let ms = |q| percentile(latencies, q).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    println!(
        "  {label:<17} {:>6} requests  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        latencies.len(),
        ms(0.5),
        ms(0.99),
        ms(1.0)
    );
}

/// `app` with `secrets/enc_key_v1` and `secrets/blind_index_key`, reloading its keys every
/// second.
fn provisioned(app: App, dir: &Path) -> App {
    let secrets = dir.join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    for name in ["enc_key_v1", "blind_index_key"] {
        app.ok([
            "keygen".as_ref(),
            "--out".as_ref(),
            secrets.join(name).as_os_str(),
        ]);
    }
    app.var("ENCRYPTED_FIELD_KEYS_DIR", secrets.display().to_string())
        .var("ENCRYPTED_FIELD_RELOAD_INTERVAL", "1s")
        .var(
            "DB_BLIND_INDEX_KEY_FILE",
            secrets.join("blind_index_key").display().to_string(),
        )
}
