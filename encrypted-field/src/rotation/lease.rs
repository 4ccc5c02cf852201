//! One rotation at a time, across every process and host: each rotation, migration, reindex,
//! migration undo or finalization and key retirement holds the database's rotation lease while it
//! runs — a row of the project's own table in the database itself (`encrypted_field_leases`), not
//! a session lock, so it holds through PgBouncer's transaction pooling, on every node of a Galera
//! cluster, and in a SQLite file however its path is spelled.
//!
//! - A second run while the lease is held is refused with [`Error::RotationInProgress`], which
//!   names the holder (host, pid, since when, when the lease expires), or waits for it
//!   ([`Rotation::wait_for_lease`]).
//! - The lease expires after its time to live ([`DEFAULT_LEASE_TTL`], by the database's clock)
//!   unless renewed; a live run renews it with every batch. A killed run's lease expires and the
//!   next run takes over and resumes (rotation is resumable).
//! - Every batch's write transaction first checks that the lease is still this run's, with the
//!   same fencing counter: a run whose lease was taken over writes nothing more and stops with
//!   [`Error::LeaseLost`]. A run's other writes are fenced too: a metadata record is written in a
//!   transaction that checks the lease first, and a file (a key backup, a new key file, an
//!   `active_version` pin) only right after a fenced renewal of the lease.

use std::time::{Duration, Instant};

use crate::rotation::Rotation;
use crate::rotation::database::Database;
use crate::rotation::database::lease::ROTATION_LEASE;
use crate::rotation::error::{Error, Result};
pub use crate::rotation::lease_holder::LeaseHolder;

/// How long the rotation lease lasts unless renewed: how long a killed run keeps others out.
/// A live run renews it with every batch (and at least every third of it).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);

/// The shortest time to live a lease can be given.
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(1);

/// The variable the CLI's `--lease-ttl` defaults to.
pub const LEASE_TTL_VAR: &str = "ENCRYPTED_FIELD_LEASE_TTL";

/// The longest pause between two tries of a run that waits for the lease.
const MAX_WAIT_POLL: Duration = Duration::from_secs(1);

/// How a run takes the lease: its time to live and how long to wait for another holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeaseSettings {
    pub ttl: Duration,
    pub wait: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_LEASE_TTL,
            wait: Duration::ZERO,
        }
    }
}

impl Rotation<'_> {
    /// How long the rotation lease lasts unless renewed (default [`DEFAULT_LEASE_TTL`], at least
    /// [`MIN_LEASE_TTL`]), by the database's clock: how long a killed run keeps the next one out.
    /// Each batch renews it, so a batch must take less than this.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease.ttl = ttl.max(MIN_LEASE_TTL);
        self
    }

    /// Waits up to `wait` for another run's lease to be released or to expire, instead of
    /// failing at once with [`Error::RotationInProgress`] (default: no wait).
    pub fn wait_for_lease(mut self, wait: Duration) -> Self {
        self.lease.wait = wait;
        self
    }

    /// Who holds the database's rotation lease now, if anyone (a run in progress).
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use encrypted_field::model::Registry;
    /// use encrypted_field::rotation::Rotation;
    /// use encrypted_field::rotation::database::Database;
    ///
    /// let mut db = Database::connect(":memory:")?;
    /// assert_eq!(Rotation::new(&Registry::new()).lease_holder(&mut db)?, None);
    /// # }
    /// # Ok::<(), encrypted_field::rotation::Error>(())
    /// ```
    pub fn lease_holder(&self, db: &mut Database) -> Result<Option<LeaseHolder>> {
        db.lease_holder(ROTATION_LEASE)
    }

    /// Runs `work` holding the rotation lease: takes it (waiting as configured), and releases it
    /// when `work` ends, whatever its outcome.
    pub(crate) fn leased<T>(
        &self,
        db: &mut Database,
        work: impl FnOnce(&mut Database) -> Result<T>,
    ) -> Result<T> {
        take(db, self.lease)?;
        let result = work(db);
        let released = db.release_lease();
        let value = result?;
        released?;
        Ok(value)
    }
}

/// Takes the rotation lease, trying again until `settings.wait` has passed.
pub(crate) fn take(db: &mut Database, settings: LeaseSettings) -> Result<()> {
    let started = Instant::now();
    loop {
        let holder = match db.take_lease(ROTATION_LEASE, settings.ttl)? {
            Ok(()) => return Ok(()),
            Err(holder) => holder,
        };
        let waited = started.elapsed();
        if waited >= settings.wait {
            return Err(Error::RotationInProgress {
                holder: Box::new(holder),
                waited: (!settings.wait.is_zero()).then(|| {
                    humantime::format_duration(Duration::from_secs(waited.as_secs())).to_string()
                }),
            });
        }
        let poll = (settings.ttl / 4)
            .clamp(Duration::from_millis(50), MAX_WAIT_POLL)
            .mul_f64(crate::keys::os_random::jitter_factor());
        std::thread::sleep(poll.min(settings.wait - waited));
    }
}
