//! PostgreSQL through PgBouncer in transaction pooling mode (`PGBOUNCER_DATABASE_URL`; the server
//! behind it at `PG_DATABASE_URL`). Each transaction of a client may run on another server
//! session, so nothing may rely on session state: no named prepared statement outlives its
//! transaction, no `SET` outside one holds, a session-level advisory lock is held by whichever
//! session took it, not by the client.
//!
//! The whole rotation suite also runs through PgBouncer in `.ci/run` (`PG_DATABASE_URL` set to
//! PgBouncer's URL), with the tests of the rotation lock left to the lease: see the README,
//! "Poolers, clusters and replicas".

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::IntoSql as _;
use diesel::RunQueryDsl as _;
use diesel::sql_types::BigInt;
use encrypted_field::KeyVersion;
use encrypted_field::rotation::database::{Connection, Database};
use encrypted_field::rotation::{Error, Pacing, Rotation, RotationStatus};

use crate::support::{
    HoldAfterFirstRead, Keys, ScratchDatabase, SecretsTable, Writer, merged, url,
};

const ROWS: i64 = 3_000;
/// Rows of the table whose rotation is killed: about two thousand transactions of ten rows.
#[cfg(all(feature = "cli", unix))]
const ROWS_KILLED: i64 = 20_000;

/// A database of the test's own on the server behind PgBouncer, and its URLs through PgBouncer
/// and direct; `None` (skipped) when they are not set.
fn through_pgbouncer(base: &str) -> Option<(ScratchDatabase, String, String)> {
    let (bouncer, server) = (url("PGBOUNCER_DATABASE_URL")?, url("PG_DATABASE_URL")?);
    let database = ScratchDatabase::create(&server, base);
    let urls = (database.url(&bouncer), database.url(&server));
    Some((database, urls.0, urls.1))
}

#[test]
fn rotation_through_pgbouncer_beside_writing_applications_loses_nothing() {
    let Some((_database, bouncer, direct)) = through_pgbouncer("pgbouncer") else {
        return;
    };
    let keys = Keys::generate();
    let table = SecretsTable::create(&bouncer, "pgbouncer", ROWS, &keys);
    let registry = table.registry();
    // Two application instances writing through PgBouncer too: the pool's server sessions are
    // shared by everyone, the rotation's transactions land on whichever is free.
    let writers = [
        Writer::start(&bouncer, &table, &keys, 0, 2),
        Writer::start(&bouncer, &table, &keys, 1, 2),
    ];
    std::thread::sleep(Duration::from_millis(200));
    let rotation = Rotation::new(&registry).pacing(Pacing::fixed(100));
    let during = rotation
        .run(&mut Database::connect(&bouncer).unwrap(), &keys.ring_v2())
        .unwrap();
    let [a, b] = writers.map(Writer::stop);
    assert!(a.writes > 0 && b.writes > 0);
    // Its verification may find values the application wrote with v1 meanwhile (status
    // `failed`), never one that does not open.
    assert_eq!(during.failed_records, 0, "{during:?}");
    // Values the application wrote with v1 after the rotation passed them.
    let after = rotation
        .run(&mut Database::connect(&bouncer).unwrap(), &keys.ring_v2())
        .unwrap();
    assert_eq!(after.status, RotationStatus::Completed);

    let versions = table.assert_reads_back(
        &mut Database::connect(&direct).unwrap(),
        &keys.ring_v2(),
        &merged(&[&a, &b]),
    );
    assert_eq!(versions, BTreeMap::from([(KeyVersion::new(2), 3_000)]));
    let verified = Rotation::new(&registry)
        .verify_only(&mut Database::connect(&bouncer).unwrap(), &keys.ring_v2())
        .unwrap();
    assert_eq!(verified.status, RotationStatus::Completed, "{verified:?}");
    assert_eq!(verified.failed_records, 0);
    println!(
        "{}: {} values rewritten through PgBouncer ({} changed concurrently) beside {} writes",
        table.name,
        during.records_rewritten + after.records_rewritten,
        during.records_changed_concurrently,
        a.writes + b.writes
    );
}

/// Diesel names and caches the statements of its query builder on a connection; through
/// PgBouncer in transaction mode the next transaction may run on a server session that lacks the
/// name (`prepared statement "__diesel_stmt_0" does not exist`), or on one where another client
/// already prepared it (`… already exists`). The connections the crate opens cache nothing.
#[test]
fn connections_the_crate_opens_prepare_no_named_statement() {
    let Some(bouncer) = url("PGBOUNCER_DATABASE_URL") else {
        return;
    };
    let mut clients: Vec<Database> = (0..3)
        .map(|_| Database::connect(&bouncer).unwrap())
        .collect();
    // The same query-builder statement, each client in turn: PgBouncer hands the most recently
    // freed server session to the next client, so the clients share sessions.
    for round in 0..5_i64 {
        for (n, db) in clients.iter_mut().enumerate() {
            let Connection::Postgres(conn) = db.connection() else {
                panic!("a PostgreSQL URL");
            };
            let value: i64 = diesel::select((round * 10 + n as i64).into_sql::<BigInt>())
                .get_result(conn)
                .unwrap_or_else(|e| panic!("round {round}, client {n}: {e}"));
            assert_eq!(value, round * 10 + n as i64);
        }
    }
}

#[test]
fn two_rotations_through_pgbouncer_one_works_the_other_is_refused() {
    let Some((_database, bouncer, _)) = through_pgbouncer("pgbouncer_lock") else {
        return;
    };
    let keys = Keys::generate();
    let table = SecretsTable::create(&bouncer, "pgbouncer_lock", 500, &keys);
    let registry = table.registry();
    let hold = HoldAfterFirstRead::new();
    std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(100))
                .progress(&hold)
                .run(&mut Database::connect(&bouncer).unwrap(), &keys.ring_v2())
        });
        hold.wait_until_held();
        // PgBouncer gives this client the session the first one's lock was taken on, or
        // another: either way it must be refused.
        let second = Rotation::new(&registry)
            .run(&mut Database::connect(&bouncer).unwrap(), &keys.ring_v2());
        hold.go_on();
        assert!(
            matches!(second, Err(Error::RotationInProgress { .. })),
            "{second:?}"
        );
        assert_eq!(
            first.join().unwrap().unwrap().status,
            RotationStatus::Completed
        );
    });
    // The lock is free again.
    let again = Rotation::new(&registry)
        .run(&mut Database::connect(&bouncer).unwrap(), &keys.ring_v2())
        .unwrap();
    assert_eq!(again.records_rewritten, 0);
}

/// `encrypted-field rotate --lease-ttl 3s` through PgBouncer is killed (SIGKILL) mid-rewrite: its
/// lease keeps the next run out until it expires (a session lock would have stayed on PgBouncer's
/// server session, which outlives the killed client), then the next run takes over and finishes.
#[cfg(all(feature = "cli", unix))]
#[test]
fn a_killed_rotation_through_pgbouncer_is_taken_over_after_its_lease() {
    use std::time::Instant;

    let Some((_database, bouncer, direct)) = through_pgbouncer("pgbouncer_kill") else {
        return;
    };
    let keys = Keys::generate();
    let table = SecretsTable::create(&bouncer, "pgbouncer_kill", ROWS_KILLED, &keys);
    let keys_dir = tempfile::tempdir().unwrap();
    keys.write_keys_dir(keys_dir.path());
    let column = format!("{}.secret", table.name);
    // Small batches: the run is many transactions long, so the kill lands mid-rewrite.
    let args = [
        "rotate",
        "--force",
        "--json",
        "--batch-size",
        "10",
        "--lease-ttl",
        "3s",
        "--database-url",
        &bouncer,
        "--column",
        &column,
    ];
    let env = [("ENCRYPTED_FIELD_KEYS_DIR", keys_dir.path().as_os_str())];
    let mut holder = crate::binary::command(&args, &env).spawn().unwrap();
    let mut db = Database::connect(&direct).unwrap();
    // Counted by the server (the version is bytes 3 to 6 of the envelope): a poll of a few
    // milliseconds, so the kill comes soon after the first batch.
    let on_v2 = |db: &mut Database| -> usize {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let Connection::Postgres(conn) = db.connection() else {
            panic!("a PostgreSQL URL");
        };
        let count: Count = diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM {} WHERE substring(secret from 4 for 4) = '\\x00000002'::bytea",
            table.name
        ))
        .get_result(conn)
        .unwrap();
        usize::try_from(count.n).unwrap()
    };
    let started = Instant::now();
    while on_v2(&mut db) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the rotation never wrote"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the rotation ended before it was killed"
    );
    holder.kill().unwrap(); // SIGKILL, mid-rewrite
    holder.wait().unwrap();
    let rewritten = on_v2(&mut db);
    assert!(
        rewritten < ROWS_KILLED as usize,
        "the kill landed after the rewrite"
    );

    let registry = table.registry();
    let rotate =
        || Rotation::new(&registry).run(&mut Database::connect(&bouncer).unwrap(), &keys.ring_v2());
    // The killed run's lease is still current: refused, naming the holder.
    let refused = rotate();
    assert!(
        matches!(refused, Err(Error::RotationInProgress { .. })),
        "{refused:?}"
    );
    // Once it expires, the next run takes over and finishes.
    let killed_at = Instant::now();
    let report = loop {
        match rotate() {
            Err(Error::RotationInProgress { .. })
                if killed_at.elapsed() < Duration::from_secs(60) =>
            {
                std::thread::sleep(Duration::from_millis(250));
            }
            other => break other.unwrap(),
        }
    };
    assert_eq!(report.status, RotationStatus::Completed, "{report:?}");
    assert_eq!(
        report.records_rewritten,
        (ROWS_KILLED as usize - rewritten) as u64
    );
    let versions = table.assert_reads_back(&mut db, &keys.ring_v2(), &BTreeMap::new());
    assert_eq!(
        versions,
        BTreeMap::from([(KeyVersion::new(2), ROWS_KILLED as usize)])
    );
}
