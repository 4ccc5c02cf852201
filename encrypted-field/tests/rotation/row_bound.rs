//! Row-bound columns (`#[encrypted(bind_row)]`): values written by the derived model's setters are
//! verified, rotated and migrated by the engine, which computes each row's context from the key
//! column it reads without knowing the Rust type, and read back by the model's getters. A value
//! copied into another row fails there, naming the column and the row, and the engine reports
//! it and leaves it as it is.
//!
//! The derived models name fixed tables, so each scenario works in a database of its own (a file
//! of its own on SQLite).

use encrypted_field::model::{KeyKind, Registry, Storage};
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{Pacing, Progress, Rotation, RotationReport, RotationStatus};
use encrypted_field::{EncryptedModel, Error, KeyRing, KeyVersion};

use crate::support::{
    Backend, Cell, Counts, Keys, Table, column_report, insert, per_backend, read_column, update,
    version,
};

/// People with an integer key, a binary and a text column bound to their rows.
#[derive(Debug, Default, EncryptedModel)]
#[encrypted_model(table = "row_bound_people")]
struct Person {
    id: i32,
    #[encrypted(bind_row)]
    _ssn: Option<Vec<u8>>,
    #[encrypted(bind_row)]
    _note: Option<String>,
}

/// Accounts with a text key.
#[derive(Debug, Default, EncryptedModel)]
#[encrypted_model(table = "row_bound_accounts", primary_key = "code")]
struct Account {
    code: String,
    #[encrypted(bind_row)]
    _iban: Vec<u8>,
}

/// Badges with a UUID key (a `uuid` column on PostgreSQL, `CHAR(36)` elsewhere).
#[derive(Debug, Default, EncryptedModel)]
#[encrypted_model(table = "row_bound_badges")]
struct Badge {
    id: uuid::Uuid,
    #[encrypted(bind_row)]
    _secret: Vec<u8>,
}

/// Runs `scenario` in a database of its own on a server (SQLite's file already is).
fn in_own_database(backend: &Backend, scenario: impl FnOnce(&Backend)) {
    let name = format!("ef_rowbound_{:08x}", rand::random::<u32>());
    match backend.with_new_database(&name) {
        Some(own) => scenario(&own),
        None => scenario(backend),
    }
}

/// Creates `row_bound_people` and writes `ids` with the model's setters under `ring`.
fn write_people(backend: &Backend, db: &mut Database, ring: &KeyRing, ids: &[i32]) -> Table {
    let table = backend.create_named_table(
        db,
        "row_bound_people",
        &format!(
            "id {}, _ssn {} NULL, _note {} NULL",
            backend.int_key(),
            backend.blob(),
            backend.text()
        ),
    );
    for &id in ids {
        let mut person = Person {
            id,
            ..Person::default()
        };
        person.set_ssn_with(ring, format!("ssn {id}")).unwrap();
        person.set_note_with(ring, format!("note {id}")).unwrap();
        insert(
            db,
            &table,
            "id, _ssn, _note",
            &[
                Cell::Int(id.into()),
                Cell::Bytes(person._ssn.unwrap()),
                Cell::Text(person._note.unwrap()),
            ],
        );
    }
    table
}

/// Every person as stored, by id.
fn load_people(db: &mut Database, table: &Table) -> Vec<Person> {
    let ssns = read_column(db, table, "id", KeyKind::Integer, "_ssn", Storage::Binary);
    let mut notes = read_column(db, table, "id", KeyKind::Integer, "_note", Storage::Text);
    ssns.into_iter()
        .map(|(key, ssn)| {
            let PrimaryKey::Integer(id) = key else {
                panic!("integer keys")
            };
            let note = notes.remove(&key).flatten();
            Person {
                id: i32::try_from(id).unwrap(),
                _ssn: ssn,
                _note: note.map(|n| String::from_utf8(n).unwrap()),
            }
        })
        .collect()
}

fn registry<M: EncryptedModel>() -> Registry {
    Registry::new().register::<M>().unwrap()
}

fn people_values_written_by_the_model_verify_rotate_and_read_back_for_their_rows(
    backend: &Backend,
) {
    in_own_database(backend, |backend| {
        let keys = Keys::generate();
        let mut db = backend.connect();
        let ids: Vec<i32> = (1..=7).collect();
        let table = write_people(backend, &mut db, &keys.ring_v1(), &ids);
        let registry = registry::<Person>();

        let verified = Rotation::new(&registry)
            .verify_only(&mut db, &keys.ring_v1())
            .unwrap();
        assert_eq!(verified.status, RotationStatus::Completed, "{verified}");

        let report = backend
            .rotate(|| {
                Rotation::new(&registry)
                    .pacing(Pacing::fixed(3))
                    .run(&mut db, &keys.ring_v2())
            })
            .unwrap();
        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        for column in ["_ssn", "_note"] {
            assert_eq!(
                Counts::of(column_report(&report, &table.name, column)),
                Counts {
                    rows: 7,
                    rewritten: 7,
                    ..Counts::default()
                },
                "{column}"
            );
        }

        let ring = keys.ring_v2();
        for person in load_people(&mut db, &table) {
            let id = person.id;
            let ssn = person._ssn.as_deref().unwrap();
            assert_eq!(version(Storage::Binary, ssn), 2);
            assert_eq!(person.ssn_with(&ring).unwrap(), Some(format!("ssn {id}")));
            assert_eq!(person.note_with(&ring).unwrap(), Some(format!("note {id}")));
            assert!(
                ring.decrypt_with_context(ssn, "row_bound_people._ssn")
                    .is_err(),
                "a row-bound value is not a plain value of its column"
            );
        }
    });
}

fn a_value_copied_into_another_row_is_reported_by_verify_and_rotation_and_left_alone(
    backend: &Backend,
) {
    in_own_database(backend, |backend| {
        let keys = Keys::generate();
        let mut db = backend.connect();
        let table = write_people(backend, &mut db, &keys.ring_v1(), &[1, 2, 3, 4]);
        let people = load_people(&mut db, &table);
        let copied = people[0]._ssn.clone().unwrap();
        update(
            &mut db,
            &table,
            "id",
            &PrimaryKey::Integer(3),
            "_ssn",
            Cell::Bytes(copied.clone()),
        );

        // The application's getter refuses it, naming the column and the row.
        let third = load_people(&mut db, &table).remove(2);
        let error = third.ssn_with(&keys.ring_v1()).unwrap_err();
        assert!(
            matches!(&error, Error::RowAuthentication { context, row }
                if context == "row_bound_people._ssn" && row.as_str() == "3"),
            "{error:?}"
        );
        assert!(error.to_string().contains("row `3`"), "{error}");

        let registry = registry::<Person>();
        let verified = Rotation::new(&registry)
            .verify_only(&mut db, &keys.ring_v1())
            .unwrap();
        assert_copied_value_reported(&verified);

        let rotated = backend
            .rotate(|| Rotation::new(&registry).run(&mut db, &keys.ring_v2()))
            .unwrap();
        assert_copied_value_reported(&rotated);
        assert_eq!(rotated.failed_records, 1);

        let after = load_people(&mut db, &table);
        assert_eq!(
            after[2]._ssn.as_deref(),
            Some(&copied[..]),
            "the copied value is left exactly as it was"
        );
        for person in after.iter().filter(|p| p.id != 3) {
            assert_eq!(version(Storage::Binary, person._ssn.as_deref().unwrap()), 2);
            assert_eq!(
                person.ssn_with(&keys.ring_v2()).unwrap(),
                Some(format!("ssn {}", person.id))
            );
        }

        // A value copied on the active version needs no rewrite, so only the verification
        // that closes the rotation opens it: it is reported there.
        update(
            &mut db,
            &table,
            "id",
            &PrimaryKey::Integer(4),
            "_ssn",
            Cell::Bytes(after[0]._ssn.clone().unwrap()),
        );
        let again = backend
            .rotate(|| Rotation::new(&registry).run(&mut db, &keys.ring_v2()))
            .unwrap();
        assert_eq!(again.status, RotationStatus::Failed, "{again}");
        let verification = again.verification.as_ref().unwrap();
        assert!(!verification.ok, "{again}");
        assert_eq!(verification.undecryptable, 2, "rows 3 and 4: {again}");
    });
}

fn assert_copied_value_reported(report: &RotationReport) {
    assert_eq!(report.status, RotationStatus::Failed, "{report}");
    let [failure] = report.failures.as_slice() else {
        panic!("one failure expected: {report}");
    };
    assert_eq!(
        (
            failure.table.as_str(),
            failure.primary_key.as_str(),
            failure.column.as_str()
        ),
        ("row_bound_people", "3", "_ssn")
    );
    assert!(
        failure.reason.contains("row `3`") && failure.reason.contains("another row"),
        "{}",
        failure.reason
    );
}

/// Stops the rotation, as a kill would, once `batches` batches are written.
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

fn an_interrupted_rotation_of_row_bound_values_loses_nothing_and_the_next_run_finishes_it(
    backend: &Backend,
) {
    in_own_database(backend, |backend| {
        let keys = Keys::generate();
        let ring = keys.ring_v2();
        let mut db = backend.connect();
        let ids: Vec<i32> = (1..=10).collect();
        let table = write_people(backend, &mut db, &keys.ring_v1(), &ids);
        let registry = registry::<Person>();
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
        drop(db);

        let mut db = backend.connect();
        let people = load_people(&mut db, &table);
        let versions: Vec<u32> = people
            .iter()
            .map(|p| version(Storage::Binary, p._ssn.as_deref().unwrap()))
            .collect();
        assert_eq!(
            versions,
            [2, 2, 2, 2, 2, 2, 1, 1, 1, 1],
            "two batches written"
        );
        let status = Rotation::new(&registry).status(&mut db).unwrap();
        assert_eq!(
            (
                status.count_for(KeyVersion::new(1)),
                status.count_for(KeyVersion::new(2))
            ),
            (8, 12),
            "status counts the row-bound values of both columns per version"
        );
        for person in &people {
            assert_eq!(
                person.ssn_with(&ring).unwrap(),
                Some(format!("ssn {}", person.id))
            );
        }

        let report = backend
            .rotate(|| {
                Rotation::new(&registry)
                    .pacing(Pacing::fixed(3))
                    .run(&mut db, &ring)
            })
            .unwrap();
        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        for person in load_people(&mut db, &table) {
            assert_eq!(version(Storage::Binary, person._ssn.as_deref().unwrap()), 2);
            assert_eq!(
                person.note_with(&ring).unwrap(),
                Some(format!("note {}", person.id))
            );
        }
    });
}

fn migration_from_plaintext_binds_each_value_to_its_row(backend: &Backend) {
    in_own_database(backend, |backend| {
        let keys = Keys::generate();
        let mut db = backend.connect();
        let table = backend.create_named_table(
            &mut db,
            "row_bound_people",
            &format!(
                "id {}, _ssn {} NULL, _note {} NULL",
                backend.int_key(),
                backend.blob(),
                backend.text()
            ),
        );
        for id in 1..=5 {
            insert(
                &mut db,
                &table,
                "id, _ssn, _note",
                &[
                    Cell::Int(id),
                    Cell::Bytes(format!("ssn {id}").into_bytes()),
                    Cell::Null,
                ],
            );
        }
        let registry = registry::<Person>();
        let report = backend
            .rotate(|| {
                Rotation::new(&registry).migrate(
                    &mut db,
                    &keys.ring_v1(),
                    &encrypted_field::legacy::LegacyKey::None,
                )
            })
            .unwrap();
        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        let people = load_people(&mut db, &table);
        for person in &people {
            assert_eq!(
                person.ssn_with(&keys.ring_v1()).unwrap(),
                Some(format!("ssn {}", person.id))
            );
            assert_eq!(person.note_with(&keys.ring_v1()).unwrap(), None);
        }
        let swapped = Person {
            id: 2,
            _ssn: people[0]._ssn.clone(),
            _note: None,
        };
        assert!(matches!(
            swapped.ssn_with(&keys.ring_v1()),
            Err(Error::RowAuthentication { .. })
        ));
    });
}

fn text_and_uuid_keys_bind_the_same_bytes_in_the_model_and_the_engine(backend: &Backend) {
    in_own_database(backend, |backend| {
        let keys = Keys::generate();
        let (old, ring) = (keys.ring_v1(), keys.ring_v2());
        let mut db = backend.connect();

        let accounts = backend.create_named_table(
            &mut db,
            "row_bound_accounts",
            &format!(
                "code {}, _iban {} NOT NULL",
                backend.text_key(),
                backend.blob()
            ),
        );
        let codes = ["ab-1", "Zoë-2", "ZZ 3"];
        for code in codes {
            let mut account = Account {
                code: code.to_owned(),
                ..Account::default()
            };
            account
                .set_iban_with(&old, format!("iban of {code}"))
                .unwrap();
            insert(
                &mut db,
                &accounts,
                "code, _iban",
                &[Cell::Text(code.to_owned()), Cell::Bytes(account._iban)],
            );
        }

        // A UUID key: PostgreSQL's `uuid` type is read as its text; elsewhere it is that text.
        let uuid_type = match backend.kind {
            encrypted_field::testing::Backend::Postgres => "VARCHAR(36) PRIMARY KEY",
            _ => "CHAR(36) PRIMARY KEY",
        };
        let badges = backend.create_named_table(
            &mut db,
            "row_bound_badges",
            &format!("id {uuid_type}, _secret {} NOT NULL", backend.blob()),
        );
        let ids = [
            uuid::Uuid::from_u128(0xF81D_4FAE_7DEC_11D0_A765_00A0_C91E_6BF6),
            uuid::Uuid::from_u128(1),
        ];
        for id in ids {
            let mut badge = Badge {
                id,
                ..Badge::default()
            };
            badge.set_secret_with(&old, format!("badge {id}")).unwrap();
            insert(
                &mut db,
                &badges,
                "id, _secret",
                &[Cell::Text(id.to_string()), Cell::Bytes(badge._secret)],
            );
        }
        if backend.kind == encrypted_field::testing::Backend::Postgres {
            db.execute("ALTER TABLE row_bound_badges ALTER COLUMN id TYPE uuid USING id::uuid")
                .unwrap();
        }

        let registry = Registry::new()
            .register::<Account>()
            .unwrap()
            .register::<Badge>()
            .unwrap();
        let report = backend
            .rotate(|| Rotation::new(&registry).run(&mut db, &ring))
            .unwrap();
        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        assert_eq!(report.records_rewritten, 5, "{report}");

        let stored = read_column(
            &mut db,
            &accounts,
            "code",
            KeyKind::Text,
            "_iban",
            Storage::Binary,
        );
        for (key, iban) in stored {
            let PrimaryKey::Text(code) = key else {
                panic!("text keys")
            };
            let account = Account {
                code: code.clone(),
                _iban: iban.unwrap(),
            };
            assert_eq!(version(Storage::Binary, &account._iban), 2);
            assert_eq!(account.iban_with(&ring).unwrap(), format!("iban of {code}"));
        }
        let stored = read_column(
            &mut db,
            &badges,
            "id",
            KeyKind::Text,
            "_secret",
            Storage::Binary,
        );
        assert_eq!(stored.len(), 2);
        for (key, secret) in stored {
            let PrimaryKey::Text(id) = key else {
                panic!("text keys")
            };
            let badge = Badge {
                id: uuid::Uuid::parse_str(&id).unwrap(),
                _secret: secret.unwrap(),
            };
            assert_eq!(version(Storage::Binary, &badge._secret), 2);
            assert_eq!(badge.secret_with(&ring).unwrap(), format!("badge {id}"));
        }
    });
}

per_backend!(
    people_values_written_by_the_model_verify_rotate_and_read_back_for_their_rows,
    a_value_copied_into_another_row_is_reported_by_verify_and_rotation_and_left_alone,
    an_interrupted_rotation_of_row_bound_values_loses_nothing_and_the_next_run_finishes_it,
    migration_from_plaintext_binds_each_value_to_its_row,
    text_and_uuid_keys_bind_the_same_bytes_in_the_model_and_the_engine,
);
