//! `#[derive(EncryptedModel)]` on a real Diesel model, on SQLite: rows written with the
//! generated setters, read back with the getters, found through a blind index, and described by
//! a `ModelSpec` whose names are the real columns.
#![cfg(feature = "sqlite")]

use std::error::Error;
use std::sync::Once;

use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer, Nullable};
use encrypted_field::model::Storage;
use encrypted_field::{BlindIndexKey, EncryptedModel, KeyRing, MasterKey};

type TestResult = Result<(), Box<dyn Error>>;

mod schema {
    #![allow(missing_docs)] // `diesel::table!` generates public items without documentation

    diesel::table! {
        customers (id) {
            id -> Integer,
            name -> Text,
            _ssn -> Nullable<Binary>,
            phone -> Binary,
            phone_bidx -> Binary,
            _email -> Nullable<Text>,
            email_bidx -> Nullable<Text>,
        }
    }
}

use schema::customers;

/// The Django seed's `_ssn` BinaryField + `ssn` property, and more.
#[derive(
    Debug,
    Default,
    Clone,
    Queryable,
    Selectable,
    Insertable,
    AsChangeset,
    Identifiable,
    EncryptedModel,
)]
#[diesel(table_name = customers, check_for_backend(diesel::sqlite::Sqlite))]
struct Customer {
    id: i32,
    name: String,
    #[encrypted]
    _ssn: Option<Vec<u8>>,
    #[encrypted(name = "phone", blind_index = "phone_bidx", normalize = digits)]
    #[diesel(column_name = phone)]
    _phone: Vec<u8>,
    phone_bidx: Vec<u8>,
    #[encrypted(blind_index = "email_bidx", normalize = lowercase)]
    _email: Option<String>,
    email_bidx: Option<String>,
}

const SCHEMA: &str = "CREATE TABLE customers (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    _ssn BLOB,
    phone BLOB NOT NULL,
    phone_bidx BLOB NOT NULL,
    _email TEXT,
    email_bidx TEXT
)";

fn ring() -> KeyRing {
    #[allow(clippy::expect_used)]
    KeyRing::builder()
        .key(1, MasterKey::from_bytes([3; 32]))
        .blind_index_key(BlindIndexKey::new(MasterKey::from_bytes([4; 32])))
        .build()
        .expect("invariant: a ring of one key and a distinct blind-index key is valid")
}

/// A database with the process-wide ring installed, as an application has at start-up.
fn database() -> Result<SqliteConnection, Box<dyn Error>> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        #[allow(clippy::expect_used)]
        encrypted_field::install(ring()).expect("invariant: installed once per test binary");
    });
    let mut conn = SqliteConnection::establish(":memory:")?;
    diesel::sql_query(SCHEMA).execute(&mut conn)?;
    Ok(conn)
}

fn customer(id: i32, name: &str, phone: &str) -> Result<Customer, Box<dyn Error>> {
    let mut customer = Customer {
        id,
        name: name.to_owned(),
        ..Customer::default()
    };
    customer.set_phone(phone)?;
    Ok(customer)
}

#[test]
fn a_model_built_with_setters_round_trips_through_the_database() -> TestResult {
    let conn = &mut database()?;
    let mut ada = customer(1, "Ada", "+1 (555) 010-0100")?;
    ada.set_ssn("078-05-1120")?;
    ada.set_email("Ada@Example.org")?;
    diesel::insert_into(customers::table)
        .values(&ada)
        .execute(conn)?;

    let loaded: Customer = customers::table
        .find(1)
        .select(Customer::as_select())
        .first(conn)?;
    assert_eq!(loaded.ssn()?.as_deref(), Some("078-05-1120"));
    assert_eq!(loaded.phone()?, "+1 (555) 010-0100");
    assert_eq!(loaded.email()?.as_deref(), Some("Ada@Example.org"));

    let stored_ssn: Option<Vec<u8>> = customers::table
        .find(1)
        .select(customers::_ssn)
        .first(conn)?;
    let stored_ssn = stored_ssn.ok_or("the SSN was stored")?;
    assert!(
        !stored_ssn.windows(4).any(|w| w == b"1120"),
        "the database holds no plaintext"
    );
    Ok(())
}

#[test]
fn a_nullable_column_left_unset_is_null_and_reads_none() -> TestResult {
    let conn = &mut database()?;
    diesel::insert_into(customers::table)
        .values(&customer(1, "Bob", "555 0101")?)
        .execute(conn)?;
    let loaded: Customer = customers::table
        .find(1)
        .select(Customer::as_select())
        .first(conn)?;
    assert_eq!((loaded._ssn.as_ref(), loaded.ssn()?), (None, None));
    Ok(())
}

#[test]
fn a_row_is_found_by_a_blind_index_filter_whatever_the_formatting() -> TestResult {
    let conn = &mut database()?;
    let rows = [
        customer(1, "Ada", "+1 (555) 010-0100")?,
        customer(2, "Bob", "+1 (555) 010-0199")?,
    ];
    diesel::insert_into(customers::table)
        .values(&rows[..])
        .execute(conn)?;

    let found: Vec<Customer> = customers::table
        .filter(customers::phone_bidx.eq(Customer::phone_index("1-555-010-0100")?))
        .select(Customer::as_select())
        .load(conn)?;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "Ada");
    assert_eq!(found[0].phone()?, "+1 (555) 010-0100");
    Ok(())
}

#[test]
fn a_text_blind_index_finds_a_row_too() -> TestResult {
    let conn = &mut database()?;
    let mut ada = customer(1, "Ada", "555 0100")?;
    ada.set_email("Ada@Example.org")?;
    diesel::insert_into(customers::table)
        .values(&ada)
        .execute(conn)?;
    let name: String = customers::table
        .filter(customers::email_bidx.eq(Customer::email_index("  ada@example.ORG")?))
        .select(customers::name)
        .first(conn)?;
    assert_eq!(name, "Ada");
    Ok(())
}

#[test]
fn an_update_through_as_changeset_stores_the_new_value_and_index() -> TestResult {
    let conn = &mut database()?;
    let mut ada = customer(1, "Ada", "555 0100")?;
    diesel::insert_into(customers::table)
        .values(&ada)
        .execute(conn)?;
    ada.set_phone("555 0199")?;
    ada.clear_ssn();
    diesel::update(&ada).set(&ada).execute(conn)?;

    let loaded: Customer = customers::table
        .find(1)
        .select(Customer::as_select())
        .first(conn)?;
    assert_eq!(loaded.phone()?, "555 0199");
    let found: i64 = customers::table
        .filter(customers::phone_bidx.eq(Customer::phone_index("5550199")?))
        .count()
        .get_result(conn)?;
    assert_eq!(found, 1);
    Ok(())
}

#[test]
fn a_value_copied_into_another_column_by_sql_does_not_decrypt() -> TestResult {
    let conn = &mut database()?;
    diesel::insert_into(customers::table)
        .values(&customer(1, "Ada", "555 0100")?)
        .execute(conn)?;
    diesel::sql_query("UPDATE customers SET _ssn = phone").execute(conn)?;
    let loaded: Customer = customers::table
        .find(1)
        .select(Customer::as_select())
        .first(conn)?;
    assert!(matches!(
        loaded.ssn(),
        Err(encrypted_field::Error::Authentication { .. })
    ));
    Ok(())
}

#[derive(QueryableByName)]
struct RawValue {
    #[diesel(sql_type = Integer)]
    key: i32,
    #[diesel(sql_type = Nullable<Binary>)]
    value: Option<Vec<u8>>,
}

/// What a generic rotation does: raw SQL built from the `ModelSpec` alone, no model code.
#[test]
fn the_model_spec_names_real_columns_and_their_contexts() -> TestResult {
    let conn = &mut database()?;
    let mut ada = customer(7, "Ada", "555 0100")?;
    ada.set_ssn("078-05-1120")?;
    diesel::insert_into(customers::table)
        .values(&ada)
        .execute(conn)?;

    let spec = Customer::model_spec();
    spec.validate()?;
    assert_eq!((spec.table(), spec.primary_key()), ("customers", "id"));
    let columns: Vec<&str> = spec.columns().iter().map(|c| c.column()).collect();
    assert_eq!(
        columns,
        ["_ssn", "phone", "_email"],
        "Diesel's column_name is honoured"
    );
    let ring = ring();
    for column in spec
        .columns()
        .iter()
        .filter(|c| c.storage() == Storage::Binary)
    {
        let query = format!(
            r#"SELECT "{key}" AS key, "{column}" AS value FROM "{table}" ORDER BY "{key}""#,
            key = spec.primary_key(),
            column = column.column(),
            table = spec.table(),
        );
        let rows: Vec<RawValue> = diesel::sql_query(query).load(conn)?;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].key, 7);
        let value = rows[0].value.as_deref().ok_or("a value was written")?;
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
    Ok(())
}
