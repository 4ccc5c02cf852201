//! [`RotationReport`]: what a rotation, migration or verification did, as a value that the CLI
//! prints as JSON or as text and that notifiers receive.
//!
//! It is a superset of the Django module's report:
//! `{status, timestamp, models_processed, records_processed, failed_records, key_backup_path}`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The key a rotation to a new key created (or, in a dry run, would create).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewKey {
    /// Its version.
    pub version: u32,
    /// The version that was active before it.
    pub previous_version: u32,
    /// The key file it was written to (would be, in a dry run). Never the key itself.
    pub key_file: String,
}

/// `completed`, or `failed` when any value could not be read or verification found a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationStatus {
    /// Every value was handled and verification (if run) passed.
    Completed,
    /// Some values could not be read (see `failures`), or verification found values left behind.
    Failed,
}

impl fmt::Display for RotationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
        })
    }
}

/// What kind of pass produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Re-encryption with the active key.
    Rotate,
    /// Legacy values brought into format v1.
    Migrate,
    /// Blind indexes rewritten where they are not their value's.
    Reindex,
    /// Every value opened, nothing written.
    Verify,
}

/// The report of one pass over every registered model.
#[derive(Debug, Clone, Serialize)]
pub struct RotationReport {
    /// `completed` or `failed`.
    pub status: RotationStatus,
    /// When the pass started, RFC 3339 in UTC.
    pub timestamp: String,
    /// How many models (tables) were processed.
    pub models_processed: usize,
    /// How many non-NULL values were examined.
    pub records_processed: u64,
    /// How many values could not be read (each is left untouched).
    pub failed_records: u64,
    /// The key backup written before the rewrite, if any.
    pub key_backup_path: Option<String>,
    /// The key a rotation to a new key created (or would create, in a dry run): a blind-index
    /// key when the operation is `reindex` (`rotate --blind-index --new-key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_key: Option<NewKey>,
    /// What kind of pass this was.
    pub operation: Operation,
    /// Whether nothing was written (`--dry-run`): the counts say what would have changed.
    pub dry_run: bool,
    /// The key version every value uses afterwards.
    pub active_version: u32,
    /// How many values were rewritten (or would be, in a dry run).
    pub records_rewritten: u64,
    /// How many values an application changed between read and write, over every pass; each was
    /// left as the application wrote it (a value it wrote with an older key is rewritten by the
    /// next pass and counted in `records_rewritten` too).
    pub records_changed_concurrently: u64,
    /// How many times a batch (or a statement) was run again because the database aborted it for
    /// a transient conflict: a deadlock, a Galera certification failure, a serialization
    /// failure, a lock wait timeout, a busy SQLite database. Each was retried with backoff and
    /// did not fail the run.
    pub conflicts_retried: u64,
    /// How long the pass took, in milliseconds (verification included).
    pub duration_ms: u64,
    /// Values examined per second during the rewrite.
    pub rows_per_second: f64,
    /// Per model and column.
    pub models: Vec<ModelReport>,
    /// The values that could not be read, at most [`MAX_LISTED_FAILURES`] of them.
    pub failures: Vec<FailedValue>,
    /// How many failures were counted but not listed.
    pub failures_not_listed: u64,
    /// The check after the rewrite, when one was run.
    pub verification: Option<Verification>,
    /// After a migration: how many legacy values are kept (until `migrate --finalize`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_values_kept: Option<u64>,
}

/// The most failures a report lists one by one (all are counted), so that its size does not grow
/// with the table.
pub const MAX_LISTED_FAILURES: usize = 1000;

/// Counts for one model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    /// The table.
    pub table: String,
    /// Its encrypted columns.
    pub columns: Vec<ColumnReport>,
}

/// Counts for one column.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ColumnReport {
    /// The column.
    pub column: String,
    /// Rows read.
    pub rows: u64,
    /// NULL values (nothing to do).
    pub null: u64,
    /// Values that were already as the pass would make them.
    pub unchanged: u64,
    /// Values rewritten (or that would be, in a dry run).
    pub rewritten: u64,
    /// Values an application changed between read and write (left as it wrote them).
    pub changed_concurrently: u64,
    /// Values that could not be read.
    pub failed: u64,
}

/// One value that could not be read: where it is and why. Never its content.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FailedValue {
    /// The table.
    pub table: String,
    /// The row's primary key, as text.
    pub primary_key: String,
    /// The column.
    pub column: String,
    /// Why it could not be read.
    pub reason: String,
}

/// The check after a rewrite: how many values use each key version, and what is wrong.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    /// Whether every value opens and none uses another version than the active one.
    pub ok: bool,
    /// Values per key version (`v1`, `v2`, …), over every column.
    pub values_by_version: BTreeMap<String, u64>,
    /// Values on another version than the active one.
    pub values_on_other_versions: u64,
    /// Values that did not open.
    pub undecryptable: u64,
    /// Values that open but whose blind index is not theirs (lookups miss them): `reindex`
    /// rewrites those indexes.
    pub stale_blind_indexes: u64,
    /// The blind-index columns (`table.column`) that were not checked because the ring has no
    /// blind-index key.
    pub blind_indexes_not_checked: Vec<String>,
}

impl RotationReport {
    /// How many values could not be read. A verification counts its stale blind indexes among
    /// its failed records, but those values did open, so they are left out here.
    pub fn unreadable_values(&self) -> u64 {
        match self.operation {
            Operation::Verify => self
                .failed_records
                .saturating_sub(self.stale_blind_indexes()),
            _ => self.failed_records,
        }
    }

    /// How many blind indexes a verification found stale (0 without a verification).
    pub fn stale_blind_indexes(&self) -> u64 {
        self.verification
            .as_ref()
            .map_or(0, |v| v.stale_blind_indexes)
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

impl fmt::Display for RotationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match (self.operation, self.dry_run) {
            (Operation::Verify, _) => "verified",
            (_, true) => "would rewrite",
            (Operation::Rotate, false) => "re-encrypted",
            (Operation::Migrate, false) => "migrated",
            (Operation::Reindex, false) => "reindexed",
        };
        let counted = match self.operation {
            Operation::Verify => format!("{} values {verb} against", self.records_processed),
            Operation::Reindex => format!(
                "{} of {} blind indexes {}rewritten; active",
                self.records_rewritten,
                self.records_processed,
                if self.dry_run { "would be " } else { "" }
            ),
            _ => format!(
                "{} of {} values {verb} to",
                self.records_rewritten, self.records_processed
            ),
        };
        writeln!(
            f,
            "{}: {counted} key v{} across {} models in {:.1}s ({:.0} values/s)",
            self.status,
            self.active_version,
            self.models_processed,
            self.duration_ms as f64 / 1000.0,
            self.rows_per_second,
        )?;
        for model in &self.models {
            for c in &model.columns {
                writeln!(
                    f,
                    "  {}.{}: {} rows, {} rewritten, {} unchanged, {} null, {} changed concurrently, {} failed",
                    model.table,
                    c.column,
                    c.rows,
                    c.rewritten,
                    c.unchanged,
                    c.null,
                    c.changed_concurrently,
                    c.failed
                )?;
            }
        }
        if self.conflicts_retried > 0 {
            writeln!(
                f,
                "transient conflicts retried: {} (deadlocks, certification or serialization failures, lock waits; none failed the run)",
                self.conflicts_retried
            )?;
        }
        if let Some(key) = &self.new_key {
            let would = if self.dry_run { "would be " } else { "" };
            let what = match self.operation {
                Operation::Reindex => "new blind-index key",
                _ => "new key",
            };
            writeln!(
                f,
                "{what}: v{} {would}written to {} and activated (was v{})",
                key.version, key.key_file, key.previous_version
            )?;
        }
        if let Some(path) = &self.key_backup_path {
            writeln!(f, "key backup: {path}")?;
        }
        if let Some(kept) = self.legacy_values_kept {
            writeln!(
                f,
                "legacy values kept: {kept} (`migrate --undo` restores them; `migrate --finalize` deletes them once verified)"
            )?;
        }
        if let Some(v) = &self.verification {
            let versions: Vec<String> = v
                .values_by_version
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            writeln!(
                f,
                "verification: {} ({}; {} undecryptable, {} on other versions, {} stale blind indexes)",
                if v.ok { "ok" } else { "FAILED" },
                if versions.is_empty() {
                    "no values".to_owned()
                } else {
                    versions.join(", ")
                },
                v.undecryptable,
                v.values_on_other_versions,
                v.stale_blind_indexes
            )?;
            if !v.blind_indexes_not_checked.is_empty() {
                writeln!(
                    f,
                    "blind indexes NOT checked (no blind-index key configured): {}",
                    v.blind_indexes_not_checked.join(", ")
                )?;
            }
        }
        for failure in &self.failures {
            writeln!(
                f,
                "failed: {}.{} id={}: {}",
                failure.table, failure.column, failure.primary_key, failure.reason
            )?;
        }
        if self.failures_not_listed > 0 {
            writeln!(
                f,
                "… and {} more failures not listed",
                self.failures_not_listed
            )?;
        }
        Ok(())
    }
}
