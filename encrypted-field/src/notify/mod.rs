//! Notifications after a rotation: the [`Notifier`] trait, called with the report, and the
//! built-in notifiers: [`LogNotifier`] (tracing), `WebhookNotifier` (HTTP POST of the JSON report,
//! feature `webhook`) and `EmailNotifier` (SMTP, feature `email`). They replace the Django
//! module's `EncryptionKeyRotationNotifier`.
//!
//! [`notifiers_from_env`] builds the set the CLI uses: the log notifier, plus a webhook and an
//! email notifier when their variables are set (see [`env`](mod@env) for the names).
//!
//! Secrets never travel in clear text to another machine: the webhook refuses `http://` to a
//! host that is not this one unless told otherwise, and e-mail goes through STARTTLS unless the
//! relay is this machine or the SMTP URL says `tls=none`. A private CA is trusted through
//! `TrustedRoots` (in place of the Mozilla roots).
//!
//! A notifier failure is logged beside the rotation's result; it never fails or undoes the
//! rotation. No notifier puts a secret (a header value, an SMTP password, the path of a webhook
//! URL, which often holds a token) into its `Debug` output or its error messages.

use std::time::Duration;

use crate::rotation::RotationReport;

#[cfg(feature = "email")]
mod email;
pub mod env;
mod headline;
#[cfg(any(feature = "webhook", feature = "email"))]
mod roots;
#[cfg(feature = "webhook")]
mod webhook;

#[cfg(feature = "email")]
#[cfg_attr(docsrs, doc(cfg(feature = "email")))]
pub use email::{EmailError, EmailNotifier, SmtpSecurity};
pub use env::{ConfigError, notifiers_from_env, notifiers_from_lookup};
pub use headline::headline;
#[cfg(any(feature = "webhook", feature = "email"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "webhook", feature = "email"))))]
pub use roots::{TrustedRoots, TrustedRootsError};
#[cfg(feature = "webhook")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhook")))]
pub use webhook::{WebhookError, WebhookNotifier};

/// How long the webhook and email notifiers wait for their server, unless told otherwise: a
/// rotation never hangs on a notification.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `host` (a name, an IPv4 address, or an IPv6 address with or without brackets) is this
/// machine: the only place a secret may travel unencrypted.
#[cfg(any(feature = "webhook", feature = "email"))]
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Told about every finished rotation, migration or verification.
///
/// ```
/// use encrypted_field::notify::Notifier;
/// use encrypted_field::rotation::RotationReport;
///
/// struct Slack;
/// impl Notifier for Slack {
///     fn name(&self) -> &str { "slack" }
///     fn notify(&self, report: &RotationReport) -> Result<(), String> {
///         // post report.to_json() to a channel …
///         let _ = report.status;
///         Ok(())
///     }
/// }
/// ```
pub trait Notifier {
    /// A short name for messages (`log`, `webhook`, `email`).
    fn name(&self) -> &str;
    /// Delivers the report. A failure is reported beside the rotation's result; it never undoes
    /// or fails the rotation itself.
    fn notify(&self, report: &RotationReport) -> Result<(), String>;
}

/// A notifier shows as its name: `Notifier("webhook")`. (The built-in ones also have a `Debug`
/// of their own, which shows their configuration without its secrets.)
impl std::fmt::Debug for dyn Notifier + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Notifier").field(&self.name()).finish()
    }
}

/// A boxed notifier is a notifier, so the list [`notifiers_from_env`] returns can be handed to
/// `Rotation::notifier` one by one.
impl<N: Notifier + ?Sized> Notifier for Box<N> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn notify(&self, report: &RotationReport) -> Result<(), String> {
        (**self).notify(report)
    }
}

/// Logs the report's summary with `tracing`: `info` when completed, `error` when failed.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn name(&self) -> &str {
        "log"
    }

    fn notify(&self, report: &RotationReport) -> Result<(), String> {
        match report.status {
            crate::rotation::RotationStatus::Completed => tracing::info!(
                status = %report.status,
                records_processed = report.records_processed,
                records_rewritten = report.records_rewritten,
                failed_records = report.failed_records,
                active_version = report.active_version,
                "encrypted-field {:?} finished",
                report.operation
            ),
            crate::rotation::RotationStatus::Failed => tracing::error!(
                status = %report.status,
                records_processed = report.records_processed,
                failed_records = report.failed_records,
                active_version = report.active_version,
                "encrypted-field {:?} finished with failures",
                report.operation
            ),
        }
        Ok(())
    }
}
