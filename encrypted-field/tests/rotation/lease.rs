//! The rotation lease (a row of `encrypted_field_leases` in the database itself): one run at a
//! time, the holder named to the run it refuses, a waiting run that goes after the holder, a run
//! whose lease was taken over that writes nothing more (fencing), and transient conflicts — a real
//! deadlock with the application — retried and counted.
//!
//! Each server scenario runs in a database of its own, so that its lease is not shared with the
//! other tests (and other test runs) on the server.

use std::cell::Cell as StdCell;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime};

use encrypted_field::fleet::{Staging, recorded_active};
use encrypted_field::keys::KeysDir;
use encrypted_field::keys::wrap::{KeyWrapper, KeyWrappers, WrapError, WrapErrorKind, Wrapped};
#[cfg(feature = "mysql")]
use encrypted_field::legacy::LegacyKey;
use encrypted_field::model::{ColumnSpec, KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{
    Error, Pacing, Progress, Rotation, RotationPeriod, RotationStatus,
};
#[cfg(any(feature = "mysql", feature = "postgres"))]
use encrypted_field::testing::Backend as Kind;
use encrypted_field::{KeyVersion, MasterKey};

#[cfg(feature = "mysql")]
use crate::migrate::{node_phone_table, phone_registry};
use crate::support::{
    Backend, Cell, Keys, Table, insert_rows, per_backend, read_column, seal, version,
};

const ROWS: i64 = 12;
const BATCH: usize = 4;
/// How long a run waits for another's lease in these scenarios (far more than they need).
const PATIENCE: Duration = Duration::from_secs(120);

/// The scenario's own database on a server (dropped with it); `None` on SQLite, whose file is
/// already the scenario's own.
fn own_database(backend: &Backend) -> Option<Backend> {
    backend.with_new_database(&format!("ef_lease_{:08x}", rand::random::<u32>()))
}

/// `ROWS` rows of one binary column sealed with v1, and their registry.
fn secrets(backend: &Backend, db: &mut Database, keys: &Keys, base: &str) -> (Table, Registry) {
    let table = backend.create_table(
        db,
        base,
        &format!(
            "id {}, secret {} NOT NULL",
            backend.int_key(),
            backend.blob()
        ),
    );
    let rows: Vec<Vec<Cell>> = (1..=ROWS)
        .map(|id| {
            let sealed = seal(
                &keys.ring_v1(),
                Storage::Binary,
                &table.context("secret"),
                format!("secret {id}").as_bytes(),
            );
            vec![Cell::Int(id), Cell::Bytes(sealed)]
        })
        .collect();
    insert_rows(db, &table, "id, secret", &rows);
    let registry = Registry::new()
        .register_spec(ModelSpec::new(table.spec_name(), "id").column(ColumnSpec::binary("secret")))
        .unwrap();
    (table, registry)
}

/// The key version of every row's value, by id.
fn versions(db: &mut Database, table: &Table) -> Vec<(i64, u32)> {
    read_column(db, table, "id", KeyKind::Integer, "secret", Storage::Binary)
        .into_iter()
        .map(|(key, value)| {
            let PrimaryKey::Integer(id) = key else {
                panic!("integer keys")
            };
            (id, version(Storage::Binary, &value.unwrap()))
        })
        .collect()
}

/// A [`Progress`] that calls `on_batch` with the batch's number (from 1) and keys, between the
/// rotation's read of the batch and its write.
struct OnBatch<F: Fn(usize, &[PrimaryKey])> {
    batches: StdCell<usize>,
    on_batch: F,
}

impl<F: Fn(usize, &[PrimaryKey])> OnBatch<F> {
    fn new(on_batch: F) -> Self {
        Self {
            batches: StdCell::new(0),
            on_batch,
        }
    }
}

impl<F: Fn(usize, &[PrimaryKey])> Progress for OnBatch<F> {
    fn batch_read(&self, _table: &str, _column: &str, keys: &[PrimaryKey]) {
        self.batches.set(self.batches.get() + 1);
        (self.on_batch)(self.batches.get(), keys);
    }
}

/// While one rotation runs, a second one from another connection is refused with an error that
/// names the holder — this process — and writes nothing; the holder is visible to `status`, and
/// the lease is free again once the first rotation ends.
fn a_second_rotation_is_refused_naming_the_holder(backend: &Backend) {
    let own = own_database(backend);
    let backend = own.as_ref().unwrap_or(backend);
    let keys = Keys::generate();
    let mut db = backend.connect();
    let (table, registry) = secrets(backend, &mut db, &keys, "held");
    let refusal = std::cell::RefCell::new(None);
    let probe = OnBatch::new(|batch, _keys| {
        if batch != 1 {
            return;
        }
        let mut other = backend.connect();
        let shown = Rotation::new(&registry).lease_holder(&mut other).unwrap();
        let before = versions(&mut other, &table);
        let refused = Rotation::new(&registry).run(&mut other, &keys.ring_v2());
        assert_eq!(
            versions(&mut other, &table),
            before,
            "the refused run wrote nothing"
        );
        *refusal.borrow_mut() = Some((shown, refused));
    });
    let report = Rotation::new(&registry)
        .pacing(Pacing::fixed(BATCH))
        .progress(&probe)
        .run(&mut db, &keys.ring_v2())
        .unwrap();
    assert_eq!(report.status, RotationStatus::Completed, "{report}");
    assert_eq!(report.records_rewritten, ROWS as u64);

    let (shown, refused) = refusal.into_inner().unwrap();
    let shown = shown.expect("status shows the holder while the rotation runs");
    let Err(error @ Error::RotationInProgress { .. }) = refused else {
        panic!("the second rotation is refused: {refused:?}");
    };
    let Error::RotationInProgress { holder, waited } = &error else {
        unreachable!()
    };
    assert_eq!(holder.pid, i64::from(std::process::id()));
    assert_eq!(
        (
            &holder.owner,
            holder.fence,
            &holder.host,
            holder.pid,
            &holder.since
        ),
        (
            &shown.owner,
            shown.fence,
            &shown.host,
            shown.pid,
            &shown.since
        ),
        "status and the refusal name the same holder"
    );
    assert!(holder.expires_in_seconds > 0.0, "{holder:?}");
    assert!(holder.fence >= 1, "{holder:?}");
    assert_eq!(*waited, None);
    let message = error.to_string();
    assert!(
        message.contains(&format!("pid {}", std::process::id()))
            && message.contains(&format!("host {}", holder.host))
            && message.contains("--wait-for-lock"),
        "{message}"
    );
    assert_eq!(
        Rotation::new(&registry).lease_holder(&mut db).unwrap(),
        None,
        "released"
    );
}

/// A second rotation asked to wait for the lease runs once the first has ended, and finds
/// nothing left to do: the two never ran at once.
fn a_second_rotation_that_waits_runs_after_the_first(backend: &Backend) {
    let own = own_database(backend);
    let backend = own.as_ref().unwrap_or(backend);
    let keys = Keys::generate();
    let mut db = backend.connect();
    let (table, registry) = secrets(backend, &mut db, &keys, "waits");
    let (started, first_has_the_lease) = mpsc::channel();
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            let probe = OnBatch::new(move |batch, _keys| {
                if batch == 1 {
                    started.send(()).unwrap();
                }
                // A slow rotation: the second run has every chance to write meanwhile, if the
                // lease let it.
                std::thread::sleep(Duration::from_millis(100));
            });
            Rotation::new(&registry)
                .pacing(Pacing::fixed(BATCH))
                .progress(&probe)
                .run(&mut backend.connect(), &keys.ring_v2())
        });
        first_has_the_lease.recv().unwrap();
        let second = Rotation::new(&registry)
            .wait_for_lease(PATIENCE)
            .run(&mut backend.connect(), &keys.ring_v2());
        (first.join().unwrap(), second)
    });
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.records_rewritten, ROWS as u64, "{first}");
    assert_eq!(second.status, RotationStatus::Completed, "{second}");
    assert_eq!(
        second.records_rewritten, 0,
        "the first run had done everything: {second}"
    );
    assert_eq!(second.records_processed, ROWS as u64);
    assert!(versions(&mut db, &table).iter().all(|(_, v)| *v == 2));
}

/// Fencing: a run that stalls longer than its lease's time to live loses the lease to another run
/// (here a rotation of another table, which waits for the lease to expire, takes it and ends);
/// when the stalled run wakes, its next batch finds the lease no longer its own, writes nothing
/// and the run stops with `LeaseLost`. The batches it wrote before are complete.
fn a_run_whose_lease_was_taken_over_writes_nothing_more(backend: &Backend) {
    let own = own_database(backend);
    let backend = own.as_ref().unwrap_or(backend);
    let keys = Keys::generate();
    let mut db = backend.connect();
    let (table, registry) = secrets(backend, &mut db, &keys, "fenced");
    let (other_table, other_registry) = secrets(backend, &mut db, &keys, "taker");
    let taker = std::cell::RefCell::new(None);
    let stall = OnBatch::new(|batch, _keys| {
        if batch == 2 {
            // Stalled between its read and its write: its lease (1 s) expires meanwhile, and the
            // other run takes it over, rotates its own table and releases it.
            *taker.borrow_mut() = Some(
                Rotation::new(&other_registry)
                    .wait_for_lease(PATIENCE)
                    .run(&mut backend.connect(), &keys.ring_v2()),
            );
        }
    });
    let stalled = Rotation::new(&registry)
        .pacing(Pacing::fixed(BATCH))
        .lease_ttl(Duration::from_secs(1))
        .progress(&stall)
        .run(&mut db, &keys.ring_v2());

    let Err(Error::LeaseLost { fence, holder }) = &stalled else {
        panic!("the stalled run stops when its lease is gone: {stalled:?}");
    };
    assert!(*fence >= 1);
    assert_eq!(*holder, None, "the other run released the lease at its end");
    let message = stalled.as_ref().unwrap_err().to_string();
    assert!(message.contains("lost its rotation lease"), "{message}");
    let taker = taker.into_inner().unwrap().unwrap();
    assert_eq!(taker.records_rewritten, ROWS as u64, "{taker}");
    assert!(versions(&mut db, &other_table).iter().all(|(_, v)| *v == 2));

    let after = versions(&mut db, &table);
    let batch = BATCH as i64;
    assert!(
        after
            .iter()
            .all(|(id, v)| *v == if *id <= batch { 2 } else { 1 }),
        "only the first batch, written while the lease held, is rewritten: {after:?}"
    );
    // The next run resumes: nothing was lost.
    let resumed = Rotation::new(&registry)
        .wait_for_lease(PATIENCE)
        .run(&mut db, &keys.ring_v2())
        .unwrap();
    assert_eq!(
        resumed.records_rewritten,
        (ROWS - batch) as u64,
        "{resumed}"
    );
}

/// A key-encryption "provider" (XOR, as in the `keys::wrap` example) whose wrap stalls, as a slow
/// KMS would: it says so on `stalled`, then waits for `resume`.
#[derive(Debug)]
struct StallingKms {
    stalled: Mutex<mpsc::Sender<()>>,
    resume: Mutex<mpsc::Receiver<()>>,
}

impl KeyWrapper for StallingKms {
    fn provider(&self) -> &str {
        "stalling"
    }

    fn wrap(
        &self,
        _uri: &str,
        _version: KeyVersion,
        key: &MasterKey,
    ) -> Result<Wrapped, WrapError> {
        // Ends at once when the test is gone (its channels dropped).
        let _ = self.stalled.lock().unwrap().send(());
        let _ = self.resume.lock().unwrap().recv();
        let bytes = key.expose_bytes().iter().map(|b| b ^ 0x5a).collect();
        Ok(Wrapped::new("xor", bytes))
    }

    fn unwrap(
        &self,
        _uri: &str,
        _version: KeyVersion,
        wrapped: &Wrapped,
    ) -> Result<MasterKey, WrapError> {
        let bytes: Vec<u8> = wrapped.bytes().iter().map(|b| b ^ 0x5a).collect();
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| WrapError::new(WrapErrorKind::WrongKey, "not 32 bytes"))?;
        Ok(MasterKey::from_bytes(key))
    }
}

/// Fencing of a new-key rotation's own writes: its lease (1 s) lapses while the KMS wraps the new
/// key, and another run takes the lease over, rotates another table and releases it. When the
/// wrap returns, the stalled run (to a new v2; the other run rotated to v3) writes no key backup, no key file, no `active_version` pin, no
/// activation or active-version record, and stops with `LeaseLost`. In a fleet (`fleet`), the
/// same through `run_with_new_key_in_fleet`.
fn a_new_key_run_whose_lease_was_taken_over_writes_no_key(backend: &Backend, fleet: bool) {
    let own = own_database(backend);
    let backend = own.as_ref().unwrap_or(backend);
    let keys = Keys::generate();
    let mut db = backend.connect();
    let (table, registry) = secrets(backend, &mut db, &keys, "newkey");
    let (other_table, other_registry) = secrets(backend, &mut db, &keys, "taker");
    let tmp = tempfile::tempdir().unwrap();
    let (stalled, on_stall) = mpsc::channel();
    let (resume, on_resume) = mpsc::channel();
    let kms = StallingKms {
        stalled: Mutex::new(stalled),
        resume: Mutex::new(on_resume),
    };
    let keys_dir = KeysDir::new(tmp.path().join("keys"))
        .with_wrappers(KeyWrappers::empty().with(Arc::new(kms)));
    keys_dir.add_key(&MasterKey::generate(), false).unwrap();
    keys_dir.activate(KeyVersion::new(1)).unwrap();
    let pin = tmp.path().join("keys/active_version");
    let pinned = std::fs::read_to_string(&pin).unwrap();
    let backups = tmp.path().join("key-backups");

    let (stale, taker) = std::thread::scope(|scope| {
        let (keys, other_registry) = (&keys, &other_registry);
        let taker = scope.spawn(move || {
            on_stall.recv().unwrap();
            let taken = Rotation::new(other_registry)
                .wait_for_lease(PATIENCE)
                .run(&mut backend.connect(), &keys.ring_v3());
            resume.send(()).unwrap();
            taken
        });
        let rotation = Rotation::new(&registry)
            .lease_ttl(Duration::from_secs(1))
            .backup_dir(&backups)
            .wrap_new_key_with("stalling:kek");
        let stale = if fleet {
            let staging = Staging {
                force: true,
                ..Staging::default()
            };
            rotation.run_with_new_key_in_fleet(&mut db, &keys.ring_v1(), &keys_dir, &staging)
        } else {
            rotation.run_with_new_key(&mut db, &keys.ring_v1(), &keys_dir)
        };
        (stale, taker.join().unwrap())
    });

    let Err(Error::LeaseLost { fence, .. }) = &stale else {
        panic!("the stalled run stops when its lease is gone: {stale:?}");
    };
    assert!(*fence >= 1);
    let taker = taker.unwrap();
    assert_eq!(taker.records_rewritten, ROWS as u64, "{taker}");
    assert!(versions(&mut db, &other_table).iter().all(|(_, v)| *v == 3));
    for file in ["enc_key_v2", "enc_key_v2.wrapped"] {
        assert!(
            !tmp.path().join("keys").join(file).exists(),
            "no {file} was written"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&pin).unwrap(),
        pinned,
        "the pin did not move"
    );
    let backed_up = std::fs::read_dir(&backups).map_or(0, Iterator::count);
    assert_eq!(backed_up, 0, "no key backup was written");
    assert_eq!(
        recorded_active(&mut db).unwrap(),
        None,
        "no active version recorded"
    );
    let due = RotationPeriod::Monthly
        .check_due(&mut db, KeyVersion::new(2), SystemTime::now())
        .unwrap();
    assert_eq!(due.activated_at, None, "no activation of v2 recorded");
    assert!(versions(&mut db, &table).iter().all(|(_, v)| *v == 1));
}

fn a_new_key_rotation_whose_lease_was_taken_over_writes_no_key(backend: &Backend) {
    a_new_key_run_whose_lease_was_taken_over_writes_no_key(backend, false);
}

fn a_fleet_new_key_rotation_whose_lease_was_taken_over_writes_no_key(backend: &Backend) {
    a_new_key_run_whose_lease_was_taken_over_writes_no_key(backend, true);
}

per_backend!(
    a_second_rotation_is_refused_naming_the_holder,
    a_second_rotation_that_waits_runs_after_the_first,
    a_run_whose_lease_was_taken_over_writes_nothing_more,
    a_new_key_rotation_whose_lease_was_taken_over_writes_no_key,
    a_fleet_new_key_rotation_whose_lease_was_taken_over_writes_no_key,
);

#[cfg(any(feature = "mysql", feature = "postgres"))]
/// A real deadlock between a batch's write transaction and the application's transaction (on
/// MariaDB/MySQL and PostgreSQL; SQLite has one write lock and no deadlock): the application
/// locks a row of the batch, then — once the rotation's transaction holds the lease row and waits
/// for that row — asks for the lease row. The engine aborts the rotation's transaction (MariaDB:
/// the lighter one, and the application has written many rows; PostgreSQL: the first waiter,
/// whose deadlock check runs first); rotation runs the batch again, counts it, and completes.
fn a_deadlock_with_the_application_is_retried_and_counted(backend: &Backend) {
    let own = own_database(backend).expect("a server");
    let backend = &own;
    let keys = Keys::generate();
    let mut db = backend.connect();
    let (table, registry) = secrets(backend, &mut db, &keys, "deadlock");
    // The application's own table, where it writes enough rows to be the heavier transaction.
    let ballast = backend.create_table(&mut db, "ballast", "id INT PRIMARY KEY");
    std::thread::scope(|scope| {
        let application = std::cell::RefCell::new(None);
        let probe = OnBatch::new(|batch, keys| {
            if batch != 1 {
                return;
            }
            let (locked, row_locked) = mpsc::channel();
            let first = keys.first().cloned().unwrap();
            let (table, ballast) = (&table.name, &ballast.name);
            *application.borrow_mut() = Some(scope.spawn(move || {
                let mut app = backend.connect();
                let begin = match backend.kind {
                    Kind::Postgres => "BEGIN",
                    _ => "START TRANSACTION",
                };
                batch_execute(&mut app, begin);
                batch_execute(
                    &mut app,
                    &format!("UPDATE {table} SET secret = secret WHERE id = {first}"),
                );
                let values: Vec<String> = (1..=500).map(|i| format!("({i})")).collect();
                batch_execute(
                    &mut app,
                    &format!("INSERT INTO {ballast} VALUES {}", values.join(", ")),
                );
                locked.send(()).unwrap();
                let polled = std::time::Instant::now();
                while !waiting_for_a_lock(&mut app, backend.kind) {
                    if polled.elapsed() > PATIENCE {
                        batch_execute(&mut app, "ROLLBACK");
                        panic!("the rotation never waited for the application's row lock");
                    }
                    // MariaDB refreshes its copy of `information_schema.innodb_trx` only when
                    // it was not read for 100 ms: polled more often, it never shows the wait.
                    std::thread::sleep(Duration::from_millis(150));
                }
                // The rotation's transaction holds the lease row and waits for our row: asking
                // for the lease row closes the cycle.
                batch_execute(
                    &mut app,
                    "UPDATE encrypted_field_leases SET renewals = renewals WHERE name = 'rotation'",
                );
                batch_execute(&mut app, "ROLLBACK");
            }));
            row_locked.recv().unwrap();
        });
        let report = Rotation::new(&registry)
            .pacing(Pacing::fixed(BATCH))
            .progress(&probe)
            .run(&mut db, &keys.ring_v2())
            .unwrap();
        application.borrow_mut().take().unwrap().join().unwrap();
        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        assert_eq!(report.conflicts_retried, 1, "{report}");
        assert_eq!(report.records_rewritten, ROWS as u64, "{report}");
        assert!(report.to_json().contains("\"conflicts_retried\": 1"));
        assert!(
            report
                .to_string()
                .contains("transient conflicts retried: 1"),
            "{report}"
        );
    });
    assert!(versions(&mut db, &table).iter().all(|(_, v)| *v == 2));
}

#[cfg(feature = "mysql")]
/// Finalizing a migration on MySQL/MariaDB: its `DROP TABLE` of the legacy values waits for a
/// metadata lock that the application's open transaction holds, times out (error 1205, "Lock wait
/// timeout exceeded", transient) and is retried — alone: the deletion before it committed once,
/// and the report counts what it deleted (run again, it would delete nothing and count 0).
fn finalize_counts_right_when_its_drop_times_out_and_is_retried(backend: &Backend) {
    let own = own_database(backend).expect("a server");
    let backend = &own;
    let legacy_key = MasterKey::generate();
    let mut db = backend.connect();
    let table = node_phone_table(backend, &mut db, &legacy_key, 6);
    let registry = phone_registry(&table);
    let ring = Keys::generate().ring_v1();
    let migration = Rotation::new(&registry);
    let migrated = migration
        .migrate(&mut db, &ring, &LegacyKey::NodeCbc(legacy_key))
        .unwrap();
    assert_eq!(migrated.legacy_values_kept, Some(6), "{migrated}");
    // The finalizing session gives up on a metadata lock after 1 s.
    batch_execute(&mut db, "SET SESSION lock_wait_timeout = 1");
    // The application's transaction opens the table (a shared metadata lock, held until it ends)
    // and locks no row: the deletion goes through, the `DROP TABLE` waits.
    let mut app = backend.connect();
    batch_execute(&mut app, "START TRANSACTION");
    batch_execute(
        &mut app,
        "UPDATE encrypted_field_legacy_values SET migrated_at = migrated_at WHERE 1 = 0",
    );
    let finalized = std::thread::scope(|scope| {
        let application = scope.spawn(move || {
            std::thread::sleep(Duration::from_millis(2500));
            batch_execute(&mut app, "COMMIT");
        });
        let finalized = migration.finalize_migration(&mut db, &ring);
        application.join().unwrap();
        finalized
    })
    .unwrap();
    assert_eq!(
        finalized.deleted, 6,
        "the count of the deletion that committed: {finalized:?}"
    );
    assert_eq!(migration.legacy_values_kept(&mut db).unwrap(), 0);
    let tables: Vec<Count> = {
        use diesel::RunQueryDsl as _;
        let encrypted_field::rotation::database::Connection::Mysql(conn) = db.connection() else {
            unreachable!("MySQL")
        };
        diesel::sql_query(
            "SELECT CAST(COUNT(*) AS SIGNED) AS n FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'encrypted_field_legacy_values'",
        )
        .load(conn)
        .unwrap()
    };
    assert_eq!(
        tables.first().map(|r| r.n),
        Some(0),
        "the table was dropped"
    );
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
/// Runs SQL with Diesel's simple-query protocol (transaction control is not a prepared
/// statement on MySQL).
fn batch_execute(db: &mut Database, sql: &str) {
    use diesel::connection::SimpleConnection as _;
    let result = match db.connection() {
        #[cfg(feature = "mysql")]
        encrypted_field::rotation::database::Connection::Mysql(conn) => conn.batch_execute(sql),
        #[cfg(feature = "postgres")]
        encrypted_field::rotation::database::Connection::Postgres(conn) => conn.batch_execute(sql),
        _ => unreachable!("a server"),
    };
    result.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
/// Whether another session of this (the scenario's own) database waits for a row lock.
fn waiting_for_a_lock(db: &mut Database, kind: Kind) -> bool {
    use diesel::RunQueryDsl as _;
    let rows: Vec<Count> = match (db.connection(), kind) {
        #[cfg(feature = "postgres")]
        (encrypted_field::rotation::database::Connection::Postgres(conn), _) => {
            // Inside a transaction, pg_stat_activity is read once and kept: without clearing
            // that snapshot, a poll that started before the rotation waited would never see it.
            diesel::sql_query("SELECT pg_stat_clear_snapshot()")
                .execute(conn)
                .unwrap();
            diesel::sql_query(
                "SELECT COUNT(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' \
                   AND pid <> pg_backend_pid()",
            )
            .load(conn)
        }
        #[cfg(feature = "mysql")]
        (encrypted_field::rotation::database::Connection::Mysql(conn), _) => diesel::sql_query(
            "SELECT CAST(COUNT(*) AS SIGNED) AS n FROM information_schema.innodb_trx AS t \
             JOIN information_schema.processlist AS p ON p.id = t.trx_mysql_thread_id \
             WHERE t.trx_state = 'LOCK WAIT' AND p.db = DATABASE()",
        )
        .load(conn),
        _ => unreachable!("a server"),
    }
    .unwrap();
    rows.first().is_some_and(|r| r.n > 0)
}

#[cfg(feature = "mysql")]
mod mysql_conflicts {
    #[test]
    fn finalize_counts_right_when_its_drop_times_out_and_is_retried() {
        crate::support::run(
            encrypted_field::testing::Backend::Mysql,
            super::finalize_counts_right_when_its_drop_times_out_and_is_retried,
        );
    }

    #[test]
    fn a_deadlock_with_the_application_is_retried_and_counted() {
        crate::support::run(
            encrypted_field::testing::Backend::Mysql,
            super::a_deadlock_with_the_application_is_retried_and_counted,
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres_conflicts {
    #[test]
    fn a_deadlock_with_the_application_is_retried_and_counted() {
        crate::support::run(
            encrypted_field::testing::Backend::Postgres,
            super::a_deadlock_with_the_application_is_retried_and_counted,
        );
    }
}
