//! Crash safety: a rotation stopped at any point (here, between two batches, as a kill would)
//! leaves every value readable, and the next run finishes the job.

use encrypted_field::model::{ColumnSpec, KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::database::PrimaryKey;
use encrypted_field::rotation::{Pacing, Progress, Rotation, RotationStatus};

use crate::support::{
    Backend, Cell, Counts, Expected, Keys, column_report, insert, per_backend, seal,
};

/// Stops the process's work, as a kill would, once `batches` batches are written.
struct CrashAfter {
    batches: usize,
    done: std::cell::Cell<usize>,
}

impl Progress for CrashAfter {
    fn batch_done(&self, _rows: u64) {
        self.done.set(self.done.get() + 1);
        if self.done.get() == self.batches {
            panic!(
                "simulated crash after {} batches (expected by this test)",
                self.batches
            );
        }
    }
}

fn an_interrupted_rotation_loses_nothing_and_the_next_run_finishes_it(backend: &Backend) {
    let keys = Keys::generate();
    let (old, ring) = (keys.ring_v1(), keys.ring_v2());
    let mut db = backend.connect();
    let table = backend.create_table(
        &mut db,
        "interrupted",
        &format!(
            "id {}, secret {} NOT NULL",
            backend.int_key(),
            backend.blob()
        ),
    );
    let mut expected = Expected::new(&table, "secret", Storage::Binary, KeyKind::Integer);
    for id in 1..=10 {
        let plaintext = format!("secret {id}").into_bytes();
        let sealed = seal(&old, Storage::Binary, &table.context("secret"), &plaintext);
        insert(
            &mut db,
            &table,
            "id, secret",
            &[Cell::Int(id), Cell::Bytes(sealed)],
        );
        expected
            .plaintexts
            .insert(PrimaryKey::Integer(id), Some(plaintext));
    }
    let registry = Registry::new()
        .register_spec(ModelSpec::new(table.spec_name(), "id").column(ColumnSpec::binary("secret")))
        .unwrap();
    let crash = CrashAfter {
        batches: 2,
        done: std::cell::Cell::new(0),
    };

    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        backend.rotate(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(3))
                .progress(&crash)
                .run(&mut db, &ring)
        })
    }));
    assert!(crashed.is_err());
    drop(db); // the process is gone: its connection (and any server-side lock) with it

    let mut db = backend.connect();
    let versions: Vec<u32> = expected
        .stored(&mut db)
        .values()
        .map(|v| crate::support::version(Storage::Binary, v.as_ref().unwrap()))
        .collect();
    assert_eq!(
        versions,
        [2, 2, 2, 2, 2, 2, 1, 1, 1, 1],
        "two batches were written"
    );
    expected.assert_rows_on_any_version(&mut db, &ring);

    let report = backend
        .rotate(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(3))
                .run(&mut db, &ring)
        })
        .unwrap();
    assert_eq!(report.status, RotationStatus::Completed, "{report}");
    assert_eq!(
        Counts::of(column_report(&report, &table.name, "secret")),
        Counts {
            rows: 10,
            unchanged: 6,
            rewritten: 4,
            ..Counts::default()
        }
    );
    expected.assert_all_on(&mut db, &ring, 2);
}

per_backend!(an_interrupted_rotation_loses_nothing_and_the_next_run_finishes_it);
