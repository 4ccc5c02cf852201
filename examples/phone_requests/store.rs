//! The queries of the application: plain Diesel over the `phone_requests` table, run on any of
//! the three backends. Values arrive here already encrypted; nothing here sees a key.

use crate::db::{Connection, with_connection};
use crate::error::AppError;
use crate::model::{NewPhoneRequest, PhoneChange, PhoneRequest, phone_requests};
use diesel::Connection as _;
use diesel::prelude::*;

/// Rows per `INSERT` statement when seeding: 5 binds each, well under every backend's limit.
const ROWS_PER_INSERT: usize = 500;

/// Inserts one row and returns the id the database gave it.
pub fn insert(db: &mut Connection, row: &NewPhoneRequest) -> Result<i32, AppError> {
    let failed = |e: diesel::result::Error| AppError::database("inserting a phone request", &e);
    match db {
        Connection::Sqlite(conn) => diesel::insert_into(phone_requests::table)
            .values(row)
            .returning(phone_requests::id)
            .get_result(conn)
            .map_err(failed),
        #[cfg(feature = "postgres")]
        Connection::Postgres(conn) => diesel::insert_into(phone_requests::table)
            .values(row)
            .returning(phone_requests::id)
            .get_result(conn)
            .map_err(failed),
        // MySQL has no RETURNING: the id is the connection's LAST_INSERT_ID().
        #[cfg(feature = "mysql")]
        Connection::Mysql(conn) => {
            let id: i64 = conn
                .transaction(|conn| {
                    diesel::insert_into(phone_requests::table)
                        .values(row)
                        .execute(conn)?;
                    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                        "CAST(LAST_INSERT_ID() AS SIGNED)",
                    ))
                    .get_result(conn)
                })
                .map_err(failed)?;
            i32::try_from(id).map_err(|_| {
                AppError::usage(format!(
                    "the database gave id {id}, beyond the id column's type"
                ))
            })
        }
    }
}

/// Inserts `count` rows made by `make`, in one transaction, [`ROWS_PER_INSERT`] per statement:
/// only one statement's rows are in memory at a time. Nothing is inserted if anything fails.
pub fn insert_many(
    db: &mut Connection,
    count: usize,
    mut make: impl FnMut() -> Result<NewPhoneRequest, AppError>,
) -> Result<(), AppError> {
    with_connection!(db, |conn| conn.transaction(|conn| {
        let mut left = count;
        while left > 0 {
            let chunk = (0..left.min(ROWS_PER_INSERT))
                .map(|_| make())
                .collect::<Result<Vec<_>, _>>()?;
            diesel::insert_into(phone_requests::table)
                .values(&chunk)
                .execute(conn)
                .map_err(|e| AppError::database("inserting phone requests", &e))?;
            left -= chunk.len();
        }
        Ok(())
    }))
}

/// The row with this id, if there is one.
pub fn get(db: &mut Connection, id: i32) -> Result<Option<PhoneRequest>, AppError> {
    with_connection!(db, |conn| phone_requests::table
        .find(id)
        .select(PhoneRequest::as_select())
        .first(conn)
        .optional()
        .map_err(|e| AppError::database(
            format!("reading phone request {id}"),
            &e
        )))
}

/// The rows whose blind index is one of `indexes` (the phone's index under every loaded
/// blind-index version, so that rows indexed before and after a blind-index rotation are both
/// found), by id.
pub fn find_by_phone_index(
    db: &mut Connection,
    indexes: &[Vec<u8>],
) -> Result<Vec<PhoneRequest>, AppError> {
    with_connection!(db, |conn| phone_requests::table
        .filter(phone_requests::phone_bidx.eq_any(indexes))
        .order(phone_requests::id)
        .select(PhoneRequest::as_select())
        .load(conn)
        .map_err(|e| AppError::database(
            "looking up phone requests by phone",
            &e
        )))
}

/// Sets a row's phone number (envelope and blind index together); `false` if there is no such row.
pub fn update_phone(db: &mut Connection, id: i32, change: &PhoneChange) -> Result<bool, AppError> {
    with_connection!(db, |conn| diesel::update(phone_requests::table.find(id))
        .set(change)
        .execute(conn)
        .map(|updated| updated > 0)
        .map_err(|e| AppError::database(
            format!("updating phone request {id}"),
            &e
        )))
}

/// Up to `limit` rows with an id greater than `after`, by id: one page of a scan whose memory does
/// not grow with the table.
fn page(
    db: &mut Connection,
    after: Option<i32>,
    limit: i64,
) -> Result<Vec<PhoneRequest>, AppError> {
    with_connection!(db, |conn| phone_requests::table
        .filter(phone_requests::id.gt(after.unwrap_or(i32::MIN)))
        .order(phone_requests::id)
        .limit(limit)
        .select(PhoneRequest::as_select())
        .load(conn)
        .map_err(|e| AppError::database("reading phone requests", &e)))
}

/// Calls `each` on every row, by id, reading [`PAGE_SIZE`] rows at a time.
pub fn for_each(
    db: &mut Connection,
    mut each: impl FnMut(PhoneRequest) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let mut after = None;
    loop {
        let rows = page(db, after, PAGE_SIZE)?;
        let full = rows.len() == usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
        for row in rows {
            after = Some(row.id);
            each(row)?;
        }
        if !full {
            return Ok(());
        }
    }
}

/// Rows per page of [`for_each`].
const PAGE_SIZE: i64 = 1000;
