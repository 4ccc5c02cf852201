//! `reindex`: every blind index that is NULL, empty or not its value's is rewritten to what the
//! application's setter computes; values are never changed; a row the application writes between
//! the pass's read and its write keeps what the application wrote; and nothing is written without
//! a blind-index key.

use std::cell::RefCell;

use encrypted_field::KeyRing;
use encrypted_field::rotation::Error;
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{Operation, Pacing, Progress, Rotation, RotationStatus};

use crate::support::{
    Backend, Cell, Counts, Keys, PEOPLE_COLUMNS, People, assert_totals_match_columns,
    column_report, email_index, email_value, insert, per_backend, phone_index, phone_value,
    with_index_key,
};

/// The phones and e-mails of rows 1 to 4, as typed.
const PEOPLE: [(&str, &str); 4] = [
    ("+1 (555) 010-0100", "Ada@Example.org"),
    ("+44 20 7946 0018", "alan@example.org"),
    ("555 010 0199", "GRACE@example.org"),
    ("+33 1 23 45 67 89", "marie@example.org"),
];

/// | id | phone            | phone_bidx          | email            | email_bidx          |
/// |----|------------------|---------------------|------------------|---------------------|
/// | 1  | PEOPLE[0]        | NULL                | PEOPLE[0]        | NULL                |
/// | 2  | PEOPLE[1]        | empty               | PEOPLE[1]        | empty               |
/// | 3  | PEOPLE[2]        | another phone's     | PEOPLE[2]        | another e-mail's    |
/// | 4  | PEOPLE[3]        | its own             | PEOPLE[3]        | its own             |
/// | 5  | NULL             | NULL                | NULL             | NULL                |
/// | 6  | tampered         | NULL                | PEOPLE[0]        | its own             |
fn stale_people(backend: &Backend, db: &mut Database, ring: &KeyRing) -> People {
    let people = People::create(backend, db, "reindex");
    let text = |bytes: Vec<u8>| Cell::Text(String::from_utf8(bytes).unwrap());
    for (id, (phone, email)) in (1..).zip(PEOPLE) {
        let (phone_bidx, email_bidx) = match id {
            1 => (Cell::Null, Cell::Null),
            2 => (Cell::Bytes(Vec::new()), Cell::Text(String::new())),
            3 => (
                Cell::Bytes(phone_index(ring, PEOPLE[0].0)),
                text(email_index(ring, PEOPLE[0].1)),
            ),
            _ => (
                Cell::Bytes(phone_index(ring, phone)),
                text(email_index(ring, email)),
            ),
        };
        insert(
            db,
            &people.table,
            PEOPLE_COLUMNS,
            &[
                Cell::Int(id),
                Cell::Bytes(phone_value(ring, phone)),
                phone_bidx,
                text(email_value(ring, email)),
                email_bidx,
            ],
        );
    }
    insert(
        db,
        &people.table,
        PEOPLE_COLUMNS,
        &[Cell::Int(5), Cell::Null, Cell::Null, Cell::Null, Cell::Null],
    );
    let mut tampered = phone_value(ring, PEOPLE[0].0);
    tampered[30] ^= 0x80;
    insert(
        db,
        &people.table,
        PEOPLE_COLUMNS,
        &[
            Cell::Int(6),
            Cell::Bytes(tampered),
            Cell::Null,
            text(email_value(ring, PEOPLE[0].1)),
            text(email_index(ring, PEOPLE[0].1)),
        ],
    );
    people
}

fn reindex_fills_empty_indexes_fixes_stale_ones_and_changes_no_value(backend: &Backend) {
    let ring = with_index_key(Keys::generate().ring_v1());
    let mut db = backend.connect();
    let people = stale_people(backend, &mut db, &ring);
    let before = people.stored(&mut db);
    let reindex = Rotation::new(&people.registry).pacing(Pacing::fixed(4));

    let dry = backend
        .rotate(|| {
            Rotation::new(&people.registry)
                .pacing(Pacing::fixed(4))
                .dry_run(true)
                .reindex(&mut db, &ring)
        })
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.records_rewritten, 6, "{dry}");
    assert_eq!(people.stored(&mut db), before, "a dry run writes nothing");

    let report = backend.rotate(|| reindex.reindex(&mut db, &ring)).unwrap();

    assert_eq!(report.operation, Operation::Reindex);
    assert_eq!(report.status, RotationStatus::Failed, "{report}");
    let counts = |unchanged, failed| Counts {
        rows: 6,
        null: 1,
        unchanged,
        rewritten: 3,
        failed,
        ..Counts::default()
    };
    assert_eq!(
        Counts::of(column_report(&report, &people.table.name, "phone")),
        counts(1, 1)
    );
    assert_eq!(
        Counts::of(column_report(&report, &people.table.name, "email")),
        counts(2, 0)
    );
    assert_totals_match_columns(&report);
    let failures: Vec<_> = report
        .failures
        .iter()
        .map(|f| (f.table.as_str(), f.primary_key.as_str(), f.column.as_str()))
        .collect();
    assert_eq!(failures, [(people.table.name.as_str(), "6", "phone")]);
    assert!(
        report.failures[0].reason.contains("authentication failed"),
        "{report}"
    );

    let after = people.stored(&mut db);
    for (id, (phone, email)) in (1..).zip(PEOPLE) {
        let row = &after[&PrimaryKey::Integer(id)];
        let was = &before[&PrimaryKey::Integer(id)];
        assert_eq!(
            (&row[0], &row[2]),
            (&was[0], &was[2]),
            "row {id}: values kept"
        );
        assert_eq!(
            (row[1].as_deref(), row[3].as_deref()),
            (
                Some(phone_index(&ring, phone).as_slice()),
                Some(email_index(&ring, email).as_slice())
            ),
            "row {id}: the indexes the setters compute"
        );
    }
    for id in [5, 6] {
        assert_eq!(
            after[&PrimaryKey::Integer(id)],
            before[&PrimaryKey::Integer(id)],
            "row {id} as it was"
        );
    }

    let again = backend.rotate(|| reindex.reindex(&mut db, &ring)).unwrap();
    assert_eq!(again.records_rewritten, 0, "{again}");
    assert_eq!(people.stored(&mut db), after);
}

/// The application: while the pass holds its first batch of phones, it gives row 1 a new phone
/// (value and index together, as its setter does) through its own connection.
struct Application<'a> {
    connection: RefCell<Database>,
    people: &'a People,
    ring: &'a KeyRing,
    wrote: RefCell<bool>,
}

const NEW_PHONE: &str = "+1 (555) 010-0999";

impl Progress for Application<'_> {
    fn batch_read(&self, _table: &str, column: &str, keys: &[PrimaryKey]) {
        if column != "phone" || *self.wrote.borrow() || !keys.contains(&PrimaryKey::Integer(1)) {
            return;
        }
        let mut db = self.connection.borrow_mut();
        crate::support::update(
            &mut db,
            &self.people.table,
            "id",
            &PrimaryKey::Integer(1),
            "phone",
            Cell::Bytes(phone_value(self.ring, NEW_PHONE)),
        );
        crate::support::update(
            &mut db,
            &self.people.table,
            "id",
            &PrimaryKey::Integer(1),
            "phone_bidx",
            Cell::Bytes(phone_index(self.ring, NEW_PHONE)),
        );
        *self.wrote.borrow_mut() = true;
    }
}

fn reindex_never_overwrites_what_the_application_writes_meanwhile(backend: &Backend) {
    let ring = with_index_key(Keys::generate().ring_v1());
    let mut db = backend.connect();
    let people = stale_people(backend, &mut db, &ring);
    let application = Application {
        connection: RefCell::new(backend.connect()),
        people: &people,
        ring: &ring,
        wrote: RefCell::new(false),
    };

    let report = backend
        .rotate(|| {
            Rotation::new(&people.registry)
                .pacing(Pacing::fixed(2))
                .progress(&application)
                .reindex(&mut db, &ring)
        })
        .unwrap();

    assert!(*application.wrote.borrow(), "the application wrote");
    let phone = column_report(&report, &people.table.name, "phone");
    assert_eq!(
        (phone.rewritten, phone.changed_concurrently),
        (2, 1),
        "{report}"
    );
    let row = &people.stored(&mut db)[&PrimaryKey::Integer(1)];
    let phone = ring
        .decrypt_with_context(row[0].as_deref().unwrap(), "people.phone")
        .unwrap();
    assert_eq!(phone, NEW_PHONE.as_bytes(), "the application's phone stays");
    assert_eq!(
        row[1].as_deref(),
        Some(phone_index(&ring, NEW_PHONE).as_slice()),
        "the application's index stays"
    );
}

fn reindex_needs_a_blind_index_key_and_writes_nothing_without_one(backend: &Backend) {
    let keys = Keys::generate();
    let ring = with_index_key(keys.ring_v1());
    let mut db = backend.connect();
    let people = stale_people(backend, &mut db, &ring);
    let before = people.stored(&mut db);

    let err = backend
        .rotate(|| Rotation::new(&people.registry).reindex(&mut db, &keys.ring_v1()))
        .unwrap_err();

    match &err {
        Error::BlindIndexKeyMissing {
            column,
            blind_index,
        } => assert_eq!(
            (column.as_str(), blind_index.as_str()),
            (
                format!("{}.phone", people.table.name).as_str(),
                "phone_bidx"
            )
        ),
        other => panic!("expected BlindIndexKeyMissing, got {other:?}"),
    }
    assert!(err.to_string().contains("DB_BLIND_INDEX_KEY"), "{err}");
    assert_eq!(people.stored(&mut db), before);
}

per_backend!(
    reindex_fills_empty_indexes_fixes_stale_ones_and_changes_no_value,
    reindex_never_overwrites_what_the_application_writes_meanwhile,
    reindex_needs_a_blind_index_key_and_writes_nothing_without_one,
);
