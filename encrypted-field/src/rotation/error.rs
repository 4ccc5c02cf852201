//! The error of every operation on a database: connecting, the rotation lease, rotation,
//! migration, reindexing, verification, status and retirement. A key or value error from the
//! layer below ([`crate::Error`]) is wrapped as [`Error::Crypto`], as Diesel's errors wrap a
//! driver's.

use crate::fleet::KeyKind;
use crate::keys::version::KeyVersion;
use crate::model::SpecError;
use crate::rotation::implausible::Implausible;
use crate::rotation::lease_holder::LeaseHolder;

/// Shorthand for `Result<T, encrypted_field::rotation::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while rotating, migrating, verifying or inspecting the encrypted
/// columns of a database.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use encrypted_field::rotation::database::Database;
/// use encrypted_field::rotation::Error;
///
/// // An empty SQLite path names no database: nothing is created.
/// let err = Database::connect("sqlite://").unwrap_err();
/// assert!(matches!(err, Error::DatabaseUrl { .. }), "{err}");
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key could not be loaded, or a value could not be sealed or opened (see
    /// [`crate::Error`]).
    #[error(transparent)]
    Crypto(#[from] crate::error::Error),

    /// A database operation failed: `action` says what was being done (and on which table and
    /// column), `source` is the driver's error. It is shown on one line whatever the driver
    /// wrote (libpq adds a tab-indented hint on a line of its own), so every backend's error
    /// reads alike in a log or on a terminal; `source` keeps the driver's text as it was.
    #[error("{action}: {}", one_line(&source.to_string()))]
    Database {
        /// What was being done, e.g. `reading customers._ssn after primary key 1000`.
        action: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A database URL could not be used. The URL is shown with any password removed.
    #[error("database URL `{url}`: {reason}")]
    DatabaseUrl {
        /// The URL, password redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A file the operation needs besides the key files could not be used.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `opening the rotation lock file`.
        action: &'static str,
        /// The path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Another rotation (or migration, reindex, key retirement) holds the database's rotation
    /// lease: `holder` names it. Nothing was written.
    #[error(
        "another rotation is running on this database: {holder}; nothing was written{}",
        waited.as_ref().map_or_else(
            || " (wait for it with --wait-for-lock DURATION; a killed run's lease expires by itself)".to_owned(),
            |waited| format!(" after waiting {waited}")
        )
    )]
    RotationInProgress {
        /// Who holds the lease.
        holder: Box<LeaseHolder>,
        /// How long this run waited for it (`None`: it was not asked to wait).
        waited: Option<String>,
    },

    /// The run's rotation lease was taken over by another run (it had expired: the run stalled
    /// for longer than the lease's time to live). The batch that found out was rolled back and
    /// nothing more was written; every batch written before is complete, and the new holder (or
    /// the next run) carries on from there.
    #[error(
        "this run lost its rotation lease (fence {fence}){}: it had expired, the run stalled longer than the lease's time to live (--lease-ttl); stopped without writing anything more (the batches written before are complete; the other run, or the next one, finishes the job)",
        holder.as_ref().map_or_else(String::new, |h| format!(" to {h}"))
    )]
    LeaseLost {
        /// The fencing counter of this run's taking.
        fence: i64,
        /// Who holds it now, if it could be read.
        holder: Option<LeaseHolder>,
    },

    /// A key version cannot be retired because values still use it.
    #[error(
        "key version {version} is still used by {values} values; rotate them first (encrypted-field rotate)"
    )]
    KeyVersionInUse {
        /// The version.
        version: KeyVersion,
        /// How many values use it.
        values: u64,
    },

    /// A model's primary key is not a unique, non-NULL column: rotation reads rows in key order
    /// after the last key seen, so rows sharing a key (or with none) would be skipped silently,
    /// and `status` and `verify` would miss them too.
    #[error(
        "{table}.{column} cannot be the primary key of a rotation: {reason}; rows sharing a key or without one would be skipped. Name a column with a unique index (--primary-key), or add one (CREATE UNIQUE INDEX … ON {table} ({column}))"
    )]
    PrimaryKeyNotUnique {
        /// The table.
        table: String,
        /// The column named as its primary key.
        column: String,
        /// What is wrong: no unique index on the column alone, or rows with a NULL key.
        reason: String,
    },

    /// The active key version cannot be retired: new values are written with it.
    #[error(
        "key version {0} is the active one (new values are written with it); activate another version and rotate before retiring it"
    )]
    ActiveKeyVersion(KeyVersion),

    /// A pass that writes blind indexes (migration, reindex) was given a column with a blind index
    /// and a ring with no blind-index key. Reported before anything is written.
    #[error(
        "cannot compute the blind index `{blind_index}` of `{column}`: no blind-index key is configured \
         (set DB_BLIND_INDEX_KEY_FILE or DB_BLIND_INDEX_KEY, a key of its own); nothing was written"
    )]
    BlindIndexKeyMissing {
        /// The encrypted column (`table.column`).
        column: String,
        /// Its blind-index column.
        blind_index: String,
    },

    /// A legacy plaintext fails a plausibility check (see `rotation::LegacyChecks`): the legacy
    /// key is probably wrong. Never holds the plaintext.
    #[error("{0} (a wrong legacy key, or a value of another kind)")]
    Implausible(Implausible),

    /// A migration found a legacy value it cannot prove it read correctly and wrote nothing for
    /// it: `nothing_written` says whether the refusal came before any write (the preflight), or
    /// stopped the writing pass before the batch holding the value (earlier batches are written
    /// and their legacy bytes kept, so `migrate --undo` restores them).
    #[error(
        "{}: {table}.{column} at primary key {primary_key}: {reason}{}",
        if *nothing_written { "migration refused, nothing was written" }
        else { "migration stopped before writing this batch (earlier batches can be undone with `migrate --undo`)" },
        if *others > 0 { format!(" (and {others} more values fail)") } else { String::new() }
    )]
    MigrationRefused {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The primary key of the value, as displayed in reports.
        primary_key: String,
        /// Which check the value failed (padding, UTF-8, pattern, …); never the value.
        reason: String,
        /// How many other values failed too.
        others: u64,
        /// Whether nothing at all was written.
        nothing_written: bool,
    },

    /// A key of the new key ring is the legacy system's key: the migrated values would stay
    /// readable by anyone holding the old key.
    #[error(
        "key version {version} of the key ring is the legacy key itself; the new key ring must hold \
         new keys only (make one with `encrypted-field keygen`; DB_ENCRYPTION_KEY is never the \
         Django module's Fernet key or the Node backend's enc_key.txt)"
    )]
    LegacyKeyReused {
        /// The version whose key equals the legacy key.
        version: KeyVersion,
    },

    /// A `--expect` pattern does not compile.
    #[error("the expected-plaintext pattern is not a valid regular expression: {reason}")]
    InvalidPattern {
        /// The regex compiler's message.
        reason: String,
    },

    /// `migrate --finalize` found a problem and deleted no legacy value.
    #[error("refusing to finalize the migration, every legacy value is kept: {reason}")]
    FinalizeRefused {
        /// What verification found.
        reason: String,
    },
    /// A value opens, but the blind index stored beside it is not the index of that value (empty,
    /// stale, or computed with another key or normalizer): lookups by it miss the row.
    #[error(
        "blind index does not match the value (`{blind_index}` is empty or stale; reindex rewrites it)"
    )]
    BlindIndexMismatch {
        /// The blind-index column.
        blind_index: String,
    },

    /// A blind index computed with another blind-index key version than the active one: lookups
    /// that try every loaded version still find the row, but it is stale.
    #[error(
        "blind index is on blind-index key {version}, not the active {active} (`{blind_index}` is \
         stale; `rotate --blind-index` rewrites it)"
    )]
    BlindIndexOnOtherVersion {
        /// The blind-index column.
        blind_index: String,
        /// The version the stored index names.
        version: KeyVersion,
        /// The active blind-index version.
        active: KeyVersion,
    },

    /// A parallel pass (`--workers`, `--join`) cannot go on: a worker's models or key ring do
    /// not match the pass it joins, a chunk's recorded counts are unreadable, or a worker thread
    /// died. Every batch written before is complete; the next run resumes.
    #[error("parallel pass: {reason}")]
    ParallelPass {
        /// What does not match, and what to do.
        reason: String,
    },

    /// `reindex` was given models none of whose columns has a blind index.
    #[error("no registered column has a blind index: nothing to reindex")]
    NoBlindIndexedColumn,

    /// Running instances of the fleet had not caught up with a key change when the wait ended:
    /// either they have not loaded the new version (`activated` false: nothing was activated),
    /// or, once it was recorded active, they still seal with another version (`activated` true:
    /// nothing was rewritten). Each entry of `instances` names one (host, pid, versions).
    #[error(
        "{}: {} running instance(s) {} after waiting {waited}: {}; {}",
        if *activated { format!("{kind} version {version} is recorded active in the database") }
        else { format!("not activating {kind} version {version}") },
        instances.len(),
        if *activated {
            match kind {
                KeyKind::Encryption => "still seal new values with another version",
                KeyKind::BlindIndex => "still compute new blind indexes with another version",
            }
        } else { "have not loaded it" },
        instances.join("; "),
        if *activated {
            "nothing was rewritten; check those instances (a local pin, a stopped reload) and run again"
        } else {
            "nothing was activated; give them the key file (or wait for their reload) and run again, \
             or pass --force-activate if those instances are gone"
        }
    )]
    InstancesLagging {
        /// Which keys: encryption or blind-index.
        kind: KeyKind,
        /// The version being activated.
        version: KeyVersion,
        /// Whether it was recorded active before the wait ran out.
        activated: bool,
        /// How long the command waited, e.g. `5m`.
        waited: String,
        /// The lagging instances, each as `host web-1 pid 42 (loaded v1, v2; sealing with v1; …)`.
        instances: Vec<String>,
    },

    /// A blind-index column is declared too narrow for the indexes of a new blind-index key
    /// version (versions 2 and up carry a prefix, FORMAT.md): activating it would make every
    /// application write fail. Refused before anything is written.
    #[error(
        "{column} holds at most {width} bytes, but an index of blind-index key version {version} \
         takes {needed} (FORMAT.md, \"Blind-index key versions\"): widen it first (e.g. {widen}); \
         nothing was written"
    )]
    BlindIndexColumnTooNarrow {
        /// The blind-index column, `table.column`.
        column: String,
        /// What the catalog declares it holds.
        width: u64,
        /// What one index of the new version takes, as the column stores it.
        needed: u64,
        /// The new blind-index version.
        version: KeyVersion,
        /// A column type wide enough, e.g. `VARBINARY(38)`.
        widen: String,
    },

    /// A model description cannot be used (see [`SpecError`](crate::model::SpecError)).
    #[error(transparent)]
    Model(#[from] SpecError),
}

/// `text` on one line: trimmed, its lines trimmed and joined with `; `, runs of white space
/// squeezed to one space, empty lines dropped.
fn one_line(text: &str) -> String {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_error_is_shown_on_one_line() {
        // What libpq says when nothing listens on the port.
        let libpq = "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\
                     \tIs the server running on that host and accepting TCP/IP connections?\n\n";
        let err = Error::Database {
            action: "connecting to postgres://postgres@127.0.0.1:1/test".to_owned(),
            source: libpq.into(),
        };

        assert_eq!(
            err.to_string(),
            "connecting to postgres://postgres@127.0.0.1:1/test: connection to server at \
             \"127.0.0.1\", port 1 failed: Connection refused; Is the server running on that host \
             and accepting TCP/IP connections?"
        );
    }

    #[test]
    fn a_one_line_database_error_is_shown_as_it_is() {
        let err = Error::Database {
            action: "reading customers._ssn".to_owned(),
            source: "Unknown database 'nope'".into(),
        };
        assert_eq!(
            err.to_string(),
            "reading customers._ssn: Unknown database 'nope'"
        );
    }
}
