//! `EmailNotifier` against a real SMTP server on 127.0.0.1.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use encrypted_field::notify::{EmailError, EmailNotifier, Notifier, SmtpSecurity};
use encrypted_field::rotation::RotationReport;

use crate::reports::{completed_rotation, failed_rotation};
use crate::smtp_sink::{Mail, Recipients, Security, Session, SmtpSink};
use crate::tls::{Signer, server_config, test_ca};

const FROM: &str = "alerts@example.com";
const TO: &str = "security@example.com";

/// Sends `report` through a fresh sink and returns what the sink saw.
fn send_through_sink(report: &RotationReport, from: &str, to: &str) -> (Session, Mail) {
    let sink = SmtpSink::start(Recipients::Accept);
    let email = EmailNotifier::new(&format!("smtp://{}", sink.address), from, to).unwrap();
    email.send(report).unwrap();
    let session = sink.session().expect("the server saw a session");
    let mail = Mail::parse(&session.data);
    (session, mail)
}

/// The JSON part of the body, parsed.
fn json_in(body: &str) -> serde_json::Value {
    let (_, after) = body
        .split_once("The report as JSON:\n\n")
        .expect("the body holds the JSON");
    let json = after.split("\n\n-- \n").next().unwrap();
    serde_json::from_str(json).unwrap()
}

#[test]
fn the_report_is_mailed_from_the_sender_to_the_recipient() {
    let report = completed_rotation();

    let (session, mail) = send_through_sink(&report, FROM, TO);

    assert_eq!(session.mail_from, FROM);
    assert_eq!(session.rcpt_to, [TO]);
    assert!(session.quit, "the client said QUIT");
    assert_eq!(mail.header("from"), Some(FROM));
    assert_eq!(mail.header("to"), Some(TO));
    assert_eq!(
        mail.header("subject"),
        Some("[encrypted-field] key rotation completed: 12000 values re-encrypted to v3")
    );
    assert!(
        mail.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        mail.header("content-type")
    );
    assert!(mail.header("date").is_some());
}

#[test]
fn the_body_holds_the_report_as_text_and_as_json() {
    let report = completed_rotation();

    let (_, mail) = send_through_sink(&report, FROM, TO);

    assert!(mail.body.starts_with(&report.to_string()), "{}", mail.body);
    assert!(
        mail.body
            .contains("customers._ssn: 8000 rows, 7800 rewritten"),
        "{}",
        mail.body
    );
    let json = json_in(&mail.body);
    assert_eq!(
        json,
        serde_json::from_str::<serde_json::Value>(&report.to_json()).unwrap()
    );
    assert_eq!(json["records_rewritten"], 12_000);
    assert_eq!(
        json["key_backup_path"],
        "/var/backups/encrypted-field/encryption_key_20260501T030000Z.json"
    );
}

#[test]
fn a_failed_rotation_says_failed_and_lists_the_unreadable_values() {
    let report = failed_rotation();

    let (_, mail) = send_through_sink(&report, FROM, TO);

    assert_eq!(
        mail.header("subject"),
        Some("[encrypted-field] key rotation FAILED: 3 values could not be read")
    );
    assert!(
        mail.body
            .contains("failed: customers._ssn id=2210: authentication failed"),
        "{}",
        mail.body
    );
    assert_eq!(json_in(&mail.body)["failures"][2]["primary_key"], "7788");
}

#[test]
fn every_recipient_gets_the_message_and_names_are_kept() {
    let (session, mail) = send_through_sink(
        &completed_rotation(),
        "Encryption alerts <alerts@example.com>",
        "security@example.com, Ops Team <ops@example.com>",
    );

    assert_eq!(session.mail_from, "alerts@example.com");
    assert_eq!(session.rcpt_to, ["security@example.com", "ops@example.com"]);
    assert_eq!(
        mail.header("from"),
        Some("\"Encryption alerts\" <alerts@example.com>")
    );
    let to = mail.header("to").unwrap();
    assert!(
        to.contains("security@example.com") && to.contains("<ops@example.com>"),
        "{to}"
    );
}

#[test]
fn the_url_path_names_the_client_in_ehlo() {
    let sink = SmtpSink::start(Recipients::Accept);
    let email = EmailNotifier::new(
        &format!("smtp://{}/app.example.com", sink.address),
        FROM,
        TO,
    )
    .unwrap();

    email.send(&completed_rotation()).unwrap();

    assert_eq!(sink.session().unwrap().hello, "app.example.com");
}

#[test]
fn credentials_from_the_url_are_sent_with_auth_plain() {
    let sink = SmtpSink::start(Recipients::Accept);
    // The user name and password are percent-encoded in the URL; plain SMTP is allowed with
    // credentials only because the server is this machine.
    let url = format!("smtp://alerts%40example.com:p%40ss%3Aw0rd@{}", sink.address);
    let email = EmailNotifier::new(&url, FROM, TO).unwrap();

    email.send(&completed_rotation()).unwrap();

    let session = sink.session().unwrap();
    assert_eq!(
        session.auth,
        Some(("alerts@example.com".to_owned(), "p@ss:w0rd".to_owned()))
    );
    assert_eq!(session.rcpt_to, [TO]);
}

#[test]
fn separate_credentials_replace_those_of_the_url() {
    let sink = SmtpSink::start(Recipients::Accept);
    let email = EmailNotifier::new(&format!("smtp://old:old@{}", sink.address), FROM, TO)
        .unwrap()
        .credentials("relay-user", "relay-s3cret")
        .unwrap();

    email.send(&completed_rotation()).unwrap();

    assert_eq!(
        sink.session().unwrap().auth,
        Some(("relay-user".to_owned(), "relay-s3cret".to_owned()))
    );
}

#[test]
fn a_refused_recipient_is_an_error_naming_the_server() {
    let sink = SmtpSink::start(Recipients::Reject);
    let email = EmailNotifier::new(&format!("smtp://{}", sink.address), FROM, TO).unwrap();

    let err = email.send(&completed_rotation()).unwrap_err();

    assert!(matches!(err, EmailError::Send { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "sending the report e-mail through smtp://{}: ",
            sink.address
        )),
        "{message}"
    );
    assert!(message.contains("No such user"), "{message}");
    assert!(
        sink.session().unwrap().data.is_empty(),
        "no message was sent"
    );
}

#[test]
fn an_unreachable_server_is_an_error_within_the_timeout() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again: nothing listens there
    let email = EmailNotifier::new(&format!("smtp://user:s3cret@127.0.0.1:{port}"), FROM, TO)
        .unwrap()
        .timeout(Duration::from_secs(2));

    let started = Instant::now();
    let err = email.send(&completed_rotation()).unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, EmailError::Send { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("smtp://127.0.0.1:{port}")),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn as_a_notifier_a_failure_becomes_a_message() {
    let sink = SmtpSink::start(Recipients::Reject);
    let notifier: Box<dyn Notifier> =
        Box::new(EmailNotifier::new(&format!("smtp://{}", sink.address), FROM, TO).unwrap());

    assert_eq!(notifier.name(), "email");
    let message = notifier.notify(&completed_rotation()).unwrap_err();
    assert!(message.contains("No such user"), "{message}");
}

#[test]
fn the_scheme_chooses_plain_starttls_or_tls() {
    for (url, security) in [
        ("smtp://localhost:25", SmtpSecurity::Plain),
        (
            "smtp://mail.example.com?tls=required",
            SmtpSecurity::StartTls,
        ),
        ("smtp://127.0.0.1:2525?tls=required", SmtpSecurity::StartTls),
        ("smtps://mail.example.com", SmtpSecurity::Tls),
        ("smtps://user:pw@mail.example.com:2465", SmtpSecurity::Tls),
    ] {
        let email = EmailNotifier::new(url, FROM, TO).unwrap();
        assert_eq!(email.security(), security, "{url}");
    }
}

#[test]
fn starttls_is_required_for_another_machine_unless_refused_by_name() {
    for (url, security) in [
        ("smtp://mail.example.com", SmtpSecurity::StartTls),
        ("smtp://10.0.0.25:25", SmtpSecurity::StartTls),
        ("smtp://[2001:db8::25]", SmtpSecurity::StartTls),
        ("smtp://mail.example.com?tls=none", SmtpSecurity::Plain),
        ("smtp://127.0.0.1:2525", SmtpSecurity::Plain),
        ("smtp://[::1]:2525", SmtpSecurity::Plain),
    ] {
        let email = EmailNotifier::new(url, FROM, TO).unwrap();
        assert_eq!(email.security(), security, "{url}");
    }
}

/// A notifier sending through `url` with credentials, trusting the test CA.
fn over_tls(url: &str) -> EmailNotifier {
    EmailNotifier::new(url, FROM, TO)
        .unwrap()
        .credentials("alerts", "s3cret-pw")
        .unwrap()
        .trusted_roots(test_ca())
        .timeout(Duration::from_secs(3))
}

#[test]
fn the_report_is_mailed_over_starttls_to_a_server_the_configured_ca_signed() {
    let sink = SmtpSink::start_with(
        Recipients::Accept,
        Security::StartTls(server_config(Signer::TestCa)),
    );
    let email = over_tls(&format!("smtp://{}?tls=required", sink.address));

    email.send(&completed_rotation()).unwrap();

    let session = sink.session().unwrap();
    assert!(session.tls, "the client said STARTTLS");
    assert_eq!(
        session.auth,
        Some(("alerts".to_owned(), "s3cret-pw".to_owned())),
        "credentials went over TLS"
    );
    assert_eq!(session.rcpt_to, [TO]);
    assert!(
        Mail::parse(&session.data)
            .header("subject")
            .is_some_and(|s| s.contains("key rotation completed")),
        "{}",
        session.data
    );
}

#[test]
fn a_starttls_certificate_the_configured_ca_did_not_sign_is_refused() {
    let sink = SmtpSink::start_with(
        Recipients::Accept,
        Security::StartTls(server_config(Signer::OtherCa)),
    );
    let email = over_tls(&format!("smtp://{}?tls=required", sink.address));

    let err = email.send(&completed_rotation()).unwrap_err();

    assert!(matches!(err, EmailError::Send { .. }), "{err:?}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    let session = sink.session().unwrap();
    assert_eq!(session.auth, None, "no credentials sent");
    assert!(session.data.is_empty(), "no message sent");
}

#[test]
fn starttls_required_sends_nothing_to_a_server_that_does_not_offer_it() {
    let sink = SmtpSink::start(Recipients::Accept);
    let email = over_tls(&format!("smtp://{}?tls=required", sink.address));

    let err = email.send(&completed_rotation()).unwrap_err();

    assert!(matches!(err, EmailError::Send { .. }), "{err:?}");
    let session = sink.session().unwrap();
    assert_eq!(session.auth, None, "no credentials sent");
    assert!(session.data.is_empty(), "no message sent");
}

#[test]
fn the_report_is_mailed_over_tls_from_the_first_byte() {
    let sink = SmtpSink::start_with(
        Recipients::Accept,
        Security::Tls(server_config(Signer::TestCa)),
    );
    let email = over_tls(&format!("smtps://{}", sink.address));

    email.send(&completed_rotation()).unwrap();

    let session = sink.session().unwrap();
    assert!(session.tls);
    assert_eq!(session.rcpt_to, [TO]);
    assert!(!session.data.is_empty());
}

#[test]
fn an_smtps_certificate_the_configured_ca_did_not_sign_is_refused() {
    let sink = SmtpSink::start_with(
        Recipients::Accept,
        Security::Tls(server_config(Signer::OtherCa)),
    );
    let email = over_tls(&format!("smtps://{}", sink.address));

    assert!(email.send(&completed_rotation()).is_err());
    let session = sink.session().unwrap();
    assert_eq!(session.auth, None);
    assert!(session.data.is_empty());
}

#[test]
fn debug_never_shows_the_password() {
    let email = EmailNotifier::new(
        "smtp://alerts:s3cret@mail.example.com?tls=required",
        FROM,
        TO,
    )
    .unwrap();

    let shown = format!("{email:?}");

    assert!(shown.contains("smtp://mail.example.com:587"), "{shown}");
    assert!(shown.contains("alerts"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn credentials_are_refused_over_plain_smtp_to_another_machine() {
    let err =
        EmailNotifier::new("smtp://alerts:s3cret@mail.example.com?tls=none", FROM, TO).unwrap_err();
    assert!(
        matches!(err, EmailError::CleartextCredentials { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("s3cret"), "{err}");

    let plain = EmailNotifier::new("smtp://mail.example.com?tls=none", FROM, TO).unwrap();
    let err = plain.credentials("alerts", "s3cret").unwrap_err();
    assert!(
        matches!(err, EmailError::CleartextCredentials { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("use smtps://"), "{err}");
}

#[test]
fn unusable_smtp_urls_are_refused_without_showing_the_password() {
    for url in [
        "mail.example.com:25",
        "http://mail.example.com",
        "smtp://mail.example.com?tls=maybe",
        "smtps://mail.example.com?tls=none",
        "smtp://mail.example.com?starttls=yes",
        "smtps://alerts@mail.example.com",
        "smtps://:s3cret@",
    ] {
        let err = EmailNotifier::new(url, FROM, TO).unwrap_err();
        assert!(
            matches!(err, EmailError::InvalidUrl { .. }),
            "{url}: {err:?}"
        );
        assert!(!err.to_string().contains("s3cret"), "{url}: {err}");
    }
}

#[test]
fn unusable_addresses_are_errors_naming_the_role() {
    let url = "smtp://localhost";
    for (from, to, role) in [
        ("not an address", TO, "from"),
        ("a@example.com, b@example.com", TO, "from"),
        (FROM, "", "to"),
        (FROM, "security@example.com; ops@example.com", "to"),
    ] {
        let err = EmailNotifier::new(url, from, to).unwrap_err();
        assert!(
            matches!(&err, EmailError::InvalidAddress { role: r, .. } if *r == role),
            "{from} / {to}: {err:?}"
        );
        assert!(
            err.to_string().starts_with(&format!("{role} address")),
            "{err}"
        );
    }
}
