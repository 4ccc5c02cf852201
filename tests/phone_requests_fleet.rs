//! The fleet test: three `phone_requests serve` processes on one database, a load client of Rust
//! threads sending a few hundred requests a second to all three (reads, writes, blind-index
//! lookups), and, from a fourth process in the middle of the load, `rotate --new-key --force`
//! (first variant) or `rotate --blind-index --new-key --force` (second variant, staged like the
//! first: no `--force-activate`).
//!
//! It shows that a key rotation is safe for a running deployment: no request fails, no write is
//! lost or read back stale, every lookup of a row by its current phone number finds it at every
//! moment (the load checks each one), every instance reports the new active version (or active
//! blind-index version) in `/healthz` without a restart, and afterwards `verify` finds every
//! value and blind index on the new versions. On
//! SQLite (a WAL file) always; on MariaDB and PostgreSQL when `MYSQL_DATABASE_URL` /
//! `PG_DATABASE_URL` are set, each in a database of its own. The cases run one at a time (a
//! lock), so each one's load is what it says on a 2-core machine.
//!
//! The instances reload their key ring and check in on a short timer (`FAST_RELOAD`,
//! `--check-in-interval`): the defaults (30 s) are for production.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "phone_requests_e2e/example.rs"]
#[allow(
    dead_code,
    reason = "shared with phone_requests_e2e, which uses all of it"
)]
mod example;
#[path = "phone_requests_fleet/fleet.rs"]
mod fleet;
#[path = "phone_requests_fleet/load.rs"]
#[allow(
    dead_code,
    reason = "the latency samples are for benches/fleet_latency"
)]
mod load;
#[cfg(any(feature = "mysql", feature = "postgres"))]
#[path = "phone_requests_e2e/servers.rs"]
mod servers;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[cfg(any(feature = "mysql", feature = "postgres"))]
use encrypted_field::testing::Backend;
use example::App;
use fleet::Instance;
use load::{Load, LoadShape, send};
use serde_json::Value;

/// The instances' reload interval, shortened so the test takes seconds (their check-in interval
/// is `fleet::CHECK_IN_INTERVAL`).
const FAST_RELOAD: [(&str, &str); 1] = [("ENCRYPTED_FIELD_RELOAD_INTERVAL", "1s")];

/// Rows in the table before the load starts (what the rotation rewrites, besides the load's own).
const SEEDED: u32 = 3000;

/// 6 threads paced at 50 requests a second: at most 300 requests a second across the three
/// instances (a thread waits for each answer, so a slow debug build sends fewer).
const SHAPE: LoadShape = LoadShape {
    threads: 6,
    per_thread_rate: 50.0,
    rows_per_thread: 10,
};

/// How long the load runs before the rotation, and after it.
const LOAD_BEFORE: Duration = Duration::from_secs(4);
const LOAD_AFTER: Duration = Duration::from_secs(4);

/// How long the instances have to report the new active version once the rotation is done.
const HEALTH_DEADLINE: Duration = Duration::from_secs(20);

/// One case at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Which keys the fourth process rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rotated {
    /// `rotate --new-key`: the values move to encryption key v2.
    Values,
    /// `rotate --blind-index --new-key`: the blind indexes move to blind-index key v2.
    BlindIndexes,
}

impl Rotated {
    /// The rotation's arguments before `--force --json --backup-dir DIR`.
    fn args(self) -> &'static [&'static str] {
        match self {
            Self::Values => &["rotate", "--new-key"],
            Self::BlindIndexes => &["rotate", "--blind-index", "--new-key"],
        }
    }

    /// The `/healthz` field that names the active version of the rotated keys.
    fn active_field(self) -> &'static str {
        match self {
            Self::Values => "active_version",
            Self::BlindIndexes => "active_blind_index_version",
        }
    }

    /// What `/healthz` says once the rotation is done (every version still loaded).
    fn expected_health(self) -> Value {
        match self {
            Self::Values => serde_json::json!({
                "key_versions": [1, 2], "active_version": 2,
                "blind_index_versions": [1], "active_blind_index_version": 1,
            }),
            Self::BlindIndexes => serde_json::json!({
                "key_versions": [1], "active_version": 1,
                "blind_index_versions": [1, 2], "active_blind_index_version": 2,
            }),
        }
    }

    /// The key version of every value afterwards.
    fn value_version(self) -> &'static str {
        match self {
            Self::Values => "v2",
            Self::BlindIndexes => "v1",
        }
    }
}

#[test]
fn rotation_under_load_on_sqlite_wal() {
    on_sqlite(Rotated::Values);
}

#[test]
fn blind_index_rotation_under_load_on_sqlite_wal() {
    on_sqlite(Rotated::BlindIndexes);
}

#[cfg(feature = "mysql")]
#[test]
fn rotation_under_load_on_mariadb() {
    on_server(Backend::Mysql, Rotated::Values);
}

#[cfg(feature = "mysql")]
#[test]
fn blind_index_rotation_under_load_on_mariadb() {
    on_server(Backend::Mysql, Rotated::BlindIndexes);
}

#[cfg(feature = "postgres")]
#[test]
fn rotation_under_load_on_postgres() {
    on_server(Backend::Postgres, Rotated::Values);
}

#[cfg(feature = "postgres")]
#[test]
fn blind_index_rotation_under_load_on_postgres() {
    on_server(Backend::Postgres, Rotated::BlindIndexes);
}

fn on_sqlite(rotated: Rotated) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("data/fleet.sqlite3").display()
    );
    rotation_under_load(dir.path(), &url, rotated);
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
fn on_server(backend: Backend, rotated: Rotated) {
    let Some(database) = servers::FreshDatabase::create(backend) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    rotation_under_load(dir.path(), database.url(), rotated);
}

/// The scenario, on the database at `database_url`, with its keys and logs in `dir`.
fn rotation_under_load(dir: &Path, database_url: &str, rotated: Rotated) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = with_secrets(App::new(dir), dir).var("DATABASE_URL", database_url);
    let app = FAST_RELOAD
        .iter()
        .fold(app, |app, (name, value)| app.var(name, *value));
    app.ok(["seed", "--count", &SEEDED.to_string()]);

    let mut instances: Vec<Instance> = (0..3)
        .map(|i| Instance::start(&app, &dir.join(format!("serve-{i}.log"))))
        .collect();
    for instance in &instances {
        let health = instance.health();
        assert_eq!(health["active_version"], 1, "{health}");
        assert_eq!(health["active_blind_index_version"], 1, "{health}");
    }
    let urls: Vec<String> = instances.iter().map(|i| i.url().to_owned()).collect();
    let load = Load::start(&urls, SHAPE);
    std::thread::sleep(LOAD_BEFORE);

    // The fourth process: the operator's (or cron's) rotation to a new key.
    let backups = dir.join("backups");
    let rotation_started = Instant::now();
    let mut args: Vec<&std::ffi::OsStr> = rotated.args().iter().map(|a| a.as_ref()).collect();
    args.extend(["--force", "--json", "--backup-dir"].map(std::ffi::OsStr::new));
    args.push(backups.as_os_str());
    let rotation = app.run(args);
    eprintln!(
        "{}: exit {:?} after {} ms",
        rotated.args().join(" "),
        rotation.code,
        rotation_started.elapsed().as_millis()
    );
    std::thread::sleep(LOAD_AFTER);
    let healths = wait_for_active_version(&instances, rotated.active_field(), 2);
    let report = load.stop();
    eprintln!("the load sent {} requests", report.requests);

    let running: Vec<bool> = instances.iter_mut().map(Instance::is_running).collect();

    // Every check is made and every problem listed, so a failure shows the whole picture.
    let mut problems = Vec::new();
    if rotation.code != Some(0) {
        problems.push(format!(
            "{} exited with {:?}\nstdout:\n{}\nstderr:\n{}",
            rotated.args().join(" "),
            rotation.code,
            rotation.stdout,
            rotation.stderr
        ));
    }
    if report.failed > 0 {
        problems.push(format!(
            "{} of {} requests failed, the first ones:\n{}",
            report.failed,
            report.requests,
            report.failures.join("\n")
        ));
    }
    if report.requests < 1000 {
        problems.push(format!("the load sent only {} requests", report.requests));
    }
    for ((instance, health), running) in instances.iter().zip(&healths).zip(running) {
        if !running {
            problems.push(format!("instance {} exited", instance.url()));
        }
        let expected = rotated.expected_health();
        let seen: serde_json::Map<String, Value> = expected
            .as_object()
            .unwrap()
            .keys()
            .map(|field| (field.clone(), health[field].clone()))
            .collect();
        if Value::Object(seen) != expected {
            problems.push(format!(
                "instance {} (pid {}) reports {health} {} s after the rotation",
                instance.url(),
                instance.pid(),
                (LOAD_AFTER + HEALTH_DEADLINE).as_secs()
            ));
        }
    }

    // No lost and no stale write: every row the load wrote reads back its last value, from
    // every instance.
    let agent = load::agent();
    let mut wrong_rows = Vec::new();
    for (id, phone) in &report.last_written {
        for instance in &instances {
            let url = format!("{}/phone-requests/{id}", instance.url());
            match send(&agent, "GET", &url, None) {
                Ok((200, row)) if row["phone"] == phone.as_str() => {}
                other => wrong_rows.push(format!("GET {url}: {other:?}, last written {phone:?}")),
            }
        }
    }
    if !wrong_rows.is_empty() {
        problems.push(format!(
            "{} reads of the final values are wrong, the first ones:\n{}",
            wrong_rows.len(),
            wrong_rows[..wrong_rows.len().min(10)].join("\n")
        ));
    }

    // Every value and blind index on the new versions.
    let verified = app.run(["verify", "--json"]);
    let verification = serde_json::from_str::<Value>(&verified.stdout)
        .map(|report| report["verification"].clone())
        .unwrap_or_default();
    let total = u64::from(SEEDED) + report.last_written.len() as u64;
    if verified.code != Some(0)
        || verification["ok"] != true
        || verification["values_by_version"]
            != serde_json::json!({ rotated.value_version(): total })
        || verification["stale_blind_indexes"] != 0
    {
        problems.push(format!(
            "verify after the rotation: exit {:?}, expected {total} values all on {} and no \
             stale blind index: {verification}\n{}",
            verified.code,
            rotated.value_version(),
            verified.stderr
        ));
    }
    // Every blind index on blind-index v2 (or all still on v1 after a rotation of the values).
    let status = app.run(["status", "--json"]);
    let by_version = serde_json::from_str::<Value>(&status.stdout)
        .map(|status| status["columns"][0]["blind_indexes_by_version"].clone())
        .unwrap_or_default();
    let index_version = match rotated {
        Rotated::Values => "v1",
        Rotated::BlindIndexes => "v2",
    };
    if by_version != serde_json::json!({ index_version: total }) {
        problems.push(format!(
            "status after the rotation: expected {total} blind indexes all on {index_version}, \
             got {by_version}\n{}{}",
            status.stdout, status.stderr
        ));
    }
    if !problems.is_empty() {
        let logs: Vec<String> = instances
            .iter()
            .map(|i| {
                format!(
                    "--- instance {} (pid {}), the end of its log:\n{}",
                    i.url(),
                    i.pid(),
                    i.log_tail(5)
                )
            })
            .collect();
        panic!(
            "{} problems:\n\n{}\n\n{}",
            problems.len(),
            problems.join("\n\n"),
            logs.join("\n")
        );
    }

    // A graceful stop: each instance answers what it has in flight and exits 0 on SIGTERM.
    for instance in instances {
        let status = instance.terminate();
        assert!(status.success(), "serve exited with {status} on SIGTERM");
    }
}

/// Polls every instance's `/healthz` until each reports `version` in `field`, or the deadline
/// passes; returns the last answers.
fn wait_for_active_version(instances: &[Instance], field: &str, version: u32) -> Vec<Value> {
    let deadline = Instant::now() + HEALTH_DEADLINE;
    loop {
        let healths: Vec<Value> = instances.iter().map(Instance::health).collect();
        if healths.iter().all(|h| h[field] == version) || Instant::now() > deadline {
            return healths;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `app` with keys as Docker secrets give them: `secrets/enc_key_v1` and
/// `secrets/blind_index_key` (the rotation writes `secrets/enc_key_v2` beside them).
fn with_secrets(app: App, dir: &Path) -> App {
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
        .var(
            "DB_BLIND_INDEX_KEY_FILE",
            secrets.join("blind_index_key").display().to_string(),
        )
}
