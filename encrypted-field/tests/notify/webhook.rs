//! `WebhookNotifier` against a real HTTP server on 127.0.0.1.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use encrypted_field::notify::{Notifier, WebhookError, WebhookNotifier};

use crate::http_sink::{Answer, HttpSink};
use crate::reports::{completed_rotation, failed_rotation};
use crate::tls::{Signer, server_config, test_ca};

/// A path holding a token, as webhook URLs often do: it must never be shown.
const SECRET_PATH: &str = "/hooks/T0KEN-in-the-path?channel=security";

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn the_report_is_posted_as_json_to_the_url() {
    let sink = HttpSink::start(Answer::Status("200 OK"));
    let webhook = WebhookNotifier::new(&format!("{}{SECRET_PATH}", sink.base_url)).unwrap();
    let report = completed_rotation();

    webhook.send(&report).unwrap();

    let request = sink.request().expect("the server received a request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, SECRET_PATH);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(
        request
            .header("user-agent")
            .is_some_and(|agent| agent.starts_with("encrypted-field/")),
        "{:?}",
        request.header("user-agent")
    );
    let body = json(&request.body);
    assert_eq!(body, json(report.to_json().as_bytes()));
    assert_eq!(body["status"], "completed");
    assert_eq!(body["records_rewritten"], 12_000);
    assert_eq!(body["active_version"], 3);
    assert_eq!(body["models"][0]["columns"][0]["column"], "_ssn");
}

#[test]
fn a_failed_report_is_posted_with_its_failures() {
    let sink = HttpSink::start(Answer::Status("204 No Content"));
    let webhook = WebhookNotifier::new(&format!("{}/rotation", sink.base_url)).unwrap();

    webhook.send(&failed_rotation()).unwrap();

    let body = json(&sink.request().unwrap().body);
    assert_eq!(body["status"], "failed");
    assert_eq!(body["failed_records"], 3);
    assert_eq!(body["failures"][1]["primary_key"], "2210");
}

#[test]
fn extra_headers_are_sent_with_the_request() {
    let sink = HttpSink::start(Answer::Status("200 OK"));
    let webhook = WebhookNotifier::new(&format!("{}/rotation", sink.base_url))
        .unwrap()
        .header("Authorization", "Bearer s3cret-t0ken")
        .unwrap()
        .header("X-Team", "security")
        .unwrap();

    webhook.send(&completed_rotation()).unwrap();

    let request = sink.request().unwrap();
    assert_eq!(request.header("authorization"), Some("Bearer s3cret-t0ken"));
    assert_eq!(request.header("x-team"), Some("security"));
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[test]
fn a_non_2xx_answer_is_an_error_naming_the_status() {
    let sink = HttpSink::start(Answer::Status("503 Service Unavailable"));
    let webhook = WebhookNotifier::new(&format!("{}{SECRET_PATH}", sink.base_url))
        .unwrap()
        .header("Authorization", "Bearer s3cret-t0ken")
        .unwrap();

    let err = webhook.send(&completed_rotation()).unwrap_err();

    assert!(
        matches!(err, WebhookError::Status { status: 503, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("503 Service Unavailable"), "{message}");
    assert!(message.contains(&sink.base_url), "{message}");
    assert_no_secret(&message);
    assert!(sink.request().is_some());
}

#[test]
fn a_redirect_is_not_followed_and_is_an_error() {
    let sink = HttpSink::start(Answer::Status(
        "302 Found\r\nLocation: http://127.0.0.1:9/elsewhere",
    ));
    let webhook = WebhookNotifier::new(&format!("{}/rotation", sink.base_url)).unwrap();

    let err = webhook.send(&completed_rotation()).unwrap_err();

    assert!(
        matches!(err, WebhookError::Status { status: 302, .. }),
        "{err:?}"
    );
}

#[test]
fn an_unreachable_port_is_an_error_within_the_timeout() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again: nothing listens there
    let webhook = WebhookNotifier::new(&format!("http://127.0.0.1:{port}{SECRET_PATH}"))
        .unwrap()
        .timeout(Duration::from_secs(2));

    let started = Instant::now();
    let err = webhook.send(&completed_rotation()).unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, WebhookError::Request { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("webhook http://127.0.0.1:{port}/…: ")),
        "{message}"
    );
    assert_no_secret(&message);
}

#[test]
fn a_server_that_never_answers_is_an_error_after_the_timeout() {
    let sink = HttpSink::start(Answer::Silence);
    let webhook = WebhookNotifier::new(&format!("{}/rotation", sink.base_url))
        .unwrap()
        .timeout(Duration::from_millis(500));

    let started = Instant::now();
    let err = webhook.send(&completed_rotation()).unwrap_err();
    let elapsed = started.elapsed();

    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert!(err.to_string().contains("no answer within 500ms"), "{err}");
    assert!(sink.request().is_some(), "the request itself was sent");
}

#[test]
fn as_a_notifier_a_failure_becomes_a_message() {
    let sink = HttpSink::start(Answer::Status("500 Internal Server Error"));
    let notifier: Box<dyn Notifier> =
        Box::new(WebhookNotifier::new(&format!("{}/rotation", sink.base_url)).unwrap());

    assert_eq!(notifier.name(), "webhook");
    let message = notifier.notify(&completed_rotation()).unwrap_err();
    assert!(message.contains("500 Internal Server Error"), "{message}");
}

#[test]
fn debug_shows_neither_header_values_nor_the_url_path() {
    let webhook = WebhookNotifier::new(&format!("https://hooks.example.com{SECRET_PATH}"))
        .unwrap()
        .header("Authorization", "Bearer s3cret-t0ken")
        .unwrap();

    let shown = format!("{webhook:?}");

    assert!(shown.contains("https://hooks.example.com:443/…"), "{shown}");
    assert!(shown.contains("Authorization"), "{shown}");
    assert_no_secret(&shown);
}

#[test]
fn plain_http_to_another_machine_is_refused() {
    for url in [
        "http://hooks.example.com/hooks/T0KEN",
        "http://10.0.0.7:8080/hooks/T0KEN",
        "http://[2001:db8::1]/hooks/T0KEN",
    ] {
        let err = WebhookNotifier::new(url).unwrap_err();
        assert!(
            matches!(err, WebhookError::CleartextUrl { .. }),
            "{url}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("use https://"), "{message}");
        assert_no_secret(&message);
    }
}

#[test]
fn plain_http_to_this_machine_is_allowed() {
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://127.1.2.3/hook",
        "http://localhost:8080/hook",
        "http://[::1]:8080/hook",
    ] {
        assert!(WebhookNotifier::new(url).is_ok(), "{url}");
    }
}

#[test]
fn plain_http_to_another_machine_is_allowed_when_asked_for_by_name() {
    let webhook =
        WebhookNotifier::new_allowing_plain_http("http://hooks.example.com/rotation").unwrap();
    assert!(
        format!("{webhook:?}").contains("http://hooks.example.com:80/…"),
        "{webhook:?}"
    );
}

#[test]
fn the_report_is_posted_over_https_to_a_server_the_configured_ca_signed() {
    let sink = HttpSink::start_tls(Answer::Status("200 OK"), server_config(Signer::TestCa));
    assert!(sink.base_url.starts_with("https://127.0.0.1:"));
    let webhook = WebhookNotifier::new(&format!("{}{SECRET_PATH}", sink.base_url))
        .unwrap()
        .header("Authorization", "Bearer s3cret-t0ken")
        .unwrap()
        .trusted_roots(test_ca())
        .timeout(Duration::from_secs(3));
    let report = completed_rotation();

    webhook.send(&report).unwrap();

    let request = sink
        .request()
        .expect("the server received the request over TLS");
    assert_eq!(request.target, SECRET_PATH);
    assert_eq!(request.header("authorization"), Some("Bearer s3cret-t0ken"));
    assert_eq!(json(&request.body), json(report.to_json().as_bytes()));
}

#[test]
fn a_server_certificate_the_configured_ca_did_not_sign_is_refused() {
    let sink = HttpSink::start_tls(Answer::Status("200 OK"), server_config(Signer::OtherCa));
    let webhook = WebhookNotifier::new(&format!("{}{SECRET_PATH}", sink.base_url))
        .unwrap()
        .header("Authorization", "Bearer s3cret-t0ken")
        .unwrap()
        .trusted_roots(test_ca())
        .timeout(Duration::from_secs(3));

    let err = webhook.send(&completed_rotation()).unwrap_err();

    assert!(matches!(err, WebhookError::Request { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("certificate"), "{message}");
    assert_no_secret(&message);
    assert!(sink.request().is_none(), "nothing was sent to that server");
}

#[test]
fn without_the_ca_a_privately_signed_server_is_refused() {
    // The Mozilla roots, the default, do not know the test CA.
    let sink = HttpSink::start_tls(Answer::Status("200 OK"), server_config(Signer::TestCa));
    let webhook = WebhookNotifier::new(&format!("{}/rotation", sink.base_url))
        .unwrap()
        .timeout(Duration::from_secs(3));

    let err = webhook.send(&completed_rotation()).unwrap_err();

    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(sink.request().is_none());
}

#[test]
fn a_header_is_refused_over_plain_http_to_another_machine() {
    let webhook =
        WebhookNotifier::new_allowing_plain_http(&format!("http://hooks.example.com{SECRET_PATH}"))
            .unwrap();

    let err = webhook
        .header("Authorization", "Bearer s3cret-t0ken")
        .unwrap_err();

    assert!(
        matches!(err, WebhookError::CleartextHeader { .. }),
        "{err:?}"
    );
    assert_no_secret(&err.to_string());
    assert!(err.to_string().contains("use https://"), "{err}");
}

#[test]
fn unusable_urls_are_refused_without_being_echoed() {
    for url in [
        "hooks.example.com/rotation",
        "ftp://hooks.example.com/rotation",
        "https:///rotation",
        "https://user:s3cret-t0ken@hooks.example.com/rotation",
        "https://hooks example.com/T0KEN",
    ] {
        let err = WebhookNotifier::new(url).unwrap_err();
        assert!(
            matches!(err, WebhookError::InvalidUrl { .. }),
            "{url}: {err:?}"
        );
        assert_no_secret(&err.to_string());
    }
}

#[test]
fn unusable_headers_are_refused_without_showing_their_value() {
    let webhook = || WebhookNotifier::new("https://hooks.example.com/rotation").unwrap();

    for (name, value) in [
        ("Bad Name", "x"),
        ("Content-Type", "text/plain"),
        ("Authorization", "Bearer s3cret-t0ken\r\nX-Injected: 1"),
    ] {
        let err = webhook().header(name, value).unwrap_err();
        assert!(matches!(err, WebhookError::InvalidHeader { .. }), "{err:?}");
        assert!(err.to_string().contains(name), "{err}");
        assert_no_secret(&err.to_string());
    }
}

fn assert_no_secret(text: &str) {
    for secret in ["T0KEN", "s3cret", "channel=security"] {
        assert!(!text.contains(secret), "{secret} shown in: {text}");
    }
}
