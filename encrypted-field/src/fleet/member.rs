//! [`FleetMember`]: this process as one instance of the fleet. A background thread applies the
//! database-recorded active versions (encryption and blind-index) to the process-wide ring and
//! checks in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::fleet::active::{recorded_active, recorded_active_of};
use crate::fleet::host::host_name;
use crate::fleet::instance::versions_text;
use crate::fleet::key_kind::KeyKind;
use crate::keys::global::{DEFAULT_RELOAD_INTERVAL, state};
use crate::keys::reload::{FleetActive, ReloadableRing};
use crate::keys::ring::KeyRing;
use crate::rotation::database::{Database, InstanceCheckIn};
use crate::rotation::error::{Error, Result};

/// How an instance takes part in the fleet.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// How often it reads the recorded active version and checks in, besides after every reload
    /// of the ring (default 30 s, the reload timer's default). Tests use a fraction of a second.
    pub check_in_interval: Duration,
    /// Rows of instances not seen for this long are deleted when an instance joins (instances
    /// that stopped without leaving: killed, or their host lost). Default one day.
    pub forget_after: Duration,
    /// The host name recorded (default: the machine's, from `/proc/sys/kernel/hostname` or
    /// `HOSTNAME`).
    pub host: Option<String>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            check_in_interval: DEFAULT_RELOAD_INTERVAL,
            forget_after: Duration::from_secs(24 * 60 * 60),
            host: None,
        }
    }
}

/// A database URL, shown with its password removed.
struct DatabaseUrlText(String);

impl std::fmt::Debug for DatabaseUrlText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::rotation::database::redact(&self.0))
    }
}

/// What one instance's thread shares with its handle.
#[derive(Debug)]
struct Shared {
    id: String,
    /// To connect again after the connection broke (a database restart).
    url: DatabaseUrlText,
    host: String,
    ring: &'static ReloadableRing,
    /// Whether each check reloads the ring first (a ring of its own, which no timer reloads).
    reload_on_check: bool,
    database: Mutex<Database>,
    stop: AtomicBool,
}

/// This process as a member of the fleet, from [`join`] until it is dropped (or
/// [`leave`](Self::leave) is called), when its thread stops and its row is removed.
#[derive(Debug)]
pub struct FleetMember {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Joins the fleet of `database_url` (see [`crate::fleet`]): loads the process-wide ring if it
/// is not loaded, applies the active version the database records (so nothing is sealed with a
/// version the fleet has not activated, once this returns), checks in, and starts the thread that
/// keeps doing so. Call it at start-up, before serving.
pub fn join(database_url: &str, options: FleetOptions) -> Result<FleetMember> {
    FleetMember::start(state()?, false, database_url, options)
}

/// [`join`] with a ring of its own instead of the process-wide one, loaded through `loader`
/// (feature `internals`: for tests that run several members in one process, not API). The ring
/// lives as long as the process, and is reloaded at every check (no timer reloads it).
#[cfg(feature = "internals")]
#[cfg_attr(docsrs, doc(cfg(feature = "internals")))]
pub fn join_with_own_ring(
    database_url: &str,
    options: FleetOptions,
    loader: impl Fn() -> crate::Result<KeyRing> + Send + Sync + 'static,
) -> Result<FleetMember> {
    let ring = ReloadableRing::loaded(Box::new(move || {
        loader().map(crate::keys::reload::LoadedRing::unpinned)
    }))?;
    FleetMember::start(Box::leak(Box::new(ring)), true, database_url, options)
}

impl FleetMember {
    fn start(
        ring: &'static ReloadableRing,
        reload_on_check: bool,
        database_url: &str,
        options: FleetOptions,
    ) -> Result<Self> {
        let mut database = Database::connect(database_url)?;
        database.forget_instances_older_than(options.forget_after)?;
        let shared = Arc::new(Shared {
            id: new_instance_id()?,
            url: DatabaseUrlText(database_url.to_owned()),
            host: options.host.clone().unwrap_or_else(host_name),
            ring,
            reload_on_check,
            database: Mutex::new(database),
            stop: AtomicBool::new(false),
        });
        shared.check()?;
        let for_thread = Arc::clone(&shared);
        let interval = options.check_in_interval;
        let thread = std::thread::Builder::new()
            .name("encrypted-field-fleet".to_owned())
            .spawn(move || for_thread.run(interval))
            .map_err(|source| Error::Io {
                action: "starting the fleet check-in thread",
                path: String::new(),
                source,
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// This instance's id in the instances table.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The ring this member keeps up to date (the process-wide one, for [`join`]).
    pub fn ring(&self) -> Arc<KeyRing> {
        self.shared.ring.ring()
    }

    /// Reads the recorded active version, applies it and checks in now, without waiting for the
    /// thread's next turn.
    pub fn check_now(&self) -> Result<()> {
        self.shared.check()
    }

    /// Stops the thread and removes this instance's row.
    pub fn leave(mut self) -> Result<()> {
        self.stop_thread();
        self.shared.database().leave(&self.shared.id)
    }

    fn stop_thread(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.ring.wake_waiters();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the fleet check-in thread panicked");
        }
    }
}

impl Drop for FleetMember {
    fn drop(&mut self) {
        if self.thread.is_none() {
            return;
        }
        self.stop_thread();
        if let Err(error) = self.shared.database().leave(&self.shared.id) {
            tracing::warn!(%error, "leaving the fleet: the instance's row stays until it ages out");
        }
    }
}

impl Shared {
    fn database(&self) -> std::sync::MutexGuard<'_, Database> {
        self.database.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The thread: a check after every reload of the ring and on the interval, until stopped.
    fn run(&self, interval: Duration) {
        let mut seen = self.ring.reload_count();
        while !self.stop.load(Ordering::SeqCst) {
            self.ring.wait_for_reload(seen, interval, &self.stop);
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            if let Err(error) = self.check() {
                tracing::warn!(%error, instance = %self.id, "fleet check-in failed; connecting again for the next turn");
                match Database::connect(&self.url.0) {
                    Ok(database) => *self.database() = database,
                    Err(error) => {
                        tracing::warn!(%error, instance = %self.id, "connecting again failed; trying on the next turn");
                    }
                }
            }
            // Counted after the check, whose own reloads must not wake the thread again.
            seen = self.ring.reload_count();
        }
    }

    /// Applies the recorded active version (reloading the ring first if it lacks it), then
    /// writes this instance's row.
    fn check(&self) -> Result<()> {
        if self.reload_on_check
            && let Err(error) = self.ring.reload()
        {
            tracing::warn!(%error, "reloading the key ring failed; the loaded ring stays");
        }
        let mut database = self.database();
        if let Some(record) = recorded_active(&mut database)? {
            self.apply(record.version);
        }
        if let Some(record) = recorded_active_of(&mut database, KeyKind::BlindIndex)? {
            self.apply_blind_index(record.version);
        }
        let ring = self.ring.ring();
        let number = |v: Option<crate::KeyVersion>| v.map_or(0, |v| i64::from(v.get()));
        database.check_in(&InstanceCheckIn {
            id: self.id.clone(),
            host: self.host.clone(),
            pid: i64::from(std::process::id()),
            loaded_versions: versions_text(ring.versions()),
            active_version: i64::from(ring.active_version().get()),
            pinned_version: number(self.ring.pinned()),
            blind_index_versions: versions_text(ring.blind_index_versions()),
            active_blind_index_version: number(ring.active_blind_index_version()),
            pinned_blind_index_version: number(self.ring.pinned_blind_index()),
        })
    }

    /// [`apply`](Self::apply) for the recorded active blind-index version: until the ring holds
    /// it, new indexes keep being computed with the version they were.
    fn apply_blind_index(&self, version: crate::KeyVersion) {
        match self.ring.set_fleet_blind_index_active(version) {
            FleetActive::Applied => {}
            FleetActive::Pinned(pinned) => tracing::debug!(
                recorded = %version, %pinned,
                "a local pin overrides the database's active blind-index version on this host"
            ),
            FleetActive::NotLoaded => {
                if let Err(error) = self.ring.reload() {
                    tracing::warn!(%error, "reloading the key ring for the fleet's active blind-index version failed; the loaded ring stays");
                }
                if self.ring.set_fleet_blind_index_active(version) == FleetActive::NotLoaded {
                    tracing::warn!(
                        recorded = %version,
                        indexing_with = ?self.ring.ring().active_blind_index_version(),
                        "the database's active blind-index version is not in this instance's key ring; it keeps indexing with the version it has"
                    );
                }
            }
        }
    }

    fn apply(&self, version: crate::KeyVersion) {
        match self.ring.set_fleet_active(version) {
            FleetActive::Applied => {}
            FleetActive::Pinned(pinned) => tracing::debug!(
                recorded = %version, %pinned,
                "a local pin overrides the database's active key version on this host"
            ),
            FleetActive::NotLoaded => {
                if let Err(error) = self.ring.reload() {
                    tracing::warn!(%error, "reloading the key ring for the fleet's active version failed; the loaded ring stays");
                }
                if self.ring.set_fleet_active(version) == FleetActive::NotLoaded {
                    tracing::warn!(
                        recorded = %version,
                        sealing_with = %self.ring.ring().active_version(),
                        "the database's active key version is not in this instance's key ring; it keeps sealing with the version it has"
                    );
                }
            }
        }
    }
}

/// 16 random bytes as hex.
fn new_instance_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    crate::keys::os_random::fill_from_os(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_url_never_shows_its_password() {
        let url = DatabaseUrlText("postgres://app:s3cret@db/app".to_owned());
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db/app"), "{shown}");
    }

    #[test]
    fn instance_ids_are_random_hex() {
        let (a, b) = (new_instance_id().unwrap(), new_instance_id().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
