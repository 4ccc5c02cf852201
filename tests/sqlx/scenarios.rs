//! What an application does with encrypted columns through sqlx: bind, read into `FromRow`
//! structs, `NULL`s, and the errors of a value that cannot be read. Compiled once per backend,
//! with `super::Db` naming the sqlx database.

use chrono::NaiveDate;
use encrypted_field::sqlx::{Encrypted, EncryptedText};
use encrypted_field::testing::assert_no_plaintext;

use super::Db;
use crate::{SqlxBackend, connect};

type Conn = <Db as sqlx::Database>::Connection;

encrypted_field::column_context!(Name = "ef_sqlx_people.name");
encrypted_field::column_context!(Balance = "ef_sqlx_people.balance");
encrypted_field::column_context!(Born = "ef_sqlx_people.born");
encrypted_field::column_context!(Note = "ef_sqlx_people.note");

/// A row with one column of each kind: binary and text storage, `String`, `i64` and a date,
/// `NULL` allowed or not.
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Person {
    id: i64,
    name: Encrypted<String, Name>,
    balance: EncryptedText<i64, Balance>,
    born: Option<Encrypted<NaiveDate, Born>>,
    note: Option<EncryptedText<String, Note>>,
}

fn people() -> [Person; 2] {
    [
        Person {
            id: 1,
            name: Encrypted::new("Ada Lovelace".to_owned()),
            balance: EncryptedText::new(-1_234_567_890_123),
            born: Some(Encrypted::new(
                NaiveDate::from_ymd_opt(1815, 12, 10).unwrap(),
            )),
            note: Some(EncryptedText::new(
                "prefers the analytical engine".to_owned(),
            )),
        },
        Person {
            id: 2,
            name: Encrypted::new("Charles Babbage".to_owned()),
            balance: EncryptedText::new(42),
            born: None,
            note: None,
        },
    ]
}

/// A row of `Person`'s table as the database holds it: `name`, `balance`, `born`, `note`.
type StoredPerson = (Vec<u8>, String, Option<Vec<u8>>, Option<String>);

/// Runs each statement on `conn`.
pub(super) async fn execute_all(conn: &mut Conn, statements: &[String]) {
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// Drops and creates `table`, a table of `Person`s of this test's own (the tests of one backend
/// run at the same time; the column contexts are `ef_sqlx_people`'s in every one).
async fn create_people(conn: &mut Conn, table: &str) {
    execute_all(
        conn,
        &[
            format!("DROP TABLE IF EXISTS {table}"),
            format!(
                "CREATE TABLE {table} (id {} PRIMARY KEY NOT NULL, name {b} NOT NULL, \
                 balance TEXT NOT NULL, born {b}, note TEXT)",
                Db::BIGINT,
                b = Db::BINARY
            ),
        ],
    )
    .await;
}

async fn insert_person(conn: &mut Conn, table: &str, person: &Person) {
    let sql = format!(
        "INSERT INTO {table} (id, name, balance, born, note) VALUES ({})",
        Db::placeholders(5)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(person.id)
        .bind(&person.name)
        .bind(&person.balance)
        .bind(&person.born)
        .bind(&person.note)
        .execute(&mut *conn)
        .await
        .unwrap();
}

async fn read_people(conn: &mut Conn, table: &str) -> Result<Vec<Person>, sqlx::Error> {
    let sql = format!("SELECT id, name, balance, born, note FROM {table} ORDER BY id");
    sqlx::query_as::<Db, Person>(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
}

async fn drop_table(conn: &mut Conn, table: &str) {
    execute_all(conn, &[format!("DROP TABLE {table}")]).await;
}

/// The `encrypted_field::Error` behind a sqlx error, and the column sqlx names.
fn decode_failure(error: &sqlx::Error) -> (String, &encrypted_field::Error) {
    match error {
        sqlx::Error::ColumnDecode { index, source } => (
            index.clone(),
            source
                .downcast_ref::<encrypted_field::Error>()
                .unwrap_or_else(|| panic!("not an encrypted_field::Error: {source}")),
        ),
        other => panic!("expected a column decode error, got {other}"),
    }
}

#[test]
fn from_row_structs_read_back_what_was_bound() {
    crate::run::<Db>(async |url| {
        let table = "ef_sqlx_people_round_trip";
        let conn = &mut connect::<Db>(&url).await;
        create_people(conn, table).await;
        let people = people();
        for person in &people {
            insert_person(conn, table, person).await;
        }

        assert_eq!(read_people(conn, table).await.unwrap(), people);
        drop_table(conn, table).await;
    });
}

#[test]
fn columns_hold_envelopes_and_their_base64_never_the_plaintext() {
    crate::run::<Db>(async |url| {
        let table = "ef_sqlx_people_stored";
        let conn = &mut connect::<Db>(&url).await;
        create_people(conn, table).await;
        for person in &people() {
            insert_person(conn, table, person).await;
        }

        let stored: Vec<StoredPerson> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT name, balance, born, note FROM {table} ORDER BY id"
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let names: Vec<&Vec<u8>> = stored.iter().map(|row| &row.0).collect();
        assert!(
            names
                .iter()
                .all(|name| encrypted_field::envelope::is_envelope(name))
        );
        assert_no_plaintext(&names, ["Ada Lovelace", "Charles Babbage"]);
        let notes: Vec<&String> = stored.iter().filter_map(|row| row.3.as_ref()).collect();
        assert_no_plaintext(&notes, ["prefers the analytical engine"]);
        // A text column holds the standard base64 of an envelope bound to its own column.
        let ring = encrypted_field::global().unwrap();
        use base64::Engine as _;
        let balance = base64::engine::general_purpose::STANDARD
            .decode(&stored[0].1)
            .unwrap();
        assert_eq!(
            ring.decrypt_with_context(&balance, "ef_sqlx_people.balance")
                .unwrap(),
            b"-1234567890123"
        );
        assert_eq!(
            (stored[1].2.as_ref(), stored[1].3.as_ref()),
            (None, None),
            "NULL stays NULL"
        );
        drop_table(conn, table).await;
    });
}

#[test]
fn a_value_copied_from_another_column_fails_naming_the_column_not_the_value() {
    crate::run::<Db>(async |url| {
        let table = "ef_sqlx_people_copied";
        let conn = &mut connect::<Db>(&url).await;
        create_people(conn, table).await;
        for person in &people() {
            insert_person(conn, table, person).await;
        }
        // Row 2's `born` gets row 1's `name`: a well-formed envelope, from another column.
        execute_all(
            conn,
            // The derived table: MySQL cannot select from the table an UPDATE writes.
            &[format!(
                "UPDATE {table} SET born = (SELECT name FROM (SELECT name FROM {table} \
                 WHERE id = 1) AS copied) WHERE id = 2"
            )],
        )
        .await;

        let error = read_people(conn, table).await.unwrap_err();
        let (column, reason) = decode_failure(&error);
        assert_eq!(column, "\"born\"", "sqlx quotes the column's name");
        assert!(
            matches!(reason, encrypted_field::Error::Authentication { context } if context == "ef_sqlx_people.born"),
            "{reason:?}"
        );
        let message = error.to_string();
        assert!(message.contains("ef_sqlx_people.born"), "{message}");
        assert!(!message.contains("Ada"), "{message}");
        drop_table(conn, table).await;
    });
}

#[test]
fn a_value_under_a_key_that_is_not_loaded_is_a_decode_error_naming_the_version() {
    crate::run::<Db>(async |url| {
        let table = "ef_sqlx_people_unknown_key";
        let conn = &mut connect::<Db>(&url).await;
        create_people(conn, table).await;
        insert_person(conn, table, &people()[1]).await;
        let foreign = encrypted_field::KeyRing::builder()
            .key(9, encrypted_field::MasterKey::from_bytes([0x99; 32]))
            .build()
            .unwrap();
        let envelope = foreign.encrypt_with_context(b"Mallory", "ef_sqlx_people.name");
        let sql = format!(
            "UPDATE {table} SET name = {} WHERE id = 2",
            Db::placeholders(1)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(envelope)
            .execute(&mut *conn)
            .await
            .unwrap();

        let error = read_people(conn, table).await.unwrap_err();
        let (column, reason) = decode_failure(&error);
        assert_eq!(column, "\"name\"", "sqlx quotes the column's name");
        assert!(
            matches!(
                reason,
                encrypted_field::Error::Column { column, error }
                    if column == "ef_sqlx_people.name"
                        && matches!(**error, encrypted_field::Error::UnknownKeyVersion(_))
            ),
            "{reason:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("ef_sqlx_people.name") && message.contains("v9"),
            "{message}"
        );
        assert!(!message.contains("Mallory"), "{message}");
        drop_table(conn, table).await;
    });
}

#[test]
fn a_column_of_the_other_storage_is_a_mismatched_type_error() {
    crate::run::<Db>(async |url| {
        let table = "ef_sqlx_people_storage";
        let conn = &mut connect::<Db>(&url).await;
        create_people(conn, table).await;
        insert_person(conn, table, &people()[0]).await;

        // `name` is binary, `balance` is text: each read as the other storage.
        let binary_as_text = sqlx::query_scalar::<Db, EncryptedText<String, Name>>(
            sqlx::AssertSqlSafe(format!("SELECT name FROM {table}")),
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap_err();
        let text_as_binary = sqlx::query_scalar::<Db, Encrypted<i64, Balance>>(
            sqlx::AssertSqlSafe(format!("SELECT balance FROM {table}")),
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap_err();
        for error in [binary_as_text, text_as_binary] {
            let message = error.to_string();
            assert!(
                matches!(error, sqlx::Error::ColumnDecode { .. })
                    && message.contains("mismatched types"),
                "{message}"
            );
        }
        drop_table(conn, table).await;
    });
}
