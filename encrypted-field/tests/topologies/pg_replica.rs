//! A PostgreSQL streaming replica (`PG_REPLICA_DATABASE_URL`, of the server at `PG_DATABASE_URL`):
//! an application reading from the replica while a rotation runs on the primary decrypts every
//! value at every moment. After each batch the rotation commits, the test waits until the replica
//! has replayed it and the reader has read the whole table again, so the reader sees every
//! intermediate state, old and new envelopes side by side.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::RunQueryDsl as _;
use diesel::sql_types::{Bool, Text};
use encrypted_field::KeyVersion;
use encrypted_field::rotation::database::{Connection, Database};
use encrypted_field::rotation::{Pacing, Progress, Rotation, RotationStatus};

use crate::support::{Keys, ScratchDatabase, SecretsTable, connect_when_there, url};

const ROWS: i64 = 2_000;
const BATCH: usize = 100;
/// How long the replica may take to replay a batch (it streams: milliseconds in practice).
const REPLAY_PATIENCE: Duration = Duration::from_secs(60);

#[derive(QueryableByName)]
struct Lsn {
    #[diesel(sql_type = Text)]
    lsn: String,
}

#[derive(QueryableByName)]
struct Replayed {
    #[diesel(sql_type = Bool)]
    replayed: bool,
}

fn postgres(db: &mut Database) -> &mut diesel::PgConnection {
    match db.connection() {
        Connection::Postgres(conn) => conn,
        #[allow(unreachable_patterns)]
        _ => panic!("not a PostgreSQL URL"),
    }
}

/// Waits until the replica has replayed everything the primary has written so far.
fn wait_for_replay(primary: &mut Database, replica: &mut Database) {
    let lsn = diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn")
        .get_result::<Lsn>(postgres(primary))
        .unwrap()
        .lsn;
    let started = Instant::now();
    loop {
        let replayed = diesel::sql_query(format!(
            "SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn AS replayed"
        ))
        .get_result::<Replayed>(postgres(replica))
        .unwrap()
        .replayed;
        if replayed {
            return;
        }
        assert!(
            started.elapsed() < REPLAY_PATIENCE,
            "the replica did not replay {lsn}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// After each committed batch: waits until the replica replayed it and the reader then read the
/// whole table at least once.
struct AfterEachBatch<'a> {
    primary: RefCell<Database>,
    replica: RefCell<Database>,
    snapshots: &'a AtomicU64,
    batches: RefCell<u64>,
}

impl Progress for AfterEachBatch<'_> {
    fn batch_done(&self, _rows: u64) {
        wait_for_replay(
            &mut self.primary.borrow_mut(),
            &mut self.replica.borrow_mut(),
        );
        // A snapshot that started after the replay: the one after the one now running.
        let target = self.snapshots.load(Ordering::SeqCst) + 2;
        let started = Instant::now();
        while self.snapshots.load(Ordering::SeqCst) < target {
            assert!(
                started.elapsed() < REPLAY_PATIENCE,
                "the reader stopped reading"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        *self.batches.borrow_mut() += 1;
    }
}

#[test]
fn a_reader_on_the_replica_decrypts_every_value_at_every_moment_of_a_rotation() {
    let (Some(server), Some(replica_server)) =
        (url("PG_DATABASE_URL"), url("PG_REPLICA_DATABASE_URL"))
    else {
        return;
    };
    let database = ScratchDatabase::create(&server, "replica");
    let (primary, replica) = (database.url(&server), database.url(&replica_server));
    let keys = Keys::generate();
    let table = SecretsTable::create(&primary, "replica", ROWS, &keys);
    let registry = table.registry();
    wait_for_replay(
        &mut Database::connect(&primary).unwrap(),
        &mut connect_when_there(&replica),
    );

    // The application's instances loaded v2 before it became active (the fleet's rule): their
    // ring opens both versions.
    let ring = keys.ring_v2();
    let snapshots = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let seen: Mutex<Vec<BTreeMap<KeyVersion, usize>>> = Mutex::new(Vec::new());
    let after_each_batch = AfterEachBatch {
        primary: RefCell::new(Database::connect(&primary).unwrap()),
        replica: RefCell::new(Database::connect(&replica).unwrap()),
        snapshots: &snapshots,
        batches: RefCell::new(0),
    };
    let report = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut db = Database::connect(&replica).unwrap();
            while !stop.load(Ordering::SeqCst) {
                // Every value of the table, as the replica holds it now, opens to its plaintext.
                let versions = table.assert_reads_back(&mut db, &ring, &BTreeMap::new());
                seen.lock().unwrap().push(versions);
                snapshots.fetch_add(1, Ordering::SeqCst);
            }
        });
        let report = Rotation::new(&registry)
            .pacing(Pacing::fixed(BATCH))
            .progress(&after_each_batch)
            .run(&mut Database::connect(&primary).unwrap(), &ring);
        stop.store(true, Ordering::SeqCst);
        reader.join().unwrap();
        report.unwrap()
    });
    assert_eq!(report.status, RotationStatus::Completed);
    assert_eq!(report.records_rewritten, 2_000);

    let batches = *after_each_batch.batches.borrow();
    let seen = seen.into_inner().unwrap();
    let (v1, v2) = (KeyVersion::new(1), KeyVersion::new(2));
    let mixed = seen
        .iter()
        .filter(|versions| versions.contains_key(&v1) && versions.contains_key(&v2))
        .count();
    // The rewrite's batches, then the verification's (which write nothing).
    let rewrite_batches = u64::try_from(ROWS).unwrap() / BATCH as u64;
    assert!(batches >= rewrite_batches, "{batches} batches");
    assert!(
        seen.len() as u64 >= batches,
        "{} snapshots, {batches} batches",
        seen.len()
    );
    // After each batch but the last, the replica held old and new envelopes side by side.
    assert!(
        mixed as u64 >= rewrite_batches - 1,
        "{mixed} snapshots with both versions, {rewrite_batches} batches rewritten"
    );
    assert_eq!(seen.last(), Some(&BTreeMap::from([(v2, 2_000)])));
    println!(
        "{}: {} snapshots of the replica during {batches} batches, {mixed} with v1 and v2 side by side",
        table.name,
        seen.len()
    );
}
