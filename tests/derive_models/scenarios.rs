//! The scenarios every backend runs, written once: this file is compiled once per backend, with
//! `super::Conn` naming that backend's connection. Each test works in a TEMPORARY table of its own
//! connection, so tests run in parallel and reruns never collide.

use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer, Nullable};
use encrypted_field::model::Storage;
use encrypted_field::{EncryptedModel as _, Error};

use super::Conn;
use crate::common::TestBackend;
use crate::common::schema::{Customer, customers};

/// A connection with the process-wide ring installed, as an application has at start-up, and an
/// empty `customers` table; `None` when this backend is not configured.
fn database() -> Option<Conn> {
    crate::install_ring();
    let mut conn = Conn::connect()?;
    diesel::sql_query(format!(
        "CREATE TEMPORARY TABLE customers (id INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, \
         _ssn {b}, phone {b} NOT NULL, phone_bidx {b} NOT NULL, _email TEXT, email_bidx TEXT)",
        b = Conn::BINARY
    ))
    .execute(&mut conn)
    .unwrap();
    Some(conn)
}

fn customer(id: i32, name: &str, phone: &str) -> Customer {
    let mut customer = Customer {
        id,
        name: name.to_owned(),
        ..Customer::default()
    };
    customer.set_phone(phone).unwrap();
    customer
}

fn insert(conn: &mut Conn, rows: &[Customer]) {
    diesel::insert_into(customers::table)
        .values(rows)
        .execute(conn)
        .unwrap();
}

fn load(conn: &mut Conn, id: i32) -> Customer {
    customers::table
        .find(id)
        .select(Customer::as_select())
        .first(conn)
        .unwrap()
}

#[test]
fn a_model_built_with_setters_round_trips_through_the_database() {
    let Some(conn) = &mut database() else { return };
    let mut ada = customer(1, "Ada", "+1 (555) 010-0100");
    ada.set_ssn("078-05-1120").unwrap();
    ada.set_email("Ada@Example.org").unwrap();
    insert(conn, &[ada]);

    let loaded = load(conn, 1);
    assert_eq!(loaded.ssn().unwrap().as_deref(), Some("078-05-1120"));
    assert_eq!(loaded.phone().unwrap(), "+1 (555) 010-0100");
    assert_eq!(loaded.email().unwrap().as_deref(), Some("Ada@Example.org"));
    assert!(encrypted_field::envelope::is_envelope(&loaded._phone));

    let stored_ssn: Option<Vec<u8>> = customers::table
        .find(1)
        .select(customers::_ssn)
        .first(conn)
        .unwrap();
    let stored_ssn = stored_ssn.expect("the SSN was stored");
    assert!(
        !stored_ssn.windows(4).any(|w| w == b"1120"),
        "the database holds no plaintext"
    );
}

#[test]
fn a_nullable_column_left_unset_is_null_and_reads_none() {
    let Some(conn) = &mut database() else { return };
    insert(conn, &[customer(1, "Bob", "555 0101")]);
    let loaded = load(conn, 1);
    assert_eq!((loaded._ssn.as_ref(), loaded.ssn().unwrap()), (None, None));
}

#[test]
fn a_row_is_found_by_a_blind_index_filter_whatever_the_formatting() {
    let Some(conn) = &mut database() else { return };
    insert(
        conn,
        &[
            customer(1, "Ada", "+1 (555) 010-0100"),
            customer(2, "Bob", "+1 (555) 010-0199"),
        ],
    );

    let found: Vec<Customer> = customers::table
        .filter(customers::phone_bidx.eq(Customer::phone_index("1-555-010-0100").unwrap()))
        .select(Customer::as_select())
        .load(conn)
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "Ada");
    assert_eq!(found[0].phone().unwrap(), "+1 (555) 010-0100");
    let none: i64 = customers::table
        .filter(customers::phone_bidx.eq(Customer::phone_index("+1 555 010 0101").unwrap()))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(none, 0);
}

#[test]
fn an_eq_any_lookup_finds_rows_indexed_under_either_blind_index_version() {
    let Some(conn) = &mut database() else { return };
    let global = encrypted_field::global().unwrap();
    let with_v2 = global
        .with_blind_index_key_version(
            2,
            encrypted_field::BlindIndexKey::new(encrypted_field::MasterKey::generate()),
        )
        .unwrap();
    let mut bob = customer(2, "Bob", "+1 (555) 010-0100"); // version 1, bare
    bob.set_phone_with(&with_v2, "+1 (555) 010-0100").unwrap();
    insert(
        conn,
        &[
            customer(1, "Ada", "1 555 010 0100"),
            bob,
            customer(3, "Cy", "555 0199"),
        ],
    );
    let candidates = Customer::phone_index_any_with(&with_v2, "15550100100").unwrap();
    assert_eq!(candidates.len(), 2);

    let names: Vec<String> = customers::table
        .filter(customers::phone_bidx.eq_any(candidates))
        .order(customers::id)
        .select(customers::name)
        .load(conn)
        .unwrap();
    assert_eq!(names, ["Ada", "Bob"]);
    // The process-wide ring knows version 1 only: its lookups find the bare index, as before.
    let old: Vec<String> = customers::table
        .filter(customers::phone_bidx.eq_any(Customer::phone_index_any("15550100100").unwrap()))
        .select(customers::name)
        .load(conn)
        .unwrap();
    assert_eq!(old, ["Ada"]);
}

#[test]
fn a_text_blind_index_finds_a_row_too() {
    let Some(conn) = &mut database() else { return };
    let mut ada = customer(1, "Ada", "555 0100");
    ada.set_email("Ada@Example.org").unwrap();
    insert(conn, &[ada]);
    let name: String = customers::table
        .filter(customers::email_bidx.eq(Customer::email_index("  ada@example.ORG").unwrap()))
        .select(customers::name)
        .first(conn)
        .unwrap();
    assert_eq!(name, "Ada");
}

#[test]
fn an_update_through_as_changeset_stores_the_new_value_and_index() {
    let Some(conn) = &mut database() else { return };
    let mut ada = customer(1, "Ada", "555 0100");
    ada.set_ssn("078-05-1120").unwrap();
    insert(conn, std::slice::from_ref(&ada));
    ada.set_phone("555 0199").unwrap();
    ada.clear_ssn();
    diesel::update(&ada).set(&ada).execute(conn).unwrap();

    let loaded = load(conn, 1);
    assert_eq!(loaded.phone().unwrap(), "555 0199");
    let found: i64 = customers::table
        .filter(customers::phone_bidx.eq(Customer::phone_index("5550199").unwrap()))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(found, 1);
}

#[test]
fn a_value_copied_into_another_column_by_sql_does_not_decrypt() {
    let Some(conn) = &mut database() else { return };
    insert(conn, &[customer(1, "Ada", "555 0100")]);
    diesel::sql_query("UPDATE customers SET _ssn = phone")
        .execute(conn)
        .unwrap();
    let loaded = load(conn, 1);
    assert!(matches!(loaded.ssn(), Err(Error::Authentication { .. })));
}

#[derive(QueryableByName)]
struct RawValue {
    #[diesel(sql_type = Integer)]
    pk: i32,
    #[diesel(sql_type = Nullable<Binary>)]
    value: Option<Vec<u8>>,
}

/// What a generic rotation does: raw SQL built from the `ModelSpec` alone, no model code.
#[test]
fn the_model_spec_names_real_columns_and_their_contexts() {
    let Some(conn) = &mut database() else { return };
    let mut ada = customer(7, "Ada", "555 0100");
    ada.set_ssn("078-05-1120").unwrap();
    insert(conn, &[ada]);

    let spec = Customer::model_spec();
    spec.validate().unwrap();
    assert_eq!((spec.table(), spec.primary_key()), ("customers", "id"));
    let columns: Vec<&str> = spec.columns().iter().map(|c| c.column()).collect();
    assert_eq!(
        columns,
        ["_ssn", "phone", "_email"],
        "Diesel's column_name is honoured"
    );
    let ring = crate::ring();
    for column in spec
        .columns()
        .iter()
        .filter(|c| c.storage() == Storage::Binary)
    {
        // The names are plain identifiers, so they need no quoting on any backend.
        let query = format!(
            "SELECT {key} AS pk, {column} AS value FROM {table} ORDER BY {key}",
            key = spec.primary_key(),
            column = column.column(),
            table = spec.table(),
        );
        let rows: Vec<RawValue> = diesel::sql_query(query).load(conn).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].pk, 7);
        let value = rows[0].value.as_deref().expect("a value was written");
        assert!(
            ring.decrypt_with_context(value, column.context()).is_ok(),
            "{}",
            column.context()
        );
        let blind_index = column.blind_index().map(|b| b.column());
        assert_eq!(
            blind_index,
            (column.column() == "phone").then_some("phone_bidx")
        );
    }
}
