//! Parallel passes (`Rotation::workers`, `Rotation::join`): every row of every model rewritten
//! exactly as a single stream would, with the counts of every worker merged into one report; a
//! worker of another process that joins takes chunks of the running pass; a joiner whose keys do
//! not match is refused; migration and verification run in chunks too; nothing of a pass is left
//! in the database once it ends.
//!
//! Each server scenario runs in a database of its own: a pass's job and chunks are database-wide,
//! like its lease. (A worker killed mid-chunk, as a process: `tests/rotation_workers.rs`.)

use std::collections::BTreeMap;
use std::time::Duration;

use encrypted_field::legacy::LegacyKey;
use encrypted_field::model::{ColumnSpec, KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{Error, Operation, Pacing, Rotation, RotationStatus};

use crate::support::{Backend, Cell, Expected, Keys, Table, insert_rows, per_backend, seal};

/// Rows of the integer-keyed table (its second column NULL in every seventh row).
const NUMBERED_ROWS: i64 = 230;
/// Rows of the text-keyed table.
const NAMED_ROWS: i64 = 95;
/// Rows per chunk: several chunks per table, the last one partial.
const CHUNK_ROWS: usize = 40;

/// The scenario's own database on a server (dropped with it); `None` on SQLite.
fn own_database(backend: &Backend) -> Option<Backend> {
    backend.with_new_database(&format!("ef_workers_{:08x}", rand::random::<u32>()))
}

/// Two tables on key v1: `numbered` (integer key; `secret` binary, `note` nullable text) and
/// `named` (text key; `secret` binary); the registry of both, and what each column must hold.
struct Fixture {
    numbered: Table,
    named: Table,
    registry: Registry,
    secret: BTreeMap<PrimaryKey, Option<Vec<u8>>>,
    note: BTreeMap<PrimaryKey, Option<Vec<u8>>>,
    named_secret: BTreeMap<PrimaryKey, Option<Vec<u8>>>,
}

impl Fixture {
    fn create(backend: &Backend, db: &mut Database, keys: &Keys) -> Self {
        let ring = keys.ring_v1();
        let numbered = backend.create_table(
            db,
            "numbered",
            &format!(
                "id {}, secret {} NOT NULL, note {}",
                backend.int_key(),
                backend.blob(),
                backend.text()
            ),
        );
        let named = backend.create_table(
            db,
            "named",
            &format!(
                "id {}, secret {} NOT NULL",
                backend.text_key(),
                backend.blob()
            ),
        );
        let (mut secret, mut note, mut named_secret) =
            (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        let mut rows = Vec::new();
        for id in 1..=NUMBERED_ROWS {
            let plain = format!("secret {id}").into_bytes();
            let sealed = seal(&ring, Storage::Binary, &numbered.context("secret"), &plain);
            secret.insert(PrimaryKey::Integer(id), Some(plain));
            let note_plain = (id % 7 != 0).then(|| format!("note {id}").into_bytes());
            let note_cell = match &note_plain {
                Some(plain) => Cell::stored(
                    Storage::Text,
                    &seal(&ring, Storage::Text, &numbered.context("note"), plain),
                ),
                None => Cell::Null,
            };
            note.insert(PrimaryKey::Integer(id), note_plain);
            rows.push(vec![Cell::Int(id), Cell::Bytes(sealed), note_cell]);
        }
        // NULLs one row at a time: `insert_rows` binds no NULL.
        let (with_note, without_note): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .partition(|row| !matches!(row[2], Cell::Null));
        insert_rows(db, &numbered, "id, secret, note", &with_note);
        let without_note: Vec<Vec<Cell>> = without_note
            .into_iter()
            .map(|row| row[..2].to_vec())
            .collect();
        insert_rows(db, &numbered, "id, secret", &without_note);
        let mut rows = Vec::new();
        for n in 1..=NAMED_ROWS {
            let id = format!("user-{n:04}");
            let plain = format!("named secret {n}").into_bytes();
            let sealed = seal(&ring, Storage::Binary, &named.context("secret"), &plain);
            named_secret.insert(PrimaryKey::Text(id.clone()), Some(plain));
            rows.push(vec![Cell::Text(id), Cell::Bytes(sealed)]);
        }
        insert_rows(db, &named, "id, secret", &rows);
        let registry = Registry::new()
            .register_spec(
                ModelSpec::new(numbered.spec_name(), "id")
                    .column(ColumnSpec::binary("secret"))
                    .column(ColumnSpec::text("note").nullable()),
            )
            .unwrap()
            .register_spec(
                ModelSpec::new(named.spec_name(), "id")
                    .with_primary_key_kind(KeyKind::Text)
                    .column(ColumnSpec::binary("secret")),
            )
            .unwrap();
        Self {
            numbered,
            named,
            registry,
            secret,
            note,
            named_secret,
        }
    }

    /// Every value of every column opens to its plaintext with `ring`, on `version`.
    fn assert_all_on(&self, db: &mut Database, ring: &encrypted_field::KeyRing, version: u32) {
        let columns = [
            (
                &self.numbered,
                "secret",
                Storage::Binary,
                KeyKind::Integer,
                &self.secret,
            ),
            (
                &self.numbered,
                "note",
                Storage::Text,
                KeyKind::Integer,
                &self.note,
            ),
            (
                &self.named,
                "secret",
                Storage::Binary,
                KeyKind::Text,
                &self.named_secret,
            ),
        ];
        for (table, column, storage, kind, plaintexts) in columns {
            let mut expected = Expected::new(table, column, storage, kind);
            expected.plaintexts = plaintexts.clone();
            expected.assert_all_on(db, ring, version);
        }
    }

    fn values(&self) -> u64 {
        let non_null = |m: &BTreeMap<PrimaryKey, Option<Vec<u8>>>| {
            m.values().filter(|v| v.is_some()).count() as u64
        };
        non_null(&self.secret) + non_null(&self.note) + non_null(&self.named_secret)
    }
}

/// Nothing of a pass is left in the database: no job, no chunk, no chunk lease.
fn assert_no_pass_left(db: &mut Database) {
    for (table, condition) in [
        ("encrypted_field_jobs", ""),
        ("encrypted_field_chunks", ""),
        ("encrypted_field_leases", " WHERE name LIKE 'chunk:%'"),
    ] {
        let left = db
            .execute(&format!("DELETE FROM {table}{condition}"))
            .unwrap();
        assert_eq!(left, 0, "rows left in {table}");
    }
}

/// Three workers, chunks of 40 rows over two tables (one with a text key): every value is
/// rewritten once, the report's counts per column are those of a single stream, verification (in
/// chunks too) passes, and nothing of the pass is left behind.
fn workers_rewrite_every_row_once_and_merge_their_counts(backend: &Backend) {
    let own = own_database(backend);
    let backend = own.as_ref().unwrap_or(backend);
    let keys = Keys::generate();
    let mut db = backend.connect();
    let fixture = Fixture::create(backend, &mut db, &keys);
    let connect = || Ok(backend.connect());

    let report = Rotation::new(&fixture.registry)
        .pacing(Pacing::fixed(7))
        .workers(3, &connect)
        .chunk_rows(CHUNK_ROWS)
        .run(&mut db, &keys.ring_v2())
        .unwrap();

    assert_eq!(report.status, RotationStatus::Completed, "{report}");
    assert_eq!(report.records_processed, fixture.values(), "{report}");
    assert_eq!(report.records_rewritten, fixture.values(), "{report}");
    assert_eq!(report.failed_records, 0);
    let columns: Vec<(String, String, u64, u64, u64)> = report
        .models
        .iter()
        .flat_map(|m| {
            m.columns.iter().map(|c| {
                (
                    m.table.clone(),
                    c.column.clone(),
                    c.rows,
                    c.null,
                    c.rewritten,
                )
            })
        })
        .collect();
    let nulls = (NUMBERED_ROWS / 7) as u64;
    let (numbered, named) = (&fixture.numbered.name, &fixture.named.name);
    assert_eq!(
        columns,
        [
            (
                numbered.clone(),
                "secret".to_owned(),
                NUMBERED_ROWS as u64,
                0,
                NUMBERED_ROWS as u64
            ),
            (
                numbered.clone(),
                "note".to_owned(),
                NUMBERED_ROWS as u64,
                nulls,
                NUMBERED_ROWS as u64 - nulls
            ),
            (
                named.clone(),
                "secret".to_owned(),
                NAMED_ROWS as u64,
                0,
                NAMED_ROWS as u64
            ),
        ],
        "every row counted once, in the registry's order"
    );
    let verification = report.verification.as_ref().unwrap();
    assert!(verification.ok, "{verification:?}");
    assert_eq!(
        verification.values_by_version,
        BTreeMap::from([("v2".to_owned(), fixture.values())])
    );
    fixture.assert_all_on(&mut db, &keys.ring_v2(), 2);
    assert_no_pass_left(&mut db);

    let again = Rotation::new(&fixture.registry)
        .workers(2, &connect)
        .chunk_rows(CHUNK_ROWS)
        .run(&mut db, &keys.ring_v2())
        .unwrap();
    assert_eq!(again.records_rewritten, 0, "nothing left to do");
    assert_eq!(again.records_processed, fixture.values());
}

/// A worker started before the pass (waiting for one) joins it and scans some of its chunks; the
/// report of the run that started the pass counts every row once, whoever scanned it.
fn a_joining_worker_takes_chunks_of_the_running_pass(backend: &Backend) {
    let own = own_database(backend);
    let backend = own.as_ref().unwrap_or(backend);
    let keys = Keys::generate();
    let mut db = backend.connect();
    let fixture = Fixture::create(backend, &mut db, &keys);
    // The starting run's own worker is slow to connect: the joiner, already waiting, goes first.
    let slow_connect = || {
        std::thread::sleep(Duration::from_millis(1500));
        Ok(backend.connect())
    };
    let (report, joined) = std::thread::scope(|scope| {
        let joiner = scope.spawn(|| {
            let mut other = backend.connect();
            Rotation::new(&fixture.registry)
                .pacing(Pacing::fixed(5))
                .wait_for_lease(Duration::from_secs(60))
                .join(&mut other, &keys.ring_v2(), None)
                .unwrap()
        });
        let report = Rotation::new(&fixture.registry)
            .pacing(Pacing::fixed(5))
            .workers(1, &slow_connect)
            .chunk_rows(CHUNK_ROWS)
            .run(&mut db, &keys.ring_v2())
            .unwrap();
        (report, joiner.join().unwrap())
    });
    assert_eq!(report.status, RotationStatus::Completed, "{report}");
    assert_eq!(report.records_rewritten, fixture.values(), "{report}");
    assert!(joined.joined, "{joined:?}");
    assert!(joined.chunks >= 1, "the joiner scanned chunks: {joined:?}");
    assert!(
        joined.records_rewritten >= 1 && joined.records_rewritten <= fixture.values(),
        "{joined:?}"
    );
    // It joined the rewrite and the verification (a second pass of its own, in chunks too).
    assert!(joined.passes >= 1, "{joined:?}");
    fixture.assert_all_on(&mut db, &keys.ring_v2(), 2);
    assert_no_pass_left(&mut db);
}

/// A joiner whose ring's active key is not the pass's is refused before it writes anything;
/// with nothing running, a joiner returns at once and says so.
fn a_joiner_with_other_keys_is_refused_and_one_with_nothing_to_join_returns(backend: &Backend) {
    let own = own_database(backend);
    let backend = own.as_ref().unwrap_or(backend);
    let keys = Keys::generate();
    let mut db = backend.connect();
    let fixture = Fixture::create(backend, &mut db, &keys);

    let nothing = Rotation::new(&fixture.registry)
        .join(&mut db, &keys.ring_v2(), None)
        .unwrap();
    assert!(!nothing.joined && nothing.chunks == 0, "{nothing:?}");

    let slow_connect = || {
        std::thread::sleep(Duration::from_millis(1500));
        Ok(backend.connect())
    };
    let (report, refused) = std::thread::scope(|scope| {
        let joiner = scope.spawn(|| {
            let mut other = backend.connect();
            Rotation::new(&fixture.registry)
                .wait_for_lease(Duration::from_secs(60))
                .join(&mut other, &keys.ring_v1(), None)
        });
        let report = Rotation::new(&fixture.registry)
            .workers(1, &slow_connect)
            .chunk_rows(CHUNK_ROWS)
            .run(&mut db, &keys.ring_v2())
            .unwrap();
        (report, joiner.join().unwrap())
    });
    let Err(Error::ParallelPass { reason }) = refused else {
        panic!("the joiner with v1 active is refused: {refused:?}");
    };
    assert!(
        reason.contains("key version v2") && reason.contains("active key is v1"),
        "{reason}"
    );
    assert_eq!(report.records_rewritten, fixture.values(), "{report}");
    fixture.assert_all_on(&mut db, &keys.ring_v2(), 2);
}

/// A migration from plaintext and a verification, both in chunks: every value migrated once and
/// kept for undo, the verification's counts those of every chunk.
fn migration_and_verification_run_in_chunks(backend: &Backend) {
    let own = own_database(backend);
    let backend = own.as_ref().unwrap_or(backend);
    let keys = Keys::generate();
    let mut db = backend.connect();
    let table = backend.create_table(
        &mut db,
        "plain",
        &format!(
            "id {}, phone {} NOT NULL",
            backend.int_key(),
            backend.text()
        ),
    );
    let rows: Vec<Vec<Cell>> = (1..=NUMBERED_ROWS)
        .map(|id| vec![Cell::Int(id), Cell::Text(format!("+1 555 01{id:04}"))])
        .collect();
    insert_rows(&mut db, &table, "id, phone", &rows);
    let registry = Registry::new()
        .register_spec(ModelSpec::new(table.spec_name(), "id").column(ColumnSpec::text("phone")))
        .unwrap();
    let connect = || Ok(backend.connect());
    let rotation = Rotation::new(&registry)
        .workers(2, &connect)
        .chunk_rows(CHUNK_ROWS);

    let migrated = rotation
        .migrate(&mut db, &keys.ring_v1(), &LegacyKey::None)
        .unwrap();
    assert_eq!(migrated.status, RotationStatus::Completed, "{migrated}");
    assert_eq!(migrated.operation, Operation::Migrate);
    assert_eq!(migrated.records_rewritten, NUMBERED_ROWS as u64);
    assert_eq!(migrated.legacy_values_kept, Some(NUMBERED_ROWS as u64));

    let verified = rotation.verify_only(&mut db, &keys.ring_v1()).unwrap();
    assert_eq!(verified.status, RotationStatus::Completed, "{verified}");
    assert_eq!(verified.records_processed, NUMBERED_ROWS as u64);
    assert_eq!(
        verified.verification.unwrap().values_by_version,
        BTreeMap::from([("v1".to_owned(), NUMBERED_ROWS as u64)])
    );
    let mut expected = Expected::new(&table, "phone", Storage::Text, KeyKind::Integer);
    expected.plaintexts = (1..=NUMBERED_ROWS)
        .map(|id| {
            (
                PrimaryKey::Integer(id),
                Some(format!("+1 555 01{id:04}").into_bytes()),
            )
        })
        .collect();
    expected.assert_all_on(&mut db, &keys.ring_v1(), 1);
    assert_no_pass_left(&mut db);
}

per_backend!(
    workers_rewrite_every_row_once_and_merge_their_counts,
    a_joining_worker_takes_chunks_of_the_running_pass,
    a_joiner_with_other_keys_is_refused_and_one_with_nothing_to_join_returns,
    migration_and_verification_run_in_chunks,
);
