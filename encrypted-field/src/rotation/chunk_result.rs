//! What a worker found in one chunk, as it records it in the chunk's row (JSON) for the pass's
//! merged report: the same counts a single-stream pass keeps, whichever host scanned the chunk.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rotation::error::{Error, Result};
use crate::rotation::report::{ColumnReport, FailedValue, MAX_LISTED_FAILURES, RotationReport};
use crate::rotation::scan::Failures;
use crate::rotation::work::Scanned;

/// The most failures one chunk's row lists (all are counted): the merged report lists at most
/// [`MAX_LISTED_FAILURES`] in all.
const MAX_LISTED_PER_CHUNK: usize = 100;

/// One chunk's counts.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ChunkResult {
    pub table: String,
    pub columns: Vec<ColumnReport>,
    pub failures: Vec<FailedValue>,
    pub failures_not_listed: u64,
    pub conflicts_retried: u64,
    pub values_by_version: BTreeMap<String, u64>,
    pub stale_blind_indexes: u64,
}

impl ChunkResult {
    /// The result of a scan of one chunk of `table`.
    pub(crate) fn new(
        table: &str,
        scanned: Scanned,
        mut failures: Failures,
        conflicts_retried: u64,
    ) -> Self {
        let unlisted = failures.listed.len().saturating_sub(MAX_LISTED_PER_CHUNK);
        failures.listed.truncate(MAX_LISTED_PER_CHUNK);
        Self {
            table: table.to_owned(),
            columns: scanned.columns,
            failures: failures.listed,
            failures_not_listed: failures.not_listed + unlisted as u64,
            conflicts_retried,
            values_by_version: scanned.values_by_version,
            stale_blind_indexes: scanned.stale_blind_indexes,
        }
    }

    /// As recorded in the chunk's row.
    pub(crate) fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|error| Error::ParallelPass {
            reason: format!("a chunk's counts could not be written as JSON: {error}"),
        })
    }

    /// Adds the result recorded in a chunk's row (`json`) to a pass's `report` (whose models are
    /// the registry's) and `counts`.
    pub(crate) fn merge_into(
        json: &str,
        report: &mut RotationReport,
        counts: &mut Scanned,
    ) -> Result<()> {
        let chunk: Self = serde_json::from_str(json).map_err(|error| Error::ParallelPass {
            reason: format!("a chunk's recorded counts are not readable: {error}"),
        })?;
        let Some(model) = report.models.iter_mut().find(|m| m.table == chunk.table) else {
            return Err(Error::ParallelPass {
                reason: format!(
                    "a worker scanned table `{}`, which this registry does not have",
                    chunk.table
                ),
            });
        };
        if model.columns.is_empty() {
            model.columns = chunk.columns;
        } else if model.columns.len() == chunk.columns.len() {
            for (total, more) in model.columns.iter_mut().zip(&chunk.columns) {
                total.rows += more.rows;
                total.null += more.null;
                total.unchanged += more.unchanged;
                total.rewritten += more.rewritten;
                total.changed_concurrently += more.changed_concurrently;
                total.failed += more.failed;
            }
        } else {
            return Err(Error::ParallelPass {
                reason: format!(
                    "workers disagree on the encrypted columns of `{}` ({} against {}): every \
                     worker must run with the same models",
                    chunk.table,
                    model.columns.len(),
                    chunk.columns.len()
                ),
            });
        }
        let room = MAX_LISTED_FAILURES.saturating_sub(report.failures.len());
        let unlisted = chunk.failures.len().saturating_sub(room);
        report
            .failures
            .extend(chunk.failures.into_iter().take(room));
        report.failures_not_listed += chunk.failures_not_listed + unlisted as u64;
        report.conflicts_retried += chunk.conflicts_retried;
        counts.add_counts(&Scanned {
            columns: Vec::new(),
            values_by_version: chunk.values_by_version,
            stale_blind_indexes: chunk.stale_blind_indexes,
        });
        Ok(())
    }
}
