//! Rotating several models at once: every value ends on the active key with its plaintext, the
//! counts are exact, a second run rewrites nothing, and a dry run writes nothing.

use std::collections::BTreeMap;

use encrypted_field::KeyRing;
use encrypted_field::model::{ColumnSpec, KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{Operation, Pacing, Rotation, RotationStatus};

use crate::support::{
    Backend, Cell, Counts, Expected, Keys, Table, assert_totals_match_columns, column_report,
    insert, per_backend, seal,
};

/// Two tables: `people` (integer key; a nullable binary column, a text column with two values
/// already on v2, a nullable text column) and `accounts` (text key; a binary column, a nullable
/// text column). Everything else is sealed with v1.
struct SeveralModels {
    people: Table,
    accounts: Table,
    registry: Registry,
}

const PEOPLE: i64 = 7;
/// `people.ssn` is NULL on these rows.
const NO_SSN: [i64; 2] = [2, 5];
/// `people.email` is already on v2 on these rows.
const EMAIL_ON_V2: [i64; 2] = [6, 7];
const ACCOUNTS: [&str; 4] = ["acct-A", "acct-b", "Ærø", "z"];

fn ssn(id: i64) -> Option<Vec<u8>> {
    (!NO_SSN.contains(&id)).then(|| format!("078-05-11{id:02}").into_bytes())
}

fn email(id: i64) -> Vec<u8> {
    format!("user{id}@example.org").into_bytes()
}

fn note(id: i64) -> Option<Vec<u8>> {
    match id {
        1 => Some("Zoë Ångström — 東京 🔐".as_bytes().to_vec()),
        4 => Some(Vec::new()),
        7 => Some(vec![b'n'; 4096]),
        _ => None,
    }
}

fn secret(index: usize) -> Vec<u8> {
    vec![0, 0xff, 0x80, index as u8, b'\n']
}

fn memo(index: usize) -> Option<Vec<u8>> {
    index
        .is_multiple_of(2)
        .then(|| format!("memo {index}").into_bytes())
}

impl SeveralModels {
    fn create(backend: &Backend, db: &mut Database, keys: &Keys) -> Self {
        let (old, new) = (keys.ring_v1(), keys.ring_v2());
        let people = backend.create_table(
            db,
            "people",
            &format!(
                "id {}, ssn {} NULL, email {} NOT NULL, note {} NULL",
                backend.int_key(),
                backend.blob(),
                backend.text(),
                backend.text()
            ),
        );
        for id in 1..=PEOPLE {
            let email_ring = if EMAIL_ON_V2.contains(&id) {
                &new
            } else {
                &old
            };
            let sealed = |ring: &KeyRing, storage, column: &str, plaintext: Option<Vec<u8>>| {
                let stored = plaintext.map(|p| seal(ring, storage, &people.context(column), &p));
                Cell::stored_or_null(storage, stored.as_deref())
            };
            insert(
                db,
                &people,
                "id, ssn, email, note",
                &[
                    Cell::Int(id),
                    sealed(&old, Storage::Binary, "ssn", ssn(id)),
                    sealed(email_ring, Storage::Text, "email", Some(email(id))),
                    sealed(&old, Storage::Text, "note", note(id)),
                ],
            );
        }
        let accounts = backend.create_table(
            db,
            "accounts",
            &format!(
                "id {}, secret {} NOT NULL, memo {} NULL",
                backend.text_key(),
                backend.varbinary(),
                backend.text()
            ),
        );
        for (index, key) in ACCOUNTS.iter().enumerate() {
            let memo =
                memo(index).map(|m| seal(&old, Storage::Text, &accounts.context("memo"), &m));
            insert(
                db,
                &accounts,
                "id, secret, memo",
                &[
                    Cell::Text((*key).to_owned()),
                    Cell::Bytes(seal(
                        &old,
                        Storage::Binary,
                        &accounts.context("secret"),
                        &secret(index),
                    )),
                    Cell::stored_or_null(Storage::Text, memo.as_deref()),
                ],
            );
        }
        let registry = Registry::new()
            .register_spec(
                ModelSpec::new(people.spec_name(), "id")
                    .column(ColumnSpec::binary("ssn").nullable())
                    .column(ColumnSpec::text("email"))
                    .column(ColumnSpec::text("note").nullable()),
            )
            .unwrap()
            .register_spec(
                ModelSpec::new(accounts.spec_name(), "id")
                    .with_primary_key_kind(KeyKind::Text)
                    .column(ColumnSpec::binary("secret"))
                    .column(ColumnSpec::text("memo").nullable()),
            )
            .unwrap();
        Self {
            people,
            accounts,
            registry,
        }
    }

    /// Every encrypted column with the plaintexts it must hold.
    fn expected(&self) -> Vec<Expected<'_>> {
        let mut ssn_column = Expected::new(&self.people, "ssn", Storage::Binary, KeyKind::Integer);
        let mut email_column =
            Expected::new(&self.people, "email", Storage::Text, KeyKind::Integer);
        let mut note_column = Expected::new(&self.people, "note", Storage::Text, KeyKind::Integer);
        for id in 1..=PEOPLE {
            let key = PrimaryKey::Integer(id);
            ssn_column.plaintexts.insert(key.clone(), ssn(id));
            email_column.plaintexts.insert(key.clone(), Some(email(id)));
            note_column.plaintexts.insert(key, note(id));
        }
        let mut secret_column =
            Expected::new(&self.accounts, "secret", Storage::Binary, KeyKind::Text);
        let mut memo_column = Expected::new(&self.accounts, "memo", Storage::Text, KeyKind::Text);
        for (index, key) in ACCOUNTS.iter().enumerate() {
            let key = PrimaryKey::Text((*key).to_owned());
            secret_column
                .plaintexts
                .insert(key.clone(), Some(secret(index)));
            memo_column.plaintexts.insert(key, memo(index));
        }
        vec![
            ssn_column,
            email_column,
            note_column,
            secret_column,
            memo_column,
        ]
    }

    /// What every column stores now.
    fn snapshot(&self, db: &mut Database) -> Vec<BTreeMap<PrimaryKey, Option<Vec<u8>>>> {
        self.expected().iter().map(|e| e.stored(db)).collect()
    }

    /// The counts a rotation of the fixture as created makes, per column.
    fn first_rotation_counts(&self) -> [(&Table, &'static str, Counts); 5] {
        [
            (
                &self.people,
                "ssn",
                Counts {
                    rows: 7,
                    null: 2,
                    rewritten: 5,
                    ..Counts::default()
                },
            ),
            (
                &self.people,
                "email",
                Counts {
                    rows: 7,
                    unchanged: 2,
                    rewritten: 5,
                    ..Counts::default()
                },
            ),
            (
                &self.people,
                "note",
                Counts {
                    rows: 7,
                    null: 4,
                    rewritten: 3,
                    ..Counts::default()
                },
            ),
            (
                &self.accounts,
                "secret",
                Counts {
                    rows: 4,
                    rewritten: 4,
                    ..Counts::default()
                },
            ),
            (
                &self.accounts,
                "memo",
                Counts {
                    rows: 4,
                    null: 2,
                    rewritten: 2,
                    ..Counts::default()
                },
            ),
        ]
    }
}

/// Non-NULL values in the fixture, and how many of them are on v1.
const VALUES: u64 = 5 + 7 + 3 + 4 + 2;
const VALUES_ON_V1: u64 = VALUES - 2;

fn rotation_of_several_models_leaves_every_value_on_the_active_key_with_exact_counts(
    backend: &Backend,
) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let fixture = SeveralModels::create(backend, &mut db, &keys);
    let ring = keys.ring_v2();

    let report = backend
        .rotate(|| {
            Rotation::new(&fixture.registry)
                .pacing(Pacing::fixed(3))
                .run(&mut db, &ring)
        })
        .unwrap();

    assert_eq!(report.status, RotationStatus::Completed, "{report}");
    assert_eq!(report.operation, Operation::Rotate);
    assert!(!report.dry_run);
    assert_eq!(report.active_version, 2);
    assert_eq!(report.models_processed, 2);
    assert_eq!(report.records_processed, VALUES);
    assert_eq!(report.records_rewritten, VALUES_ON_V1);
    assert_eq!(report.records_changed_concurrently, 0);
    assert_eq!(report.failed_records, 0);
    assert!(report.failures.is_empty(), "{report}");
    for (table, column, counts) in fixture.first_rotation_counts() {
        assert_eq!(
            Counts::of(column_report(&report, &table.name, column)),
            counts,
            "{}.{column}",
            table.name
        );
    }
    assert_totals_match_columns(&report);
    let verification = report.verification.as_ref().unwrap();
    assert!(verification.ok, "{report}");
    assert_eq!(
        verification.values_by_version,
        [("v2".to_owned(), VALUES)].into()
    );
    assert_eq!(
        (
            verification.values_on_other_versions,
            verification.undecryptable
        ),
        (0, 0)
    );
    for expected in fixture.expected() {
        expected.assert_all_on(&mut db, &ring, 2);
    }

    // The Django module's report fields, as the CLI prints them.
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["status"], "completed");
    assert_eq!(json["models_processed"], 2);
    assert_eq!(json["records_processed"], VALUES);
    assert_eq!(json["failed_records"], 0);
    assert!(json["timestamp"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(json["key_backup_path"].is_null());
}

fn a_second_rotation_rewrites_nothing(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let fixture = SeveralModels::create(backend, &mut db, &keys);
    let ring = keys.ring_v2();
    let rotation = Rotation::new(&fixture.registry).pacing(Pacing::fixed(3));
    backend.rotate(|| rotation.run(&mut db, &ring)).unwrap();
    let after_first = fixture.snapshot(&mut db);

    let second = backend.rotate(|| rotation.run(&mut db, &ring)).unwrap();

    assert_eq!(second.status, RotationStatus::Completed, "{second}");
    assert_eq!(second.records_processed, VALUES);
    assert_eq!(second.records_rewritten, 0);
    for (table, column, first) in fixture.first_rotation_counts() {
        assert_eq!(
            Counts::of(column_report(&second, &table.name, column)),
            Counts {
                rows: first.rows,
                null: first.null,
                unchanged: first.rows - first.null,
                ..Counts::default()
            },
            "{}.{column}",
            table.name
        );
    }
    assert!(second.verification.as_ref().unwrap().ok);
    assert_eq!(
        fixture.snapshot(&mut db),
        after_first,
        "nothing is rewritten"
    );
}

fn a_dry_run_writes_nothing_and_reports_what_would_change(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let fixture = SeveralModels::create(backend, &mut db, &keys);
    let ring = keys.ring_v2();
    let before = fixture.snapshot(&mut db);

    let dry = backend
        .rotate(|| {
            Rotation::new(&fixture.registry)
                .pacing(Pacing::fixed(3))
                .dry_run(true)
                .run(&mut db, &ring)
        })
        .unwrap();

    assert_eq!(
        fixture.snapshot(&mut db),
        before,
        "a dry run changes no byte"
    );
    assert!(dry.dry_run);
    assert_eq!(dry.status, RotationStatus::Completed, "{dry}");
    assert_eq!(dry.records_processed, VALUES);
    assert_eq!(dry.records_rewritten, VALUES_ON_V1, "what would change");
    for (table, column, counts) in fixture.first_rotation_counts() {
        assert_eq!(
            Counts::of(column_report(&dry, &table.name, column)),
            counts,
            "{}.{column}",
            table.name
        );
    }
    assert_totals_match_columns(&dry);
    let real = backend
        .rotate(|| Rotation::new(&fixture.registry).run(&mut db, &ring))
        .unwrap();
    assert_eq!(real.records_rewritten, VALUES_ON_V1);
}

per_backend!(
    rotation_of_several_models_leaves_every_value_on_the_active_key_with_exact_counts,
    a_second_rotation_rewrites_nothing,
    a_dry_run_writes_nothing_and_reports_what_would_change,
);
