//! Keyset batches: every row is visited exactly once, in bounded batches, whatever the row count
//! against the batch size and whatever the keys (sparse, negative, extreme, text in any case or
//! script, ordered as the database orders them).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use encrypted_field::model::{ColumnSpec, KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{Pacing, Progress, Rotation, RotationStatus};

use crate::support::{
    Backend, Cell, Counts, Expected, Keys, Table, column_report, insert, per_backend, seal,
};

const BATCH: usize = 4;

/// Records the size of every batch, per table.
#[derive(Default)]
struct BatchSizes {
    current: RefCell<String>,
    sizes: RefCell<BTreeMap<String, Vec<u64>>>,
}

impl Progress for BatchSizes {
    fn column_started(&self, table: &str, _column: &str) {
        *self.current.borrow_mut() = table.to_owned();
        self.sizes.borrow_mut().entry(table.to_owned()).or_default();
    }

    fn batch_done(&self, rows: u64) {
        let table = self.current.borrow().clone();
        self.sizes.borrow_mut().entry(table).or_default().push(rows);
    }
}

/// `rows` rows cut into batches of [`BATCH`].
fn expected_batches(rows: usize) -> Vec<u64> {
    (0..rows)
        .step_by(BATCH)
        .map(|start| (rows - start).min(BATCH) as u64)
        .collect()
}

/// A table keyed by `keys` with one binary column `secret` sealed with v1.
fn keyed_table(
    backend: &Backend,
    db: &mut Database,
    keys: &Keys,
    base: &str,
    key_sql: &str,
    rows: &[PrimaryKey],
) -> Table {
    let table = backend.create_table(
        db,
        base,
        &format!("id {key_sql}, secret {} NOT NULL", backend.blob()),
    );
    for key in rows {
        let sealed = seal(
            &keys.ring_v1(),
            Storage::Binary,
            &table.context("secret"),
            plaintext(key).as_bytes(),
        );
        insert(
            db,
            &table,
            "id, secret",
            &[Cell::key(key), Cell::Bytes(sealed)],
        );
    }
    table
}

fn plaintext(key: &PrimaryKey) -> String {
    format!("secret of {key}")
}

fn spec(table: &Table, kind: KeyKind) -> ModelSpec {
    ModelSpec::new(table.spec_name(), "id")
        .with_primary_key_kind(kind)
        .column(ColumnSpec::binary("secret"))
}

fn expected<'t>(table: &'t Table, kind: KeyKind, rows: &[PrimaryKey]) -> Expected<'t> {
    let mut expected = Expected::new(table, "secret", Storage::Binary, kind);
    for key in rows {
        expected
            .plaintexts
            .insert(key.clone(), Some(plaintext(key).into_bytes()));
    }
    expected
}

/// Rotates `tables` (with their keys) in one run and checks every row, its batches and counts.
fn rotate_and_check(
    backend: &Backend,
    db: &mut Database,
    keys: &Keys,
    tables: &[(&Table, KeyKind, &[PrimaryKey])],
) {
    let registry = tables
        .iter()
        .try_fold(Registry::new(), |r, (table, kind, _)| {
            r.register_spec(spec(table, *kind))
        })
        .unwrap();
    let ring = keys.ring_v2();
    let progress = BatchSizes::default();
    let report = backend
        .rotate(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(BATCH))
                .progress(&progress)
                .verify(false)
                .run(db, &ring)
        })
        .unwrap();
    assert_eq!(report.status, RotationStatus::Completed, "{report}");
    let sizes = progress.sizes.borrow();
    for (table, kind, rows) in tables {
        let n = rows.len() as u64;
        assert_eq!(
            Counts::of(column_report(&report, &table.name, "secret")),
            Counts {
                rows: n,
                rewritten: n,
                ..Counts::default()
            },
            "{}",
            table.name
        );
        assert_eq!(
            sizes[&table.name],
            expected_batches(rows.len()),
            "batches of {}",
            table.name
        );
        expected(table, *kind, rows).assert_all_on(db, &ring, 2);
    }
}

fn row_counts_around_the_batch_size_all_rotate(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let counts = [0, 1, BATCH - 1, BATCH, BATCH + 1, 2 * BATCH, 2 * BATCH + 1];
    let rows: Vec<Vec<PrimaryKey>> = counts
        .iter()
        .map(|&n| (1..=n as i64).map(PrimaryKey::Integer).collect())
        .collect();
    let tables: Vec<Table> = rows
        .iter()
        .zip(counts)
        .map(|(rows, n)| {
            keyed_table(
                backend,
                &mut db,
                &keys,
                &format!("rows{n}"),
                backend.serial_key(),
                rows,
            )
        })
        .collect();
    let plan: Vec<(&Table, KeyKind, &[PrimaryKey])> = tables
        .iter()
        .zip(&rows)
        .map(|(t, r)| (t, KeyKind::Integer, r.as_slice()))
        .collect();
    rotate_and_check(backend, &mut db, &keys, &plan);
}

fn sparse_negative_and_extreme_integer_keys_all_rotate(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let rows: Vec<PrimaryKey> = [
        i64::MIN,
        -9_000_000_000,
        -5,
        -1,
        0,
        1,
        7,
        1000,
        1 << 40,
        i64::MAX,
    ]
    .into_iter()
    .map(PrimaryKey::Integer)
    .collect();
    let table = keyed_table(
        backend,
        &mut db,
        &keys,
        "sparse",
        backend.bigint_key(),
        &rows,
    );
    rotate_and_check(
        backend,
        &mut db,
        &keys,
        &[(&table, KeyKind::Integer, &rows)],
    );
}

fn text_keys_in_mixed_case_and_scripts_all_rotate(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    // No two keys equal under a case- or accent-insensitive collation (MariaDB's default), so
    // each backend can store them all; each orders them its own way.
    let rows: Vec<PrimaryKey> = [
        "", "alice", "Bob", "charlie", "Émile", "Zed", "zoë", "東京", "🔐", "a b", "ß", "0",
    ]
    .into_iter()
    .map(|k| PrimaryKey::Text(k.to_owned()))
    .collect();
    let table = keyed_table(backend, &mut db, &keys, "named", backend.text_key(), &rows);
    rotate_and_check(backend, &mut db, &keys, &[(&table, KeyKind::Text, &rows)]);
}

fn a_batch_too_big_for_one_statement_is_written_in_several(backend: &Backend) {
    let keys = Keys::generate();
    let old = keys.ring_v1();
    let mut db = backend.connect();
    // More rows than one statement carries, and more bytes than one statement carries.
    let shapes = [("many", 2_100, 16), ("large", 700, 3_000)];
    let mut tables = Vec::new();
    for (base, rows, size) in shapes {
        let table = backend.create_table(
            &mut db,
            base,
            &format!(
                "id {}, secret {} NOT NULL",
                backend.int_key(),
                backend.blob()
            ),
        );
        let cells: Vec<Vec<Cell>> = (1..=rows)
            .map(|id| {
                let mut plaintext = plaintext(&PrimaryKey::Integer(id)).into_bytes();
                plaintext.resize(size, b'.');
                vec![
                    Cell::Int(id),
                    Cell::Bytes(seal(
                        &old,
                        Storage::Binary,
                        &table.context("secret"),
                        &plaintext,
                    )),
                ]
            })
            .collect();
        crate::support::insert_rows(&mut db, &table, "id, secret", &cells);
        tables.push((table, rows, size));
    }
    let registry = tables
        .iter()
        .try_fold(Registry::new(), |r, (table, _, _)| {
            r.register_spec(spec(table, KeyKind::Integer))
        })
        .unwrap();
    let ring = keys.ring_v2();

    let report = backend
        .rotate(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(2_100))
                .run(&mut db, &ring)
        })
        .unwrap();

    assert_eq!(report.status, RotationStatus::Completed, "{report}");
    for (table, rows, size) in &tables {
        let rows = *rows as u64;
        assert_eq!(
            Counts::of(column_report(&report, &table.name, "secret")),
            Counts {
                rows,
                rewritten: rows,
                ..Counts::default()
            }
        );
        let mut expected = Expected::new(table, "secret", Storage::Binary, KeyKind::Integer);
        for id in 1..=rows as i64 {
            let key = PrimaryKey::Integer(id);
            let mut plaintext = plaintext(&key).into_bytes();
            plaintext.resize(*size, b'.');
            expected.plaintexts.insert(key, Some(plaintext));
        }
        expected.assert_all_on(&mut db, &ring, 2);
    }
}

fn a_primary_key_named_like_the_scan_columns_still_orders_the_batches(backend: &Backend) {
    let keys = Keys::generate();
    let old = keys.ring_v1();
    let mut db = backend.connect();
    // The scan selects `key AS pk, column AS value`: a key column named `value` must still be
    // what the batches are ordered by.
    let table = backend.create_table(
        &mut db,
        "value_key",
        &format!(
            "value {}, secret {} NOT NULL",
            backend.int_key(),
            backend.blob()
        ),
    );
    for id in 1..=9 {
        let sealed = seal(&old, Storage::Binary, &table.context("secret"), b"x");
        insert(
            &mut db,
            &table,
            "value, secret",
            &[Cell::Int(id), Cell::Bytes(sealed)],
        );
    }
    let registry = Registry::new()
        .register_spec(
            ModelSpec::new(table.spec_name(), "value").column(ColumnSpec::binary("secret")),
        )
        .unwrap();
    let ring = keys.ring_v2();

    let report = backend
        .rotate(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(2))
                .run(&mut db, &ring)
        })
        .unwrap();

    assert_eq!(
        Counts::of(column_report(&report, &table.name, "secret")),
        Counts {
            rows: 9,
            rewritten: 9,
            ..Counts::default()
        },
        "{report}"
    );
    let stored = crate::support::read_column(
        &mut db,
        &table,
        "value",
        KeyKind::Integer,
        "secret",
        Storage::Binary,
    );
    assert_eq!(stored.len(), 9);
    for value in stored.values() {
        assert_eq!(
            crate::support::version(Storage::Binary, value.as_ref().unwrap()),
            2
        );
    }
}

/// Writing batches are sized by the time their transactions take: they grow from 64 rows by at
/// most a factor of two while transactions are far below the target, and halve while above it,
/// down to one row; every row is still visited exactly once.
fn writing_batches_are_sized_by_their_transaction_time(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let rows: Vec<PrimaryKey> = (1..=300).map(PrimaryKey::Integer).collect();
    let ring = keys.ring_v2();
    for (name, target, batches) in [
        // Every transaction is far below an hour: 64, 128, then the 108 left.
        ("slowgrow", Duration::from_secs(3600), vec![64, 128, 108]),
        // Every transaction is above a nanosecond: halving down to one row a batch.
        (
            "shrink",
            Duration::from_nanos(1),
            [64, 32, 16, 8, 4, 2]
                .into_iter()
                .chain(std::iter::repeat_n(1, 300 - 126))
                .collect(),
        ),
    ] {
        let table = keyed_table(backend, &mut db, &keys, name, backend.serial_key(), &rows);
        let registry = Registry::new()
            .register_spec(spec(&table, KeyKind::Integer))
            .unwrap();
        let progress = BatchSizes::default();
        let pacing = Pacing::default()
            .with_transaction_time(target)
            .with_pause_ratio(0.0);
        let report = backend
            .rotate(|| {
                Rotation::new(&registry)
                    .pacing(pacing)
                    .progress(&progress)
                    .verify(false)
                    .run(&mut db, &ring)
            })
            .unwrap();
        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        assert_eq!(progress.sizes.borrow()[&table.name], batches, "{name}");
        expected(&table, KeyKind::Integer, &rows).assert_all_on(&mut db, &ring, 2);
    }
}

per_backend!(
    writing_batches_are_sized_by_their_transaction_time,
    a_batch_too_big_for_one_statement_is_written_in_several,
    a_primary_key_named_like_the_scan_columns_still_orders_the_batches,
    row_counts_around_the_batch_size_all_rotate,
    sparse_negative_and_extreme_integer_keys_all_rotate,
    text_keys_in_mixed_case_and_scripts_all_rotate,
);
