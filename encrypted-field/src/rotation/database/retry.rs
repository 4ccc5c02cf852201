//! Transient conflicts: the errors with which an engine asks for a transaction to be run again
//! (a deadlock victim, a Galera certification failure, a serialization failure, a lock wait that
//! timed out, SQLite's busy database), and the bounded, jittered exponential backoff between
//! attempts. A batch is safe to run again as it was: every write in it is a compare-and-swap, and
//! the failed attempt was rolled back whole.

use std::time::Duration;

use ::diesel::result::{DatabaseErrorKind, Error as DieselError};

/// How many times one statement or transaction is run again after a transient conflict before
/// the error is returned (about 8 s of waiting in all).
pub(crate) const MAX_RETRIES: u32 = 10;

/// The first wait; each next one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(10);

/// The longest single wait.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What the servers say when Diesel keeps no code for it, as each documents it (English, the
/// servers' default `lc_messages`): MySQL/MariaDB's 1213 and 1205 and Galera's certification
/// failure from a statement Diesel does not prepare (`COMMIT`, where Galera reports it), whose
/// error Diesel reports without its number; PostgreSQL's 40P01 and 40001 text (Diesel maps 40001
/// to a kind, not 40P01); SQLite's `SQLITE_BUSY` and `SQLITE_LOCKED` (Diesel keeps the extended
/// code only for constraint violations).
const TRANSIENT_MESSAGES: [&str; 7] = [
    "Deadlock found when trying to get lock",
    "Lock wait timeout exceeded",
    "WSREP detected deadlock/conflict",
    "deadlock detected",
    "could not serialize access",
    "database is locked",
    "database table is locked",
];

/// Whether `error` is a transient conflict that running the transaction again resolves. By
/// Diesel's error kind where it has one (`SerializationFailure`: PostgreSQL's SQLSTATE 40001,
/// MySQL/MariaDB's error 1213 from a prepared statement), else by the server's message.
pub(crate) fn is_transient(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            TRANSIENT_MESSAGES
                .iter()
                .any(|known| message.contains(known))
        }
        _ => false,
    }
}

/// The wait before retry number `retry` (0-based): doubling from [`FIRST_BACKOFF`] up to
/// [`MAX_BACKOFF`], then drawn uniformly from its upper half, so that two runs that conflicted
/// do not retry in step.
pub(crate) fn backoff(retry: u32) -> Duration {
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1u32 << retry.min(16))
        .min(MAX_BACKOFF);
    ceiling.mul_f64(crate::keys::os_random::jitter_factor())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn a_serialization_failure_is_transient_by_its_kind() {
        assert!(is_transient(&database_error(
            DatabaseErrorKind::SerializationFailure,
            "anything"
        )));
    }

    #[test]
    fn the_engines_conflict_messages_are_transient() {
        for message in [
            "Deadlock found when trying to get lock; try restarting transaction",
            "Lock wait timeout exceeded; try restarting transaction",
            "WSREP detected deadlock/conflict and aborted the transaction. Try restarting the transaction",
            "deadlock detected",
            "could not serialize access due to concurrent update",
            "database is locked",
            "database table is locked: t",
        ] {
            assert!(
                is_transient(&database_error(DatabaseErrorKind::Unknown, message)),
                "{message}"
            );
        }
    }

    #[test]
    fn other_errors_are_not_transient() {
        assert!(!is_transient(&database_error(
            DatabaseErrorKind::UniqueViolation,
            "duplicate key value violates unique constraint"
        )));
        assert!(!is_transient(&database_error(
            DatabaseErrorKind::Unknown,
            "Table 'test.nope' doesn't exist"
        )));
        assert!(!is_transient(&DieselError::NotFound));
    }

    #[test]
    fn backoff_doubles_within_its_bounds() {
        for retry in 0..MAX_RETRIES {
            let ceiling = FIRST_BACKOFF.saturating_mul(1 << retry).min(MAX_BACKOFF);
            let wait = backoff(retry);
            assert!(wait >= ceiling / 2 && wait <= ceiling, "{retry}: {wait:?}");
        }
        assert!(backoff(40) <= MAX_BACKOFF);
    }
}
