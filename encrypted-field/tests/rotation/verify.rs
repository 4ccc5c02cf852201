//! Passes that write nothing: `verify_only` opens every value and reports what does not open and
//! what is on another version; `status` counts values per version per column from the headers;
//! `ensure_unused` refuses to retire a version still in use.

use std::collections::BTreeMap;

use encrypted_field::KeyVersion;
use encrypted_field::model::{ColumnSpec, KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::Error;
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{Operation, Pacing, Rotation, RotationStatus};

use crate::support::{Backend, Cell, Keys, Table, insert, per_backend, read_column, seal};

/// A table of values in every state:
///
/// | id | secret (binary)        | note (text)                  |
/// |----|------------------------|------------------------------|
/// | 1  | v1                     | v1                           |
/// | 2  | v2                     | v1                           |
/// | 3  | v2                     | v2                           |
/// | 4  | v2, tampered           | NULL                         |
/// | 5  | NULL                   | v2 sealed for another column |
/// | 6  | `hello` (no envelope)  | `not base64!`                |
/// | 7  | v3 (not in the ring)   | NULL                         |
struct Mixed {
    table: Table,
    registry: Registry,
}

impl Mixed {
    fn create(backend: &Backend, db: &mut Database, keys: &Keys) -> Self {
        let table = backend.create_table(
            db,
            "mixed",
            &format!(
                "id {}, secret {} NULL, note {} NULL",
                backend.int_key(),
                backend.blob(),
                backend.text()
            ),
        );
        let (v1, v2, v3) = (keys.ring_v1(), keys.ring_v2(), keys.ring_v3());
        let secret = |ring, text: &str| {
            Cell::Bytes(seal(
                ring,
                Storage::Binary,
                &table.context("secret"),
                text.as_bytes(),
            ))
        };
        let note = |ring, context: &str, text: &str| {
            Cell::stored(
                Storage::Text,
                &seal(ring, Storage::Text, context, text.as_bytes()),
            )
        };
        let note_context = table.context("note");
        let mut tampered = seal(&v2, Storage::Binary, &table.context("secret"), b"four");
        tampered[30] ^= 0x80;
        let rows = [
            [secret(&v1, "one"), note(&v1, &note_context, "one")],
            [secret(&v2, "two"), note(&v1, &note_context, "two")],
            [secret(&v2, "three"), note(&v2, &note_context, "three")],
            [Cell::Bytes(tampered), Cell::Null],
            [Cell::Null, note(&v2, &table.context("secret"), "five")],
            [
                Cell::Bytes(b"hello".to_vec()),
                Cell::Text("not base64!".to_owned()),
            ],
            [secret(&v3, "seven"), Cell::Null],
        ];
        for (id, [secret, note]) in (1..).zip(rows) {
            insert(
                db,
                &table,
                "id, secret, note",
                &[Cell::Int(id), secret, note],
            );
        }
        let registry = Registry::new()
            .register_spec(
                ModelSpec::new(table.spec_name(), "id")
                    .column(ColumnSpec::binary("secret").nullable())
                    .column(ColumnSpec::text("note").nullable()),
            )
            .unwrap();
        Self { table, registry }
    }

    fn snapshot(&self, db: &mut Database) -> [BTreeMap<PrimaryKey, Option<Vec<u8>>>; 2] {
        [("secret", Storage::Binary), ("note", Storage::Text)].map(|(column, storage)| {
            read_column(db, &self.table, "id", KeyKind::Integer, column, storage)
        })
    }
}

fn verify_only_reports_undecryptable_values_and_values_on_other_versions(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let mixed = Mixed::create(backend, &mut db, &keys);
    let before = mixed.snapshot(&mut db);

    let report = Rotation::new(&mixed.registry)
        .pacing(Pacing::fixed(2))
        .verify_only(&mut db, &keys.ring_v2())
        .unwrap();

    assert_eq!(
        mixed.snapshot(&mut db),
        before,
        "verification writes nothing"
    );
    assert_eq!(report.operation, Operation::Verify);
    assert!(report.dry_run);
    assert_eq!(report.status, RotationStatus::Failed, "{report}");
    let verification = report.verification.as_ref().unwrap();
    assert!(!verification.ok);
    assert_eq!(
        verification.values_by_version,
        [("v1".to_owned(), 3), ("v2".to_owned(), 3)].into()
    );
    assert_eq!(verification.values_on_other_versions, 3);
    assert_eq!(verification.undecryptable, 5);
    assert_eq!(report.failed_records, 5);
    assert_eq!(report.records_processed, 11);
    let mut failures: Vec<(String, String, String)> = report
        .failures
        .iter()
        .map(|f| {
            assert_eq!(f.table, mixed.table.name);
            (f.primary_key.clone(), f.column.clone(), f.reason.clone())
        })
        .collect();
    failures.sort();
    let where_and_why: Vec<(&str, &str, &str)> = failures
        .iter()
        .map(|(k, c, r)| (k.as_str(), c.as_str(), r.as_str()))
        .collect();
    assert_eq!(where_and_why.len(), 5, "{failures:#?}");
    let expect = [
        ("4", "secret", "authentication failed"),
        ("5", "note", "authentication failed"),
        ("6", "note", "base64"),
        ("6", "secret", "malformed"),
        ("7", "secret", "key version v3 is not in the key ring"),
    ];
    for ((key, column, reason), (want_key, want_column, want_reason)) in
        where_and_why.iter().zip(expect)
    {
        assert_eq!((*key, *column), (want_key, want_column));
        assert!(reason.contains(want_reason), "{key} {column}: {reason}");
    }
}

fn status_counts_values_per_version_per_column(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let mixed = Mixed::create(backend, &mut db, &keys);

    let report = Rotation::new(&mixed.registry)
        .pacing(Pacing::fixed(3))
        .status(&mut db)
        .unwrap();

    let by_column: BTreeMap<&str, _> = report
        .columns
        .iter()
        .map(|c| {
            assert_eq!(c.table, mixed.table.name);
            (c.column.as_str(), c)
        })
        .collect();
    let secret = by_column["secret"];
    assert_eq!((secret.rows, secret.null, secret.not_envelopes), (7, 1, 1));
    assert_eq!(
        secret.values_by_version,
        [
            ("v1".to_owned(), 1),
            ("v2".to_owned(), 3),
            ("v3".to_owned(), 1)
        ]
        .into(),
        "versions are read from the headers: a tampered v2 value is still v2"
    );
    let note = by_column["note"];
    assert_eq!((note.rows, note.null, note.not_envelopes), (7, 2, 1));
    assert_eq!(
        note.values_by_version,
        [("v1".to_owned(), 2), ("v2".to_owned(), 2)].into()
    );
    assert_eq!(report.count_for(KeyVersion::new(1)), 3);
}

fn ensure_unused_refuses_a_version_still_in_use(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let mixed = Mixed::create(backend, &mut db, &keys);

    let before = Rotation::new(&mixed.registry)
        .pacing(Pacing::fixed(100))
        .status(&mut db)
        .unwrap();
    match before.ensure_unused(KeyVersion::new(1)) {
        Err(Error::KeyVersionInUse { version, values }) => {
            assert_eq!((version, values), (KeyVersion::new(1), 3));
        }
        other => panic!("expected KeyVersionInUse, got {other:?}"),
    }
    assert!(before.ensure_unused(KeyVersion::new(4)).is_ok());

    // Once rotated (the unreadable values fail and stay), nothing uses v1 any more.
    let rotated = backend
        .rotate(|| Rotation::new(&mixed.registry).run(&mut db, &keys.ring_v2()))
        .unwrap();
    assert_eq!(rotated.records_rewritten, 3, "{rotated}");
    let after = Rotation::new(&mixed.registry)
        .pacing(Pacing::fixed(100))
        .status(&mut db)
        .unwrap();
    assert!(after.ensure_unused(KeyVersion::new(1)).is_ok());
    assert!(matches!(
        after.ensure_unused(KeyVersion::new(3)),
        Err(Error::KeyVersionInUse { values: 1, .. })
    ));
}

per_backend!(
    verify_only_reports_undecryptable_values_and_values_on_other_versions,
    status_counts_values_per_version_per_column,
    ensure_unused_refuses_a_version_still_in_use,
);

/// Verification of columns that keep a blind index: an index that is not its value's is a failure
/// that names the row (lookups by it miss the row), and without a blind-index key the report says
/// the indexes were not checked.
#[cfg(feature = "derive")]
mod blind_indexes {
    use encrypted_field::KeyRing;
    use encrypted_field::rotation::database::Database;
    use encrypted_field::rotation::{Rotation, RotationStatus};

    use crate::support::{
        Backend, Cell, Keys, PEOPLE_COLUMNS, People, email_index, email_value, insert, per_backend,
        phone_index, phone_value, with_index_key,
    };

    const PHONE: &str = "+1 (555) 010-0100";
    const EMAIL: &str = "Ada@Example.org";

    /// | id | phone_bidx        | email_bidx |
    /// |----|-------------------|------------|
    /// | 1  | its own           | its own    |
    /// | 2  | another phone's   | its own    |
    /// | 3  | NULL              | its own    |
    fn people(backend: &Backend, db: &mut Database, ring: &KeyRing) -> People {
        let people = People::create(backend, db, "verify_bidx");
        let text = |bytes: Vec<u8>| Cell::Text(String::from_utf8(bytes).unwrap());
        let phone_bidx = [
            Cell::Bytes(phone_index(ring, PHONE)),
            Cell::Bytes(phone_index(ring, "+1 (555) 010-0199")),
            Cell::Null,
        ];
        for (id, phone_bidx) in (1..).zip(phone_bidx) {
            insert(
                db,
                &people.table,
                PEOPLE_COLUMNS,
                &[
                    Cell::Int(id),
                    Cell::Bytes(phone_value(ring, PHONE)),
                    phone_bidx,
                    text(email_value(ring, EMAIL)),
                    text(email_index(ring, EMAIL)),
                ],
            );
        }
        people
    }

    fn verify_fails_on_a_blind_index_that_is_not_its_values(backend: &Backend) {
        let ring = with_index_key(Keys::generate().ring_v1());
        let mut db = backend.connect();
        let people = people(backend, &mut db, &ring);

        let report = Rotation::new(&people.registry)
            .verify_only(&mut db, &ring)
            .unwrap();

        assert_eq!(report.status, RotationStatus::Failed, "{report}");
        let verification = report.verification.as_ref().unwrap();
        assert!(!verification.ok);
        assert_eq!(
            (
                verification.stale_blind_indexes,
                verification.undecryptable,
                verification.values_on_other_versions
            ),
            (2, 0, 0),
            "{report}"
        );
        assert!(verification.blind_indexes_not_checked.is_empty());
        assert_eq!((report.records_processed, report.failed_records), (6, 2));
        let failures: Vec<_> = report
            .failures
            .iter()
            .map(|f| {
                assert_eq!(f.table, people.table.name);
                assert!(
                    f.reason.contains("blind index does not match the value"),
                    "{}",
                    f.reason
                );
                assert!(!f.reason.contains("555"), "never the value: {}", f.reason);
                (f.primary_key.as_str(), f.column.as_str())
            })
            .collect();
        assert_eq!(failures, [("2", "phone"), ("3", "phone")]);
        let text = report.to_string();
        assert!(text.contains("2 stale blind indexes"), "{text}");
    }

    fn verify_without_a_blind_index_key_says_the_indexes_were_not_checked(backend: &Backend) {
        let keys = Keys::generate();
        let ring = with_index_key(keys.ring_v1());
        let mut db = backend.connect();
        let people = people(backend, &mut db, &ring);

        let report = Rotation::new(&people.registry)
            .verify_only(&mut db, &keys.ring_v1())
            .unwrap();

        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        let verification = report.verification.as_ref().unwrap();
        assert_eq!(
            verification.blind_indexes_not_checked,
            [
                format!("{}.phone_bidx", people.table.name),
                format!("{}.email_bidx", people.table.name)
            ]
        );
        let text = report.to_string();
        assert!(
            text.contains("blind indexes NOT checked (no blind-index key configured)"),
            "{text}"
        );
    }

    per_backend!(
        verify_fails_on_a_blind_index_that_is_not_its_values,
        verify_without_a_blind_index_key_says_the_indexes_were_not_checked,
    );
}
