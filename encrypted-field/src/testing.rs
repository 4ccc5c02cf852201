//! Helpers for testing models against real databases, as this crate tests its own (feature
//! `testing`; for `[dev-dependencies]`, never for production builds).
//!
//! Server backends are named by environment variables holding their URL, e.g.
//! `MYSQL_DATABASE_URL=mysql://root@127.0.0.1:3306/test` and
//! `PG_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test`. A test whose server is not
//! configured is skipped with a line on stderr, so `cargo test` works on a machine without
//! servers; CI sets [`REQUIRE_BACKENDS`]`=1`, and then a missing server fails the test instead of
//! letting a backend's suite pass silently.
#![allow(
    clippy::panic,
    reason = "test helpers fail the test that calls them by panicking"
)]

use std::io::Write as _;
use std::sync::Mutex;

/// The environment variable that, set to `1`, turns a skipped backend into a failed test.
pub const REQUIRE_BACKENDS: &str = "ENCRYPTED_FIELD_REQUIRE_BACKENDS";

/// The URL of the server backend that `variable` names, or `None` when it is not set (after
/// printing `skipped: set VARIABLE` on stderr, once per variable and process).
///
/// # Panics
///
/// When `variable` is not set and [`REQUIRE_BACKENDS`] is `1`.
///
/// ```no_run
/// use encrypted_field::testing::server_url;
///
/// let Some(url) = server_url("PG_DATABASE_URL") else {
///     return; // skipped: this machine has no PostgreSQL server configured
/// };
/// // connect to `url`, create the test's own tables, …
/// # let _ = url;
/// ```
pub fn server_url(variable: &str) -> Option<String> {
    if let Some(url) = std::env::var(variable)
        .ok()
        .filter(|url| !url.trim().is_empty())
    {
        return Some(url);
    }
    if std::env::var(REQUIRE_BACKENDS).is_ok_and(|value| value == "1") {
        panic!("{variable} is not set, and {REQUIRE_BACKENDS}=1 requires every backend");
    }
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut said = SAID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !said.iter().any(|v| v == variable) {
        said.push(variable.to_owned());
        // Straight to the process's stderr: the test harness captures `eprintln!`.
        let _ = writeln!(std::io::stderr(), "skipped: set {variable}");
    }
    None
}
