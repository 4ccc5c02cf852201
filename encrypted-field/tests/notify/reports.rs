//! Reports as a rotation returns them, built by hand.

use std::collections::BTreeMap;

use encrypted_field::rotation::{
    ColumnReport, FailedValue, ModelReport, Operation, RotationReport, RotationStatus, Verification,
};

/// A rotation to key v3 over the two seeds' tables: 12000 of 12400 values re-encrypted.
pub fn completed_rotation() -> RotationReport {
    RotationReport {
        status: RotationStatus::Completed,
        timestamp: "2026-05-01T03:00:00Z".to_owned(),
        models_processed: 2,
        records_processed: 12_400,
        failed_records: 0,
        key_backup_path: Some(
            "/var/backups/encrypted-field/encryption_key_20260501T030000Z.json".to_owned(),
        ),
        new_key: None,
        operation: Operation::Rotate,
        dry_run: false,
        active_version: 3,
        records_rewritten: 12_000,
        records_changed_concurrently: 0,
        conflicts_retried: 0,
        duration_ms: 4_960,
        rows_per_second: 2_500.0,
        models: vec![
            ModelReport {
                table: "customers".to_owned(),
                columns: vec![
                    column("_ssn", 8_000, 200, 7_800),
                    column("_phone", 8_000, 3_800, 4_000),
                ],
            },
            ModelReport {
                table: "phone_requests".to_owned(),
                columns: vec![column("phone_number", 400, 0, 200)],
            },
        ],
        failures: vec![],
        failures_not_listed: 0,
        verification: Some(Verification {
            ok: true,
            values_by_version: BTreeMap::from([("v3".to_owned(), 12_400)]),
            values_on_other_versions: 0,
            undecryptable: 0,
            ..Verification::default()
        }),
        legacy_values_kept: None,
    }
}

/// The same rotation, with three values that could not be read.
pub fn failed_rotation() -> RotationReport {
    let mut report = completed_rotation();
    report.status = RotationStatus::Failed;
    report.failed_records = 3;
    report.records_rewritten = 11_997;
    let ssn = &mut report.models[0].columns[0];
    ssn.rewritten -= 3;
    ssn.failed = 3;
    report.failures = ["1041", "2210", "7788"]
        .into_iter()
        .map(|id| FailedValue {
            table: "customers".to_owned(),
            primary_key: id.to_owned(),
            column: "_ssn".to_owned(),
            reason: "authentication failed for column `customers._ssn`: the value was tampered \
                     with or truncated, or belongs to another column or key"
                .to_owned(),
        })
        .collect();
    if let Some(verification) = &mut report.verification {
        verification.ok = false;
        verification.undecryptable = 3;
    }
    report
}

fn column(name: &str, rows: u64, null: u64, rewritten: u64) -> ColumnReport {
    ColumnReport {
        column: name.to_owned(),
        rows,
        null,
        unchanged: rows - null - rewritten,
        rewritten,
        changed_concurrently: 0,
        failed: 0,
    }
}
