//! Rotation beside a running application: a value the application writes between the rotation's
//! read and its write is never overwritten, and a second rotation is refused while one runs.

use std::cell::RefCell;
use std::collections::BTreeMap;

use encrypted_field::KeyRing;
use encrypted_field::model::{ColumnSpec, KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::Error;
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{Pacing, Progress, Rotation, RotationReport, RotationStatus};
use encrypted_field::testing::Backend as Kind;

use crate::support::{
    Backend, Cell, Counts, Expected, Keys, Table, assert_totals_match_columns, column_report,
    insert, open, per_backend, seal, update, version,
};

const ROWS: i64 = 10;
const BATCH: usize = 4;
const COLUMNS: [(&str, Storage); 2] = [("secret", Storage::Binary), ("note", Storage::Text)];

/// `ROWS` rows of a binary and a text column sealed with v1.
fn table_of_secrets(backend: &Backend, db: &mut Database, keys: &Keys) -> (Table, Registry) {
    let table = backend.create_table(
        db,
        "busy",
        &format!(
            "id {}, secret {} NOT NULL, note {} NOT NULL",
            backend.serial_key(),
            backend.blob(),
            backend.text()
        ),
    );
    for id in 1..=ROWS {
        let mut cells = vec![Cell::Int(id)];
        for (column, storage) in COLUMNS {
            let sealed = seal(
                &keys.ring_v1(),
                storage,
                &table.context(column),
                original(column, id).as_bytes(),
            );
            cells.push(Cell::stored(storage, &sealed));
        }
        insert(db, &table, "id, secret, note", &cells);
    }
    let registry = Registry::new()
        .register_spec(
            ModelSpec::new(table.spec_name(), "id")
                .column(ColumnSpec::binary("secret"))
                .column(ColumnSpec::text("note")),
        )
        .unwrap();
    (table, registry)
}

fn original(column: &str, id: i64) -> String {
    format!("{column} {id}")
}

/// (column, key) → (plaintext, stored bytes) of every application write.
type AppWrites = BTreeMap<(String, PrimaryKey), (String, Vec<u8>)>;

/// What a rotation beside the application did.
struct Outcome {
    report: RotationReport,
    written: AppWrites,
    /// (column, key) → the stored value afterwards.
    stored: BTreeMap<(String, PrimaryKey), Option<Vec<u8>>>,
}

/// The application: on the second batch of each column, between the rotation's read and its
/// write, it overwrites the batch's first and last rows through its own connection, sealing with
/// `ring` (v2 once restarted, v1 before).
struct Application<'a> {
    connection: RefCell<Database>,
    ring: KeyRing,
    table: &'a Table,
    batches_seen: RefCell<BTreeMap<String, usize>>,
    written: RefCell<AppWrites>,
}

impl Progress for Application<'_> {
    fn batch_read(&self, table: &str, column: &str, keys: &[PrimaryKey]) {
        assert_eq!(table, self.table.name);
        let mut seen = self.batches_seen.borrow_mut();
        let batch = seen.entry(column.to_owned()).or_default();
        *batch += 1;
        if *batch != 2 {
            return;
        }
        let storage = COLUMNS.iter().find(|(c, _)| *c == column).unwrap().1;
        for key in [keys.first().unwrap(), keys.last().unwrap()] {
            let plaintext = format!("application's new {column} for {key}");
            let stored = seal(
                &self.ring,
                storage,
                &self.table.context(column),
                plaintext.as_bytes(),
            );
            update(
                &mut self.connection.borrow_mut(),
                self.table,
                "id",
                key,
                column,
                Cell::stored(storage, &stored),
            );
            self.written
                .borrow_mut()
                .insert((column.to_owned(), key.clone()), (plaintext, stored));
        }
    }
}

/// Rotates while the application writes with key `app_version`; checks what every scenario
/// shares.
fn rotate_beside_application(backend: &Backend, app_version: u32) -> Outcome {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let (table, registry) = table_of_secrets(backend, &mut db, &keys);
    let ring = keys.ring_v2();
    let app_ring = if app_version == 1 {
        keys.ring_v1()
    } else {
        keys.ring_v2()
    };
    let application = Application {
        connection: RefCell::new(backend.connect()),
        ring: app_ring,
        table: &table,
        batches_seen: RefCell::default(),
        written: RefCell::default(),
    };

    let report = backend
        .rotate(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(BATCH))
                .progress(&application)
                .run(&mut db, &ring)
        })
        .unwrap();

    assert_eq!(report.status, RotationStatus::Completed, "{report}");
    assert!(report.verification.as_ref().unwrap().ok, "{report}");
    assert_totals_match_columns(&report);
    let written = application.written.into_inner();
    assert_eq!(written.len(), 4, "two rows of each column");
    // The rows of the second batch written by the application: 5 and 8.
    let mut stored = BTreeMap::new();
    for (column, storage) in COLUMNS {
        let mut expected = Expected::new(&table, column, storage, KeyKind::Integer);
        for id in 1..=ROWS {
            let key = PrimaryKey::Integer(id);
            let plaintext = match written.get(&(column.to_owned(), key.clone())) {
                Some((newer, _)) => newer.clone(),
                None => original(column, id),
            };
            expected
                .plaintexts
                .insert(key, Some(plaintext.into_bytes()));
        }
        expected.assert_all_on(&mut db, &ring, 2);
        for (key, value) in expected.stored(&mut db) {
            stored.insert((column.to_owned(), key), value);
        }
    }
    for (column, storage) in COLUMNS {
        let keys: Vec<_> = written
            .keys()
            .filter(|(c, _)| c == column)
            .map(|(_, k)| k.clone())
            .collect();
        assert_eq!(
            keys,
            [PrimaryKey::Integer(5), PrimaryKey::Integer(8)],
            "{column}"
        );
        for key in keys {
            let value = stored[&(column.to_owned(), key)].clone().unwrap();
            assert!(open(&ring, storage, &table.context(column), &value).is_ok());
        }
    }
    Outcome {
        report,
        written,
        stored,
    }
}

fn a_concurrent_write_with_the_new_key_is_kept_and_counted(backend: &Backend) {
    let Outcome {
        report,
        written,
        stored,
    } = rotate_beside_application(backend, 2);

    for ((column, key), (_, app_bytes)) in &written {
        assert_eq!(
            stored[&(column.clone(), key.clone())].as_ref(),
            Some(app_bytes),
            "{column} id={key}: the application's write is left exactly as it wrote it"
        );
    }
    for (column, _) in COLUMNS {
        assert_eq!(
            Counts::of(column_report(&report, &report.models[0].table, column)),
            Counts {
                rows: ROWS as u64,
                rewritten: ROWS as u64 - 2,
                changed_concurrently: 2,
                ..Counts::default()
            },
            "{column}"
        );
    }
    assert_eq!(report.records_changed_concurrently, 4);
    assert_eq!(report.records_rewritten, 2 * (ROWS as u64 - 2));
}

fn a_concurrent_write_with_the_old_key_is_kept_counted_and_rotated_by_the_next_pass(
    backend: &Backend,
) {
    let Outcome {
        report,
        written,
        stored,
    } = rotate_beside_application(backend, 1);

    for ((column, key), (_, app_bytes)) in &written {
        let storage = COLUMNS.iter().find(|(c, _)| c == column).unwrap().1;
        assert_eq!(version(storage, app_bytes), 1);
        let now = stored[&(column.clone(), key.clone())].as_ref().unwrap();
        assert_ne!(
            now, app_bytes,
            "{column} id={key}: re-encrypted by the next pass"
        );
        assert_eq!(version(storage, now), 2);
    }
    for (column, _) in COLUMNS {
        assert_eq!(
            Counts::of(column_report(&report, &report.models[0].table, column)),
            Counts {
                rows: ROWS as u64,
                rewritten: ROWS as u64,
                changed_concurrently: 2,
                ..Counts::default()
            },
            "{column}: 8 rewritten by the first pass, the application's 2 by the next"
        );
    }
    assert_eq!(report.records_changed_concurrently, 4);
    assert_eq!(report.records_rewritten, 2 * ROWS as u64);
}

/// A second rotation, tried from another connection while the first is between its read and its
/// write.
struct SecondRotation<'a> {
    connect: &'a dyn Fn() -> Database,
    registry: &'a Registry,
    ring: KeyRing,
    table: &'a Table,
    outcome: RefCell<Option<(Result<RotationReport, Error>, bool)>>,
}

impl Progress for SecondRotation<'_> {
    fn batch_read(&self, _table: &str, _column: &str, _keys: &[PrimaryKey]) {
        if self.outcome.borrow().is_some() {
            return;
        }
        let mut other = (self.connect)();
        let snapshot = |db: &mut Database| {
            COLUMNS
                .iter()
                .map(|(column, storage)| {
                    crate::support::read_column(
                        db,
                        self.table,
                        "id",
                        KeyKind::Integer,
                        column,
                        *storage,
                    )
                })
                .collect::<Vec<_>>()
        };
        let before = snapshot(&mut other);
        let result = Rotation::new(self.registry).run(&mut other, &self.ring);
        let untouched = snapshot(&mut other) == before;
        *self.outcome.borrow_mut() = Some((result, untouched));
    }
}

/// Runs a rotation during which a second one, connected by `connect`, is tried and refused.
fn second_rotation_is_refused(backend: &Backend, connect: &dyn Fn() -> Database) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let (table, registry) = table_of_secrets(backend, &mut db, &keys);
    let second = SecondRotation {
        connect,
        registry: &registry,
        ring: keys.ring_v3(),
        table: &table,
        outcome: RefCell::default(),
    };

    let report = backend
        .rotate(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(BATCH))
                .progress(&second)
                .run(&mut db, &keys.ring_v2())
        })
        .unwrap();

    let (refused, untouched) = second.outcome.into_inner().unwrap();
    assert!(
        matches!(refused, Err(Error::RotationInProgress { .. })),
        "{refused:?}"
    );
    assert!(untouched, "the refused rotation wrote nothing");
    assert_eq!(report.status, RotationStatus::Completed, "{report}");
    assert_eq!(report.records_rewritten, 2 * ROWS as u64);
    for (column, storage) in COLUMNS {
        let mut expected = Expected::new(&table, column, storage, KeyKind::Integer);
        for id in 1..=ROWS {
            expected.plaintexts.insert(
                PrimaryKey::Integer(id),
                Some(original(column, id).into_bytes()),
            );
        }
        expected.assert_all_on(&mut db, &keys.ring_v2(), 2);
    }

    // Released at the end: another connection's rotation now runs.
    let mut other = backend.connect();
    let next = backend
        .rotate(|| Rotation::new(&registry).run(&mut other, &keys.ring_v3()))
        .unwrap();
    assert_eq!(next.records_rewritten, 2 * ROWS as u64);
}

fn a_second_rotation_is_refused_while_one_runs(backend: &Backend) {
    second_rotation_is_refused(backend, &|| backend.connect());
}

/// The lock holds for the database, not for one spelling of its path: a second rotation through
/// a symbolic link to the SQLite file, or through `..`, is refused too.
fn a_second_rotation_through_another_path_to_the_file_is_refused(backend: &Backend) {
    for spelling in 0..2 {
        second_rotation_is_refused(backend, &|| backend.connect_spelled_otherwise(spelling));
    }
}

/// A database name as long as the server allows (64 characters on MariaDB, 63 on PostgreSQL)
/// still gets a lock of its own that holds: MariaDB's lock names are limited to 64 characters.
fn a_database_with_the_longest_name_still_locks(backend: &Backend) {
    let length = if backend.kind == Kind::Postgres {
        63
    } else {
        64
    };
    let name = format!("ef_{:08x}_", rand::random::<u32>());
    let name = format!("{name}{}", "l".repeat(length - name.len()));
    let Some(long) = backend.with_new_database(&name) else {
        return; // SQLite has no database names; its file lock is tested above
    };
    second_rotation_is_refused(&long, &|| long.connect());
}

per_backend!(
    a_database_with_the_longest_name_still_locks,
    a_concurrent_write_with_the_new_key_is_kept_and_counted,
    a_concurrent_write_with_the_old_key_is_kept_counted_and_rotated_by_the_next_pass,
    a_second_rotation_is_refused_while_one_runs,
    a_second_rotation_through_another_path_to_the_file_is_refused,
);
