//! With no key ring installed and none configured, `Encrypted<T>` neither writes nor reads: each
//! is a Diesel error that names the column and says how to configure a key. A binary of its own,
//! because the process-wide ring, once installed, cannot be removed.
#![cfg(feature = "sqlite")]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;

use common::schema::{PhoneNumber, PhoneRequest, phone_requests};
use diesel::prelude::*;
use encrypted_field::Error;
use encrypted_field::diesel::{ColumnContext as _, Encrypted};

/// A connection with one row written by an explicit ring, or `None` when the environment
/// configures a key (then the process-wide ring would load it, and there is nothing to test).
fn setup() -> Option<SqliteConnection> {
    let configured = [
        "ENCRYPTED_FIELD_KEYS_DIR",
        "DB_ENCRYPTION_KEY_FILE",
        "DB_ENCRYPTION_KEY",
    ]
    .into_iter()
    .find(|var| std::env::var_os(var).is_some());
    if let Some(var) = configured {
        eprintln!("skipped: {var} is set, so a key ring is configured");
        return None;
    }
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    diesel::sql_query(
        "CREATE TABLE phone_requests (id INTEGER PRIMARY KEY, phone_number BLOB NOT NULL)",
    )
    .execute(&mut conn)
    .unwrap();
    let sealed = common::old_ring().encrypt_with_context(b"+1 555 0100", PhoneNumber::CONTEXT);
    diesel::insert_into(phone_requests::table)
        .values((
            phone_requests::id.eq(1),
            phone_requests::phone_number.eq(sealed),
        ))
        .execute(&mut conn)
        .unwrap();
    Some(conn)
}

fn assert_no_key_for_the_column(error: &diesel::result::Error) {
    let found = common::encrypted_field_error(error);
    assert!(
        matches!(found, Error::Column { column, error }
            if column == "phone_requests.phone_number" && matches!(**error, Error::NoKeyConfigured)),
        "{found}"
    );
    assert!(found.to_string().contains("DB_ENCRYPTION_KEY"), "{found}");
}

#[test]
fn writing_without_a_key_ring_is_a_serialization_error_naming_the_column() {
    let Some(mut conn) = setup() else { return };
    let row = PhoneRequest {
        id: 2,
        phone_number: Encrypted::new("+1 555 0199".to_owned()),
    };
    let error = diesel::insert_into(phone_requests::table)
        .values(&row)
        .execute(&mut conn)
        .unwrap_err();
    assert!(
        matches!(error, diesel::result::Error::SerializationError(_)),
        "{error:?}"
    );
    assert_no_key_for_the_column(&error);
    assert_eq!(
        phone_requests::table
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap(),
        1
    );
}

#[test]
fn reading_without_a_key_ring_is_a_deserialization_error_naming_the_column() {
    let Some(mut conn) = setup() else { return };
    let error = phone_requests::table
        .select(PhoneRequest::as_select())
        .load(&mut conn)
        .unwrap_err();
    assert!(
        matches!(error, diesel::result::Error::DeserializationError(_)),
        "{error:?}"
    );
    assert_no_key_for_the_column(&error);
}
