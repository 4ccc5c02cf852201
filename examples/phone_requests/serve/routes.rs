//! The HTTP routes and their handlers. Each handler checks the request on the async thread, then
//! does its database work (and the encryption that goes with it) on a blocking thread with a
//! pooled connection, with the process-wide key ring (`encrypted_field::global()`): the ring the
//! library reloads, so a new key version is used without a restart.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::pool::DbPool;
use crate::db::Connection;
use crate::model::{NewPhoneRequest, PhoneChange, PhoneRequest};
use crate::{input, store};

/// The service's routes over `pool`.
pub fn router(pool: DbPool) -> Router {
    Router::new()
        .route("/phone-requests", get(find).post(create))
        .route("/phone-requests/{id}", get(read).put(update))
        .route("/healthz", get(health))
        .with_state(pool)
}

/// `POST /phone-requests` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRequestBody {
    name: String,
    phone: String,
}

/// `PUT /phone-requests/{id}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneChangeBody {
    phone: String,
}

/// `201` body of `POST /phone-requests`.
#[derive(Debug, Serialize)]
struct Created {
    id: i32,
}

/// A phone request, decrypted: the body of `GET /phone-requests/{id}` and each element of a
/// lookup.
#[derive(Debug, Serialize)]
struct PhoneRequestBody {
    id: i32,
    name: String,
    phone: String,
}

impl PhoneRequestBody {
    /// Decrypts `row`'s phone number with the process-wide ring.
    fn of(row: PhoneRequest) -> Result<Self, ApiError> {
        let phone = row
            .phone()
            .map_err(|e| ApiError::undecryptable(row.id, e))?;
        Ok(Self {
            id: row.id,
            name: row.requester_name,
            phone,
        })
    }
}

/// The body of `GET /healthz`.
#[derive(Debug, Serialize)]
struct Health {
    ok: bool,
    key_versions: Vec<u32>,
    active_version: u32,
    /// The blind-index key versions loaded (lookups match each) and the one new indexes use.
    blind_index_versions: Vec<u32>,
    active_blind_index_version: Option<u32>,
}

/// `POST /phone-requests` `{"name","phone"}` → `201 {"id"}`.
async fn create(State(pool): State<DbPool>, body: Bytes) -> Result<Response, ApiError> {
    let body: NewRequestBody = parse_body(&body, r#"{"name": string, "phone": string}"#)?;
    let mut row = NewPhoneRequest {
        requester_name: input::requester_name("name", &body.name)
            .map_err(|e| ApiError::invalid(&e))?,
        created_at: crate::commands::now(),
        ..NewPhoneRequest::default()
    };
    let phone = input::phone("phone", &body.phone)
        .map_err(|e| ApiError::invalid(&e))?
        .to_owned();
    let id = blocking(pool, move |db| {
        row.set_phone(phone)
            .map_err(|e| ApiError::keys("encrypting the phone number", &e))?;
        store::insert(db, &row).map_err(|e| ApiError::database("inserting a phone request", &e))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

/// `GET /phone-requests/{id}` → the request, decrypted; `404` when absent.
async fn read(
    State(pool): State<DbPool>,
    Path(id): Path<String>,
) -> Result<Json<PhoneRequestBody>, ApiError> {
    let id = parse_id(&id)?;
    blocking(pool, move |db| {
        store::get(db, id)
            .map_err(|e| ApiError::database("reading a phone request", &e))?
            .ok_or_else(|| ApiError::not_found(id))
            .and_then(PhoneRequestBody::of)
    })
    .await
    .map(Json)
}

/// `PUT /phone-requests/{id}` `{"phone"}` → `204`; `404` when absent.
async fn update(
    State(pool): State<DbPool>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let body: PhoneChangeBody = parse_body(&body, r#"{"phone": string}"#)?;
    let phone = input::phone("phone", &body.phone)
        .map_err(|e| ApiError::invalid(&e))?
        .to_owned();
    let updated = blocking(pool, move |db| {
        let mut change = PhoneChange::default();
        change
            .set_phone(phone)
            .map_err(|e| ApiError::keys("encrypting the phone number", &e))?;
        store::update_phone(db, id, &change)
            .map_err(|e| ApiError::database("updating a phone request", &e))
    })
    .await?;
    if updated {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(id))
    }
}

/// `GET /phone-requests?phone=…` → the requests whose blind index matches the phone's digits,
/// by id (an empty array when none does).
async fn find(
    State(pool): State<DbPool>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<PhoneRequestBody>>, ApiError> {
    let Query(query) = query.map_err(|_| ApiError::bad_request("the query string is not valid"))?;
    let phone = query
        .get("phone")
        .ok_or_else(|| ApiError::bad_request("give the phone number to look for: ?phone=…"))?;
    let phone = input::phone_to_find("phone", phone)
        .map_err(|e| ApiError::invalid(&e))?
        .to_owned();
    blocking(pool, move |db| {
        let indexes = PhoneRequest::phone_index_any(phone)
            .map_err(|e| ApiError::keys("computing the blind index of the phone number", &e))?;
        store::find_by_phone_index(db, &indexes)
            .map_err(|e| ApiError::database("looking up phone requests by phone", &e))?
            .into_iter()
            .map(PhoneRequestBody::of)
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map(Json)
}

/// `GET /healthz` → `{"ok":true,"key_versions":[…],"active_version":N,"blind_index_versions":[…],
/// "active_blind_index_version":M}`, from the process-wide ring as it is now.
async fn health() -> Result<Json<Health>, ApiError> {
    let ring = encrypted_field::global().map_err(|e| ApiError::keys("loading the key ring", &e))?;
    Ok(Json(Health {
        ok: true,
        key_versions: ring.versions().map(|v| v.get()).collect(),
        active_version: ring.active_version().get(),
        blind_index_versions: ring.blind_index_versions().map(|v| v.get()).collect(),
        active_blind_index_version: ring.active_blind_index_version().map(|v| v.get()),
    }))
}

/// Runs `work` with a pooled connection on a blocking thread: Diesel never runs on the async
/// threads, nor does the key ring's work (sealing, opening, and the reload that a value of an
/// unknown key version triggers, which reads key files).
async fn blocking<T: Send + 'static>(
    pool: DbPool,
    work: impl FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut db = pool.get().map_err(|e| ApiError::busy(&e))?;
        work(&mut db)
    })
    .await
    .map_err(|e| ApiError::aborted(&e))?
}

/// A path's id: a decimal `i32`.
fn parse_id(id: &str) -> Result<i32, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad_request("the id in the path is not an integer"))
}

/// The JSON body, or a `400` that says what was expected and where the body went wrong. serde's
/// own message is not repeated for type errors: it quotes the value (a phone number sent as a
/// JSON number would be echoed back and logged).
fn parse_body<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let at = format!("line {} column {}", e.line(), e.column());
        ApiError::bad_request(match e.classify() {
            serde_json::error::Category::Data => {
                format!("the body does not match {expected} (at {at})")
            }
            serde_json::error::Category::Eof if body.is_empty() => {
                format!("the body is empty; expected {expected}")
            }
            _ => format!("the body is not valid JSON (at {at}); expected {expected}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_sent_as_a_number_is_not_echoed() {
        let error = parse_body::<PhoneChangeBody>(br#"{"phone": 15550100100}"#, "{}").unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert!(!format!("{error:?}").contains("15550100100"), "{error:?}");
    }

    #[test]
    fn an_unknown_field_is_a_bad_request() {
        let error = parse_body::<PhoneChangeBody>(br#"{"phone": "123", "x": 1}"#, "{}");
        assert_eq!(error.unwrap_err().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn an_id_must_be_an_integer() {
        assert_eq!(parse_id("12").unwrap(), 12);
        assert_eq!(parse_id("x").unwrap_err().status(), StatusCode::BAD_REQUEST);
    }
}
