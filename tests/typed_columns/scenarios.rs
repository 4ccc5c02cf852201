//! The scenarios every backend runs, written once: this file is compiled once per backend, with
//! `super::Conn` naming that backend's connection. Each test works in a TEMPORARY table of its own
//! connection, so tests run in parallel and reruns never collide.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use encrypted_field::EncryptedModel;
use encrypted_field::diesel::Encrypted;
use encrypted_field::testing;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::Conn;
use crate::common::TestBackend;

diesel::table! {
    typed_values (id) {
        id -> Integer,
        born -> Binary,
        seen_at -> Text,
        account -> Binary,
        balance -> Nullable<Text>,
    }
}

encrypted_field::column_context!(Born = "typed_values.born");
encrypted_field::column_context!(SeenAt = "typed_values.seen_at");
encrypted_field::column_context!(Account = "typed_values.account");
encrypted_field::column_context!(Balance = "typed_values.balance");

/// The row through `chrono`'s types.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = typed_values)]
struct ChronoRow {
    id: i32,
    born: Encrypted<NaiveDate, Born>,
    seen_at: Encrypted<DateTime<Utc>, SeenAt>,
    account: Encrypted<Uuid, Account>,
    balance: Option<Encrypted<Decimal, Balance>>,
}

/// The same columns through `time`'s types.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = typed_values)]
struct TimeRow {
    id: i32,
    born: Encrypted<time::Date, Born>,
    seen_at: Encrypted<time::OffsetDateTime, SeenAt>,
    account: Encrypted<Uuid, Account>,
    balance: Option<Encrypted<Decimal, Balance>>,
}

/// The same columns again, as a derived model: ciphertext in the fields, typed getters and
/// setters. Its contexts are `typed_values.<column>`, as above, so both read each other's rows.
#[derive(Debug, Default, Queryable, Selectable, Insertable, EncryptedModel)]
#[diesel(table_name = typed_values)]
struct TypedValue {
    id: i32,
    #[encrypted(ty = time::Date)]
    #[diesel(column_name = born)]
    _born: Vec<u8>,
    #[encrypted(ty = chrono::DateTime<chrono::Utc>)]
    #[diesel(column_name = seen_at)]
    _seen_at: String,
    #[encrypted(ty = uuid::Uuid)]
    #[diesel(column_name = account)]
    _account: Vec<u8>,
    #[encrypted(ty = rust_decimal::Decimal)]
    #[diesel(column_name = balance)]
    _balance: Option<String>,
}

const BORN: &str = "1984-02-29";
const SEEN_AT: &str = "2024-02-29T13:45:07.250000000Z";
const ACCOUNT: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";
const BALANCE: &str = "1234.50";

/// A connection with the process-wide test ring installed and an empty `typed_values` table, or
/// `None` when this backend is not configured.
fn database() -> Option<Conn> {
    testing::install_ring();
    let mut conn = Conn::connect()?;
    diesel::sql_query(format!(
        "CREATE TEMPORARY TABLE typed_values (id INTEGER PRIMARY KEY NOT NULL, born {b} NOT NULL, \
         seen_at TEXT NOT NULL, account {b} NOT NULL, balance TEXT)",
        b = Conn::BINARY
    ))
    .execute(&mut conn)
    .unwrap();
    Some(conn)
}

fn chrono_row(id: i32) -> ChronoRow {
    ChronoRow {
        id,
        born: Encrypted::new(NaiveDate::from_ymd_opt(1984, 2, 29).unwrap()),
        seen_at: Encrypted::new(
            NaiveDate::from_ymd_opt(2024, 2, 29)
                .unwrap()
                .and_hms_milli_opt(13, 45, 7, 250)
                .unwrap()
                .and_utc(),
        ),
        account: Encrypted::new(Uuid::try_parse(ACCOUNT).unwrap()),
        balance: Some(Encrypted::new(Decimal::new(123_450, 2))),
    }
}

fn time_row(id: i32) -> TimeRow {
    let born = time::Date::from_calendar_date(1984, time::Month::February, 29).unwrap();
    // 15:45:07.25 at +02:00: the instant of `SEEN_AT`.
    let seen_at = time::PrimitiveDateTime::new(
        time::Date::from_calendar_date(2024, time::Month::February, 29).unwrap(),
        time::Time::from_hms_milli(15, 45, 7, 250).unwrap(),
    )
    .assume_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
    TimeRow {
        id,
        born: Encrypted::new(born),
        seen_at: Encrypted::new(seen_at),
        account: Encrypted::new(Uuid::try_parse(ACCOUNT).unwrap()),
        balance: Some(Encrypted::new(Decimal::new(123_450, 2))),
    }
}

/// Every column of `typed_values` as the database holds it: ciphertext, never one of the
/// plaintexts' text forms.
fn assert_stored_values_are_ciphertext(conn: &mut Conn) {
    let plaintexts = [BORN, SEEN_AT, ACCOUNT, BALANCE];
    let binary: Vec<(Vec<u8>, Vec<u8>)> = typed_values::table
        .select((typed_values::born, typed_values::account))
        .load(conn)
        .unwrap();
    let text: Vec<(String, Option<String>)> = typed_values::table
        .select((typed_values::seen_at, typed_values::balance))
        .load(conn)
        .unwrap();
    testing::assert_no_plaintext(binary.iter().flat_map(|(a, b)| [a, b]), plaintexts);
    testing::assert_no_plaintext(
        text.iter()
            .flat_map(|(a, b)| [Some(a), b.as_ref()])
            .flatten(),
        plaintexts,
    );
}

#[test]
fn typed_columns_round_trip_through_encrypted() {
    let Some(mut conn) = database() else { return };
    let mut row = chrono_row(1);
    row.balance = None;
    let rows = [row, chrono_row(2)];
    diesel::insert_into(typed_values::table)
        .values(&rows[..])
        .execute(&mut conn)
        .unwrap();
    let read: Vec<ChronoRow> = typed_values::table
        .select(ChronoRow::as_select())
        .order(typed_values::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(read, rows);
    assert_eq!(read[1].balance.as_ref().unwrap().to_string(), BALANCE);
    assert_stored_values_are_ciphertext(&mut conn);
}

#[test]
fn a_column_written_with_chrono_reads_with_time_and_back() {
    let Some(mut conn) = database() else { return };
    diesel::insert_into(typed_values::table)
        .values(&chrono_row(1))
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(typed_values::table)
        .values(&time_row(2))
        .execute(&mut conn)
        .unwrap();
    let as_time: Vec<TimeRow> = typed_values::table
        .select(TimeRow::as_select())
        .order(typed_values::id)
        .load(&mut conn)
        .unwrap();
    // The same instant, now at offset zero: `OffsetDateTime` compares instants.
    assert_eq!(as_time, [time_row(1), time_row(2)]);
    assert_eq!(as_time[1].seen_at.offset(), time::UtcOffset::UTC);
    let as_chrono: Vec<ChronoRow> = typed_values::table
        .select(ChronoRow::as_select())
        .order(typed_values::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(as_chrono, [chrono_row(1), chrono_row(2)]);
    assert_stored_values_are_ciphertext(&mut conn);
}

#[test]
fn derived_models_write_and_read_typed_plaintexts() {
    let Some(mut conn) = database() else { return };
    let expected = chrono_row(1);
    let mut value = TypedValue {
        id: 1,
        ..TypedValue::default()
    };
    value.set_born(*time_row(1).born).unwrap();
    value.set_seen_at(*expected.seen_at).unwrap();
    value.set_account(*expected.account).unwrap();
    value
        .set_balance(**expected.balance.as_ref().unwrap())
        .unwrap();
    diesel::insert_into(typed_values::table)
        .values(&value)
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(typed_values::table)
        .values(&chrono_row(2))
        .execute(&mut conn)
        .unwrap();

    // What the derived model wrote reads through `Encrypted`, and the reverse.
    let read: ChronoRow = typed_values::table
        .find(1)
        .select(ChronoRow::as_select())
        .first(&mut conn)
        .unwrap();
    assert_eq!(read, expected);
    let read: TypedValue = typed_values::table
        .find(2)
        .select(TypedValue::as_select())
        .first(&mut conn)
        .unwrap();
    assert_eq!(read.born().unwrap(), *time_row(2).born);
    assert_eq!(read.seen_at().unwrap(), *expected.seen_at);
    assert_eq!(read.account().unwrap().to_string(), ACCOUNT);
    assert_eq!(read.balance().unwrap().unwrap().to_string(), BALANCE);
    assert_stored_values_are_ciphertext(&mut conn);
}
