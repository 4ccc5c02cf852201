//! The scenarios every backend runs, written once: this file is compiled once per backend, with
//! `super::Conn` naming that backend's connection. Each test works in a TEMPORARY table of its own
//! connection, so tests run in parallel and reruns never collide.

use diesel::prelude::*;
use encrypted_field::Error;
use encrypted_field::testing::Backend;

use super::Conn;
use crate::common::TestBackend;
use crate::{BoundPerson, NewBoundPerson, bound_people};

/// A connection with the process-wide ring installed and an empty `bound_people` table whose key
/// the database assigns; `None` when this backend is not configured.
fn database() -> Option<Conn> {
    crate::common::install_global_ring();
    let mut conn = Conn::connect()?;
    let key = match Conn::BACKEND {
        Backend::Sqlite => "INTEGER PRIMARY KEY",
        Backend::Mysql => "INT AUTO_INCREMENT PRIMARY KEY",
        Backend::Postgres => "SERIAL PRIMARY KEY",
    };
    diesel::sql_query(format!(
        "CREATE TEMPORARY TABLE bound_people (id {key}, name TEXT NOT NULL, _ssn {} NULL, \
         _note TEXT NULL)",
        Conn::BINARY
    ))
    .execute(&mut conn)
    .unwrap();
    Some(conn)
}

fn load(conn: &mut Conn, id: i32) -> BoundPerson {
    bound_people::table
        .find(id)
        .select(BoundPerson::as_select())
        .first(conn)
        .unwrap()
}

/// The pattern for a key the database assigns: insert without the row-bound values, read the
/// key back, then set the values and update the row.
fn insert_then_seal(conn: &mut Conn, name: &str, ssn: &str) -> i32 {
    diesel::insert_into(bound_people::table)
        .values(NewBoundPerson { name })
        .execute(conn)
        .unwrap();
    let mut person: BoundPerson = bound_people::table
        .filter(bound_people::name.eq(name))
        .select(BoundPerson::as_select())
        .first(conn)
        .unwrap();
    person.set_ssn(ssn).unwrap();
    person.set_note(format!("note of {name}")).unwrap();
    diesel::update(&person).set(&person).execute(conn).unwrap();
    person.id
}

#[test]
fn a_key_assigned_by_the_database_is_read_back_before_the_values_are_sealed() {
    let Some(conn) = &mut database() else { return };
    let ada = insert_then_seal(conn, "Ada", "078-05-1120");
    let bob = insert_then_seal(conn, "Bob", "219-09-9999");
    assert_ne!(ada, bob);

    let loaded = load(conn, ada);
    assert_eq!(loaded.ssn().unwrap().as_deref(), Some("078-05-1120"));
    assert_eq!(loaded.note().unwrap().as_deref(), Some("note of Ada"));
    assert_eq!(
        load(conn, bob).ssn().unwrap().as_deref(),
        Some("219-09-9999")
    );
}

#[test]
fn a_key_assigned_by_the_application_is_set_before_the_values() {
    let Some(conn) = &mut database() else { return };
    let mut person = BoundPerson {
        id: 41,
        name: "Cy".to_owned(),
        _ssn: None,
        _note: None,
    };
    person.set_ssn("536-90-4399").unwrap();
    diesel::insert_into(bound_people::table)
        .values(&person)
        .execute(conn)
        .unwrap();
    assert_eq!(
        load(conn, 41).ssn().unwrap().as_deref(),
        Some("536-90-4399")
    );
}

#[test]
fn a_value_copied_into_another_row_fails_naming_the_column_and_the_row() {
    let Some(conn) = &mut database() else { return };
    let ada = insert_then_seal(conn, "Ada", "078-05-1120");
    let bob = insert_then_seal(conn, "Bob", "219-09-9999");
    let ada_ssn = load(conn, ada)._ssn;
    diesel::update(bound_people::table.find(bob))
        .set(bound_people::_ssn.eq(&ada_ssn))
        .execute(conn)
        .unwrap();

    let error = load(conn, bob).ssn().unwrap_err();
    let bob_key = bob.to_string();
    assert!(
        matches!(&error, Error::RowAuthentication { context, row }
            if context == "bound_people._ssn" && row.as_str() == bob_key),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&format!("row `{bob}`")),
        "{error}"
    );
    assert_eq!(
        load(conn, ada).ssn().unwrap().as_deref(),
        Some("078-05-1120"),
        "the original row still reads"
    );
}
