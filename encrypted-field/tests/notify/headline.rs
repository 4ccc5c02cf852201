//! `headline`: what the e-mail subject says for each kind of pass and outcome.

use encrypted_field::notify::headline;
use encrypted_field::rotation::{Operation, RotationStatus};

use crate::reports::{completed_rotation, failed_rotation};

#[test]
fn a_completed_rotation_counts_the_values_re_encrypted_and_names_the_key() {
    assert_eq!(
        headline(&completed_rotation()),
        "key rotation completed: 12000 values re-encrypted to v3"
    );
}

#[test]
fn a_failed_rotation_counts_the_values_that_could_not_be_read() {
    assert_eq!(
        headline(&failed_rotation()),
        "key rotation FAILED: 3 values could not be read"
    );
}

#[test]
fn one_value_is_singular() {
    let mut report = failed_rotation();
    report.failed_records = 1;
    assert_eq!(
        headline(&report),
        "key rotation FAILED: 1 value could not be read"
    );
}

#[test]
fn a_failed_verification_says_what_it_found() {
    let mut report = completed_rotation();
    report.status = RotationStatus::Failed;
    let verification = report.verification.as_mut().unwrap();
    verification.ok = false;
    verification.undecryptable = 2;
    verification.values_on_other_versions = 40;
    assert_eq!(
        headline(&report),
        "key rotation FAILED: 2 values did not open in the verification; \
         40 values still on another key version than v3"
    );
}

#[test]
fn a_dry_run_says_what_would_be_done() {
    let mut report = completed_rotation();
    report.dry_run = true;
    assert_eq!(
        headline(&report),
        "key rotation dry run completed: 12000 values would be re-encrypted to v3"
    );
}

#[test]
fn a_migration_and_a_verification_say_so() {
    let mut report = completed_rotation();
    report.operation = Operation::Migrate;
    assert_eq!(
        headline(&report),
        "legacy migration completed: 12000 values migrated to v3"
    );
    report.operation = Operation::Verify;
    assert_eq!(
        headline(&report),
        "verification completed: 12400 values checked, all readable with key v3"
    );
}
