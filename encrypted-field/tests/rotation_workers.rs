//! Parallel rotation as processes: `rotate --workers 2` and `rotate --join` (another process, as
//! another host would run it) share one pass; the joining worker is killed with SIGKILL while it
//! holds a chunk. It loses only that chunk's lease: when the lease expires (`--lease-ttl 2s`) a
//! worker of the first run takes the chunk and scans it again, the run completes, its report
//! counts every value once, and every value opens to its plaintext on the new key.
//!
//! SQLite always; MariaDB/MySQL and PostgreSQL when `MYSQL_DATABASE_URL` / `PG_DATABASE_URL` are
//! set (required when `ENCRYPTED_FIELD_REQUIRE_BACKENDS=1`), each in a database of its own. Run
//! with `cargo test -p encrypted-field --features cli,sqlite,mysql,postgres --test
//! rotation_workers`.
#![cfg(all(feature = "cli", feature = "sqlite", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "rotation_cli/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};
use encrypted_field::rotation::database::{Connection, Database};
use harness::{Row, Table, Workspace, command, env_refs, plaintexts, version_of};

/// Rows in the table: two encrypted values each (one column nullable).
const ROWS: i64 = 12_000;
/// Rows per chunk: six chunks.
const CHUNK_ROWS: &str = "2000";
/// Small batches: a chunk takes many transactions, so the kill lands inside one.
const BATCH_SIZE: &str = "20";
/// The lease of the killed worker's chunk expires after this.
const LEASE_TTL: &str = "2s";

#[test]
fn sqlite_a_worker_killed_mid_chunk_loses_only_its_chunk() {
    let workspace = Workspace::new();
    let path = workspace.sqlite_path();
    std::fs::File::create(&path).unwrap();
    let url = format!("sqlite://{}", path.display());
    kill_a_joined_worker(&workspace, &url);
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_a_worker_killed_mid_chunk_loses_only_its_chunk() {
    let Some(server) = encrypted_field::testing::Backend::Mysql.url() else {
        return;
    };
    let own = OwnDatabase::create(&server);
    kill_a_joined_worker(&Workspace::new(), &own.url);
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_a_worker_killed_mid_chunk_loses_only_its_chunk() {
    let Some(server) = encrypted_field::testing::Backend::Postgres.url() else {
        return;
    };
    let own = OwnDatabase::create(&server);
    kill_a_joined_worker(&Workspace::new(), &own.url);
}

/// A database of the test's own on a server (a pass's job, chunks and leases are database-wide),
/// dropped at the end.
#[cfg(any(feature = "mysql", feature = "postgres"))]
struct OwnDatabase {
    server: String,
    name: String,
    url: String,
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
impl OwnDatabase {
    fn create(server: &str) -> Self {
        let name = format!(
            "ef_workers_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        Database::connect(server)
            .unwrap()
            .execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let (base, _) = server.rsplit_once('/').unwrap();
        Self {
            server: server.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
impl Drop for OwnDatabase {
    fn drop(&mut self) {
        if let Ok(mut db) = Database::connect(&self.server) {
            let force = if self.server.starts_with("postgres") {
                " WITH (FORCE)"
            } else {
                ""
            };
            let _ = db.execute(&format!("DROP DATABASE IF EXISTS {}{force}", self.name));
        }
    }
}

/// A chunk in progress: its lease, its holder's pid and its range of ids.
#[derive(Debug, QueryableByName)]
struct ChunkLease {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    pid: i64,
    #[diesel(sql_type = Nullable<Text>)]
    after_key: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    until_key: Option<String>,
}

/// The rows (`$row`) of the query `$sql`, through whichever backend `$db` is on.
macro_rules! load {
    ($db:expr, $sql:expr, $row:ty) => {
        match $db.connection() {
            Connection::Sqlite(conn) => {
                diesel::RunQueryDsl::load::<$row>(diesel::sql_query($sql), conn)
            }
            #[cfg(feature = "postgres")]
            Connection::Postgres(conn) => {
                diesel::RunQueryDsl::load::<$row>(diesel::sql_query($sql), conn)
            }
            #[cfg(feature = "mysql")]
            Connection::Mysql(conn) => {
                diesel::RunQueryDsl::load::<$row>(diesel::sql_query($sql), conn)
            }
            #[allow(unreachable_patterns)]
            _ => panic!("no loader for this backend"),
        }
    };
}

/// The chunks leased and not done, with their holders' pids (lease `chunk:<job>:<n>`).
fn chunks_in_progress(db: &mut Database) -> Vec<ChunkLease> {
    let lease_name = match db.backend_name() {
        // SQLite has no CONCAT before 3.44.
        "sqlite" => "'chunk:' || c.job || ':' || c.chunk",
        "postgres" => "CONCAT('chunk:', c.job, ':', CAST(c.chunk AS VARCHAR(20)))",
        _ => "CONCAT('chunk:', c.job, ':', CAST(c.chunk AS CHAR(20)))",
    };
    let sql = format!(
        "SELECT l.name AS name, l.pid AS pid, c.after_key AS after_key, c.until_key AS until_key \
         FROM encrypted_field_leases l JOIN encrypted_field_chunks c ON l.name = {lease_name} \
         WHERE c.done = 0"
    );
    // The tables appear with the first pass: until then, nothing is in progress.
    load!(db, sql, ChunkLease).unwrap_or_default()
}

/// How many rows of `chunk`'s range already hold a value on v2.
fn rewritten_in(db: &mut Database, table: &Table, chunk: &ChunkLease) -> usize {
    let mut conditions = Vec::new();
    if let Some(after) = &chunk.after_key {
        conditions.push(format!("id > {}", after.parse::<i64>().unwrap()));
    }
    if let Some(until) = &chunk.until_key {
        conditions.push(format!("id <= {}", until.parse::<i64>().unwrap()));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let sql = format!("SELECT id, secret, note FROM {}{filter}", table.name);
    let rows: Vec<Row> = load!(db, sql, Row).unwrap();
    rows.iter()
        .filter(|row| version_of(&row.secret) == 2)
        .count()
}

fn argv(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn kill_a_joined_worker(workspace: &Workspace, url: &str) {
    let started = Instant::now();
    let table = Table::new(format!("workers_{:08x}", rand::random::<u32>()));
    let expected = plaintexts(ROWS, 0x3a11);
    let mut db = Database::connect(url).unwrap();
    table.create(&mut db);
    table.insert(&mut db, &workspace.ring(), &expected);
    workspace.keys().add(true).unwrap(); // v2 active: every value is to be rewritten
    let values: u64 = expected
        .iter()
        .map(|p| 1 + u64::from(p.note.is_some()))
        .sum();

    let env = workspace.env();
    let env = env_refs(&env);
    let common = |first: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = first.iter().map(|s| (*s).to_owned()).collect();
        args.extend(
            [
                "--force",
                "--json",
                "--batch-size",
                BATCH_SIZE,
                "--batch-time",
                "0",
                "--lease-ttl",
                LEASE_TTL,
                "--database-url",
                url,
            ]
            .map(str::to_owned),
        );
        args.extend(table.column_flags());
        args
    };
    let join = common(&["rotate", "--join", "--wait-for-lock", "60s"]);
    let start = common(&["rotate", "--workers", "2", "--chunk-rows", CHUNK_ROWS]);

    let mut joiner = command(&argv(&join), &env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let starter = command(&argv(&start), &env)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let joiner_pid = i64::from(joiner.id());
    let mut watcher = Database::connect(url).unwrap();
    // Killed once it has written part of a chunk it holds.
    let killed = loop {
        if let Some(lease) = chunks_in_progress(&mut watcher)
            .into_iter()
            .find(|lease| lease.pid == joiner_pid)
            && rewritten_in(&mut watcher, &table, &lease) > 0
        {
            joiner.kill().unwrap(); // SIGKILL, mid-chunk
            joiner.wait().unwrap();
            break lease.name;
        }
        if joiner.try_wait().unwrap().is_some() {
            let output = joiner.wait_with_output().unwrap();
            panic!(
                "the joining worker ended before it was seen holding a chunk: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the joining worker never took a chunk"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    // Its chunk is still leased to it, not done: it was killed inside the chunk.
    let held = chunks_in_progress(&mut watcher);
    assert!(
        held.iter()
            .any(|lease| lease.name == killed && lease.pid == joiner_pid),
        "{killed} still held by the killed worker: {held:?}"
    );
    println!(
        "{}: killed the joining worker (pid {joiner_pid}) in {killed} after {:?}",
        db.backend_name(),
        started.elapsed()
    );

    let output = starter.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["failed_records"], 0, "{report:#}");
    assert_eq!(report["verification"]["ok"], true, "{report:#}");
    assert_eq!(
        report["records_processed"].as_u64(),
        Some(values),
        "every value counted once, the killed worker's chunk by its second worker: {report:#}"
    );
    // What the killed worker rewrote in its chunk before it died counts as already done there.
    let rewritten = report["records_rewritten"].as_u64().unwrap();
    let unchanged: u64 = report["models"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|column| column["unchanged"].as_u64().unwrap())
        .sum();
    assert_eq!(rewritten + unchanged, values, "{report:#}");
    assert!(
        unchanged > 0,
        "the killed worker's writes were kept: {report:#}"
    );
    assert_eq!(
        report["verification"]["values_by_version"]["v2"].as_u64(),
        Some(values),
        "{report:#}"
    );

    let ring = workspace.ring();
    table.assert_plaintexts(&mut db, &ring, &expected);
    assert_eq!(
        table.versions(&mut db).keys().copied().collect::<Vec<_>>(),
        [2],
        "every value on v2"
    );
    assert!(
        chunks_in_progress(&mut db).is_empty(),
        "nothing of the pass is left"
    );
    println!(
        "{}: done in {:?} ({rewritten} values rewritten in the merged report, {unchanged} found \
         already rewritten by the killed worker)",
        db.backend_name(),
        started.elapsed()
    );
}
