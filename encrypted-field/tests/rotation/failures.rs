//! Values that cannot be read: each is reported (table, primary key, column, reason), left byte
//! for byte as it was, and makes the status `failed`; every other value still rotates.

use encrypted_field::model::{ColumnSpec, KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::database::PrimaryKey;
use encrypted_field::rotation::{Pacing, Rotation, RotationReport, RotationStatus};

use crate::support::{
    Backend, Cell, Counts, Expected, Keys, assert_totals_match_columns, column_report, envelope,
    insert, per_backend, read_one, seal, update,
};

/// The failures of a report as `(table, primary key, column)`, sorted, and each reason.
fn failures(report: &RotationReport) -> Vec<(String, String, String, String)> {
    let mut listed: Vec<_> = report
        .failures
        .iter()
        .map(|f| {
            (
                f.table.clone(),
                f.primary_key.clone(),
                f.column.clone(),
                f.reason.clone(),
            )
        })
        .collect();
    listed.sort();
    listed
}

/// Flips one bit of the envelope inside a stored value (the ciphertext, or the tag when `at` is
/// past it), keeping a TEXT value valid base64.
fn tamper(storage: Storage, stored: &[u8], at: usize) -> Vec<u8> {
    let mut bytes = envelope(storage, stored);
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 0x01;
    match storage {
        Storage::Binary => bytes,
        _ => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into_bytes()
        }
    }
}

fn a_tampered_value_is_reported_left_untouched_and_every_other_value_rotates(backend: &Backend) {
    let keys = Keys::generate();
    let (old, ring) = (keys.ring_v1(), keys.ring_v2());
    let mut db = backend.connect();
    let people = backend.create_table(
        &mut db,
        "tampered",
        &format!(
            "id {}, secret {} NOT NULL, note {} NULL",
            backend.int_key(),
            backend.blob(),
            backend.text()
        ),
    );
    let named = backend.create_table(
        &mut db,
        "tampered_named",
        &format!(
            "id {}, secret {} NOT NULL",
            backend.text_key(),
            backend.varbinary()
        ),
    );
    let mut secret = Expected::new(&people, "secret", Storage::Binary, KeyKind::Integer);
    let mut note = Expected::new(&people, "note", Storage::Text, KeyKind::Integer);
    for id in 1..=6 {
        let s = format!("secret {id}").into_bytes();
        let n = format!("note {id}").into_bytes();
        insert(
            &mut db,
            &people,
            "id, secret, note",
            &[
                Cell::Int(id),
                Cell::Bytes(seal(&old, Storage::Binary, &secret.context(), &s)),
                Cell::stored(
                    Storage::Text,
                    &seal(&old, Storage::Text, &note.context(), &n),
                ),
            ],
        );
        secret.plaintexts.insert(PrimaryKey::Integer(id), Some(s));
        note.plaintexts.insert(PrimaryKey::Integer(id), Some(n));
    }
    let mut named_secret = Expected::new(&named, "secret", Storage::Binary, KeyKind::Text);
    for key in ["row-a", "row-b", "row-c"] {
        let s = format!("named {key}").into_bytes();
        insert(
            &mut db,
            &named,
            "id, secret",
            &[
                Cell::Text(key.to_owned()),
                Cell::Bytes(seal(&old, Storage::Binary, &named_secret.context(), &s)),
            ],
        );
        named_secret
            .plaintexts
            .insert(PrimaryKey::Text(key.to_owned()), Some(s));
    }
    // The tag of people 3's secret, the ciphertext of people 5's note, the IV of "row-b".
    let tampered = [
        (
            &people,
            PrimaryKey::Integer(3),
            "secret",
            Storage::Binary,
            usize::MAX,
        ),
        (&people, PrimaryKey::Integer(5), "note", Storage::Text, 30),
        (
            &named,
            PrimaryKey::Text("row-b".into()),
            "secret",
            Storage::Binary,
            8,
        ),
    ];
    let mut tampered_bytes = Vec::new();
    for (table, key, column, storage, at) in &tampered {
        let stored = read_one(&mut db, table, key, column, *storage).unwrap();
        let bad = tamper(*storage, &stored, *at);
        update(
            &mut db,
            table,
            "id",
            key,
            column,
            Cell::stored(*storage, &bad),
        );
        tampered_bytes.push(bad);
    }
    let registry = Registry::new()
        .register_spec(
            ModelSpec::new(people.spec_name(), "id")
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

    let report = backend
        .rotate(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(2))
                .run(&mut db, &ring)
        })
        .unwrap();

    assert_eq!(report.status, RotationStatus::Failed, "{report}");
    assert_eq!(report.failed_records, 3);
    assert_eq!(report.records_processed, 6 + 6 + 3);
    assert_eq!(report.records_rewritten, 6 + 6 + 3 - 3);
    assert_totals_match_columns(&report);
    let one_failed = |rows| Counts {
        rows,
        rewritten: rows - 1,
        failed: 1,
        ..Counts::default()
    };
    assert_eq!(
        Counts::of(column_report(&report, &people.name, "secret")),
        one_failed(6)
    );
    assert_eq!(
        Counts::of(column_report(&report, &people.name, "note")),
        one_failed(6)
    );
    assert_eq!(
        Counts::of(column_report(&report, &named.name, "secret")),
        one_failed(3)
    );
    let listed = failures(&report);
    let mut expected_where = vec![
        (people.name.clone(), "3".to_owned(), "secret".to_owned()),
        (people.name.clone(), "5".to_owned(), "note".to_owned()),
        (
            named.name.clone(),
            "\"row-b\"".to_owned(),
            "secret".to_owned(),
        ),
    ];
    expected_where.sort();
    assert_eq!(
        listed
            .iter()
            .map(|(t, k, c, _)| (t.clone(), k.clone(), c.clone()))
            .collect::<Vec<_>>(),
        expected_where
    );
    for (_, _, _, reason) in &listed {
        assert!(reason.contains("authentication failed"), "{reason}");
    }
    let verification = report.verification.as_ref().unwrap();
    assert!(!verification.ok);
    assert_eq!(verification.undecryptable, 3);

    for ((table, key, column, storage, _), bad) in tampered.iter().zip(&tampered_bytes) {
        assert_eq!(
            read_one(&mut db, table, key, column, *storage).as_ref(),
            Some(bad),
            "{}.{column} id={key} is left byte for byte",
            table.name
        );
    }
    // Every other value rotated.
    for expected in [&mut secret, &mut note, &mut named_secret] {
        for (table, key, column, _, _) in &tampered {
            if table.name == expected.table.name && *column == expected.column {
                expected.plaintexts.remove(key);
            }
        }
        expected.assert_rows_on(&mut db, &ring, 2);
    }
}

fn a_value_copied_into_another_encrypted_column_fails_instead_of_rotating(backend: &Backend) {
    let keys = Keys::generate();
    let (old, ring) = (keys.ring_v1(), keys.ring_v2());
    let mut db = backend.connect();
    let customers = backend.create_table(
        &mut db,
        "customers",
        &format!(
            "id {}, ssn {} NOT NULL, phone {} NOT NULL, email {} NULL",
            backend.int_key(),
            backend.blob(),
            backend.blob(),
            backend.text()
        ),
    );
    let others = backend.create_table(
        &mut db,
        "others",
        &format!("id {}, ssn {} NOT NULL", backend.int_key(), backend.blob()),
    );
    for id in 1..=3 {
        let cell = |storage, column: &str, what: &str| {
            Cell::stored(
                storage,
                &seal(
                    &old,
                    storage,
                    &customers.context(column),
                    format!("{what} {id}").as_bytes(),
                ),
            )
        };
        insert(
            &mut db,
            &customers,
            "id, ssn, phone, email",
            &[
                Cell::Int(id),
                cell(Storage::Binary, "ssn", "ssn"),
                cell(Storage::Binary, "phone", "phone"),
                cell(Storage::Text, "email", "email"),
            ],
        );
        let own = seal(&old, Storage::Binary, &others.context("ssn"), b"other ssn");
        insert(
            &mut db,
            &others,
            "id, ssn",
            &[Cell::Int(id), Cell::Bytes(own)],
        );
    }
    // Plain SQL copies: row 2's ssn into its phone, row 3's ssn into another table's ssn (a
    // column of the same name).
    let two = PrimaryKey::Integer(2);
    let three = PrimaryKey::Integer(3);
    let ssn_2 = read_one(&mut db, &customers, &two, "ssn", Storage::Binary).unwrap();
    update(
        &mut db,
        &customers,
        "id",
        &two,
        "phone",
        Cell::Bytes(ssn_2.clone()),
    );
    let ssn_3 = read_one(&mut db, &customers, &three, "ssn", Storage::Binary).unwrap();
    update(
        &mut db,
        &others,
        "id",
        &PrimaryKey::Integer(1),
        "ssn",
        Cell::Bytes(ssn_3.clone()),
    );
    let registry = Registry::new()
        .register_spec(
            ModelSpec::new(customers.spec_name(), "id")
                .column(ColumnSpec::binary("ssn"))
                .column(ColumnSpec::binary("phone"))
                .column(ColumnSpec::text("email").nullable()),
        )
        .unwrap()
        .register_spec(ModelSpec::new(others.spec_name(), "id").column(ColumnSpec::binary("ssn")))
        .unwrap();

    let report = backend
        .rotate(|| Rotation::new(&registry).run(&mut db, &ring))
        .unwrap();

    assert_eq!(report.status, RotationStatus::Failed, "{report}");
    assert_eq!(report.failed_records, 2);
    let listed = failures(&report);
    let mut expected_where = vec![
        (customers.name.clone(), "2".to_owned(), "phone".to_owned()),
        (others.name.clone(), "1".to_owned(), "ssn".to_owned()),
    ];
    expected_where.sort();
    assert_eq!(
        listed
            .iter()
            .map(|(t, k, c, _)| (t.clone(), k.clone(), c.clone()))
            .collect::<Vec<_>>(),
        expected_where
    );
    for (table, _, column, reason) in &listed {
        assert!(
            reason.contains(&format!(
                "authentication failed for column `{table}.{column}`"
            )),
            "{reason}"
        );
    }
    assert_eq!(
        read_one(&mut db, &customers, &two, "phone", Storage::Binary),
        Some(ssn_2),
        "the copy is left as it was"
    );
    assert_eq!(
        read_one(
            &mut db,
            &others,
            &PrimaryKey::Integer(1),
            "ssn",
            Storage::Binary
        ),
        Some(ssn_3),
        "the copy is left as it was"
    );
    let mut ssn = Expected::new(&customers, "ssn", Storage::Binary, KeyKind::Integer);
    for id in 1..=3 {
        ssn.plaintexts.insert(
            PrimaryKey::Integer(id),
            Some(format!("ssn {id}").into_bytes()),
        );
    }
    ssn.assert_all_on(&mut db, &ring, 2);

    // Verification alone says the same.
    let verified = Rotation::new(&registry)
        .verify_only(&mut db, &ring)
        .unwrap();
    assert_eq!(verified.verification.as_ref().unwrap().undecryptable, 2);
    assert_eq!(failures(&verified).len(), 2);
}

per_backend!(
    a_tampered_value_is_reported_left_untouched_and_every_other_value_rotates,
    a_value_copied_into_another_encrypted_column_fails_instead_of_rotating,
);
