//! The legacy bytes a migration replaces stay in `encrypted_field_legacy_values` until the
//! migration is verified: `undo_migration` puts every original byte back (leaving rows the
//! application changed since), `finalize_migration` verifies and then deletes them, and a run
//! killed half-way and run again neither loses nor duplicates them.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

use encrypted_field::MasterKey;
use encrypted_field::legacy::{LegacyKey, node_cbc};
use encrypted_field::rotation::Error;
use encrypted_field::rotation::database::PrimaryKey;
use encrypted_field::rotation::{LegacyChecks, Pacing, Progress, Rotation, RotationStatus};

use crate::migrate::{assert_unchanged, node_cbc_value, node_phone_table, phone_registry, phones};
use crate::support::{Backend, Cell, Keys, Table, insert_rows, per_backend, update};

/// A wrong key whose garbage passes every check (`allow_bytes`, padding by chance) is undone:
/// every value is back to its original bytes and nothing stays kept.
fn a_wrong_key_that_passes_the_checks_is_undone_byte_for_byte(backend: &Backend) {
    let (right, wrong) = (MasterKey::generate(), MasterKey::generate());
    let mut db = backend.connect();
    let table = backend.create_table(
        &mut db,
        "sneaky",
        &format!("id {}, phone {} NULL", backend.int_key(), backend.text()),
    );
    // Values the wrong key happens to "decrypt" (valid padding): about one in 256.
    let rows: Vec<Vec<Cell>> = (1..=12)
        .map(|id| {
            let value = std::iter::repeat_with(|| node_cbc_value(&right, b"+1 555 0100"))
                .find(|v| node_cbc::decrypt(&wrong, v.as_bytes()).is_ok())
                .unwrap();
            vec![Cell::Int(id), Cell::Text(value)]
        })
        .collect();
    insert_rows(&mut db, &table, "id, phone", &rows);
    let before = phones(&mut db, &table);
    let registry = phone_registry(&table);
    let ring = Keys::generate().ring_v1();
    let migration = Rotation::new(&registry)
        .pacing(Pacing::fixed(5))
        .legacy_checks(LegacyChecks::new().allow_bytes(true));

    let report = backend
        .rotate(|| migration.migrate(&mut db, &ring, &LegacyKey::NodeCbc(wrong.clone())))
        .unwrap();
    assert_eq!(report.records_rewritten, 12, "{report}");
    assert_eq!(report.legacy_values_kept, Some(12));
    assert_ne!(phones(&mut db, &table), before, "the garbage was written");

    let undo = backend
        .rotate(|| migration.undo_migration(&mut db))
        .unwrap();

    assert_eq!(
        (undo.restored, undo.left, undo.legacy_values_kept),
        (12, 0, 0),
        "{undo}"
    );
    assert_unchanged(&before, &phones(&mut db, &table));
}

/// With the right key, finalize verifies every value and deletes the kept legacy values.
fn finalize_after_a_good_migration_deletes_the_kept_values(backend: &Backend) {
    let key = MasterKey::generate();
    let mut db = backend.connect();
    let table = node_phone_table(backend, &mut db, &key, 30);
    let registry = phone_registry(&table);
    let ring = Keys::generate().ring_v1();
    let migration = Rotation::new(&registry).pacing(Pacing::fixed(7));
    let report = backend
        .rotate(|| migration.migrate(&mut db, &ring, &LegacyKey::NodeCbc(key.clone())))
        .unwrap();
    assert_eq!(report.status, RotationStatus::Completed, "{report}");
    assert_eq!(report.legacy_values_kept, Some(30));
    let migrated = phones(&mut db, &table);

    let finalized = backend
        .rotate(|| migration.finalize_migration(&mut db, &ring))
        .unwrap();

    assert_eq!(finalized.deleted, 30);
    assert_eq!(migration.legacy_values_kept(&mut db).unwrap(), 0);
    assert_unchanged(&migrated, &phones(&mut db, &table));
    let undo = backend
        .rotate(|| migration.undo_migration(&mut db))
        .unwrap();
    assert_eq!(undo.restored, 0, "nothing is left to undo after finalize");
}

/// Finalize verifies first: a value that does not open refuses it, and every legacy value stays.
fn finalize_refuses_when_verification_fails(backend: &Backend) {
    let key = MasterKey::generate();
    let mut db = backend.connect();
    let table = node_phone_table(backend, &mut db, &key, 10);
    let registry = phone_registry(&table);
    let ring = Keys::generate().ring_v1();
    let migration = Rotation::new(&registry);
    backend
        .rotate(|| migration.migrate(&mut db, &ring, &LegacyKey::NodeCbc(key.clone())))
        .unwrap();
    // A legacy value written after the migration: not an envelope.
    update(
        &mut db,
        &table,
        "id",
        &PrimaryKey::Integer(3),
        "phone",
        Cell::Text(node_cbc_value(&key, b"+1 555 0003")),
    );

    let err = backend
        .rotate(|| migration.finalize_migration(&mut db, &ring))
        .unwrap_err();

    assert!(matches!(err, Error::FinalizeRefused { .. }), "{err}");
    assert_eq!(migration.legacy_values_kept(&mut db).unwrap(), 10);
}

/// Undo never overwrites a value the application wrote after the migration: it is reported and
/// its legacy bytes stay kept; every other value is restored.
fn undo_leaves_a_value_changed_since_the_migration(backend: &Backend) {
    let key = MasterKey::generate();
    let mut db = backend.connect();
    let table = node_phone_table(backend, &mut db, &key, 20);
    let before = phones(&mut db, &table);
    let registry = phone_registry(&table);
    let ring = Keys::generate().ring_v1();
    let migration = Rotation::new(&registry).pacing(Pacing::fixed(6));
    backend
        .rotate(|| migration.migrate(&mut db, &ring, &LegacyKey::NodeCbc(key.clone())))
        .unwrap();
    let changed = PrimaryKey::Integer(7);
    let application_value = ring.encrypt_to_base64(b"+1 555 7777", &table.context("phone"));
    update(
        &mut db,
        &table,
        "id",
        &changed,
        "phone",
        Cell::Text(application_value.clone()),
    );

    let undo = backend
        .rotate(|| migration.undo_migration(&mut db))
        .unwrap();

    assert_eq!(
        (undo.restored, undo.left, undo.legacy_values_kept),
        (19, 1, 1),
        "{undo}"
    );
    assert_eq!(undo.left_values[0].primary_key, "7");
    let mut expected: BTreeMap<_, _> = before;
    expected.insert(changed, Some(application_value.into_bytes()));
    assert_unchanged(&expected, &phones(&mut db, &table));
}

/// Panics when the second batch has been read (before it is written), as a kill would stop it.
struct KillAtSecondBatch(std::cell::Cell<u32>);

impl Progress for KillAtSecondBatch {
    fn batch_read(&self, _table: &str, _column: &str, _keys: &[PrimaryKey]) {
        self.0.set(self.0.get() + 1);
        assert!(self.0.get() < 2, "killed");
    }
}

/// A migration killed after its first batch, then run again: the first batch's legacy bytes are
/// kept once (not lost, not duplicated), and undo brings every original byte back.
fn a_killed_migration_run_again_keeps_each_legacy_value_once(backend: &Backend) {
    let key = MasterKey::generate();
    let mut db = backend.connect();
    let table: Table = node_phone_table(backend, &mut db, &key, 25);
    let before = phones(&mut db, &table);
    let registry = phone_registry(&table);
    let ring = Keys::generate().ring_v1();
    let legacy = LegacyKey::NodeCbc(key.clone());
    let kill = KillAtSecondBatch(std::cell::Cell::new(0));
    {
        let _turn = backend.turn();
        let mut killed = backend.connect();
        let crashed = std::panic::catch_unwind(AssertUnwindSafe(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(10))
                .progress(&kill)
                .migrate(&mut killed, &ring, &legacy)
        }));
        assert!(crashed.is_err(), "the first run was killed");
        // The killed run's connection (and its session lock) goes away with it.
    }
    let migration = Rotation::new(&registry).pacing(Pacing::fixed(10));
    assert_eq!(
        migration.legacy_values_kept(&mut db).unwrap(),
        10,
        "the first batch only"
    );

    let report = backend
        .rotate(|| migration.migrate(&mut db, &ring, &legacy))
        .unwrap();

    assert_eq!(
        (report.records_rewritten, report.legacy_values_kept),
        (15, Some(25)),
        "{report}"
    );
    let undo = backend
        .rotate(|| migration.undo_migration(&mut db))
        .unwrap();
    assert_eq!((undo.restored, undo.left), (25, 0), "{undo}");
    assert_unchanged(&before, &phones(&mut db, &table));
}

per_backend!(
    a_wrong_key_that_passes_the_checks_is_undone_byte_for_byte,
    finalize_after_a_good_migration_deletes_the_kept_values,
    finalize_refuses_when_verification_fails,
    undo_leaves_a_value_changed_since_the_migration,
    a_killed_migration_run_again_keeps_each_legacy_value_once,
);
