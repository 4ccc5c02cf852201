//! Notifications after a rotation: the [`Notifier`] trait, called with the report, and the
//! built-in notifiers: [`LogNotifier`] (tracing).

use crate::rotation::RotationReport;

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
