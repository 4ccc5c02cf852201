//! [`headline`]: one line that says what a pass did, for an e-mail subject or a chat message.

use crate::rotation::{Operation, RotationReport, RotationStatus};

/// One line saying what kind of pass it was, whether it completed, and the count that matters:
/// how many values were rewritten and to which key version, or what went wrong.
///
/// ```
/// # use encrypted_field::rotation::{Operation, RotationReport, RotationStatus};
/// # let mut report = RotationReport {
/// #     status: RotationStatus::Completed, timestamp: "2026-05-01T03:00:00Z".into(),
/// #     models_processed: 2, records_processed: 12_400, failed_records: 0, key_backup_path: None,
/// #     new_key: None,
/// #     operation: Operation::Rotate, dry_run: false, active_version: 3,
/// #     records_rewritten: 12_000, records_changed_concurrently: 0, conflicts_retried: 0, duration_ms: 5_000,
/// #     rows_per_second: 2_480.0, models: vec![], failures: vec![], failures_not_listed: 0,
/// #     verification: None, legacy_values_kept: None,
/// # };
/// use encrypted_field::notify::headline;
///
/// assert_eq!(headline(&report), "key rotation completed: 12000 values re-encrypted to v3");
///
/// report.status = RotationStatus::Failed;
/// report.failed_records = 3;
/// assert_eq!(headline(&report), "key rotation FAILED: 3 values could not be read");
/// ```
pub fn headline(report: &RotationReport) -> String {
    let pass = match (report.operation, report.dry_run) {
        (Operation::Rotate, false) => "key rotation",
        (Operation::Rotate, true) => "key rotation dry run",
        (Operation::Migrate, false) => "legacy migration",
        (Operation::Migrate, true) => "legacy migration dry run",
        (Operation::Reindex, false) => "blind-index rebuild",
        (Operation::Reindex, true) => "blind-index rebuild dry run",
        (Operation::Verify, _) => "verification",
    };
    let version = report.active_version;
    match report.status {
        RotationStatus::Completed => {
            let done = match (report.operation, report.dry_run) {
                (Operation::Verify, _) => format!(
                    "{} checked, all readable with key v{version}",
                    values(report.records_processed)
                ),
                (Operation::Rotate, false) => format!(
                    "{} re-encrypted to v{version}",
                    values(report.records_rewritten)
                ),
                (Operation::Rotate, true) => format!(
                    "{} would be re-encrypted to v{version}",
                    values(report.records_rewritten)
                ),
                (Operation::Migrate, false) => {
                    format!(
                        "{} migrated to v{version}",
                        values(report.records_rewritten)
                    )
                }
                (Operation::Migrate, true) => format!(
                    "{} would be migrated to v{version}",
                    values(report.records_rewritten)
                ),
                (Operation::Reindex, false) => format!(
                    "{} given their blind index",
                    values(report.records_rewritten)
                ),
                (Operation::Reindex, true) => format!(
                    "{} would be given their blind index",
                    values(report.records_rewritten)
                ),
            };
            format!("{pass} completed: {done}")
        }
        RotationStatus::Failed => format!("{pass} FAILED: {}", what_failed(report)),
    }
}

/// The problems of a failed pass, most important first. Values that could not be read are also
/// found again by the verification, so they are counted once.
fn what_failed(report: &RotationReport) -> String {
    let stale = report.stale_blind_indexes();
    let unreadable = report.unreadable_values();
    if unreadable > 0 {
        return format!("{} could not be read", values(unreadable));
    }
    let mut problems = Vec::new();
    if let Some(verification) = &report.verification {
        if verification.undecryptable > 0 {
            problems.push(format!(
                "{} did not open in the verification",
                values(verification.undecryptable)
            ));
        }
        if verification.values_on_other_versions > 0 {
            problems.push(format!(
                "{} still on another key version than v{}",
                values(verification.values_on_other_versions),
                report.active_version
            ));
        }
        if stale > 0 {
            problems.push(format!(
                "{} with a blind index that is not theirs (run reindex)",
                values(stale)
            ));
        }
    }
    if problems.is_empty() {
        "see the report".to_owned()
    } else {
        problems.join("; ")
    }
}

/// `1 value`, `12000 values`.
fn values(count: u64) -> String {
    if count == 1 {
        "1 value".to_owned()
    } else {
        format!("{count} values")
    }
}
