//! `phone_requests serve` answered one request at a time: each endpoint, each error as JSON with
//! the right status (a bad body, an absent id, a value that does not decrypt: `500` naming the
//! column, never the value), and a graceful stop on SIGTERM. The instances run as processes, on
//! SQLite with the example's development keys; the three-instance case under load is
//! `phone_requests_fleet`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "phone_requests_e2e/example.rs"]
#[allow(
    dead_code,
    reason = "shared with phone_requests_e2e, which uses all of it"
)]
mod example;
#[path = "phone_requests_fleet/fleet.rs"]
#[allow(dead_code, reason = "shared with phone_requests_fleet")]
mod fleet;
#[path = "phone_requests_fleet/load.rs"]
#[allow(dead_code, reason = "shared with phone_requests_fleet")]
mod load;

use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer};
use encrypted_field::{KeyRing, MasterKey};
use example::App;
use fleet::Instance;
use load::{agent, send};
use serde_json::{Value, json};

/// A request to `instance`; its status and JSON body.
fn call(instance: &Instance, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", instance.url());
    send(&agent(), method, &url, body.as_ref()).unwrap()
}

/// A raw body (not JSON) sent with `method`.
fn call_raw(instance: &Instance, method: &str, path: &str, body: &str) -> (u16, Value) {
    let url = format!("{}{path}", instance.url());
    let request = match method {
        "POST" => agent().post(&url),
        _ => agent().put(&url),
    };
    let mut response = request
        .header("content-type", "application/json")
        .send(body)
        .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

/// The error message of a JSON error body (and that it is one).
fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

#[test]
fn every_endpoint_answers_json_and_sigterm_stops_it_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(dir.path());
    let instance = Instance::start(&app, &dir.path().join("serve.log"));

    let (status, created) = call(
        &instance,
        "POST",
        "/phone-requests",
        Some(json!({"name": "Ada Lovelace", "phone": "+1 (555) 010-0100"})),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created, json!({ "id": id }));

    let (status, row) = call(&instance, "GET", &format!("/phone-requests/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(
        row,
        json!({"id": id, "name": "Ada Lovelace", "phone": "+1 (555) 010-0100"})
    );

    let change = json!({"phone": "+1 (555) 010-0199"});
    let (status, body) = call(
        &instance,
        "PUT",
        &format!("/phone-requests/{id}"),
        Some(change),
    );
    assert_eq!((status, body), (204, Value::Null));
    let (status, found) = call(
        &instance,
        "GET",
        "/phone-requests?phone=1-555-010-0199",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        found,
        json!([{"id": id, "name": "Ada Lovelace", "phone": "+1 (555) 010-0199"}])
    );
    let (status, found) = call(&instance, "GET", "/phone-requests?phone=15550100100", None);
    assert_eq!(
        (status, found),
        (200, json!([])),
        "the old number finds nothing"
    );

    let (status, health) = call(&instance, "GET", "/healthz", None);
    assert_eq!(status, 200);
    assert_eq!(
        health,
        json!({
            "ok": true,
            "key_versions": [1],
            "active_version": 1,
            "blind_index_versions": [1],
            "active_blind_index_version": 1
        })
    );

    let status = instance.terminate();
    assert!(status.success(), "exit status on SIGTERM: {status}");
}

#[test]
fn bad_requests_and_absent_ids_are_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let instance = Instance::start(&App::new(dir.path()), &dir.path().join("serve.log"));

    let (status, body) = call(&instance, "GET", "/phone-requests/404", None);
    assert_eq!(status, 404);
    assert_eq!(error_of(&body), "no phone request has id 404");
    let change = json!({"phone": "+1 555 0100"});
    let (status, body) = call(&instance, "PUT", "/phone-requests/404", Some(change));
    assert_eq!(status, 404, "{body}");
    let (status, body) = call(&instance, "GET", "/phone-requests/abc", None);
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("not an integer"), "{body}");

    // A body that is not JSON, or not the expected object.
    let (status, body) = call_raw(&instance, "POST", "/phone-requests", r#"{"name": "Ada""#);
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("not valid JSON"), "{body}");
    let (status, body) = call_raw(&instance, "POST", "/phone-requests", "");
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("empty"), "{body}");
    let (status, body) = call_raw(&instance, "POST", "/phone-requests", r#"{"name": "Ada"}"#);
    assert_eq!(status, 400);
    assert!(error_of(&body).contains(r#""phone": string"#), "{body}");
    // A phone number sent as a JSON number is refused without being quoted back.
    let (status, body) = call_raw(
        &instance,
        "POST",
        "/phone-requests",
        r#"{"name": "Ada", "phone": 15550100100}"#,
    );
    assert_eq!(status, 400);
    assert!(!body.to_string().contains("15550100100"), "{body}");

    // Values the application's checks refuse.
    let (status, body) = call(
        &instance,
        "POST",
        "/phone-requests",
        Some(json!({"name": " ", "phone": "+1 555 0100"})),
    );
    assert_eq!((status, error_of(&body)), (400, "name is empty"));
    let (status, body) = call(
        &instance,
        "POST",
        "/phone-requests",
        Some(json!({"name": "Ada", "phone": "12"})),
    );
    assert_eq!(status, 400);
    assert!(error_of(&body).starts_with("phone has 2 digits"), "{body}");
    let (status, body) = call(&instance, "GET", "/phone-requests", None);
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("?phone="), "{body}");
    let (status, body) = call(&instance, "GET", "/phone-requests?phone=abc", None);
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("no digits"), "{body}");
}

#[test]
fn a_value_that_does_not_decrypt_is_500_naming_the_column_never_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let instance = Instance::start(&App::new(dir.path()), &dir.path().join("serve.log"));
    let (status, created) = call(
        &instance,
        "POST",
        "/phone-requests",
        Some(json!({"name": "Ada", "phone": "+1 555 010 0100"})),
    );
    assert_eq!(status, 201);
    let id = i32::try_from(created["id"].as_i64().unwrap()).unwrap();

    // The row now holds a value sealed under a key this application does not have.
    let stranger = KeyRing::builder()
        .key(1, MasterKey::generate())
        .build()
        .unwrap();
    let foreign = stranger.encrypt_with_context(b"+1 555 010 0100", "phone_requests.phone_number");
    let path = dir.path().join("phone_requests.sqlite3");
    let mut conn = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    diesel::sql_query("UPDATE phone_requests SET phone_number = ? WHERE id = ?")
        .bind::<Binary, _>(foreign)
        .bind::<Integer, _>(id)
        .execute(&mut conn)
        .unwrap();

    let (status, body) = call(&instance, "GET", &format!("/phone-requests/{id}"), None);
    assert_eq!(status, 500, "{body}");
    let message = error_of(&body);
    assert!(
        message.contains(&format!("phone request {id}"))
            && message.contains("phone_requests.phone_number"),
        "{message}"
    );
    assert!(!message.contains("555"), "{message}");
    // The lookup finds the row by its blind index (unchanged) and fails the same way.
    let (status, body) = call(&instance, "GET", "/phone-requests?phone=15550100100", None);
    assert_eq!(status, 500, "{body}");
    assert!(
        error_of(&body).contains("phone_requests.phone_number"),
        "{body}"
    );
    assert!(
        !instance.log_tail(20).contains("555"),
        "{}",
        instance.log_tail(20)
    );
}
