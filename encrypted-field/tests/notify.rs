//! The notifiers after a rotation, end to end against real listeners on 127.0.0.1 that the tests
//! start themselves (no network, no mocks of the clients):
//!
//! - `webhook`: `WebhookNotifier` against a one-request HTTP server (`http_sink`), plain and
//!   over TLS.
//! - `email`: `EmailNotifier` against a one-message SMTP server (`smtp_sink`), plain, with
//!   STARTTLS and with TLS.
//! - `tls`: the test CA (`tests/fixtures/notify-tls`) and the sinks' certificates, one signed by
//!   it and one by another CA.
//! - `env`: `notifiers_from_lookup`, the configuration the CLI reads from the environment.
//! - `headline`: the one-line summary used as the e-mail subject.
//!
//! Every listener stops by itself after a few seconds, whatever the client does.
#![cfg(feature = "_database")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "notify/email.rs"]
#[cfg(feature = "email")]
mod email;
#[path = "notify/env.rs"]
mod env;
#[path = "notify/headline.rs"]
mod headline;
#[path = "notify/http_sink.rs"]
#[cfg(feature = "webhook")]
mod http_sink;
#[path = "notify/listen.rs"]
#[cfg(any(feature = "webhook", feature = "email"))]
mod listen;
#[path = "notify/reports.rs"]
mod reports;
#[path = "notify/smtp_sink.rs"]
#[cfg(feature = "email")]
mod smtp_sink;
#[path = "notify/tls.rs"]
#[cfg(any(feature = "webhook", feature = "email"))]
mod tls;
#[path = "notify/webhook.rs"]
#[cfg(feature = "webhook")]
mod webhook;
