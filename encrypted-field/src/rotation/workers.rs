//! Parallel passes: `rotate --workers N` cuts each model's primary-key range into chunks, records
//! them in the database (`encrypted_field_jobs`, `encrypted_field_chunks`), and runs N workers,
//! each on a connection of its own, that take chunks one at a time; `rotate --join` on another
//! host runs more workers on the same chunks. The database is the only coordinator:
//!
//! - **A chunk is leased** (lease `chunk:<job>:<n>`, taken with one conditional update, expiring
//!   by the database's clock): one worker scans it at a time, its batches are fenced by that
//!   lease, and it is marked done in a transaction fenced by it. A worker killed mid-chunk loses
//!   only its lease: when it expires another worker takes the chunk and scans it again, which is
//!   safe (compare-and-swap writes; values already rewritten are kept as they are).
//! - **Counts are merged from the database**: each finished chunk's row holds its worker's
//!   counts, so the report covers every worker on every host.
//! - **The pass is the coordinator's**: it holds the rotation lease as a single-stream run does,
//!   renews it while the workers work, and removes the job when the pass ends; a joining worker
//!   stops when no job is left.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::format::legacy::LegacyKey;
use crate::keys::ring::KeyRing;
use crate::model::{KeyKind, ModelSpec, Registry};
use crate::rotation::Rotation;
use crate::rotation::chunk_result::ChunkResult;
use crate::rotation::database::lease::ROTATION_LEASE;
use crate::rotation::database::{ChunkRow, Database, JobRow, KeyRange, PrimaryKey};
use crate::rotation::error::{Error, Result};
use crate::rotation::pacing::Pacing;
use crate::rotation::report::RotationReport;
use crate::rotation::scan::{Failures, NoProgress, Progress, ScanSettings};
use crate::rotation::work::{Scanned, Work};

/// The rows of a chunk unless set with [`Rotation::chunk_rows`]: big enough that taking a chunk
/// costs little against scanning it, small enough that a table splits among many workers and a
/// killed worker's chunk is quick to scan again.
pub const DEFAULT_CHUNK_ROWS: usize = 20_000;

/// The longest pause of a worker that waits for chunks other workers hold.
const MAX_CHUNK_POLL: Duration = Duration::from_millis(100);

/// How a pass's workers connect: each opens a connection of its own.
pub type Connect<'a> = &'a (dyn Fn() -> Result<Database> + Sync);

/// The parallel workers of a [`Rotation`].
#[derive(Clone, Copy)]
pub(crate) struct Workers<'a> {
    count: usize,
    connect: Connect<'a>,
    chunk_rows: usize,
}

impl std::fmt::Debug for Workers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("count", &self.count)
            .field("chunk_rows", &self.chunk_rows)
            .finish()
    }
}

/// What a joining worker ([`Rotation::join`]) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JoinReport {
    /// Whether a rotation (or migration, or verification) was running to join.
    pub joined: bool,
    /// The passes it took chunks of (a rotation makes a rewrite pass, maybe a second one for
    /// values an application wrote meanwhile, then a verification).
    pub passes: u64,
    /// The chunks it scanned.
    pub chunks: u64,
    /// The non-NULL values it read.
    pub records_processed: u64,
    /// The values it rewrote.
    pub records_rewritten: u64,
    /// The values it could not read (the coordinator's report lists them).
    pub failed_records: u64,
}

impl<'a> Rotation<'a> {
    /// Runs every pass with `count` parallel workers (at least 1), each on a connection that
    /// `connect` opens (to the same database: an in-memory SQLite database cannot be shared).
    /// Each model's primary-key range is cut into chunks of [`chunk_rows`](Self::chunk_rows)
    /// rows, recorded in the database; the workers take them one at a time, and workers on other
    /// hosts can take them too ([`join`](Self::join)). The report merges every worker's counts.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};
    /// use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
    /// use encrypted_field::rotation::database::Database;
    /// use encrypted_field::rotation::{Rotation, RotationStatus};
    /// use encrypted_field::{KeyRing, MasterKey};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.sqlite3").display().to_string();
    /// let (v1, v2) = (MasterKey::generate(), MasterKey::generate());
    /// let old = KeyRing::builder().key(1, v1.clone()).build()?;
    /// let mut conn = SqliteConnection::establish(&path)?;
    /// diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY, _ssn BLOB)").execute(&mut conn)?;
    /// for id in 1..=100 {
    ///     let sealed: String = old.encrypt_with_context(b"078-05-1120", "customers._ssn").iter().map(|b| format!("{b:02x}")).collect();
    ///     diesel::sql_query(format!("INSERT INTO customers VALUES ({id}, x'{sealed}')")).execute(&mut conn)?;
    /// }
    /// let registry = Registry::new().register_spec(ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn")))?;
    /// let ring = KeyRing::builder().key(1, v1).key(2, v2).build()?;
    /// let connect = || Database::connect(&path);
    /// let report = Rotation::new(&registry)
    ///     .workers(2, &connect)
    ///     .chunk_rows(30) // four chunks
    ///     .run(&mut Database::connect(&path)?, &ring)?;
    /// assert_eq!((report.status, report.records_rewritten), (RotationStatus::Completed, 100));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn workers(mut self, count: usize, connect: Connect<'a>) -> Self {
        let chunk_rows = self
            .workers
            .map_or(DEFAULT_CHUNK_ROWS, |workers| workers.chunk_rows);
        self.workers = Some(Workers {
            count: count.max(1),
            connect,
            chunk_rows,
        });
        self
    }

    /// The rows of each chunk of a parallel pass (default [`DEFAULT_CHUNK_ROWS`], at least 1);
    /// only with [`workers`](Self::workers).
    pub fn chunk_rows(mut self, rows: usize) -> Self {
        if let Some(workers) = &mut self.workers {
            workers.chunk_rows = rows.max(1);
        }
        self
    }

    /// Works on the parallel pass that a rotation, migration or verification started with
    /// [`workers`](Self::workers) on another host (or process) is running, with this rotation's
    /// workers (one on `db` unless [`workers`](Self::workers) says more), until it ends. Returns
    /// at once, with [`JoinReport::joined`] false, when none is running, unless
    /// [`wait_for_lease`](Self::wait_for_lease) says how long to wait for one to start.
    ///
    /// The joining host needs the same models and the same keys: its ring's active version must be
    /// the pass's ([`Error::ParallelPass`] otherwise), and a migration needs `legacy_key` too.
    /// The pass's own settings (what it does, whether it writes) come from the database.
    pub fn join(
        &self,
        db: &mut Database,
        ring: &KeyRing,
        legacy_key: Option<&LegacyKey>,
    ) -> Result<JoinReport> {
        for model in self.registry.iter() {
            model.validate()?;
        }
        let mut report = JoinReport::default();
        let started = Instant::now();
        let mut last_job: Option<String> = None;
        loop {
            let job = db.current_job()?;
            let running = db.lease_holder(ROTATION_LEASE)?.is_some();
            let Some(job) = job.filter(|job| last_job.as_ref() != Some(&job.job)) else {
                // Between two passes of the run it joined, wait for the next one; before any,
                // wait as long as it was told to for one to start.
                let over = if report.joined {
                    !running
                } else {
                    started.elapsed() >= self.lease.wait
                };
                if over {
                    return Ok(report);
                }
                std::thread::sleep(self.worker().chunk_poll());
                continue;
            };
            let work = self.joined_work(&job, ring, legacy_key)?;
            report.joined = true;
            report.passes += 1;
            let tally = match &self.workers {
                Some(workers) => self.run_workers(None, workers, &job, work, &NoProgress)?,
                None => self
                    .worker()
                    .work_chunks(db, &job, work, &AtomicBool::new(false), None)?,
            };
            report.add(&tally);
            last_job = Some(job.job);
        }
    }

    /// The work a joining worker does for `job`, built from its own ring (and legacy key).
    fn joined_work<'r>(
        &'r self,
        job: &JobRow,
        ring: &'r KeyRing,
        legacy_key: Option<&'r LegacyKey>,
    ) -> Result<Work<'r>> {
        let active = i64::from(ring.active_version().get());
        if job.active_version != active {
            return Err(Error::ParallelPass {
                reason: format!(
                    "the running {} writes key version v{}, and this host's active key is v{active}: \
                     load the same keys on every worker",
                    job.operation, job.active_version
                ),
            });
        }
        match (job.operation.as_str(), legacy_key) {
            ("rotate", _) => Ok(Work::Rotate(ring)),
            ("reindex", _) => Ok(Work::Reindex(ring)),
            ("verify", _) => Ok(Work::Verify(ring)),
            ("migrate", Some(legacy_key)) => self.migration_work(ring, legacy_key),
            (operation, _) => Err(Error::ParallelPass {
                reason: match operation {
                    "migrate" => "the running pass is a migration: join it with `migrate --join` \
                                  and the same legacy key"
                        .to_owned(),
                    other => format!("the running pass `{other}` is not one this version knows"),
                },
            }),
        }
    }

    /// What each worker needs of this rotation (shared by the worker threads).
    fn worker(&self) -> Worker<'_> {
        Worker {
            registry: self.registry,
            pacing: self.pacing,
            lease_ttl: self.lease.ttl,
        }
    }

    /// A pass by `workers`: cuts every model into chunks, records them as a job, runs the workers
    /// until every chunk is done (by them or by workers that joined), and merges the counts every
    /// chunk recorded. `db` holds the rotation lease, renewed meanwhile.
    pub(crate) fn chunked_pass(
        &self,
        db: &mut Database,
        workers: &Workers<'_>,
        work: Work<'_>,
        write: bool,
        progress: &dyn Progress,
    ) -> Result<(RotationReport, Scanned)> {
        db.delete_jobs()?;
        let mut chunks = Vec::new();
        for model in self.registry.iter() {
            db.check_unique_key(model)?;
            self.cut_into_chunks(db, model, workers.chunk_rows, &mut chunks)?;
        }
        let job = JobRow {
            job: random_id()?,
            operation: work.name().to_owned(),
            active_version: i64::from(work.ring().active_version().get()),
            writes: i64::from(write),
        };
        db.insert_job(&job, &chunks)?;
        for model in self.registry.iter() {
            for column in model.columns() {
                progress.column_started(model.table(), column.column());
            }
        }
        let ran = self.run_workers(Some(db), workers, &job, work, progress);
        let results = ran.and_then(|_| db.chunk_results(&job.job));
        let removed = db.delete_jobs();
        let results = results?;
        removed?;
        let mut report =
            super::empty_report(self.registry, work.ring(), work.operation(), self.dry_run);
        let mut counts = Scanned::default();
        for result in &results {
            ChunkResult::merge_into(result, &mut report, &mut counts)?;
        }
        super::add_column_totals(&mut report);
        Ok((report, counts))
    }

    /// Appends the chunks of `model` to `chunks`: ranges of `rows` keys each, cut where the key
    /// `rows` rows further lies, the last one open-ended (rows inserted past the end meanwhile are
    /// in it).
    fn cut_into_chunks(
        &self,
        db: &mut Database,
        model: &ModelSpec,
        rows: usize,
        chunks: &mut Vec<ChunkRow>,
    ) -> Result<()> {
        let mut after: Option<PrimaryKey> = None;
        loop {
            db.renew_lease_if_due()?;
            let until = db.key_at_offset(model, after.as_ref(), rows.saturating_sub(1))?;
            chunks.push(ChunkRow {
                chunk: i64::try_from(chunks.len()).unwrap_or(i64::MAX),
                table_name: model.table().to_owned(),
                after_key: after.as_ref().map(PrimaryKey::as_text),
                until_key: until.as_ref().map(PrimaryKey::as_text),
            });
            match until {
                Some(until) => after = Some(until),
                None => return Ok(()),
            }
        }
    }

    /// Runs `workers` threads on `job` until no chunk is left, each on its own connection, and
    /// sums what they did. With `coordinator` (the connection that holds the rotation lease), the
    /// calling thread renews the lease and reports the workers' progress meanwhile.
    fn run_workers(
        &self,
        mut coordinator: Option<&mut Database>,
        workers: &Workers<'_>,
        job: &JobRow,
        work: Work<'_>,
        progress: &dyn Progress,
    ) -> Result<JoinReport> {
        let stop = AtomicBool::new(false);
        let (sender, receiver) = mpsc::channel::<u64>();
        let worker = self.worker();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers.count)
                .map(|_| {
                    let sender = sender.clone();
                    let stop = &stop;
                    scope.spawn(move || {
                        let done = (workers.connect)().and_then(|mut db| {
                            worker.work_chunks(&mut db, job, work, stop, Some(&sender))
                        });
                        if done.is_err() {
                            stop.store(true, Ordering::Relaxed);
                        }
                        done
                    })
                })
                .collect();
            drop(sender);
            let mut lease_error = None;
            loop {
                match receiver.recv_timeout(Duration::from_millis(100)) {
                    Ok(rows) => progress.batch_done(rows),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if let Some(db) = coordinator.as_deref_mut()
                    && lease_error.is_none()
                    && let Err(error) = db.renew_lease_if_due()
                {
                    // The pass is no longer this run's: stop the workers, then say so.
                    stop.store(true, Ordering::Relaxed);
                    lease_error = Some(error);
                }
            }
            let mut tally = JoinReport::default();
            let mut first_error = lease_error;
            for handle in handles {
                match handle.join() {
                    Ok(Ok(done)) => tally.add(&done),
                    Ok(Err(error)) => {
                        first_error.get_or_insert(error);
                    }
                    Err(_) => {
                        first_error.get_or_insert(Error::ParallelPass {
                            reason: "a worker thread panicked".to_owned(),
                        });
                    }
                }
            }
            match first_error {
                Some(error) => Err(error),
                None => Ok(tally),
            }
        })
    }
}

/// What a worker thread needs of its [`Rotation`].
#[derive(Clone, Copy)]
struct Worker<'r> {
    registry: &'r Registry,
    pacing: Pacing,
    lease_ttl: Duration,
}

impl Worker<'_> {
    /// How long a worker waits before looking again for chunks that others hold.
    fn chunk_poll(&self) -> Duration {
        (self.lease_ttl / 8)
            .clamp(Duration::from_millis(20), MAX_CHUNK_POLL)
            .mul_f64(crate::keys::os_random::jitter_factor())
    }

    /// One worker: takes the chunks of `job` one at a time until none is left (or `stop` is set),
    /// waiting while the last ones are held by other workers — a killed worker's chunk is taken
    /// again when its lease expires. Sends the rows of each batch to `progress`, if given.
    fn work_chunks(
        &self,
        db: &mut Database,
        job: &JobRow,
        work: Work<'_>,
        stop: &AtomicBool,
        progress: Option<&mpsc::Sender<u64>>,
    ) -> Result<JoinReport> {
        let mut tally = JoinReport::default();
        let mut random = [0u8; 8];
        crate::keys::os_random::fill_from_os(&mut random)?;
        let spread = u64::from_le_bytes(random);
        while !stop.load(Ordering::Relaxed) {
            let pending = db.pending_chunks(&job.job)?;
            if pending.is_empty() {
                break;
            }
            // Start at a different chunk than the other workers, to take turns less often.
            let start = usize::try_from(spread % pending.len() as u64).unwrap_or(0);
            let mut took_one = false;
            for chunk in pending[start..].iter().chain(&pending[..start]) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if db
                    .take_lease(&chunk.lease_name(&job.job), self.lease_ttl)?
                    .is_err()
                {
                    continue; // another worker's
                }
                let scanned = self.scan_chunk(db, job, chunk, work, progress);
                let released = db.release_lease();
                match scanned {
                    Ok(Some(result)) => {
                        took_one = true;
                        tally.chunks += 1;
                        for column in &result.columns {
                            tally.records_processed += column.rows - column.null;
                            tally.records_rewritten += column.rewritten;
                            tally.failed_records += column.failed;
                        }
                    }
                    Ok(None) => {}
                    // Taken over after this worker stalled past the lease: the chunk is the new
                    // holder's, and this worker goes on with the others.
                    Err(Error::LeaseLost { .. }) => {
                        tracing::warn!(
                            chunk = chunk.chunk,
                            "lost the lease of a chunk; leaving it"
                        );
                    }
                    Err(error) => return Err(error),
                }
                released?;
            }
            if !took_one {
                std::thread::sleep(self.chunk_poll());
            }
        }
        Ok(tally)
    }

    /// Scans one chunk whose lease this worker holds and records its counts, unless another worker
    /// finished it meanwhile (`None`).
    fn scan_chunk(
        &self,
        db: &mut Database,
        job: &JobRow,
        chunk: &ChunkRow,
        work: Work<'_>,
        progress: Option<&mpsc::Sender<u64>>,
    ) -> Result<Option<ChunkResult>> {
        if !db.chunk_pending(&job.job, chunk.chunk)? {
            return Ok(None);
        }
        let model = self
            .registry
            .iter()
            .find(|model| model.table() == chunk.table_name)
            .ok_or_else(|| Error::ParallelPass {
                reason: format!(
                    "the running pass has chunks of table `{}`, which this worker's models do not \
                     have: every worker must run with the same models",
                    chunk.table_name
                ),
            })?;
        let kind = model.primary_key_kind();
        let range = KeyRange {
            after: chunk
                .after_key
                .as_deref()
                .map(|key| parse_key(key, kind))
                .transpose()?,
            until: chunk
                .until_key
                .as_deref()
                .map(|key| parse_key(key, kind))
                .transpose()?,
        };
        let sent = SentProgress(progress);
        let settings = ScanSettings {
            pacing: self.pacing,
            write: job.writes != 0,
            progress: &sent,
        };
        let mut failures = Failures::default();
        let retried_before = db.conflicts_retried();
        let scanned = work.scan(db, model, &range, &settings, &mut failures)?;
        let result = ChunkResult::new(
            model.table(),
            scanned,
            failures,
            db.conflicts_retried() - retried_before,
        );
        let recorded = db.finish_chunk(&job.job, chunk.chunk, &result.to_json()?)?;
        Ok(recorded.then_some(result))
    }
}

impl JoinReport {
    fn add(&mut self, other: &Self) {
        self.chunks += other.chunks;
        self.records_processed += other.records_processed;
        self.records_rewritten += other.records_rewritten;
        self.failed_records += other.failed_records;
    }
}

/// A [`Progress`] that sends each batch's rows to the thread that draws the progress.
struct SentProgress<'s>(Option<&'s mpsc::Sender<u64>>);

impl Progress for SentProgress<'_> {
    fn batch_done(&self, rows: u64) {
        if let Some(sender) = self.0 {
            // The receiver is gone only once the pass is over: nothing left to draw.
            let _ = sender.send(rows);
        }
    }
}

/// A key as a chunk's row stores it (see [`PrimaryKey::as_text`]), read back as `kind`.
fn parse_key(text: &str, kind: KeyKind) -> Result<PrimaryKey> {
    match kind {
        KeyKind::Integer => text.parse().map(PrimaryKey::Integer).map_err(|_| {
            Error::ParallelPass {
                reason: format!(
                    "a chunk's bound `{text}` is not an integer key: every worker must run with \
                     the same models"
                ),
            }
        }),
        KeyKind::Text => Ok(PrimaryKey::Text(text.to_owned())),
    }
}

/// A random id (32 hex digits) for a job.
fn random_id() -> Result<String> {
    let mut id = [0u8; 16];
    crate::keys::os_random::fill_from_os(&mut id)?;
    Ok(id.iter().map(|b| format!("{b:02x}")).collect())
}
