//! The one scan every pass shares: the rows of a model (or of a chunk of it) are read in
//! primary-key order in bounded batches; each value gets a [`Plan`](crate::rotation::plan::Plan);
//! the rewrites of a batch are written in one transaction with compare-and-swap, so an
//! application's concurrent write always wins and a kill at any instant leaves every value either
//! old-and-readable or new-and-readable. Planning and writing alternate on one thread, or overlap
//! on two (`pipeline.rs`); what both share is in `scan.rs`.

use crate::model::ModelSpec;
use crate::rotation::database::{Database, KeyRange};
use crate::rotation::error::Result;
use crate::rotation::pacing::Pacing;
use crate::rotation::pipeline;
use crate::rotation::plan::ValueAction;
use crate::rotation::report::ColumnReport;
use crate::rotation::scan::{
    Failures, ScanSettings, announce, check_advances, column_reports, count_written, plan_batch,
    write_batch,
};

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
    let mut reports = column_reports(model, settings.progress);
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
        let planned = plan_batch(&rows, model, action, &mut reports, failures);
        announce(settings.progress, model.table(), &planned);
        if action.stops_at_failure() && failures.seen > failures_before {
            return Err(failures.refusal(failures.seen - failures_before, !settings.write));
        }
        let mut pause = std::time::Duration::ZERO;
        if settings.write {
            let (updated, elapsed) = write_batch(db, action, &planned)?;
            let written = count_written(&planned, updated, &mut reports);
            pause = pacer.written(rows.len(), written, elapsed);
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
