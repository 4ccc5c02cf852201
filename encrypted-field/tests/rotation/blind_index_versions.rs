//! Blind-index key versions on real databases: indexes written before versions existed (bare, as
//! version 1) keep matching; a lookup during a transition finds rows indexed under either version;
//! `status` counts indexes per version and `verify` calls those not on the active one stale;
//! reindexing moves every index onto the active version, compare-and-swap, so an application's
//! concurrent write is never overwritten.

use std::cell::RefCell;

use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{Progress, Rotation};
use encrypted_field::{BlindIndexKey, KeyRing, MasterKey};

use crate::support::{
    Backend, Cell, Keys, PEOPLE_COLUMNS, People, column_report, email_index, email_index_any,
    email_value, ids_where_in, insert, per_backend, phone_index, phone_index_any, phone_value,
    update, with_index_key,
};

/// Row 1 and row 3 hold one phone number and one e-mail address, spelled differently.
const PEOPLE: [(&str, &str); 4] = [
    ("+1 (555) 010-0100", "Ada@Example.org"),
    ("+44 20 7946 0018", "alan@example.org"),
    ("1-555-010-0100", " ada@example.ORG"),
    ("+33 1 23 45 67 89", "marie@example.org"),
];

/// The ring before (blind-index version 1 only) and after a second blind-index key is added
/// (version 2, active). The encryption keys do not change.
fn rings() -> (KeyRing, KeyRing) {
    let before = with_index_key(Keys::generate().ring_v1());
    let after = before
        .with_blind_index_key_version(2, BlindIndexKey::new(MasterKey::generate()))
        .unwrap();
    (before, after)
}

/// Inserts `PEOPLE[i]` as row `i + 1`, its indexes computed with `ring` (as its setters do).
fn insert_person(db: &mut Database, people: &People, ring: &KeyRing, i: usize) {
    let (phone, email) = PEOPLE[i];
    let text = |bytes: Vec<u8>| Cell::Text(String::from_utf8(bytes).unwrap());
    insert(
        db,
        &people.table,
        PEOPLE_COLUMNS,
        &[
            Cell::Int(i64::try_from(i).unwrap() + 1),
            Cell::Bytes(phone_value(ring, phone)),
            Cell::Bytes(phone_index(ring, phone)),
            text(email_value(ring, email)),
            text(email_index(ring, email)),
        ],
    );
}

/// Rows 1 and 2 written before the blind-index key changed, rows 3 and 4 after.
fn mixed_people(backend: &Backend, db: &mut Database, base: &str) -> (People, KeyRing, KeyRing) {
    let (before, after) = rings();
    let people = People::create(backend, db, base);
    for i in 0..2 {
        insert_person(db, &people, &before, i);
    }
    for i in 2..4 {
        insert_person(db, &people, &after, i);
    }
    (people, before, after)
}

fn bare_indexes_keep_matching_and_any_lookups_find_both_versions(backend: &Backend) {
    let mut db = backend.connect();
    let (people, before, after) = mixed_people(backend, &mut db, "bidx_mixed");
    let stored = people.stored(&mut db);
    let phone_bidx = |id: i64| stored[&PrimaryKey::Integer(id)][1].clone().unwrap();
    assert_eq!(phone_bidx(1).len(), 32, "version 1 is written bare");
    assert_eq!(phone_bidx(3).len(), 38);
    assert_eq!(&phone_bidx(3)[..6], b"BI\0\0\0\x02");

    let (phone, email) = PEOPLE[0];
    let phones: Vec<Cell> = phone_index_any(&after, phone)
        .into_iter()
        .map(Cell::Bytes)
        .collect();
    let emails: Vec<Cell> = email_index_any(&after, email)
        .into_iter()
        .map(Cell::Text)
        .collect();
    assert_eq!(
        phones.len(),
        2,
        "one candidate per loaded blind-index version"
    );
    assert_eq!(
        ids_where_in(&mut db, &people.table, "phone_bidx", &phones),
        [1, 3]
    );
    assert_eq!(
        ids_where_in(&mut db, &people.table, "email_bidx", &emails),
        [1, 3]
    );
    // An instance still on version 1 alone finds the rows it can index, as it always did.
    let old_lookup = [Cell::Bytes(phone_index(&before, phone))];
    assert_eq!(
        ids_where_in(&mut db, &people.table, "phone_bidx", &old_lookup),
        [1]
    );

    let status = Rotation::new(&people.registry).status(&mut db).unwrap();
    for column in &status.columns {
        let counts: Vec<_> = column
            .blind_indexes_by_version
            .iter()
            .map(|(version, count)| (version.as_str(), *count))
            .collect();
        assert_eq!(counts, [("v1", 2), ("v2", 2)], "{}", column.column);
    }

    let verified = Rotation::new(&people.registry)
        .verify_only(&mut db, &after)
        .unwrap();
    let verification = verified.verification.as_ref().unwrap();
    assert_eq!(
        verification.stale_blind_indexes, 4,
        "the v1 indexes of rows 1 and 2 are stale once v2 is active"
    );
    assert!(!verification.ok);
}

fn rotating_the_blind_index_key_puts_every_index_on_the_active_version(backend: &Backend) {
    let mut db = backend.connect();
    let (people, _, after) = mixed_people(backend, &mut db, "bidx_rotate");
    let before = people.stored(&mut db);

    let report = backend
        .rotate(|| {
            Rotation::new(&people.registry)
                .batch_size(3)
                .reindex(&mut db, &after)
        })
        .unwrap();
    for column in ["phone", "email"] {
        let counts = column_report(&report, &people.table.name, column);
        assert_eq!(
            (counts.rewritten, counts.unchanged, counts.failed),
            (2, 2, 0),
            "{report}"
        );
    }

    let rotated = people.stored(&mut db);
    for (id, (phone, email)) in (1..).zip(PEOPLE) {
        let (row, was) = (
            &rotated[&PrimaryKey::Integer(id)],
            &before[&PrimaryKey::Integer(id)],
        );
        assert_eq!(
            (&row[0], &row[2]),
            (&was[0], &was[2]),
            "row {id}: values kept"
        );
        assert_eq!(
            (row[1].as_deref(), row[3].as_deref()),
            (
                Some(phone_index(&after, phone).as_slice()),
                Some(email_index(&after, email).as_slice())
            ),
            "row {id}: on blind-index version 2"
        );
    }
    let status = Rotation::new(&people.registry).status(&mut db).unwrap();
    for column in &status.columns {
        assert_eq!(
            column.blind_indexes_by_version.keys().collect::<Vec<_>>(),
            ["v2"],
            "{}",
            column.column
        );
    }
    let verified = Rotation::new(&people.registry)
        .verify_only(&mut db, &after)
        .unwrap();
    assert!(verified.verification.as_ref().unwrap().ok, "{verified}");
    let again = backend
        .rotate(|| Rotation::new(&people.registry).reindex(&mut db, &after))
        .unwrap();
    assert_eq!(again.records_rewritten, 0, "{again}");
}

/// The application: while the pass holds its first batch of phones, it gives row 1 a new phone
/// (value and v2 index together, as its setter does) through its own connection.
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
        let row = PrimaryKey::Integer(1);
        let table = &self.people.table;
        let value = Cell::Bytes(phone_value(self.ring, NEW_PHONE));
        update(&mut db, table, "id", &row, "phone", value);
        let index = Cell::Bytes(phone_index(self.ring, NEW_PHONE));
        update(&mut db, table, "id", &row, "phone_bidx", index);
        *self.wrote.borrow_mut() = true;
    }
}

fn the_blind_index_pass_never_overwrites_a_concurrent_write(backend: &Backend) {
    let mut db = backend.connect();
    let (people, _, after) = mixed_people(backend, &mut db, "bidx_race");
    let application = Application {
        connection: RefCell::new(backend.connect()),
        people: &people,
        ring: &after,
        wrote: RefCell::new(false),
    };

    let report = backend
        .rotate(|| {
            Rotation::new(&people.registry)
                .batch_size(2)
                .progress(&application)
                .reindex(&mut db, &after)
        })
        .unwrap();

    assert!(*application.wrote.borrow(), "the application wrote");
    let phone = column_report(&report, &people.table.name, "phone");
    assert_eq!(
        (phone.rewritten, phone.changed_concurrently),
        (1, 1),
        "{report}"
    );
    let stored = people.stored(&mut db);
    let row = &stored[&PrimaryKey::Integer(1)];
    let phone = after
        .decrypt_with_context(row[0].as_deref().unwrap(), "people.phone")
        .unwrap();
    assert_eq!(phone, NEW_PHONE.as_bytes(), "the application's phone stays");
    assert_eq!(
        row[1].as_deref(),
        Some(phone_index(&after, NEW_PHONE).as_slice()),
        "the application's index stays"
    );
    assert_eq!(
        stored[&PrimaryKey::Integer(2)][1].as_deref(),
        Some(phone_index(&after, PEOPLE[1].0).as_slice()),
        "row 2 moved to version 2"
    );
}

per_backend!(
    bare_indexes_keep_matching_and_any_lookups_find_both_versions,
    rotating_the_blind_index_key_puts_every_index_on_the_active_version,
    the_blind_index_pass_never_overwrites_a_concurrent_write,
);
