//! The scenarios every backend runs through its diesel-async connection, written once: this file
//! is compiled once per backend, with `super::Conn` naming that connection type. Each test works
//! in TEMPORARY tables of its own connection, so tests run in parallel and reruns never collide.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer, Text};
use diesel_async::RunQueryDsl;
use encrypted_field::diesel::Encrypted;
use encrypted_field::envelope::is_envelope;
use encrypted_field::{Error, KeyVersion};

use super::Conn;
use crate::common::encrypted_field_error;
use crate::common::schema::{Customer, MaybeBin, Secret, SecretText, customers, secrets};
use crate::{AsyncBackend, connect};

/// A connection with empty TEMPORARY `secrets` and `customers` tables.
async fn setup(url: &str) -> Conn {
    let mut conn = connect::<Conn>(url).await;
    for table in [
        "secrets (id INTEGER PRIMARY KEY, secret_bin {b} NOT NULL, secret_text TEXT NOT NULL, \
         maybe_bin {b}, maybe_text TEXT)",
        "customers (id INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, _ssn {b}, \
         phone {b} NOT NULL, phone_bidx {b} NOT NULL, _email TEXT, email_bidx TEXT)",
    ] {
        let table = table.replace("{b}", Conn::BINARY);
        diesel::sql_query(format!("CREATE TEMPORARY TABLE {table}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn
}

fn secret(id: i32, bin: &str, text: &str) -> Secret {
    Secret {
        id,
        secret_bin: Encrypted::new(bin.to_owned()),
        secret_text: Encrypted::new(text.to_owned()),
        maybe_bin: Some(Encrypted::new(vec![0, 1, 0xff])),
        maybe_text: Some(Encrypted::new(i64::from(id) * -1_000_000_007)),
    }
}

/// Inserts `rows` one statement each: diesel-async's `SyncConnectionWrapper<SqliteConnection>`
/// has no multi-row insert (synchronous Diesel emulates one for SQLite; the wrapper does not).
async fn insert(conn: &mut Conn, rows: &[Secret]) {
    for row in rows {
        diesel::insert_into(secrets::table)
            .values(row)
            .execute(conn)
            .await
            .unwrap();
    }
}

async fn insert_customers(conn: &mut Conn, rows: &[Customer]) {
    for row in rows {
        diesel::insert_into(customers::table)
            .values(row)
            .execute(conn)
            .await
            .unwrap();
    }
}

async fn load(conn: &mut Conn, id: i32) -> QueryResult<Secret> {
    secrets::table
        .find(id)
        .select(Secret::as_select())
        .first(conn)
        .await
}

/// The two required columns of a row as plain SQL sees them.
async fn stored(conn: &mut Conn, id: i32) -> (Vec<u8>, String) {
    secrets::table
        .find(id)
        .select((secrets::secret_bin, secrets::secret_text))
        .first(conn)
        .await
        .unwrap()
}

/// Replaces the two required columns of a row with plain SQL, bypassing `Encrypted`.
async fn overwrite_raw(conn: &mut Conn, id: i32, bin: &[u8], text: &str) {
    diesel::sql_query(format!("DELETE FROM secrets WHERE id = {id}"))
        .execute(conn)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO secrets (id, secret_bin, secret_text) VALUES ({})",
        Conn::placeholders(3)
    ))
    .bind::<Integer, _>(id)
    .bind::<Binary, _>(bin)
    .bind::<Text, _>(text)
    .execute(conn)
    .await
    .unwrap();
}

#[test]
fn binary_text_and_nullable_columns_round_trip() {
    crate::run::<Conn>(async |url| {
        let conn = &mut setup(&url).await;
        let mut unset = secret(2, "+1 555 0199", "219-09-9999");
        (unset.maybe_bin, unset.maybe_text) = (None, None);
        let rows = [secret(1, "+1 555 0100", "078-05-1120"), unset];
        insert(conn, &rows).await;

        let read: Vec<Secret> = secrets::table
            .select(Secret::as_select())
            .order(secrets::id)
            .load(conn)
            .await
            .unwrap();
        assert_eq!(read, rows);
        let nulls: (Option<Vec<u8>>, Option<String>) = secrets::table
            .find(2)
            .select((secrets::maybe_bin, secrets::maybe_text))
            .first(conn)
            .await
            .unwrap();
        assert_eq!(nulls, (None, None), "`None` is SQL NULL");
    });
}

#[test]
fn columns_hold_envelopes_bound_to_their_column_never_the_plaintext() {
    crate::run::<Conn>(async |url| {
        let conn = &mut setup(&url).await;
        insert(conn, &[secret(1, "+1 555 0100", "078-05-1120")]).await;
        let (bin, text) = stored(conn, 1).await;
        let ring = encrypted_field::global().unwrap();

        assert!(is_envelope(&bin));
        assert!(!bin.windows(4).any(|w| w == b"0100"));
        assert_eq!(ring.version_of(&bin).unwrap(), KeyVersion::new(2));
        assert_eq!(
            ring.decrypt_with_context(&bin, "secrets.secret_bin")
                .unwrap(),
            b"+1 555 0100"
        );
        assert!(!text.contains("1120"));
        assert!(is_envelope(&STANDARD.decode(&text).unwrap()));
        assert_eq!(
            ring.decrypt_base64(&text, "secrets.secret_text").unwrap(),
            b"078-05-1120"
        );
    });
}

#[test]
fn updates_through_as_changeset_and_single_columns_round_trip() {
    crate::run::<Conn>(async |url| {
        let conn = &mut setup(&url).await;
        let mut row = secret(1, "+1 555 0100", "078-05-1120");
        insert(conn, std::slice::from_ref(&row)).await;

        *row.secret_bin = "+1 555 0199".to_owned();
        row.maybe_text = None;
        diesel::update(&row).set(&row).execute(conn).await.unwrap();
        assert_eq!(load(conn, 1).await.unwrap(), row);

        let text: Encrypted<String, SecretText> = Encrypted::new("219-09-9999".to_owned());
        diesel::update(secrets::table.find(1))
            .set((
                secrets::secret_text.eq(&text),
                secrets::maybe_bin.eq(None::<Encrypted<Vec<u8>, MaybeBin>>),
            ))
            .execute(conn)
            .await
            .unwrap();
        let read = load(conn, 1).await.unwrap();
        assert_eq!((read.secret_text, read.maybe_bin), (text, None));
    });
}

#[test]
fn tampered_value_fails_its_row_with_an_error_naming_the_column() {
    crate::run::<Conn>(async |url| {
        let conn = &mut setup(&url).await;
        insert(conn, &[secret(1, "one", "1"), secret(2, "two", "2")]).await;
        let (mut bin, text) = stored(conn, 1).await;
        let last = bin.len() - 20;
        bin[last] ^= 0x01;
        overwrite_raw(conn, 1, &bin, &text).await;

        let failed = load(conn, 1).await.unwrap_err();
        let error = encrypted_field_error(&failed);
        assert!(
            matches!(&error, Error::Authentication { context } if context == "secrets.secret_bin"),
            "{error}"
        );
        assert!(error.to_string().contains("secrets.secret_bin"), "{error}");
        assert_eq!(load(conn, 2).await.unwrap(), secret(2, "two", "2"));
    });
}

#[test]
fn values_copied_into_another_column_fail_with_an_error_naming_that_column() {
    crate::run::<Conn>(async |url| {
        let conn = &mut setup(&url).await;
        insert(conn, &[secret(1, "+1 555 0100", "12345")]).await;
        diesel::sql_query("UPDATE secrets SET maybe_bin = secret_bin")
            .execute(conn)
            .await
            .unwrap();
        let failed = load(conn, 1).await.unwrap_err();
        let error = encrypted_field_error(&failed);
        assert!(
            matches!(&error, Error::Authentication { context } if context == "secrets.maybe_bin"),
            "{error}"
        );

        diesel::sql_query("UPDATE secrets SET maybe_bin = NULL, maybe_text = secret_text")
            .execute(conn)
            .await
            .unwrap();
        let failed = load(conn, 1).await.unwrap_err();
        let error = encrypted_field_error(&failed);
        assert!(
            matches!(&error, Error::Authentication { context } if context == "secrets.maybe_text"),
            "{error}"
        );
    });
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

async fn load_customer(conn: &mut Conn, id: i32) -> Customer {
    customers::table
        .find(id)
        .select(Customer::as_select())
        .first(conn)
        .await
        .unwrap()
}

#[test]
fn a_derived_model_round_trips_through_its_setters_and_getters() {
    crate::run::<Conn>(async |url| {
        let conn = &mut setup(&url).await;
        let mut ada = customer(1, "Ada", "+1 (555) 010-0100");
        ada.set_ssn("078-05-1120").unwrap();
        ada.set_email("Ada@Example.org").unwrap();
        insert_customers(conn, &[ada, customer(2, "Bob", "555 0101")]).await;

        let loaded = load_customer(conn, 1).await;
        assert_eq!(loaded.ssn().unwrap().as_deref(), Some("078-05-1120"));
        assert_eq!(loaded.phone().unwrap(), "+1 (555) 010-0100");
        assert_eq!(loaded.email().unwrap().as_deref(), Some("Ada@Example.org"));
        assert_eq!(load_customer(conn, 2).await.ssn().unwrap(), None);

        let mut ada = loaded;
        ada.set_phone("555 0199").unwrap();
        ada.set_ssn("219-09-9999").unwrap();
        diesel::update(&ada).set(&ada).execute(conn).await.unwrap();
        let loaded = load_customer(conn, 1).await;
        assert_eq!(
            (loaded.phone().unwrap(), loaded.ssn().unwrap()),
            ("555 0199".to_owned(), Some("219-09-9999".to_owned()))
        );
        let found: i64 = customers::table
            .filter(customers::phone_bidx.eq(Customer::phone_index("5550199").unwrap()))
            .count()
            .get_result(conn)
            .await
            .unwrap();
        assert_eq!(found, 1, "the setter refreshed the blind index");
    });
}

#[test]
fn a_derived_model_is_found_by_its_blind_indexes() {
    crate::run::<Conn>(async |url| {
        let conn = &mut setup(&url).await;
        let mut ada = customer(1, "Ada", "+1 (555) 010-0100");
        ada.set_email("Ada@Example.org").unwrap();
        insert_customers(conn, &[ada, customer(2, "Bob", "+1 (555) 010-0199")]).await;

        let found: Vec<Customer> = customers::table
            .filter(customers::phone_bidx.eq(Customer::phone_index("1-555-010-0100").unwrap()))
            .select(Customer::as_select())
            .load(conn)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].phone().unwrap(), "+1 (555) 010-0100");
        let name: String = customers::table
            .filter(customers::email_bidx.eq(Customer::email_index(" ada@example.ORG").unwrap()))
            .select(customers::name)
            .first(conn)
            .await
            .unwrap();
        assert_eq!(name, "Ada");
        let none: i64 = customers::table
            .filter(customers::phone_bidx.eq(Customer::phone_index("555 0100").unwrap()))
            .count()
            .get_result(conn)
            .await
            .unwrap();
        assert_eq!(none, 0);
    });
}

#[test]
fn a_derived_model_value_copied_into_another_column_does_not_decrypt() {
    crate::run::<Conn>(async |url| {
        let conn = &mut setup(&url).await;
        insert_customers(conn, &[customer(1, "Ada", "555 0100")]).await;
        diesel::sql_query("UPDATE customers SET _ssn = phone")
            .execute(conn)
            .await
            .unwrap();
        let error = load_customer(conn, 1).await.ssn().unwrap_err();
        assert!(
            matches!(&error, Error::Authentication { context } if context == "customers._ssn"),
            "{error}"
        );
    });
}
