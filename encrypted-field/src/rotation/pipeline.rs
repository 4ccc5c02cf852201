//! The scan of a writing pass with its planning overlapped with the database: while the rewrites
//! of one batch are written on the caller's thread, the next batch (already read) is planned
//! (opened and sealed again) on a second thread. On a machine with a core to spare the
//! cryptography then costs no wall-clock time as long as planning a batch takes less time than
//! writing one; with SQLite, which runs in-process, that is the difference between a rotation
//! well below its I/O limit and one at it.
//!
//! The same invariants as `scanner::scan_model` hold: one read and one transaction per batch, each
//! write a compare-and-swap of bytes read, the lease checked in each transaction, progress told
//! of a batch after it is planned and before it is written. Three things move:
//!
//! - batch *N + 1* is read before batch *N* is written (the connection does one thing at a time),
//!   so an application's write to a row of *N + 1* between that read and its write makes its
//!   compare-and-swap miss and is counted as changed concurrently, as always;
//! - the pause after a write (when the pacing has one) comes before the next write, not before
//!   the next read;
//! - a failure to read batch *N + 1* is returned after batch *N* is written, as before.
//!
//! Only passes that write with fixed batch sizes (a zero [`Pacing::transaction_time`], as
//! [`Pacing::fixed`] sets) and whose action can be shared between threads
//! ([`ValueAction::shared`]) are planned this way: a batch sized by the time of the previous
//! write cannot be read before that write; `scanner::scan_model` plans and writes the others in
//! turn.

use crate::model::ModelSpec;
use crate::rotation::database::{Database, KeyRange, StoredRow};
use crate::rotation::error::Result;
use crate::rotation::pacing::Pacer;
#[cfg(doc)]
use crate::rotation::pacing::Pacing;
use crate::rotation::plan::ValueAction;
use crate::rotation::report::ColumnReport;
use crate::rotation::scan::{
    Failures, ScanSettings, announce, check_advances, column_reports, count_written, plan_batch,
    write_batch,
};

/// Scans the rows of one model in `range` as `scanner::scan_model` does, planning each batch on a
/// second thread while the previous one is written.
pub(crate) fn overlapped(
    db: &mut Database,
    model: &ModelSpec,
    range: &KeyRange,
    action: &(dyn ValueAction + Sync),
    settings: &ScanSettings<'_>,
    failures: &mut Failures,
) -> Result<Vec<ColumnReport>> {
    db.check_unique_key(model)?;
    let mut reports = column_reports(model, settings.progress);
    let mut pacer = settings.pacing.start(db.backend_name());
    db.renew_lease_if_due()?;
    let mut remaining = range.clone();
    let Some((mut rows, mut batch_rows)) = read_next(db, model, &mut remaining, &pacer)? else {
        return Ok(reports);
    };
    let mut seen_before = failures.seen;
    let mut swaps = plan_batch(&rows, model, action, &mut reports, failures);
    loop {
        announce(settings.progress, model.table(), &swaps);
        if action.stops_at_failure() && failures.seen > seen_before {
            return Err(failures.refusal(failures.seen - seen_before, false));
        }
        // The next batch is read before this one is written, to be planned while it is. No
        // lease renewal before that read: the write that follows it checks the lease in its
        // transaction (and renews it), so a run that lost its lease while this batch waited
        // stops at that write, as the scan without overlap does.
        let next = if rows.len() < batch_rows {
            Ok(None)
        } else {
            read_next(db, model, &mut remaining, &pacer)
        };
        seen_before = failures.seen;
        let (written, next_swaps) = {
            let next_rows = match &next {
                Ok(Some((next_rows, _))) => Some(next_rows.as_slice()),
                _ => None,
            };
            let (reports, failures) = (&mut reports, &mut *failures);
            std::thread::scope(|scope| {
                let planner = next_rows.map(|next_rows| {
                    scope.spawn(move || plan_batch(next_rows, model, action, reports, failures))
                });
                let written = write_batch(db, action, &swaps);
                // A panic while planning is the scan's panic, as without the second thread.
                let planned = planner.map(|planner| {
                    planner
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                });
                (written, planned)
            })
        };
        let (updated, elapsed) = written?;
        let written = count_written(&swaps, updated, &mut reports);
        let pause = pacer.written(rows.len(), written, elapsed);
        settings.progress.batch_done(rows.len() as u64);
        let Some((next_rows, next_batch_rows)) = next? else {
            break;
        };
        // Leave the application a window to take the locks this batch held.
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        (rows, batch_rows) = (next_rows, next_batch_rows);
        swaps = next_swaps.unwrap_or_default();
    }
    Ok(reports)
}

/// Reads the next batch of `remaining` (and moves its start past it), sized by the pacer; `None`
/// when there are no more rows. Refuses a key that does not advance, as `scanner::scan_model`
/// does.
fn read_next(
    db: &mut Database,
    model: &ModelSpec,
    remaining: &mut KeyRange,
    pacer: &Pacer,
) -> Result<Option<(Vec<StoredRow>, usize)>> {
    let batch_rows = pacer.rows();
    let rows = db.read_batch(model, remaining, batch_rows)?;
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    check_advances(model, remaining.after.as_ref(), &last.key)?;
    remaining.after = Some(last.key.clone());
    Ok(Some((rows, batch_rows)))
}
