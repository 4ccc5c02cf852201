//! What the scans of every pass share (`scanner.rs` runs them, planning and writing in turn or,
//! with `pipeline.rs`, overlapped): progress reporting, the failures counted, how a batch's values
//! are planned into compare-and-swap writes, and the check that keys advance.

use crate::model::{ColumnSpec, ModelSpec};
use std::time::{Duration, Instant};

use crate::rotation::database::{ColumnTarget, Database, PrimaryKey, StoredRow, Swap};
use crate::rotation::error::{Error, Result};
use crate::rotation::pacing::Pacing;
use crate::rotation::plan::{Binding, Plan, ValueAction};
use crate::rotation::report::{ColumnReport, FailedValue, MAX_LISTED_FAILURES};

/// Told about the scan's progress; the CLI draws a progress bar with it, tests use
/// [`batch_read`](Self::batch_read) to write concurrently at the worst moment.
pub trait Progress {
    /// A column's scan starts.
    fn column_started(&self, _table: &str, _column: &str) {}
    /// A batch was read and planned, and is about to be written (nothing is written yet).
    fn batch_read(&self, _table: &str, _column: &str, _keys: &[PrimaryKey]) {}
    /// A batch is done: `rows` more rows were handled.
    fn batch_done(&self, _rows: u64) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Settings of one scan.
pub(crate) struct ScanSettings<'a> {
    /// How batches are sized and paced when the scan writes; a scan that only reads takes
    /// batches of [`Pacing::max_rows`] and never pauses.
    pub pacing: Pacing,
    pub write: bool,
    pub progress: &'a dyn Progress,
}

/// Failures seen so far: all counted, the first [`MAX_LISTED_FAILURES`] listed.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    pub listed: Vec<FailedValue>,
    pub not_listed: u64,
    /// Every failure counted, and the latest one: what a refusal names.
    pub seen: u64,
    pub latest: Option<FailedValue>,
}

impl Failures {
    fn record(&mut self, table: &str, key: &PrimaryKey, column: &str, reason: String) {
        self.seen += 1;
        self.latest = Some(FailedValue {
            table: table.to_owned(),
            primary_key: key.to_string(),
            column: column.to_owned(),
            reason: reason.clone(),
        });
        if self.listed.len() < MAX_LISTED_FAILURES {
            self.listed.push(FailedValue {
                table: table.to_owned(),
                primary_key: key.to_string(),
                column: column.to_owned(),
                reason,
            });
        } else {
            self.not_listed += 1;
        }
    }
}

impl Failures {
    /// The error that refuses a migration over the latest failure, of `failed` in all.
    pub(crate) fn refusal(&self, failed: u64, nothing_written: bool) -> Error {
        let latest = self.latest.clone().unwrap_or_default();
        Error::MigrationRefused {
            table: latest.table,
            column: latest.column,
            primary_key: latest.primary_key,
            reason: latest.reason,
            others: failed.saturating_sub(1),
            nothing_written,
        }
    }
}

/// The ways a scan can stand one model's column in front of the database.
pub(crate) fn target<'a>(model: &'a ModelSpec, column: &'a ColumnSpec) -> ColumnTarget<'a> {
    ColumnTarget {
        table: model.table(),
        primary_key: model.primary_key(),
        key_kind: model.primary_key_kind(),
        column: column.column(),
        storage: column.storage(),
        blind_index: column.blind_index().map(|b| (b.column(), b.storage())),
    }
}

/// The rewrites of one batch, per column.
pub(crate) type Planned<'m> = Vec<(ColumnTarget<'m>, Vec<Swap>)>;

/// The empty report of each column of `model`, in order, telling `progress` each column starts.
pub(crate) fn column_reports(model: &ModelSpec, progress: &dyn Progress) -> Vec<ColumnReport> {
    model
        .columns()
        .iter()
        .map(|column| {
            progress.column_started(model.table(), column.column());
            ColumnReport {
                column: column.column().to_owned(),
                ..ColumnReport::default()
            }
        })
        .collect()
}

/// Plans every column of one batch, counting into `reports` and `failures`.
pub(crate) fn plan_batch<'m>(
    rows: &[StoredRow],
    model: &'m ModelSpec,
    action: &dyn ValueAction,
    reports: &mut [ColumnReport],
    failures: &mut Failures,
) -> Planned<'m> {
    model
        .columns()
        .iter()
        .zip(reports)
        .enumerate()
        .map(|(index, (column, report))| {
            let swaps = plan_column(rows, index, model, column, action, report, failures);
            (target(model, column), swaps)
        })
        .collect()
}

/// Tells `progress` the keys of the rows a planned batch is about to write.
pub(crate) fn announce(progress: &dyn Progress, table: &str, planned: &Planned<'_>) {
    for (target, swaps) in planned {
        let keys: Vec<PrimaryKey> = swaps.iter().map(|s| s.key.clone()).collect();
        progress.batch_read(table, target.column, &keys);
    }
}

/// Writes one batch's rewrites in one transaction: the rows updated per column, and how long the
/// transaction took.
pub(crate) fn write_batch(
    db: &mut Database,
    action: &dyn ValueAction,
    planned: &Planned<'_>,
) -> Result<(Vec<usize>, Duration)> {
    let transaction = Instant::now();
    let updated = if action.keeps_replaced_bytes() {
        db.swap_batch_keeping_replaced(planned)?
    } else {
        db.swap_batch(planned)?
    };
    Ok((updated, transaction.elapsed()))
}

/// Counts in `reports` the rows of a written batch that an application changed since they were
/// read (their compare-and-swap updated nothing); returns how many values the batch wrote.
pub(crate) fn count_written(
    planned: &Planned<'_>,
    updated: Vec<usize>,
    reports: &mut [ColumnReport],
) -> usize {
    for ((_, swaps), (updated, report)) in planned.iter().zip(updated.into_iter().zip(reports)) {
        let lost = (swaps.len() as u64).saturating_sub(updated as u64);
        report.changed_concurrently += lost;
        report.rewritten -= lost;
    }
    planned.iter().map(|(_, swaps)| swaps.len()).sum()
}

/// Refuses a batch that ends at `last` after one that ended at `previous` unless the key advanced:
/// a key that did not survive its trip through Rust unchanged (an unsigned key above i64::MAX,
/// text that is not UTF-8, text in an integer key column) could loop forever or skip rows.
pub(crate) fn check_advances(
    model: &ModelSpec,
    previous: Option<&PrimaryKey>,
    last: &PrimaryKey,
) -> Result<()> {
    match previous {
        Some(previous) if !advances(previous, last) => Err(Error::Database {
            action: format!("reading {} in primary-key order", model.table()),
            source: format!(
                "the primary key `{}` does not advance (after {previous}, the next batch ends at \
                 {last}); keys must be integers within i64 or UTF-8 text",
                model.primary_key(),
            )
            .into(),
        }),
        _ => Ok(()),
    }
}

/// Whether `next` lies beyond `previous` in key order: integer keys must grow; text keys, whose
/// order is the database's collation, must at least differ.
fn advances(previous: &PrimaryKey, next: &PrimaryKey) -> bool {
    match (previous, next) {
        (PrimaryKey::Integer(a), PrimaryKey::Integer(b)) => b > a,
        (a, b) => a != b,
    }
}

/// Plans the values of one column (at `index` in each row) of a batch, counting as it goes;
/// returns the writes to make.
fn plan_column(
    rows: &[StoredRow],
    index: usize,
    model: &ModelSpec,
    column: &ColumnSpec,
    action: &dyn ValueAction,
    report: &mut ColumnReport,
    failures: &mut Failures,
) -> Vec<Swap> {
    let mut swaps = Vec::new();
    for row in rows {
        report.rows += 1;
        let Some(stored) = row.values.get(index).and_then(Option::as_ref) else {
            report.null += 1;
            continue;
        };
        let row_key = column.is_bound_to_row().then(|| row.key.row_key());
        let context = match &row_key {
            Some(key) => Binding::row(column.context(), key),
            None => Binding::column(column.context()),
        };
        let plan = match column.blind_index() {
            Some(blind) => {
                let stored_index = row.blind_indexes.get(index).and_then(Option::as_deref);
                action.plan_indexed(column.storage(), context, stored, blind, stored_index)
            }
            None => action.plan(column.storage(), context, stored),
        };
        match plan {
            Plan::Keep => report.unchanged += 1,
            Plan::Rewrite { value, blind_index } => {
                report.rewritten += 1;
                swaps.push(Swap {
                    key: row.key.clone(),
                    old: stored.clone(),
                    new: value,
                    blind_index,
                });
            }
            Plan::Fail(error) => {
                report.failed += 1;
                failures.record(model.table(), &row.key, column.column(), error.to_string());
            }
        }
    }
    swaps
}
