//! The application's own commands: each takes what it needs (the database, the key ring, stdout)
//! and returns `Ok` or the error to report.

use std::time::Instant;

use chrono::{NaiveDateTime, SubsecRound as _, Utc};
use encrypted_field::KeyRing;

use crate::db::Connection;
use crate::error::AppError;
use crate::model::{NewPhoneRequest, PhoneChange, PhoneRequest};
use crate::output::{Decrypted, Output, Raw, RowFormat, Rows, TextRow as _};
use crate::{fake, input, store};

/// `create --name NAME --phone PHONE`: encrypts the phone number, stores the row, prints its id.
pub fn create(
    db: &mut Connection,
    ring: &KeyRing,
    out: &mut Output,
    name: &str,
    phone: &str,
    json: bool,
) -> Result<(), AppError> {
    let mut row = NewPhoneRequest {
        requester_name: input::requester_name("--name", name)?,
        created_at: now(),
        ..NewPhoneRequest::default()
    };
    row.set_phone_with(ring, input::phone("--phone", phone)?)
        .map_err(|e| AppError::library("encrypting the phone number", &e))?;
    let id = store::insert(db, &row)?;
    if json {
        out.json(&read(db, ring, id)?)?;
    } else {
        out.line(&format!("created phone request {id}"))?;
    }
    out.flush()
}

/// `get ID`: one row, decrypted.
pub fn get(
    db: &mut Connection,
    ring: &KeyRing,
    out: &mut Output,
    id: i32,
    json: bool,
) -> Result<(), AppError> {
    let row = read(db, ring, id)?;
    if json {
        out.json(&row)?;
    } else {
        out.line(Decrypted::HEADER)?;
        out.line(&row.text())?;
    }
    out.flush()
}

/// `update ID --phone PHONE`: a new envelope and blind index for the row.
pub fn update(
    db: &mut Connection,
    ring: &KeyRing,
    out: &mut Output,
    id: i32,
    phone: &str,
    json: bool,
) -> Result<(), AppError> {
    let mut change = PhoneChange::default();
    change
        .set_phone_with(ring, input::phone("--phone", phone)?)
        .map_err(|e| AppError::library("encrypting the phone number", &e))?;
    if !store::update_phone(db, id, &change)? {
        return Err(not_found(id));
    }
    if json {
        out.json(&read(db, ring, id)?)?;
    } else {
        out.line(&format!("updated phone request {id}"))?;
    }
    out.flush()
}

/// `find --phone PHONE`: the rows whose blind index matches the phone's digits.
pub fn find(
    db: &mut Connection,
    ring: &KeyRing,
    out: &mut Output,
    phone: &str,
    json: bool,
) -> Result<(), AppError> {
    let indexes = PhoneRequest::phone_index_any_with(ring, input::phone_to_find("--phone", phone)?)
        .map_err(|e| AppError::library("computing the blind index of the phone number", &e))?;
    let found = store::find_by_phone_index(db, &indexes)?;
    if found.is_empty() {
        return Err(AppError::failure("no phone request has that phone number"));
    }
    let mut rows = Rows::new(out, RowFormat::text_or_array(json));
    for row in found {
        rows.row(&Decrypted::of(row, ring)?)?;
    }
    rows.finish::<Decrypted>().map(drop)
}

/// `list`: every row, decrypted, one page at a time. Stops at the first value that does not
/// decrypt (exit status 1), naming its row.
pub fn list(
    db: &mut Connection,
    ring: &KeyRing,
    out: &mut Output,
    format: RowFormat,
) -> Result<(), AppError> {
    let mut rows = Rows::new(out, format);
    store::for_each(db, |row| rows.row(&Decrypted::of(row, ring)?))?;
    rows.finish::<Decrypted>().map(drop)
}

/// `raw`: every row exactly as stored. Needs no key.
pub fn raw(db: &mut Connection, out: &mut Output, json: bool) -> Result<(), AppError> {
    let mut rows = Rows::new(out, RowFormat::text_or_array(json));
    store::for_each(db, |row| rows.row(&Raw::from(row)))?;
    rows.finish::<Raw>().map(drop)
}

/// `seed --count N`: N fake rows in one transaction.
pub fn seed(
    db: &mut Connection,
    ring: &KeyRing,
    out: &mut Output,
    count: u32,
) -> Result<(), AppError> {
    let started = Instant::now();
    let mut rng = rand::rng();
    let created_at = now();
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    store::insert_many(db, count, || {
        let mut row = NewPhoneRequest {
            requester_name: fake::requester_name(&mut rng),
            created_at,
            ..NewPhoneRequest::default()
        };
        row.set_phone_with(ring, fake::phone(&mut rng))
            .map_err(|e| AppError::library("encrypting a phone number", &e))?;
        Ok(row)
    })?;
    out.line(&format!(
        "seeded {count} phone requests in {} ms",
        started.elapsed().as_millis()
    ))?;
    out.flush()
}

/// Reads and decrypts one row; a missing row is [`not_found`].
fn read(db: &mut Connection, ring: &KeyRing, id: i32) -> Result<Decrypted, AppError> {
    let row = store::get(db, id)?.ok_or_else(|| not_found(id))?;
    Decrypted::of(row, ring)
}

fn not_found(id: i32) -> AppError {
    AppError::failure(format!("no phone request has id {id}"))
}

/// Now, in UTC, to the second (what every backend's timestamp column keeps).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(0)
}
