//! Rotation: rewrite every encrypted column of every registered model so that every value uses
//! the active key, online, crash-safe and resumable; and the passes built on the same scan:
//! migration from legacy formats (with blind indexes), reindexing, verification and status.
//!
//! - **Online.** Rows are read in primary-key order in bounded batches; each batch's writes are one
//!   transaction of compare-and-swap statements (a row is updated only if its column still holds
//!   the value that was read), so an application writing at the same time is never overwritten.
//! - **Crash-safe and resumable.** Every value is at all times either its old envelope (readable
//!   with the old key, which stays in the ring) or its new one; killing the process at any instant
//!   loses nothing, and running it again skips what is done and finishes the rest.
//! - **Bounded memory.** Only one batch is held at a time; failures are counted and the first
//!   [`MAX_LISTED_FAILURES`] listed.
//! - **One at a time.** A lease held in the database itself (a row of `encrypted_field_leases`,
//!   with an expiry by the database's clock and a fencing counter; see [`lease`]) refuses a second
//!   concurrent run, and a run whose lease was taken over writes nothing more.
//! - **Transient conflicts retried.** A batch that a deadlock, a Galera certification failure, a
//!   serialization failure, a lock wait timeout or a busy SQLite database aborts is run again
//!   with backoff, and counted ([`RotationReport::conflicts_retried`]).
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};
//! use encrypted_field::rotation::database::Database;
//! use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
//! use encrypted_field::rotation::{Rotation, RotationStatus};
//! use encrypted_field::{KeyRing, MasterKey};
//!
//! let (v1, v2) = (MasterKey::generate(), MasterKey::generate());
//! let old = KeyRing::builder().key(1, v1.clone()).build()?;
//! let mut conn = SqliteConnection::establish(":memory:")?;
//! diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY, _ssn BLOB)").execute(&mut conn)?;
//! let sealed = old.encrypt_with_context(b"078-05-1120", "customers._ssn");
//! diesel::sql_query(&format!("INSERT INTO customers VALUES (1, x'{}'), (2, NULL)", hex(&sealed))).execute(&mut conn)?;
//! let mut db = Database::from(conn);
//!
//! let registry = Registry::new().register_spec(ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn").nullable()))?;
//! let ring = KeyRing::builder().key(1, v1).key(2, v2).build()?; // v2 is active
//! let report = Rotation::new(&registry).run(&mut db, &ring)?;
//! assert_eq!(report.status, RotationStatus::Completed);
//! assert_eq!(report.records_rewritten, 1);
//! assert_eq!(Rotation::new(&registry).run(&mut db, &ring)?.records_rewritten, 0); // idempotent
//! # fn hex(b: &[u8]) -> String { b.iter().map(|x| format!("{x:02x}")).collect() }
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use crate::format::legacy::LegacyKey;
use crate::keys::backup::{check_backup_dir, write_backup};
use crate::keys::ring::KeyRing;
use crate::model::{BlindIndexSpec, ColumnSpec, Registry};
use crate::notify::Notifier;
use crate::rotation::database::Database;

mod chunk_result;
pub mod database;
pub(crate) mod error;
mod implausible;
mod kept;
pub mod lease;
mod lease_holder;
pub(crate) mod new_blind_index_key;
pub(crate) mod new_key;
mod pacing;
mod pipeline;
mod plan;
mod plausibility;
mod preflight;
mod report;
mod retire;
mod scan;
mod scanner;
pub(crate) mod schedule;
mod status;
mod work;
mod workers;

pub use error::{Error, Result};
pub use implausible::Implausible;
pub use kept::{FinalizeReport, UndoReport};
pub use lease::{DEFAULT_LEASE_TTL, LEASE_TTL_VAR, MIN_LEASE_TTL};
pub use lease_holder::LeaseHolder;
pub use pacing::{
    DEFAULT_BATCH_SIZE, DEFAULT_TRANSACTION_TIME, Pacing, SERVER_PAUSE_RATIO, SQLITE_PAUSE_RATIO,
};
pub use plausibility::LegacyChecks;
pub use report::{
    ColumnReport, FailedValue, MAX_LISTED_FAILURES, ModelReport, NewKey, Operation, RotationReport,
    RotationStatus, Verification,
};
pub use scan::{NoProgress, Progress};
pub use schedule::{Due, RotationPeriod, SCHEDULE_SLACK};
pub use status::{ColumnStatus, StatusReport};
pub use workers::{Connect, DEFAULT_CHUNK_ROWS, JoinReport};

use database::KeyRange;
use plan::{Migrate, Preflight, ValueAction};
use scan::{Failures, ScanSettings};
use scanner::scan_model;
use work::{Scanned, Work};

/// How many rewrite passes a rotation makes at most: values that an application wrote with an
/// older key during a pass are picked up by the next.
const MAX_PASSES: usize = 3;

/// A configured rotation (or migration, or verification) over the models of a registry.
pub struct Rotation<'a> {
    registry: &'a Registry,
    pacing: Pacing,
    dry_run: bool,
    verify: bool,
    backup_dir: Option<PathBuf>,
    progress: &'a dyn Progress,
    notifiers: Vec<Box<dyn Notifier + 'a>>,
    legacy_checks: LegacyChecks,
    lease: lease::LeaseSettings,
    /// The key-encryption key a new key is wrapped with (`--new-key --wrap-with URI`).
    wrap_new_key_with: Option<String>,
    /// Parallel workers, when set: every pass is cut into chunks that they take.
    workers: Option<workers::Workers<'a>>,
}

impl std::fmt::Debug for Rotation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("models", &self.registry.len())
            .field("pacing", &self.pacing)
            .field("dry_run", &self.dry_run)
            .field("verify", &self.verify)
            .field("backup_dir", &self.backup_dir)
            .field("lease", &self.lease)
            .field("workers", &self.workers)
            .field(
                "notifiers",
                &self
                    .notifiers
                    .iter()
                    .map(|n| n.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<'a> Rotation<'a> {
    /// A rotation of every model in `registry`, with the default [`Pacing`] (batches sized to
    /// write transactions of about 50 ms, at most [`DEFAULT_BATCH_SIZE`] rows), verification after
    /// the rewrite, no key backup and no notifier.
    pub fn new(registry: &'a Registry) -> Self {
        Self {
            registry,
            pacing: Pacing::default(),
            dry_run: false,
            verify: true,
            backup_dir: None,
            progress: &NoProgress,
            notifiers: Vec::new(),
            legacy_checks: LegacyChecks::new(),
            lease: lease::LeaseSettings::default(),
            wrap_new_key_with: None,
            workers: None,
        }
    }

    /// Makes the key that [`run_with_new_key`](Self::run_with_new_key) generates a wrapped one,
    /// `enc_key_vN.wrapped`, wrapped with the key-encryption key `key_uri` (a KMS or HSM key,
    /// see [`crate::keys::wrap`]): the plaintext key never touches the disk, and the key backup
    /// holds the wrapped form.
    pub fn wrap_new_key_with(mut self, key_uri: impl Into<String>) -> Self {
        self.wrap_new_key_with = Some(key_uri.into());
        self
    }

    /// The longest batch, in rows (at least 1): what a pass that only reads takes at a time,
    /// and the most a writing pass's time-sized batches grow to.
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.pacing = self.pacing.with_max_rows(rows);
        self
    }

    /// How writing passes size their batches and pause between them (see [`Pacing`]); keeps
    /// the longest batch already set with [`batch_size`](Self::batch_size) unless `pacing` was
    /// built with another.
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// Writes nothing; the report says what would change.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Whether to verify every value after the rewrite (default: yes).
    pub fn verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }

    /// Writes a key backup into `dir` before rewriting anything.
    pub fn backup_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.backup_dir = Some(dir.into());
        self
    }

    /// Reports progress to `progress`.
    pub fn progress(mut self, progress: &'a dyn Progress) -> Self {
        self.progress = progress;
        self
    }

    /// The plausibility checks a migration runs on legacy plaintexts (by default: text, no
    /// pattern); see [`LegacyChecks`] for when they apply.
    pub fn legacy_checks(mut self, checks: LegacyChecks) -> Self {
        self.legacy_checks = checks;
        self
    }

    /// Adds a notifier, called with the report when the pass ends.
    pub fn notifier(mut self, notifier: impl Notifier + 'a) -> Self {
        self.notifiers.push(Box::new(notifier));
        self
    }

    /// Rewrites every value that is not on `ring`'s active version.
    pub fn run(&self, db: &mut Database, ring: &KeyRing) -> Result<RotationReport> {
        self.locked(db, |db| {
            let started = Instant::now();
            let key_backup_path = self.write_backup(db, ring)?;
            self.rewrite(db, ring, key_backup_path, None, started)
        })
    }

    /// The rewrite of [`run`](Self::run) (and of [`run_with_new_key`](Self::run_with_new_key)),
    /// under the lock and after the key backup.
    fn rewrite(
        &self,
        db: &mut Database,
        ring: &KeyRing,
        key_backup_path: Option<PathBuf>,
        new_key: Option<NewKey>,
        started: Instant,
    ) -> Result<RotationReport> {
        let timestamp = SystemTime::now();
        if !self.dry_run {
            schedule::record_activation(db, ring.active_version())?;
        }
        let write = !self.dry_run;
        let (mut report, _) = self.pass(db, Work::Rotate(ring), write, self.progress)?;
        let mut changed_in_last_pass = report.records_changed_concurrently;
        for _ in 1..MAX_PASSES {
            if self.dry_run || changed_in_last_pass == 0 {
                break;
            }
            // Values an application wrote with an older key while the pass ran.
            let (again, _) = self.pass(db, Work::Rotate(ring), write, self.progress)?;
            changed_in_last_pass = again.records_changed_concurrently;
            add_later_pass(&mut report, &again);
        }
        report.key_backup_path = key_backup_path.map(|p| p.display().to_string());
        report.new_key = new_key;
        self.finish(db, ring, report, started, timestamp)
    }

    /// Brings legacy values (read with `legacy_key`) into format v1 with `ring`'s active key.
    ///
    /// Nothing is written unless it can be undone, and nothing that cannot be proven read
    /// correctly:
    /// - a ring that holds the legacy key itself is refused ([`Error::LegacyKeyReused`]);
    /// - where the [legacy checks](Self::legacy_checks) apply (always for `node-cbc`), a
    ///   preflight reads and checks every legacy value first, and one failure refuses the whole
    ///   migration ([`Error::MigrationRefused`]) before anything is written; the writing pass
    ///   checks each batch again and stops before writing a batch that fails;
    /// - the bytes each value held before are kept in
    ///   [`LEGACY_VALUES_TABLE`](crate::rotation::database::LEGACY_VALUES_TABLE), in the same transaction
    ///   as the value's rewrite, until [`finalize_migration`](Self::finalize_migration); until
    ///   then [`undo_migration`](Self::undo_migration) puts them back.
    ///
    /// A column with a blind index gets the index of each migrated value in the same
    /// compare-and-swap write, so lookups find migrated rows; that needs `ring`'s blind-index key,
    /// and without it nothing is written ([`Error::BlindIndexKeyMissing`]).
    pub fn migrate(
        &self,
        db: &mut Database,
        ring: &KeyRing,
        legacy_key: &LegacyKey,
    ) -> Result<RotationReport> {
        let work = self.migration_work(ring, legacy_key)?;
        self.locked(db, |db| {
            let started = Instant::now();
            let timestamp = SystemTime::now();
            if let Work::Migrate {
                checks: Some(checks),
                ..
            } = work
            {
                let action = Migrate {
                    ring,
                    legacy_key,
                    checks: Some(checks),
                };
                self.preflight(db, &action)?;
            }
            let key_backup_path = self.write_backup(db, ring)?;
            if !self.dry_run {
                db.create_legacy_values_table()?;
            }
            let (mut report, _) = self.pass(db, work, !self.dry_run, self.progress)?;
            report.key_backup_path = key_backup_path.map(|p| p.display().to_string());
            report.legacy_values_kept = Some(self.legacy_values_kept(db)?);
            self.finish(db, ring, report, started, timestamp)
        })
    }

    /// The work of a migration from `legacy_key` to `ring`'s active key, with the legacy checks
    /// that apply to its format; refused when the ring has no blind-index key that a column needs
    /// ([`Error::BlindIndexKeyMissing`]) or holds the legacy key itself ([`Error::LegacyKeyReused`]).
    fn migration_work<'r>(
        &'r self,
        ring: &'r KeyRing,
        legacy_key: &'r LegacyKey,
    ) -> Result<Work<'r>> {
        self.require_blind_index_key(ring)?;
        let reused = ring.versions().find(|&version| {
            ring.master_key(version)
                .is_some_and(|key| legacy_key.is_reused_as(key))
        });
        if let Some(version) = reused {
            return Err(Error::LegacyKeyReused { version });
        }
        let checks = self
            .legacy_checks
            .apply_to(legacy_key.format())
            .then_some(&self.legacy_checks);
        Ok(Work::Migrate {
            ring,
            legacy_key,
            checks,
        })
    }

    /// Reads and checks every legacy value as `migration` would, writing nothing; one failure
    /// refuses the migration, naming a failing value and how many fail.
    fn preflight(&self, db: &mut Database, migration: &Migrate<'_>) -> Result<()> {
        let action = Preflight(Migrate { ..*migration });
        let settings = ScanSettings {
            pacing: self.pacing,
            write: false,
            progress: &NoProgress,
        };
        let mut failures = Failures::default();
        for model in self.registry.iter() {
            scan_model(
                db,
                model,
                &KeyRange::default(),
                &action,
                &settings,
                &mut failures,
            )?;
        }
        match failures.seen {
            0 => Ok(()),
            failed => Err(failures.refusal(failed, true)),
        }
    }

    /// Rewrites the blind index of every value whose stored index is NULL, empty or not the
    /// value's (written before the index existed, by an older release, or by hand), computed as
    /// the derive's setters compute it. Each index is written with a compare-and-swap on the
    /// encrypted value, so a row an application changes meanwhile keeps what the application
    /// wrote. Values that cannot be opened are counted, listed and left alone.
    ///
    /// Fails before anything is written when no column has a blind index
    /// ([`Error::NoBlindIndexedColumn`]) or `ring` has no blind-index key
    /// ([`Error::BlindIndexKeyMissing`]).
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};
    /// use encrypted_field::rotation::database::Database;
    /// use encrypted_field::model::{BlindIndexSpec, ColumnSpec, ModelSpec, Registry};
    /// use encrypted_field::rotation::{Rotation, RotationStatus};
    /// use encrypted_field::{BlindIndexKey, KeyRing, MasterKey};
    ///
    /// let ring = KeyRing::builder()
    ///     .key(1, MasterKey::generate())
    ///     .blind_index_key(BlindIndexKey::new(MasterKey::generate()))
    ///     .build()?;
    /// let mut conn = SqliteConnection::establish(":memory:")?;
    /// diesel::sql_query("CREATE TABLE users (id INTEGER PRIMARY KEY, email BLOB, email_bidx BLOB)").execute(&mut conn)?;
    /// let sealed = ring.encrypt_with_context(b"ada@example.org", "users.email");
    /// let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
    /// diesel::sql_query(&format!("INSERT INTO users VALUES (1, x'{hex}', NULL)")).execute(&mut conn)?; // no index yet
    /// let mut db = Database::from(conn);
    ///
    /// let index = BlindIndexSpec::binary("email_bidx").with_builtin_normalizer("lowercase")?;
    /// let registry = Registry::new().register_spec(
    ///     ModelSpec::new("users", "id").column(ColumnSpec::binary("email").with_blind_index(index)),
    /// )?;
    /// let report = Rotation::new(&registry).reindex(&mut db, &ring)?;
    /// assert_eq!((report.status, report.records_rewritten), (RotationStatus::Completed, 1));
    /// assert_eq!(Rotation::new(&registry).reindex(&mut db, &ring)?.records_rewritten, 0);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reindex(&self, db: &mut Database, ring: &KeyRing) -> Result<RotationReport> {
        if self.blind_indexes().next().is_none() {
            return Err(Error::NoBlindIndexedColumn);
        }
        self.require_blind_index_key(ring)?;
        self.locked(db, |db| {
            let started = Instant::now();
            let timestamp = SystemTime::now();
            let write = !self.dry_run;
            let (report, _) = self.pass(db, Work::Reindex(ring), write, self.progress)?;
            // The pass itself opened every value and compared every index: no second scan.
            self.finish_untimed(report, started, timestamp)
        })
    }

    /// The table, column and blind index of every registered column that has one.
    fn blind_indexes(&self) -> impl Iterator<Item = (&str, &ColumnSpec, &BlindIndexSpec)> {
        self.registry.iter().flat_map(|model| {
            model
                .columns()
                .iter()
                .filter_map(move |column| Some((model.table(), column, column.blind_index()?)))
        })
    }

    /// A pass that writes blind indexes needs the ring's blind-index key for every column that
    /// has one: refused before anything is written.
    fn require_blind_index_key(&self, ring: &KeyRing) -> Result<()> {
        match self.blind_indexes().next() {
            Some((table, column, index)) if ring.blind_index_key().is_none() => {
                Err(Error::BlindIndexKeyMissing {
                    column: format!("{table}.{}", column.column()),
                    blind_index: index.column().to_owned(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Opens every value and counts the versions; writes nothing. Where the ring has a
    /// blind-index key, every blind index must also be its value's (a stale one is a failure);
    /// without one, the verification lists the index columns it could not check.
    ///
    /// With [`workers`](Self::workers), the verification is a parallel pass, which holds the
    /// rotation lease as a rotation does (its chunks are recorded in the database).
    pub fn verify_only(&self, db: &mut Database, ring: &KeyRing) -> Result<RotationReport> {
        if self.workers.is_some() {
            return self.locked(db, |db| self.verify_unleased(db, ring));
        }
        self.verify_unleased(db, ring)
    }

    /// [`verify_only`](Self::verify_only), whether or not the lease is held.
    fn verify_unleased(&self, db: &mut Database, ring: &KeyRing) -> Result<RotationReport> {
        let started = Instant::now();
        let timestamp = SystemTime::now();
        let (verification, pass) = self.verification(db, ring)?;
        let mut report = empty_report(self.registry, ring, Operation::Verify, true);
        report.records_processed =
            verification.values_by_version.values().sum::<u64>() + verification.undecryptable;
        report.failed_records = verification.undecryptable + verification.stale_blind_indexes;
        report.verification = Some(verification);
        report.conflicts_retried = pass.conflicts_retried;
        report.failures = pass.failures;
        report.failures_not_listed = pass.failures_not_listed;
        report.dry_run = true;
        self.finish_untimed(report, started, timestamp)
    }

    fn locked<T>(
        &self,
        db: &mut Database,
        work: impl FnOnce(&mut Database) -> Result<T>,
    ) -> Result<T> {
        for model in self.registry.iter() {
            model.validate()?;
        }
        self.leased(db, work)
    }

    fn write_backup(&self, db: &Database, ring: &KeyRing) -> Result<Option<PathBuf>> {
        match (&self.backup_dir, self.dry_run) {
            (Some(dir), false) => Ok(Some(write_backup(
                ring,
                dir,
                db.sqlite_directory().as_deref(),
            )?)),
            (Some(dir), true) => {
                check_backup_dir(dir, db.sqlite_directory().as_deref())?;
                Ok(None)
            }
            (None, _) => Ok(None),
        }
    }

    /// One scan of every column with `work` (writing when `write` is set), by one stream on `db`
    /// or, when [`workers`](Self::workers) are set, by parallel workers: the report, and for a
    /// verification the values per key version and the stale blind indexes.
    fn pass(
        &self,
        db: &mut Database,
        work: Work<'_>,
        write: bool,
        progress: &dyn Progress,
    ) -> Result<(RotationReport, Scanned)> {
        if let Some(workers) = &self.workers {
            return self.chunked_pass(db, workers, work, write, progress);
        }
        let settings = ScanSettings {
            pacing: self.pacing,
            write,
            progress,
        };
        let mut report = empty_report(self.registry, work.ring(), work.operation(), self.dry_run);
        let mut failures = Failures::default();
        let mut counts = Scanned::default();
        let retried_before = db.conflicts_retried();
        for (model, model_report) in self.registry.iter().zip(&mut report.models) {
            let range = KeyRange::default();
            let scanned = work.scan(db, model, &range, &settings, &mut failures)?;
            counts.add_counts(&scanned);
            model_report.columns = scanned.columns;
        }
        report.conflicts_retried = db.conflicts_retried() - retried_before;
        add_column_totals(&mut report);
        report.failures = failures.listed;
        report.failures_not_listed = failures.not_listed;
        Ok((report, counts))
    }

    /// Verifies (unless disabled or a dry run), sets the status, times and notifies.
    fn finish(
        &self,
        db: &mut Database,
        ring: &KeyRing,
        mut report: RotationReport,
        started: Instant,
        timestamp: SystemTime,
    ) -> Result<RotationReport> {
        let rewrite_seconds = started.elapsed().as_secs_f64();
        report.rows_per_second = if rewrite_seconds > 0.0 {
            report.records_processed as f64 / rewrite_seconds
        } else {
            0.0
        };
        if self.verify && !self.dry_run {
            // The pass already listed the values that fail; verification only counts.
            report.verification = Some(self.verification(db, ring)?.0);
        }
        let report = self.finish_untimed(report, started, timestamp)?;
        Ok(report)
    }

    fn finish_untimed(
        &self,
        mut report: RotationReport,
        started: Instant,
        timestamp: SystemTime,
    ) -> Result<RotationReport> {
        report.timestamp = humantime::format_rfc3339_seconds(timestamp).to_string();
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if report.rows_per_second == 0.0 && report.duration_ms > 0 {
            report.rows_per_second =
                report.records_processed as f64 * 1000.0 / report.duration_ms as f64;
        }
        let verified = report.verification.as_ref().is_none_or(|v| v.ok);
        report.status = if report.failed_records == 0 && verified {
            RotationStatus::Completed
        } else {
            RotationStatus::Failed
        };
        for notifier in &self.notifiers {
            if let Err(reason) = notifier.notify(&report) {
                tracing::warn!(notifier = notifier.name(), %reason, "notification failed");
            }
        }
        Ok(report)
    }

    /// Opens every value, counting them per key version; with the report of the pass (which
    /// lists the values that fail).
    fn verification(
        &self,
        db: &mut Database,
        ring: &KeyRing,
    ) -> Result<(Verification, RotationReport)> {
        let (pass, counts) = self.pass(db, Work::Verify(ring), false, &NoProgress)?;
        let failed = pass.failed_records;
        let stale_blind_indexes = counts.stale_blind_indexes;
        let undecryptable = failed.saturating_sub(stale_blind_indexes);
        let blind_indexes_not_checked = if ring.blind_index_key().is_none() {
            self.blind_indexes()
                .map(|(table, _, index)| format!("{table}.{}", index.column()))
                .collect()
        } else {
            Vec::new()
        };
        let values_by_version = counts.values_by_version;
        let active = ring.active_version().to_string();
        let values_on_other_versions = values_by_version
            .iter()
            .filter(|(v, _)| **v != active)
            .map(|(_, n)| n)
            .sum();
        let verification = Verification {
            ok: undecryptable == 0 && values_on_other_versions == 0 && stale_blind_indexes == 0,
            values_by_version,
            values_on_other_versions,
            undecryptable,
            stale_blind_indexes,
            blind_indexes_not_checked,
        };
        Ok((verification, pass))
    }
}

/// Sums the columns' counts of a pass into its report's totals.
fn add_column_totals(report: &mut RotationReport) {
    for column in report.models.iter().flat_map(|m| &m.columns) {
        report.records_processed += column.rows - column.null;
        report.records_rewritten += column.rewritten;
        report.records_changed_concurrently += column.changed_concurrently;
        report.failed_records += column.failed;
    }
}

/// Adds what a later pass of the same rotation wrote to the first pass's report: its rewrites and
/// the values changed concurrently during it. Rows, NULLs, unchanged values and failures were all
/// counted by the first pass (a value that failed then fails again; verification judges the end).
fn add_later_pass(report: &mut RotationReport, later: &RotationReport) {
    report.records_rewritten += later.records_rewritten;
    report.records_changed_concurrently += later.records_changed_concurrently;
    report.conflicts_retried += later.conflicts_retried;
    let columns = report.models.iter_mut().flat_map(|m| &mut m.columns);
    for (column, again) in columns.zip(later.models.iter().flat_map(|m| &m.columns)) {
        column.rewritten += again.rewritten;
        column.changed_concurrently += again.changed_concurrently;
    }
}

fn empty_report(
    registry: &Registry,
    ring: &KeyRing,
    operation: Operation,
    dry_run: bool,
) -> RotationReport {
    RotationReport {
        status: RotationStatus::Completed,
        timestamp: String::new(),
        models_processed: registry.len(),
        records_processed: 0,
        failed_records: 0,
        key_backup_path: None,
        new_key: None,
        operation,
        dry_run,
        active_version: ring.active_version().get(),
        records_rewritten: 0,
        records_changed_concurrently: 0,
        conflicts_retried: 0,
        duration_ms: 0,
        rows_per_second: 0.0,
        models: registry
            .iter()
            .map(|m| ModelReport {
                table: m.table().to_owned(),
                columns: Vec::new(),
            })
            .collect(),
        failures: Vec::new(),
        failures_not_listed: 0,
        verification: None,
        legacy_values_kept: None,
    }
}

/// The I/O limit a rotation is measured against (benchmarks only): the same scan and compare-and-
/// swap statements, each value rewritten with one IV bit flipped and no cryptography. Running it
/// twice restores every value. Feature `internals`: a benchmark hook, not API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub fn bench_plain_pass(db: &mut Database, registry: &Registry, pacing: Pacing) -> Result<u64> {
    use crate::model::Storage;
    use plan::{Binding, Plan};

    struct FlipIvBit;
    impl ValueAction for FlipIvBit {
        fn plan(&self, _storage: Storage, _context: Binding<'_>, stored: &[u8]) -> Plan {
            let mut new = stored.to_vec();
            if let Some(byte) = new.get_mut(crate::format::envelope::HEADER_LEN) {
                *byte ^= 1;
            }
            Plan::Rewrite {
                value: new,
                blind_index: None,
            }
        }

        /// Planned beside the writes, as rotation is: the same scan.
        fn shared(&self) -> Option<&(dyn ValueAction + Sync)> {
            Some(self)
        }
    }
    let settings = ScanSettings {
        pacing,
        write: true,
        progress: &NoProgress,
    };
    let mut failures = Failures::default();
    let mut rewritten = 0;
    for model in registry.iter() {
        let range = KeyRange::default();
        rewritten += scan_model(db, model, &range, &FlipIvBit, &settings, &mut failures)?
            .iter()
            .map(|c| c.rewritten)
            .sum::<u64>();
    }
    Ok(rewritten)
}
