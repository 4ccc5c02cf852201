//! Migration from the legacy formats (plaintext, Fernet tokens from the Django module,
//! `hex(iv):hex(ciphertext)` from the Node backend) on TEXT and binary columns: every legacy value
//! becomes a v1 envelope of its plaintext, values already migrated are kept byte for byte, and a
//! damaged legacy value is reported and left as it was.
//!
//! Fernet and node-cbc values are those the real peers wrote (`tests/fixtures/legacy/`).

use std::collections::BTreeMap;
use std::path::Path;

use encrypted_field::MasterKey;
use encrypted_field::legacy::{LegacyFormat, LegacyKey};
use encrypted_field::model::{ColumnSpec, KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::Error;
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{
    LegacyChecks, Operation, Pacing, Progress, Rotation, RotationStatus,
};

use crate::support::{
    Backend, Cell, Counts, Expected, Keys, Table, assert_totals_match_columns, column_report,
    insert, insert_rows, per_backend, read_column, seal, update,
};

/// Legacy values to migrate: (plaintext, stored) per column, and one damaged value per column.
struct Legacy {
    key: LegacyKey,
    text: Vec<(Vec<u8>, String)>,
    binary: Vec<(Vec<u8>, Vec<u8>)>,
    /// A damaged value for each column (text, binary), or none.
    damaged: Option<(String, Vec<u8>)>,
    checks: LegacyChecks,
}

/// Fills a table with `legacy` (rows 1..=n), a row already migrated (n+1), a NULL row (n+2) and
/// the damaged values (n+3); migrates it twice and checks everything.
fn migrate_and_check(backend: &Backend, legacy: Legacy) {
    let keys = Keys::generate();
    let ring = keys.ring_v1();
    let mut db = backend.connect();
    let table = backend.create_table(
        &mut db,
        "legacy",
        &format!(
            "id {}, legacy_text {} NULL, legacy_bin {} NULL",
            backend.int_key(),
            backend.text(),
            backend.blob()
        ),
    );
    let mut text = Expected::new(&table, "legacy_text", Storage::Text, KeyKind::Integer);
    let mut binary = Expected::new(&table, "legacy_bin", Storage::Binary, KeyKind::Integer);
    let n = legacy.text.len().max(legacy.binary.len()) as i64;
    for id in 1..=n {
        let index = (id - 1) as usize;
        let text_case = legacy.text.get(index);
        let binary_case = legacy.binary.get(index);
        insert(
            &mut db,
            &table,
            "id, legacy_text, legacy_bin",
            &[
                Cell::Int(id),
                text_case.map_or(Cell::Null, |(_, stored)| Cell::Text(stored.clone())),
                binary_case.map_or(Cell::Null, |(_, stored)| Cell::Bytes(stored.clone())),
            ],
        );
        let key = PrimaryKey::Integer(id);
        text.plaintexts
            .insert(key.clone(), text_case.map(|(p, _)| p.clone()));
        binary
            .plaintexts
            .insert(key, binary_case.map(|(p, _)| p.clone()));
    }
    let (migrated, null, damaged) = (
        PrimaryKey::Integer(n + 1),
        PrimaryKey::Integer(n + 2),
        PrimaryKey::Integer(n + 3),
    );
    let already_text = seal(&ring, Storage::Text, &text.context(), b"already migrated");
    let already_binary = seal(
        &ring,
        Storage::Binary,
        &binary.context(),
        b"already migrated",
    );
    insert(
        &mut db,
        &table,
        "id, legacy_text, legacy_bin",
        &[
            Cell::Int(n + 1),
            Cell::stored(Storage::Text, &already_text),
            Cell::Bytes(already_binary.clone()),
        ],
    );
    insert(
        &mut db,
        &table,
        "id, legacy_text, legacy_bin",
        &[Cell::Int(n + 2), Cell::Null, Cell::Null],
    );
    let (damaged_text, damaged_binary) = legacy
        .damaged
        .clone()
        .map_or((Cell::Null, Cell::Null), |(t, b)| {
            (Cell::Text(t), Cell::Bytes(b))
        });
    insert(
        &mut db,
        &table,
        "id, legacy_text, legacy_bin",
        &[Cell::Int(n + 3), damaged_text, damaged_binary],
    );
    let failed = u64::from(legacy.damaged.is_some());
    let registry = Registry::new()
        .register_spec(
            ModelSpec::new(table.spec_name(), "id")
                .column(ColumnSpec::text("legacy_text").nullable())
                .column(ColumnSpec::binary("legacy_bin").nullable()),
        )
        .unwrap();
    let migration = Rotation::new(&registry)
        .pacing(Pacing::fixed(3))
        .legacy_checks(legacy.checks.clone());

    let report = backend
        .rotate(|| migration.migrate(&mut db, &ring, &legacy.key))
        .unwrap();

    assert_eq!(report.operation, Operation::Migrate);
    let status = if failed > 0 {
        RotationStatus::Failed
    } else {
        RotationStatus::Completed
    };
    assert_eq!(report.status, status, "{report}");
    assert_eq!(report.failed_records, 2 * failed, "{report}");
    let rows = n as u64 + 3;
    let counts = |cases: usize| Counts {
        rows,
        null: rows - cases as u64 - 1 - failed,
        unchanged: 1,
        rewritten: cases as u64,
        failed,
        ..Counts::default()
    };
    assert_eq!(
        Counts::of(column_report(&report, &table.name, "legacy_text")),
        counts(legacy.text.len())
    );
    assert_eq!(
        Counts::of(column_report(&report, &table.name, "legacy_bin")),
        counts(legacy.binary.len())
    );
    assert_totals_match_columns(&report);
    let mut failures: Vec<_> = report
        .failures
        .iter()
        .map(|f| (f.table.clone(), f.primary_key.clone(), f.column.clone()))
        .collect();
    failures.sort();
    let expected_failures = [
        (
            table.name.clone(),
            damaged.to_string(),
            "legacy_bin".to_owned(),
        ),
        (
            table.name.clone(),
            damaged.to_string(),
            "legacy_text".to_owned(),
        ),
    ];
    assert_eq!(failures, &expected_failures[..2 * failed as usize]);

    // Every legacy value is now v1 and opens to its plaintext; the rest is as it was.
    let text_after = text.stored(&mut db);
    let binary_after = binary.stored(&mut db);
    assert_eq!(
        text_after[&migrated].as_deref(),
        Some(already_text.as_slice())
    );
    assert_eq!(
        binary_after[&migrated].as_deref(),
        Some(already_binary.as_slice())
    );
    assert_eq!((&text_after[&null], &binary_after[&null]), (&None, &None));
    assert_eq!(
        text_after[&damaged].as_deref(),
        legacy.damaged.as_ref().map(|(t, _)| t.as_bytes())
    );
    assert_eq!(
        binary_after[&damaged].as_deref(),
        legacy.damaged.as_ref().map(|(_, b)| b.as_slice())
    );
    for expected in [&mut text, &mut binary] {
        expected
            .plaintexts
            .insert(migrated.clone(), Some(b"already migrated".to_vec()));
        expected.plaintexts.insert(null.clone(), None);
        assert_eq!(expected.stored(&mut db).len() as u64, rows);
        expected.assert_rows_on(&mut db, &ring, 1);
    }

    // A second migration keeps everything: only the damaged values fail again.
    let before = (text.stored(&mut db), binary.stored(&mut db));
    let again = backend
        .rotate(|| migration.migrate(&mut db, &ring, &legacy.key))
        .unwrap();
    assert_eq!(again.records_rewritten, 0, "{again}");
    assert_eq!(again.failed_records, 2 * failed);
    assert_eq!((text.stored(&mut db), binary.stored(&mut db)), before);
}

fn migration_from_plaintext_seals_every_value_and_keeps_migrated_ones(backend: &Backend) {
    let keys = Keys::generate();
    let text: Vec<(Vec<u8>, String)> = [
        "078-05-1120",
        "Zoë Ångström — 東京 🔐",
        "",
        "SGVsbG8=",
        "EF",
    ]
    .into_iter()
    .map(|p| (p.as_bytes().to_vec(), p.to_owned()))
    .collect();
    let binary: Vec<(Vec<u8>, Vec<u8>)> = [
        b"078-05-1120".to_vec(),
        vec![0xff, 0x00, 0x80],
        Vec::new(),
        b"EF!".to_vec(),
        vec![b'x'; 4096],
    ]
    .into_iter()
    .map(|p| (p.clone(), p))
    .collect();
    // A truncated envelope is damage, not plaintext: sealing it again would hide the loss.
    let envelope = keys.ring_v1().encrypt_with_context(b"truncated", "t.c");
    let truncated = envelope[..30].to_vec();
    migrate_and_check(
        backend,
        Legacy {
            key: LegacyKey::None,
            text,
            binary,
            damaged: Some((base64_standard(&truncated), truncated)),
            checks: LegacyChecks::new(),
        },
    );
}

fn migration_from_fernet_tokens_seals_every_value_and_keeps_migrated_ones(backend: &Backend) {
    let (key_text, cases) = fixture("fernet.json", "token");
    let key = LegacyKey::from_base64(LegacyFormat::Fernet, &key_text, "fernet.json").unwrap();
    // One character of a token changed: its HMAC no longer verifies.
    let mut damaged = cases[cases.len() / 2].1.clone().into_bytes();
    damaged[40] = if damaged[40] == b'A' { b'B' } else { b'A' };
    let damaged = String::from_utf8(damaged).unwrap();
    migrate_and_check(
        backend,
        Legacy {
            key,
            binary: cases
                .iter()
                .map(|(p, s)| (p.clone(), s.clone().into_bytes()))
                .collect(),
            text: cases,
            damaged: Some((damaged.clone(), damaged.into_bytes())),
            checks: LegacyChecks::new(),
        },
    );
}

fn migration_from_node_cbc_values_seals_every_value_and_keeps_migrated_ones(backend: &Backend) {
    let (key_text, cases) = fixture("node_cbc.json", "value");
    let key = LegacyKey::from_base64(LegacyFormat::NodeCbc, &key_text, "node_cbc.json").unwrap();
    migrate_and_check(
        backend,
        Legacy {
            key,
            binary: cases
                .iter()
                .map(|(p, s)| (p.clone(), s.clone().into_bytes()))
                .collect(),
            text: cases,
            damaged: None,
            // One fixture value is bytes that are not UTF-8.
            checks: LegacyChecks::new().allow_bytes(true),
        },
    );
}

/// One node-cbc value with invalid padding among good ones refuses the whole migration: a wrong
/// key would look the same on the values it happens to pass.
fn a_node_cbc_value_with_bad_padding_refuses_the_migration(backend: &Backend) {
    let (key_text, cases) = fixture("node_cbc.json", "value");
    let key = LegacyKey::from_base64(LegacyFormat::NodeCbc, &key_text, "node_cbc.json").unwrap();
    let damaged = bad_padding(&MasterKey::from_base64(&key_text, "node_cbc.json").unwrap());
    let mut db = backend.connect();
    let table = backend.create_table(
        &mut db,
        "padding",
        &format!("id {}, phone {} NULL", backend.int_key(), backend.text()),
    );
    let mut rows: Vec<Vec<Cell>> = cases
        .iter()
        .zip(1..)
        .map(|((_, stored), id)| vec![Cell::Int(id), Cell::Text(stored.clone())])
        .collect();
    rows.push(vec![Cell::Int(100), Cell::Text(damaged)]);
    insert_rows(&mut db, &table, "id, phone", &rows);
    let before = phones(&mut db, &table);
    let registry = phone_registry(&table);
    let ring = Keys::generate().ring_v1();

    let err = backend
        .rotate(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(4))
                .legacy_checks(LegacyChecks::new().allow_bytes(true))
                .migrate(&mut db, &ring, &key)
        })
        .unwrap_err();

    let message = err.to_string();
    assert!(
        matches!(
            err,
            Error::MigrationRefused {
                nothing_written: true,
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!("{}.phone at primary key 100", table.name))
            && message.contains("padding"),
        "{message}"
    );
    assert_unchanged(&before, &phones(&mut db, &table));
}

/// A `hex(iv):hex(ciphertext)` value whose plaintext block ends in 0x00: no valid padding.
fn bad_padding(key: &MasterKey) -> String {
    use cbc::cipher::block_padding::NoPadding;
    use cbc::cipher::{BlockEncryptMut as _, KeyIvInit as _};
    let iv = [7u8; 16];
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new(key.expose_bytes().into(), &iv.into())
        .encrypt_padded_vec_mut::<NoPadding>(&[0u8; 16]);
    format!("{}:{}", hex::encode(iv), hex::encode(ciphertext))
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A committed fixture: its key and `(plaintext, stored)` per case.
fn fixture(file: &str, stored_field: &str) -> (String, Vec<(Vec<u8>, String)>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/legacy")
        .join(file);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cases = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let plaintext = match case.get("plaintext_hex") {
                Some(hex_text) => hex::decode(hex_text.as_str().unwrap()).unwrap(),
                None => case["plaintext"].as_str().unwrap().as_bytes().to_vec(),
            };
            (plaintext, case[stored_field].as_str().unwrap().to_owned())
        })
        .collect();
    (json["key"].as_str().unwrap().to_owned(), cases)
}

/// `hex(iv):hex(ciphertext)` of `plaintext` under `key`, as the Node backend writes it.
pub(crate) fn node_cbc_value(key: &MasterKey, plaintext: &[u8]) -> String {
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockEncryptMut as _, KeyIvInit as _};
    let iv: [u8; 16] = rand::random();
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new(key.expose_bytes().into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    format!("{}:{}", hex::encode(iv), hex::encode(ciphertext))
}

/// A table of `rows` phone numbers the Node backend encrypted with `key` (TEXT column `phone`).
pub(crate) fn node_phone_table(
    backend: &Backend,
    db: &mut Database,
    key: &MasterKey,
    rows: i64,
) -> Table {
    let table = backend.create_table(
        db,
        "node",
        &format!("id {}, phone {} NULL", backend.int_key(), backend.text()),
    );
    let cells: Vec<Vec<Cell>> = (1..=rows)
        .map(|id| {
            let phone = format!("+1 555 {id:04}");
            vec![
                Cell::Int(id),
                Cell::Text(node_cbc_value(key, phone.as_bytes())),
            ]
        })
        .collect();
    insert_rows(db, &table, "id, phone", &cells);
    table
}

/// The registry of [`node_phone_table`].
pub(crate) fn phone_registry(table: &Table) -> Registry {
    Registry::new()
        .register_spec(
            ModelSpec::new(table.spec_name(), "id").column(ColumnSpec::text("phone").nullable()),
        )
        .unwrap()
}

/// Every stored `phone` value, by key.
pub(crate) fn phones(db: &mut Database, table: &Table) -> BTreeMap<PrimaryKey, Option<Vec<u8>>> {
    read_column(db, table, "id", KeyKind::Integer, "phone", Storage::Text)
}

/// Fails with the number of values that differ (not the thousands of values themselves).
pub(crate) fn assert_unchanged(
    before: &BTreeMap<PrimaryKey, Option<Vec<u8>>>,
    after: &BTreeMap<PrimaryKey, Option<Vec<u8>>>,
) {
    let changed: Vec<&PrimaryKey> = before
        .keys()
        .filter(|k| after.get(*k) != Some(&before[*k]))
        .collect();
    assert!(
        changed.is_empty() && before.len() == after.len(),
        "{} of {} values changed (first keys: {:?})",
        changed.len(),
        before.len(),
        &changed[..changed.len().min(5)]
    );
}

/// The reported data loss: with a wrong Node key about one value in 256 still has valid padding;
/// it used to be re-encrypted as garbage over its only copy. Now nothing is written.
fn migration_with_a_wrong_node_key_is_refused_and_writes_nothing(backend: &Backend) {
    let (right, wrong) = (MasterKey::generate(), MasterKey::generate());
    let mut db = backend.connect();
    let table = node_phone_table(backend, &mut db, &right, 3000);
    let before = phones(&mut db, &table);
    let registry = phone_registry(&table);
    let ring = Keys::generate().ring_v1();

    let result = backend.rotate(|| {
        Rotation::new(&registry).migrate(&mut db, &ring, &LegacyKey::NodeCbc(wrong.clone()))
    });

    let err = result.expect_err("a wrong legacy key must refuse the migration");
    let message = err.to_string();
    assert!(matches!(err, Error::MigrationRefused { .. }), "{message}");
    assert!(
        message.contains(&table.name) && message.contains("phone"),
        "{message}"
    );
    assert_unchanged(&before, &phones(&mut db, &table));
}

/// Writes an implausible (but well padded) node-cbc value into row 8 when the writing pass
/// starts, after the preflight passed: the value changed since it was checked.
struct ChangeAfterPreflight<'a> {
    db: std::cell::RefCell<Database>,
    table: &'a Table,
    key: &'a MasterKey,
}

impl Progress for ChangeAfterPreflight<'_> {
    fn column_started(&self, _table: &str, _column: &str) {
        let value = node_cbc_value(self.key, b"\x07\x00 not a phone number");
        let mut db = self.db.borrow_mut();
        update(
            &mut db,
            self.table,
            "id",
            &PrimaryKey::Integer(8),
            "phone",
            Cell::Text(value),
        );
    }
}

/// The writing pass checks every batch again: a value made implausible after the preflight
/// stops the migration before its batch is written; the batches before it are written, and
/// undone by `undo_migration`.
fn a_value_that_fails_the_checks_after_the_preflight_stops_before_its_batch(backend: &Backend) {
    let key = MasterKey::generate();
    let mut db = backend.connect();
    let table = node_phone_table(backend, &mut db, &key, 12);
    let registry = phone_registry(&table);
    let ring = Keys::generate().ring_v1();
    let change = ChangeAfterPreflight {
        db: std::cell::RefCell::new(backend.connect()),
        table: &table,
        key: &key,
    };

    let err = backend
        .rotate(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(5))
                .progress(&change)
                .migrate(&mut db, &ring, &LegacyKey::NodeCbc(key.clone()))
        })
        .unwrap_err();

    let message = err.to_string();
    assert!(
        matches!(
            err,
            Error::MigrationRefused {
                nothing_written: false,
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains("at primary key 8") && message.contains("control character"),
        "{message}"
    );
    let after = phones(&mut db, &table);
    let migrated: Vec<i64> = after
        .iter()
        .filter(|(_, v)| v.as_deref().is_some_and(|v| v.starts_with(b"RUYB")))
        .map(|(k, _)| match k {
            PrimaryKey::Integer(id) => *id,
            PrimaryKey::Text(_) => unreachable!(),
        })
        .collect();
    assert_eq!(migrated, [1, 2, 3, 4, 5], "the first batch only");
    let migration = Rotation::new(&registry);
    assert_eq!(migration.legacy_values_kept(&mut db).unwrap(), 5);
    let undo = backend
        .rotate(|| migration.undo_migration(&mut db))
        .unwrap();
    assert_eq!((undo.restored, undo.left), (5, 0), "{undo}");
}

/// A key ring holding the legacy key itself is refused before anything is read or written.
fn a_ring_holding_the_node_key_is_refused(backend: &Backend) {
    let key = MasterKey::generate();
    let mut db = backend.connect();
    let table = node_phone_table(backend, &mut db, &key, 3);
    let before = phones(&mut db, &table);
    let registry = phone_registry(&table);
    let ring = encrypted_field::KeyRing::builder()
        .key(1, MasterKey::generate())
        .key(2, key.clone())
        .build()
        .unwrap();

    let err = backend
        .rotate(|| {
            Rotation::new(&registry).migrate(&mut db, &ring, &LegacyKey::NodeCbc(key.clone()))
        })
        .unwrap_err();

    assert!(
        matches!(err, Error::LegacyKeyReused { version } if version.get() == 2),
        "{err}"
    );
    assert_unchanged(&before, &phones(&mut db, &table));
}

per_backend!(
    a_value_that_fails_the_checks_after_the_preflight_stops_before_its_batch,
    a_ring_holding_the_node_key_is_refused,
    migration_with_a_wrong_node_key_is_refused_and_writes_nothing,
    migration_from_plaintext_seals_every_value_and_keeps_migrated_ones,
    migration_from_fernet_tokens_seals_every_value_and_keeps_migrated_ones,
    migration_from_node_cbc_values_seals_every_value_and_keeps_migrated_ones,
    a_node_cbc_value_with_bad_padding_refuses_the_migration,
);

/// SQLite keeps the type a value was inserted with: legacy text pasted into a BLOB column stays
/// TEXT, and is migrated all the same (its compare-and-swap compares bytes).
#[cfg(feature = "sqlite")]
#[test]
fn sqlite_text_values_in_a_blob_column_are_migrated() {
    crate::support::run(encrypted_field::testing::Backend::Sqlite, |backend| {
        let ring = Keys::generate().ring_v1();
        let mut db = backend.connect();
        let table = backend.create_table(&mut db, "text_in_blob", "id INTEGER PRIMARY KEY, c BLOB");
        db.execute(&format!(
            "INSERT INTO {} VALUES (1, '+1 555 0100')",
            table.name
        ))
        .unwrap();
        let registry = Registry::new()
            .register_spec(ModelSpec::new(table.spec_name(), "id").column(ColumnSpec::binary("c")))
            .unwrap();

        let report = Rotation::new(&registry)
            .migrate(&mut db, &ring, &LegacyKey::None)
            .unwrap();

        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        assert_eq!(
            (
                report.records_rewritten,
                report.records_changed_concurrently
            ),
            (1, 0),
            "{report}"
        );
        let mut expected = Expected::new(&table, "c", Storage::Binary, KeyKind::Integer);
        expected
            .plaintexts
            .insert(PrimaryKey::Integer(1), Some(b"+1 555 0100".to_vec()));
        expected.assert_all_on(&mut db, &ring, 1);
    });
}

/// Migration into columns that keep a blind index: each migrated value gets, in the same write,
/// the index the application's setter computes, so lookups find it.
#[cfg(feature = "derive")]
mod blind_indexes {
    use encrypted_field::legacy::{LegacyFormat, LegacyKey};
    use encrypted_field::rotation::Error;
    use encrypted_field::rotation::database::PrimaryKey;
    use encrypted_field::rotation::{Pacing, Rotation, RotationStatus};

    use super::fixture;
    use crate::support::{
        Backend, Cell, Keys, PEOPLE_COLUMNS, People, email_index, email_value, insert, per_backend,
        phone_index, phone_value, with_index_key,
    };

    /// Fills a people table with `cases` as legacy values (rows 1..=n, with NULL indexes), a row
    /// already migrated with its indexes (n+1) and a NULL row (n+2); migrates it with
    /// `legacy_key`; checks that every text value now opens and has the setter's indexes, that a
    /// value that is not text is reported and left as it was, and that the rest is kept.
    fn migrate_people(backend: &Backend, legacy_key: &LegacyKey, cases: &[(Vec<u8>, Vec<u8>)]) {
        let ring = with_index_key(Keys::generate().ring_v1());
        let mut db = backend.connect();
        let people = People::create(backend, &mut db, "legacy_bidx");
        let n = cases.len() as i64;
        for (id, (_, stored)) in (1..).zip(cases) {
            let text = String::from_utf8(stored.clone()).map_or(Cell::Null, Cell::Text);
            insert(
                &mut db,
                &people.table,
                PEOPLE_COLUMNS,
                &[
                    Cell::Int(id),
                    Cell::Bytes(stored.clone()),
                    Cell::Null,
                    text,
                    Cell::Null,
                ],
            );
        }
        let migrated = [
            Cell::Int(n + 1),
            Cell::Bytes(phone_value(&ring, "555 0100")),
            Cell::Bytes(phone_index(&ring, "555 0100")),
            Cell::Text(String::from_utf8(email_value(&ring, "ada@example.org")).unwrap()),
            Cell::Text(String::from_utf8(email_index(&ring, "ada@example.org")).unwrap()),
        ];
        insert(&mut db, &people.table, PEOPLE_COLUMNS, &migrated);
        insert(
            &mut db,
            &people.table,
            PEOPLE_COLUMNS,
            &[
                Cell::Int(n + 2),
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ],
        );
        let before = people.stored(&mut db);

        let report = backend
            .rotate(|| {
                Rotation::new(&people.registry)
                    .pacing(Pacing::fixed(3))
                    .migrate(&mut db, &ring, legacy_key)
            })
            .unwrap();

        let after = people.stored(&mut db);
        let mut not_text = 0;
        for (id, (plaintext, _)) in (1..).zip(cases) {
            let key = PrimaryKey::Integer(id);
            let row = &after[&key];
            let Ok(text) = std::str::from_utf8(plaintext) else {
                // No index can be computed: reported, and left as it was.
                not_text += 1;
                assert_eq!(row, &before[&key], "row {id}");
                let reasons: Vec<_> = report
                    .failures
                    .iter()
                    .filter(|f| f.primary_key == id.to_string())
                    .map(|f| (f.column.as_str(), f.reason.as_str()))
                    .collect();
                assert!(
                    reasons
                        .iter()
                        .any(|(c, r)| *c == "phone" && r.contains("UTF-8")),
                    "{reasons:?}"
                );
                continue;
            };
            let phone = row[0].as_deref().unwrap();
            assert_eq!(
                &ring.decrypt_with_context(phone, "people.phone").unwrap(),
                plaintext,
                "row {id}"
            );
            assert_eq!(
                row[1].as_deref(),
                Some(phone_index(&ring, text).as_slice()),
                "row {id}: the phone's index, as the setter computes it"
            );
            assert_eq!(
                row[3].as_deref(),
                Some(email_index(&ring, text).as_slice()),
                "row {id}: the e-mail's index, as the setter computes it"
            );
        }
        for id in [n + 1, n + 2] {
            let key = PrimaryKey::Integer(id);
            assert_eq!(after[&key], before[&key], "row {id} as it was");
        }
        // A value that is not text fails in both columns.
        assert_eq!(report.failed_records, 2 * not_text, "{report}");
        assert_eq!(
            report.records_rewritten,
            2 * (n as u64 - not_text),
            "{report}"
        );
        if not_text == 0 {
            assert_eq!(report.status, RotationStatus::Completed, "{report}");
            let verification = report.verification.as_ref().unwrap();
            assert_eq!(verification.stale_blind_indexes, 0, "{report}");
        }
    }

    fn migration_from_node_cbc_writes_the_blind_index_the_setter_computes(backend: &Backend) {
        let (key_text, cases) = fixture("node_cbc.json", "value");
        let key =
            LegacyKey::from_base64(LegacyFormat::NodeCbc, &key_text, "node_cbc.json").unwrap();
        // The Node backend encrypted strings: a value that is not text refuses a node-cbc
        // migration before anything is written (see the preflight tests above), so only text.
        let cases: Vec<_> = cases
            .into_iter()
            .filter(|(plaintext, _)| std::str::from_utf8(plaintext).is_ok())
            .map(|(plaintext, stored)| (plaintext, stored.into_bytes()))
            .collect();
        migrate_people(backend, &key, &cases);
    }

    fn migration_from_plaintext_writes_the_blind_index_the_setter_computes(backend: &Backend) {
        let cases: Vec<_> = ["+1 (555) 010-0100", "Ada@Example.org", "", "7"]
            .into_iter()
            .map(|p| (p.as_bytes().to_vec(), p.as_bytes().to_vec()))
            .collect();
        migrate_people(backend, &LegacyKey::None, &cases);
    }

    fn migration_with_a_blind_index_and_no_blind_index_key_writes_nothing(backend: &Backend) {
        let mut db = backend.connect();
        let people = People::create(backend, &mut db, "legacy_nokey");
        insert(
            &mut db,
            &people.table,
            PEOPLE_COLUMNS,
            &[
                Cell::Int(1),
                Cell::Bytes(b"+1 555 0100".to_vec()),
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ],
        );
        let before = people.stored(&mut db);

        let err = backend
            .rotate(|| {
                Rotation::new(&people.registry).migrate(
                    &mut db,
                    &Keys::generate().ring_v1(),
                    &LegacyKey::None,
                )
            })
            .unwrap_err();

        assert!(
            matches!(&err, Error::BlindIndexKeyMissing { blind_index, .. } if blind_index == "phone_bidx"),
            "{err}"
        );
        assert!(err.to_string().contains("nothing was written"), "{err}");
        assert_eq!(people.stored(&mut db), before);
    }

    per_backend!(
        migration_from_node_cbc_writes_the_blind_index_the_setter_computes,
        migration_from_plaintext_writes_the_blind_index_the_setter_computes,
        migration_with_a_blind_index_and_no_blind_index_key_writes_nothing,
    );
}
