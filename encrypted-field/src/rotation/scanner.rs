//! The one scan every pass shares: the rows of a model (or of a chunk of it) are read in
//! primary-key order in bounded batches; each value gets a [`Plan`](crate::rotation::plan::Plan);
//! the rewrites of a batch are written in one transaction with compare-and-swap, so an
//! application's concurrent write always wins and a kill at any instant leaves every value either
//! old-and-readable or new-and-readable. Planning and writing alternate on one thread, or overlap
//! on two (`pipeline.rs`); what both share is in `scan.rs`.

use std::time::Instant;

use crate::model::ModelSpec;
use crate::rotation::database::{ColumnTarget, Database, KeyRange, PrimaryKey, Swap};
use crate::rotation::error::Result;
use crate::rotation::pacing::Pacing;
use crate::rotation::pipeline;
use crate::rotation::plan::ValueAction;
use crate::rotation::report::ColumnReport;
use crate::rotation::scan::{Failures, ScanSettings, check_advances, plan_column, target};

/// Scans every encrypted column of the rows of one model in `range` with `action`, one batch of
/// rows at a time (one read for all columns), writing each batch's rewrites in one transaction
/// when `settings.write` is set. Returns one report per column, in the model's order.
///
/// A pass that writes batches of a fixed size with an action threads can share plans each batch
/// on a second thread while the previous one is written (`pipeline.rs`); the others plan and
/// write in turn, on this thread.
pub(crate) fn scan_model(
    db: &mut Database,
    model: &ModelSpec,
    range: &KeyRange,
    action: &dyn ValueAction,
    settings: &ScanSettings<'_>,
    failures: &mut Failures,
) -> Result<Vec<ColumnReport>> {
    match action.shared() {
        // Batches sized by their write time would be sized one write late: those keep the
        // scan that reads each batch after the previous write.
        Some(shared) if settings.write && settings.pacing.transaction_time().is_zero() => {
            pipeline::overlapped(db, model, range, shared, settings, failures)
        }
        _ => in_turn(db, model, range, action, settings, failures),
    }
}

/// [`scan_model`] planning and writing each batch in turn.
fn in_turn(
    db: &mut Database,
    model: &ModelSpec,
    range: &KeyRange,
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
    let mut remaining = range.clone();
    loop {
        // A pass that only reads writes no fenced batch: keep the lease alive between batches.
        db.renew_lease_if_due()?;
        let batch_rows = pacer.rows();
        let rows = db.read_batch(model, &remaining, batch_rows)?;
        let Some(last) = rows.last() else { break };
        check_advances(model, remaining.after.as_ref(), &last.key)?;
        remaining.after = Some(last.key.clone());
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
