//! A [`Database`]'s side of parallel passes: the job and chunk rows (see `chunks.rs` for the
//! statements and what they guarantee), each read or write run again after a transient conflict.

use super::chunks::{self, ChunkRow, JobRow};
use super::lease::WriteError;
use super::{Backend, Database};
// The backends' modules, as `with_backend!` names them.
#[cfg(feature = "mysql")]
use super::mysql;
#[cfg(feature = "postgres")]
use super::pg;
#[cfg(feature = "sqlite")]
use super::sqlite;
use crate::rotation::error::Result;

use super::chunks::{CHUNKS_TABLE, JOBS_TABLE};

impl Database {
    /// Removes every parallel pass's job, chunks and chunk leases (fenced by the rotation lease
    /// this connection holds): after a pass, and before one, the leftovers of a run that died.
    pub(crate) fn delete_jobs(&mut self) -> Result<()> {
        self.retrying(
            || format!("removing finished passes from {JOBS_TABLE} and {CHUNKS_TABLE}"),
            |backend, lease| {
                with_backend!(backend, |conn, dialect, _module| chunks::delete_jobs(
                    conn, dialect, lease
                ))
            },
        )?;
        self.lease_renewed();
        Ok(())
    }

    /// Records a parallel pass and its chunks (fenced by the rotation lease this connection holds).
    pub(crate) fn insert_job(&mut self, job: &JobRow, chunks: &[ChunkRow]) -> Result<()> {
        self.retrying(
            || format!("recording {} chunks in {CHUNKS_TABLE}", chunks.len()),
            |backend, lease| {
                with_backend!(backend, |conn, dialect, _module| chunks::insert_job(
                    conn, dialect, lease, job, chunks
                ))
            },
        )?;
        self.lease_renewed();
        Ok(())
    }

    /// The parallel pass in progress, if any.
    pub(crate) fn current_job(&mut self) -> Result<Option<JobRow>> {
        self.retrying(
            || format!("reading {JOBS_TABLE}"),
            |backend, _| {
                with_backend!(backend, |conn, dialect, _module| chunks::current_job(
                    conn, dialect
                ))
                .map_err(WriteError::from)
            },
        )
    }

    /// The chunks of `job` that no worker has finished (none once the job is over).
    pub(crate) fn pending_chunks(&mut self, job: &str) -> Result<Vec<ChunkRow>> {
        self.retrying(
            || format!("reading the chunks left in {CHUNKS_TABLE}"),
            |backend, _| {
                with_backend!(backend, |conn, dialect, _module| chunks::pending_chunks(
                    conn, dialect, job
                ))
                .map_err(WriteError::from)
            },
        )
    }

    /// Whether chunk `chunk` of `job` still waits for a worker.
    pub(crate) fn chunk_pending(&mut self, job: &str, chunk: i64) -> Result<bool> {
        self.retrying(
            || format!("reading chunk {chunk} in {CHUNKS_TABLE}"),
            |backend, _| {
                with_backend!(backend, |conn, dialect, _module| chunks::chunk_pending(
                    conn, dialect, job, chunk
                ))
                .map_err(WriteError::from)
            },
        )
    }

    /// Marks chunk `chunk` of `job` done with `result` (fenced by the chunk lease this connection
    /// holds); whether it was still pending.
    pub(crate) fn finish_chunk(&mut self, job: &str, chunk: i64, result: &str) -> Result<bool> {
        let finished = self.retrying(
            || format!("recording chunk {chunk} as done in {CHUNKS_TABLE}"),
            |backend, lease| {
                with_backend!(backend, |conn, dialect, _module| chunks::finish_chunk(
                    conn,
                    dialect,
                    lease,
                    (job, chunk),
                    result
                ))
            },
        )?;
        self.lease_renewed();
        Ok(finished)
    }

    /// The results every finished chunk of `job` recorded.
    pub(crate) fn chunk_results(&mut self, job: &str) -> Result<Vec<String>> {
        self.retrying(
            || format!("reading the chunks' results in {CHUNKS_TABLE}"),
            |backend, _| {
                with_backend!(backend, |conn, dialect, _module| chunks::chunk_results(
                    conn, dialect, job
                ))
                .map_err(WriteError::from)
            },
        )
    }
}
