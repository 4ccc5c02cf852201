//! The one scan every pass shares: each column of each model is read in primary-key order in
//! bounded batches; each value gets a [`Plan`]; the rewrites of a batch are written in one
//! transaction with compare-and-swap, so an application's concurrent write always wins and a kill
//! at any instant leaves every value either old-and-readable or new-and-readable.

use std::time::Instant;

use crate::model::{ColumnSpec, ModelSpec};
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

/// Scans every encrypted column of one model with `action`, one batch of rows at a time (one read
/// for all columns), writing each batch's rewrites in one transaction when `settings.write` is set.
/// Returns one report per column, in the model's order.
pub(crate) fn scan_model(
    db: &mut Database,
    model: &ModelSpec,
    action: &dyn ValueAction,
    settings: &ScanSettings<'_>,
    failures: &mut Failures,
) -> Result<Vec<ColumnReport>> {
    db.check_unique_key(model)?;
    let mut reports: Vec<ColumnReport> = model
        .columns()
        .iter()
        .map(|column| {
            settings
                .progress
                .column_started(model.table(), column.column());
            ColumnReport {
                column: column.column().to_owned(),
                ..ColumnReport::default()
            }
        })
        .collect();
    let backend = db.backend_name();
    let mut pacer = if settings.write {
        settings.pacing.start(backend)
    } else {
        Pacing::fixed(settings.pacing.max_rows()).start(backend)
    };
    let mut after: Option<PrimaryKey> = None;
    loop {
        // A pass that only reads writes no fenced batch: keep the lease alive between batches.
        db.renew_lease_if_due()?;
        let batch_rows = pacer.rows();
        let rows = db.read_batch(model, after.as_ref(), batch_rows)?;
        let Some(last) = rows.last() else { break };
        if after
            .as_ref()
            .is_some_and(|previous| !advances(previous, &last.key))
        {
            // The key did not survive its trip through Rust unchanged (an unsigned key above
            // i64::MAX, text that is not UTF-8, text in an integer key column): continuing could
            // loop forever or skip rows, so stop and say why.
            return Err(Error::Database {
                action: format!("reading {} in primary-key order", model.table()),
                source: format!(
                    "the primary key `{}` does not advance (after {}, the next batch ends at {}); \
                     keys must be integers within i64 or UTF-8 text",
                    model.primary_key(),
                    after.as_ref().map_or_else(String::new, ToString::to_string),
                    last.key
                )
                .into(),
            });
        }
        after = Some(last.key.clone());
        let failures_before = failures.seen;
        let swaps: Vec<(ColumnTarget<'_>, Vec<Swap>)> = model
            .columns()
            .iter()
            .zip(&mut reports)
            .enumerate()
            .map(|(index, (column, report))| {
                let swaps = plan_column(&rows, index, model, column, action, report, failures);
                (target(model, column), swaps)
            })
            .collect();
        for (target, swaps) in &swaps {
            let keys: Vec<PrimaryKey> = swaps.iter().map(|s| s.key.clone()).collect();
            settings
                .progress
                .batch_read(model.table(), target.column, &keys);
        }
        if action.stops_at_failure() && failures.seen > failures_before {
            return Err(failures.refusal(failures.seen - failures_before, !settings.write));
        }
        let mut pause = std::time::Duration::ZERO;
        if settings.write {
            let written: usize = swaps.iter().map(|(_, swaps)| swaps.len()).sum();
            let transaction = Instant::now();
            let updated = if action.keeps_replaced_bytes() {
                db.swap_batch_keeping_replaced(&swaps)?
            } else {
                db.swap_batch(&swaps)?
            };
            pause = pacer.written(rows.len(), written, transaction.elapsed());
            for ((_, swaps), (updated, report)) in
                swaps.iter().zip(updated.into_iter().zip(&mut reports))
            {
                let lost = (swaps.len() as u64).saturating_sub(updated as u64);
                report.changed_concurrently += lost;
                report.rewritten -= lost;
            }
        }
        settings.progress.batch_done(rows.len() as u64);
        if rows.len() < batch_rows {
            break;
        }
        // Leave the application a window to take the locks this batch held.
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    Ok(reports)
}

/// Whether `next` lies beyond `previous` in key order: integer keys must grow; text keys, whose
/// order is the database's collation, must at least differ.
pub(crate) fn advances(previous: &PrimaryKey, next: &PrimaryKey) -> bool {
    match (previous, next) {
        (PrimaryKey::Integer(a), PrimaryKey::Integer(b)) => b > a,
        (a, b) => a != b,
    }
}

/// Plans the values of one column (at `index` in each row) of a batch, counting as it goes;
/// returns the writes to make.
pub(crate) fn plan_column(
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
