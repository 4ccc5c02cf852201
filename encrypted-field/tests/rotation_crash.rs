//! Crash safety of `encrypted-field rotate`, as a process: a rotation is killed with SIGKILL at
//! random instants, several times, then run to the end; every row must still open to the
//! plaintext it was created with, and `verify` must pass. A killed run leaves its rotation lease
//! behind (short here: `--lease-ttl 1s`); each next run waits for it to expire
//! (`--wait-for-lock`), takes it over and resumes.
//!
//! SQLite always; MariaDB/MySQL and PostgreSQL when `MYSQL_DATABASE_URL` / `PG_DATABASE_URL` are
//! set (required when `ENCRYPTED_FIELD_REQUIRE_BACKENDS=1`). Run with
//! `cargo test -p encrypted-field --features cli,sqlite,mysql,postgres --test rotation_crash`.
#![cfg(all(feature = "cli", feature = "sqlite", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "rotation_cli/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use encrypted_field::rotation::database::Database;
#[cfg(any(feature = "mysql", feature = "postgres"))]
use harness::ServerTable;
use harness::{Table, Workspace, command, env_refs, plaintexts, run};
use rand::Rng as _;

/// Rows in the table: two encrypted values each (one column nullable).
const ROWS: i64 = 20_000;
/// How many times a rotation is killed before the one that is let finish.
const KILLS: usize = 7;
/// Small batches: many transactions, so that kills land between and inside them.
const BATCH_SIZE: &str = "250";
/// The rotation lease a killed run leaves behind expires after this.
const LEASE_TTL: &str = "1s";

#[test]
fn sqlite_rotation_killed_at_random_instants_loses_nothing() {
    let workspace = Workspace::new();
    let path = workspace.sqlite_path();
    let url = format!("sqlite://{}", path.display());
    std::fs::File::create(&path).unwrap();
    crash_and_recover(&workspace, &url, Table::new("crash_sqlite"));
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_rotation_killed_at_random_instants_loses_nothing() {
    let Some(url) = encrypted_field::testing::Backend::Mysql.url() else {
        return;
    };
    let workspace = Workspace::new();
    let server_table = ServerTable::new(&url, "crash");
    crash_and_recover(&workspace, &url, server_table.table.clone());
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_rotation_killed_at_random_instants_loses_nothing() {
    let Some(url) = encrypted_field::testing::Backend::Postgres.url() else {
        return;
    };
    let workspace = Workspace::new();
    let server_table = ServerTable::new(&url, "crash");
    crash_and_recover(&workspace, &url, server_table.table.clone());
}

fn argv(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Fills `table` with values on key v1, provisions v2, kills rotations (every other one also
/// making a new key with `--new-key`) at random instants, then lets one finish and checks
/// every value.
fn crash_and_recover(workspace: &Workspace, url: &str, table: Table) {
    let started = Instant::now();
    let expected = plaintexts(ROWS, 0x5eed);
    let mut db = Database::connect(url).unwrap();
    table.create(&mut db);
    table.insert(&mut db, &workspace.ring(), &expected);
    workspace.keys().add(true).unwrap(); // v2 active: every value is to be rewritten
    println!("{}: set up in {:?}", table.name, started.elapsed());

    let env = workspace.env();
    let env = env_refs(&env);
    let backups = workspace.backup_dir();
    let mut args: Vec<String> = [
        "rotate",
        "--force",
        "--json",
        "--batch-size",
        BATCH_SIZE,
        "--lease-ttl",
        LEASE_TTL,
        "--wait-for-lock",
        "60s",
        "--database-url",
        url,
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(table.column_flags());
    let new_key_args: Vec<String> = args
        .iter()
        .cloned()
        .chain([
            "--new-key".to_owned(),
            "--backup-dir".to_owned(),
            backups.display().to_string(),
        ])
        .collect();

    let mut rng = rand::rng();
    // Kills are drawn in [window / 10, window]; the window adapts so that they land mid-rewrite.
    let mut window = Duration::from_millis(1500);
    let mut interrupted_mid_rewrite = 0;
    let mut leases_left_by_killed_runs = 0;
    let mut previous_child = 0;
    for round in 0..KILLS {
        let new_key = round % 2 == 0;
        let args = if new_key { &new_key_args } else { &args };
        let before = table.load(&mut db);
        let delay = rng.random_range(window / 10..=window);
        let mut child = command(&argv(args), &env).spawn().unwrap();
        std::thread::sleep(delay);
        let exited_by_itself = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        // The killed run's lease, if it had taken it, is still there, naming it, until it expires.
        // A run killed while it still waited for the previous killed run's lease leaves that one.
        if let Some(holder) = lease_holder(url, &env, &table)
            && !exited_by_itself
            && holder["host"] == host_name()
        {
            if holder["pid"] == child.id() {
                leases_left_by_killed_runs += 1;
            } else {
                assert_eq!(holder["pid"], previous_child, "{holder:#}");
            }
        }
        previous_child = child.id();

        let after = table.load(&mut db);
        let active = workspace.ring().active_version().get();
        let changed = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        let remaining: u64 = table
            .versions(&mut db)
            .iter()
            .filter(|(v, _)| **v != active)
            .map(|(_, n)| n)
            .sum();
        println!(
            "{}: round {round} ({}): killed after {delay:?} ({status}{}): {changed} rows rewritten, {remaining} values left off key v{active}",
            table.name,
            if new_key { "--new-key" } else { "rotate" },
            if exited_by_itself {
                ", had already exited"
            } else {
                ""
            },
        );
        if changed > 0 && remaining > 0 {
            interrupted_mid_rewrite += 1;
        } else if remaining == 0 {
            window = window.mul_f64(0.5).max(Duration::from_millis(20)); // it finished: kill sooner
        } else {
            window = window.mul_f64(1.6); // killed before any write: wait longer
        }
    }
    assert!(
        interrupted_mid_rewrite > 0,
        "no kill landed in the middle of a rewrite; the test proved nothing"
    );

    assert!(
        leases_left_by_killed_runs > 0,
        "no killed run held the lease: the takeover was not tested"
    );

    // The run that finishes: it waits for the last killed run's lease to expire, and takes over.
    let report = run(&argv(&args), &env).expect(0).json();
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["failed_records"], 0, "{report:#}");
    assert_eq!(report["verification"]["ok"], true, "{report:#}");

    let ring = workspace.ring();
    table.assert_plaintexts(&mut db, &ring, &expected);
    let versions = table.versions(&mut db);
    assert_eq!(
        versions.keys().copied().collect::<Vec<_>>(),
        [ring.active_version().get()],
        "every value is on the active key"
    );

    let mut verify: Vec<&str> = vec!["verify", "--json", "--database-url", url];
    let flags = table.column_flags();
    verify.extend(flags.iter().map(String::as_str));
    let verified = run(&verify, &env).expect(0).json();
    assert_eq!(verified["status"], "completed", "{verified:#}");
    assert_eq!(
        verified["records_processed"].as_u64(),
        Some(versions.values().sum::<u64>())
    );
    let again = run(&argv(&args), &env).expect(0).json();
    assert_eq!(
        again["records_rewritten"], 0,
        "a second run rewrites nothing"
    );
    println!("{}: done in {:?}", table.name, started.elapsed());
}

/// The rotation lease's holder as `status --json` shows it (`None` when it is free or expired).
fn lease_holder(
    url: &str,
    env: &[(&str, &std::ffi::OsStr)],
    table: &Table,
) -> Option<serde_json::Value> {
    let mut args = vec!["status", "--json", "--database-url", url];
    let flags = table.column_flags();
    args.extend(flags.iter().map(String::as_str));
    let holder = run(&args, env).expect(0).json()["rotation_lease"].clone();
    (!holder.is_null()).then_some(holder)
}

/// This machine's host name, as a lease row records it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default()
}
