//! A key ring that re-reads its sources without a restart: the state behind the process-wide ring
//! ([`crate::keys::global`]), kept as a plain value so tests can hold several.
//!
//! The ring is an `RwLock<Arc<KeyRing>>` and a generation counter, not `arc-swap` (no
//! dependency). Writers (a reload, a new fleet-wide active version) build the whole new ring
//! first and swap it in under the write lock, then bump the counter, so a reader sees the old ring
//! or the new one, never a mixture, and never an empty ring. The hot path does not take the lock:
//! the process-wide ring keeps a copy per thread (`keys/global.rs`) and only compares the
//! counter, one uncontended atomic load; measured in BENCHMARKS.md, "Reading the reloadable
//! ring".
//!
//! Which version is active after a reload, first that applies:
//! 1. a local pin (`ENCRYPTED_FIELD_ACTIVE_VERSION`, the keys directory's `active_version`
//!    file): the operator chose it for this host;
//! 2. the fleet's active version (recorded in the database, applied by a
//!    fleet member (the `fleet` module)) when this ring holds it;
//! 3. in a fleet member whose fleet version is not loaded yet: the version active before the
//!    reload (a new key file never starts encrypting on its own in a fleet);
//! 4. otherwise the sources' own choice (the highest version), as without a fleet.
//!
//! The active blind-index version (the one new indexes are computed with) is chosen the same way,
//! from its own pin (`ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION`, the keys directory's
//! `active_blind_index_version` file) and the fleet's recorded active blind-index version: a
//! provisioned blind-index key matches lookups, and never writes an index, until the fleet
//! activates it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::keys::ring::KeyRing;
use crate::keys::version::KeyVersion;

/// A ring as its sources gave it, and the version a local setting pins (if any).
#[derive(Debug)]
pub(crate) struct LoadedRing {
    /// The ring, its active version as the sources chose it.
    pub(crate) ring: KeyRing,
    /// The version pinned for this host, which wins over the fleet's.
    pub(crate) pinned: Option<KeyVersion>,
    /// The blind-index version pinned for this host, which wins over the fleet's.
    pub(crate) pinned_blind_index: Option<KeyVersion>,
}

impl LoadedRing {
    /// A ring with no local pin (a loader built in code).
    pub(crate) fn unpinned(ring: KeyRing) -> Self {
        Self {
            ring,
            pinned: None,
            pinned_blind_index: None,
        }
    }
}

/// Reads the ring's sources again.
pub(crate) type Loader = Box<dyn Fn() -> Result<LoadedRing> + Send + Sync>;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadOutcome {
    /// The sources were read again: the ring now holds `versions`, and seals with `active`.
    Reloaded {
        /// Every version now loaded, ascending.
        versions: Vec<KeyVersion>,
        /// The version new values are sealed with.
        active: KeyVersion,
    },
    /// The ring was installed with [`install`](crate::install): it has no sources to read again,
    /// so nothing changed.
    Fixed,
}

/// What became of a fleet-wide active version handed to the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetActive {
    /// The ring now seals with it.
    Applied,
    /// A local pin overrides it on this host: the ring seals with the pinned version.
    Pinned(KeyVersion),
    /// The ring does not hold it (even after a reload): the ring keeps sealing with its previous
    /// active version.
    NotLoaded,
}

/// What a writer changes together.
#[derive(Debug, Default)]
struct Settings {
    pinned: Option<KeyVersion>,
    fleet_active: Option<KeyVersion>,
    pinned_blind_index: Option<KeyVersion>,
    fleet_blind_index_active: Option<KeyVersion>,
}

/// The reloadable ring.
pub(crate) struct ReloadableRing {
    current: RwLock<Arc<KeyRing>>,
    /// Counts the rings published; bumped after each one is in place, so a reader that sees a
    /// count reads a ring at least that new (the process-wide ring's per-thread copies use it).
    generation: AtomicU64,
    loader: Option<Loader>,
    settings: Mutex<Settings>,
    /// When a value of an unknown version last made this ring reload; held while it reloads, so
    /// one thread reloads and the others wait for its result.
    unknown_version_reload: Mutex<Option<Instant>>,
    /// The least time between two reloads caused by unknown versions.
    unknown_version_gap: Duration,
    /// Counts reloads, for [`wait_for_reload`](Self::wait_for_reload).
    reloads: (Mutex<u64>, Condvar),
}

impl std::fmt::Debug for ReloadableRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadableRing")
            .field("current", &self.ring())
            .field("reloadable", &self.loader.is_some())
            .finish_non_exhaustive()
    }
}

/// A poisoned lock only means another thread panicked while holding it; the data (versions,
/// instants, counters) is still consistent, since every writer replaces it in one assignment.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// What a fleet member uses (`set_fleet_active`, the reload count) exists without a database too.
#[cfg_attr(not(feature = "_database"), allow(dead_code))]
impl ReloadableRing {
    /// A ring that never changes (installed with `install(ring)`).
    pub(crate) fn fixed(ring: KeyRing) -> Self {
        Self::new(ring, Settings::default(), None)
    }

    /// A ring loaded through `loader` now, and again on each reload.
    pub(crate) fn loaded(loader: Loader) -> Result<Self> {
        let first = loader()?;
        let settings = Settings {
            pinned: first.pinned,
            pinned_blind_index: first.pinned_blind_index,
            ..Settings::default()
        };
        Ok(Self::new(first.ring, settings, Some(loader)))
    }

    fn new(ring: KeyRing, settings: Settings, loader: Option<Loader>) -> Self {
        Self {
            current: RwLock::new(Arc::new(ring)),
            generation: AtomicU64::new(0),
            loader,
            settings: Mutex::new(settings),
            unknown_version_reload: Mutex::new(None),
            unknown_version_gap: Duration::from_secs(1),
            reloads: (Mutex::new(0), Condvar::new()),
        }
    }

    /// The same ring with another least gap between reloads caused by unknown versions (tests).
    #[cfg(test)]
    fn with_unknown_version_gap(mut self, gap: Duration) -> Self {
        self.unknown_version_gap = gap;
        self
    }

    /// Whether [`reload`](Self::reload) reads sources (false for an installed ring).
    pub(crate) fn is_reloadable(&self) -> bool {
        self.loader.is_some()
    }

    /// The ring now.
    pub(crate) fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The number of rings published so far (see the field).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn publish(&self, ring: KeyRing) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(ring);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Reads the sources again and swaps the new ring in. On failure the old ring stays, and the
    /// error says why.
    pub(crate) fn reload(&self) -> Result<ReloadOutcome> {
        let Some(loader) = &self.loader else {
            return Ok(ReloadOutcome::Fixed);
        };
        let outcome = {
            // Loads run one at a time, so a slower, older load never replaces a newer ring.
            let mut settings = lock(&self.settings);
            let loaded = loader()?;
            let previous = self.ring();
            settings.pinned = loaded.pinned;
            settings.pinned_blind_index = loaded.pinned_blind_index;
            let pinned_blind_index = loaded.pinned_blind_index;
            let ring = choose_active(loaded, settings.fleet_active, previous.active_version());
            let ring = choose_blind_index_active(
                ring,
                pinned_blind_index,
                settings.fleet_blind_index_active,
                previous.active_blind_index_version(),
            );
            let outcome = ReloadOutcome::Reloaded {
                versions: ring.versions().collect(),
                active: ring.active_version(),
            };
            self.publish(ring);
            outcome
        };
        let (count, changed) = &self.reloads;
        *lock(count) += 1;
        changed.notify_all();
        Ok(outcome)
    }

    /// Called when a value's key version is not in the ring: reloads once, unless a reload for
    /// this reason ran less than the gap (one second) ago. Threads that arrive while one reloads
    /// wait for it, then use its ring: under load this is one reload, never a storm. Returns
    /// whether the ring may have changed since the caller read it (worth one retry).
    pub(crate) fn reload_for_unknown_version(&self) -> bool {
        if self.loader.is_none() {
            return false;
        }
        let mut last = lock(&self.unknown_version_reload);
        if last.is_some_and(|at| at.elapsed() < self.unknown_version_gap) {
            // Another thread reloaded a moment ago (perhaps while this one waited): its ring is
            // the one to retry with.
            return true;
        }
        *last = Some(Instant::now());
        match self.reload() {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(%error, "reloading the key ring for a value of an unknown key version failed; the loaded ring stays");
                false
            }
        }
    }

    /// Makes `version` the fleet-wide active version: the ring seals with it now when it holds
    /// it and no local pin overrides it, and after every later reload.
    pub(crate) fn set_fleet_active(&self, version: KeyVersion) -> FleetActive {
        let mut settings = lock(&self.settings);
        settings.fleet_active = Some(version);
        if let Some(pinned) = settings.pinned {
            return FleetActive::Pinned(pinned);
        }
        let ring = self.ring();
        if ring.active_version() == version {
            return FleetActive::Applied;
        }
        match ring.with_active(version) {
            Ok(switched) => {
                self.publish(switched);
                FleetActive::Applied
            }
            Err(_) => FleetActive::NotLoaded,
        }
    }

    /// Makes `version` the fleet-wide active blind-index version: new indexes are computed with it
    /// now when the ring holds it and no local pin overrides it, and after every later reload.
    pub(crate) fn set_fleet_blind_index_active(&self, version: KeyVersion) -> FleetActive {
        let mut settings = lock(&self.settings);
        settings.fleet_blind_index_active = Some(version);
        if let Some(pinned) = settings.pinned_blind_index {
            return FleetActive::Pinned(pinned);
        }
        let ring = self.ring();
        if ring.active_blind_index_version() == Some(version) {
            return FleetActive::Applied;
        }
        match ring.with_active_blind_index(version) {
            Ok(switched) => {
                self.publish(switched);
                FleetActive::Applied
            }
            Err(_) => FleetActive::NotLoaded,
        }
    }

    /// The local blind-index pin, if the sources set one.
    pub(crate) fn pinned_blind_index(&self) -> Option<KeyVersion> {
        lock(&self.settings).pinned_blind_index
    }

    /// The number of reloads so far.
    pub(crate) fn reload_count(&self) -> u64 {
        *lock(&self.reloads.0)
    }

    /// Waits until the reload count passes `seen`, `stop` is set (see
    /// [`wake_waiters`](Self::wake_waiters)), or `timeout`; returns the count.
    pub(crate) fn wait_for_reload(&self, seen: u64, timeout: Duration, stop: &AtomicBool) -> u64 {
        let (count, changed) = &self.reloads;
        let guard = lock(count);
        let (guard, _) = changed
            .wait_timeout_while(guard, timeout, |now| {
                *now <= seen && !stop.load(Ordering::SeqCst)
            })
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }

    /// Wakes the threads in [`wait_for_reload`](Self::wait_for_reload), so one whose `stop` was
    /// just set returns.
    pub(crate) fn wake_waiters(&self) {
        let _count = lock(&self.reloads.0);
        self.reloads.1.notify_all();
    }

    /// The local pin, if the sources set one.
    pub(crate) fn pinned(&self) -> Option<KeyVersion> {
        lock(&self.settings).pinned
    }
}

/// The ring to publish after a reload (the order is in the module's documentation).
fn choose_active(
    loaded: LoadedRing,
    fleet_active: Option<KeyVersion>,
    previous: KeyVersion,
) -> KeyRing {
    let LoadedRing { ring, pinned, .. } = loaded;
    if pinned.is_some() {
        return ring;
    }
    let Some(fleet) = fleet_active else {
        return ring;
    };
    if let Ok(switched) = ring.with_active(fleet) {
        return switched;
    }
    tracing::warn!(
        fleet_active = fleet.get(),
        "the fleet's active key version is not in the reloaded ring; the previous active version stays"
    );
    match ring.with_active(previous) {
        Ok(kept) => kept,
        Err(_) => ring,
    }
}

/// The ring after [`choose_active`], with its active blind-index version chosen the same way: a
/// local pin (the loader applied it already), else the fleet's when loaded, else in a fleet the
/// version that indexed before the reload, else the sources' choice.
fn choose_blind_index_active(
    ring: KeyRing,
    pinned: Option<KeyVersion>,
    fleet_active: Option<KeyVersion>,
    previous: Option<KeyVersion>,
) -> KeyRing {
    let Some(fleet) = fleet_active.filter(|_| pinned.is_none()) else {
        return ring;
    };
    if let Ok(switched) = ring.with_active_blind_index(fleet) {
        return switched;
    }
    tracing::warn!(
        fleet_active_blind_index = fleet.get(),
        "the fleet's active blind-index version is not in the reloaded ring; the previous one stays"
    );
    match previous.map(|version| ring.with_active_blind_index(version)) {
        Some(Ok(kept)) => kept,
        _ => ring,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::error::Error;
    use crate::keys::master_key::MasterKey;

    fn ring_of(versions: &[u32]) -> KeyRing {
        let mut builder = KeyRing::builder();
        for v in versions {
            let byte = u8::try_from(*v).unwrap();
            builder = builder.key(*v, MasterKey::from_bytes([byte; 32]));
        }
        builder.build().unwrap()
    }

    /// What the next load returns (`None`: it fails).
    type Next = Arc<Mutex<Option<Vec<u32>>>>;

    /// A ring whose loader returns what `next` holds (or fails when it holds nothing), counting
    /// loads.
    fn scripted(first: &[u32]) -> (ReloadableRing, Next, Arc<AtomicUsize>) {
        let next = Arc::new(Mutex::new(Some(first.to_vec())));
        let loads = Arc::new(AtomicUsize::new(0));
        let (n, l) = (Arc::clone(&next), Arc::clone(&loads));
        let ring = ReloadableRing::loaded(Box::new(move || {
            l.fetch_add(1, Ordering::SeqCst);
            match &*n.lock().unwrap() {
                Some(versions) => Ok(LoadedRing::unpinned(ring_of(versions))),
                None => Err(Error::NoKeyConfigured),
            }
        }))
        .unwrap();
        (ring, next, loads)
    }

    #[test]
    fn reload_picks_up_a_new_version() {
        let (ring, next, _) = scripted(&[1]);
        *next.lock().unwrap() = Some(vec![1, 2]);
        assert_eq!(
            ring.reload().unwrap(),
            ReloadOutcome::Reloaded {
                versions: vec![KeyVersion::new(1), KeyVersion::new(2)],
                active: KeyVersion::new(2)
            }
        );
        assert!(ring.ring().contains(KeyVersion::new(2)));
    }

    #[test]
    fn failed_reload_keeps_the_old_ring() {
        let (ring, next, _) = scripted(&[1, 2]);
        *next.lock().unwrap() = None;
        assert!(ring.reload().is_err());
        let kept = ring.ring();
        assert_eq!(kept.versions().count(), 2);
        assert_eq!(kept.active_version(), KeyVersion::new(2));
    }

    #[test]
    fn installed_ring_is_fixed() {
        let ring = ReloadableRing::fixed(ring_of(&[1]));
        assert_eq!(ring.reload().unwrap(), ReloadOutcome::Fixed);
        assert!(!ring.reload_for_unknown_version());
        assert!(!ring.is_reloadable());
    }

    #[test]
    fn unknown_versions_reload_at_most_once_per_gap_across_threads() {
        let (ring, next, loads) = scripted(&[1]);
        let ring = ring.with_unknown_version_gap(Duration::from_secs(60));
        *next.lock().unwrap() = Some(vec![1, 2]);
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    for _ in 0..100 {
                        assert!(ring.reload_for_unknown_version());
                    }
                });
            }
        });
        // One load at start, one reload for all 1600 unknown values.
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert!(ring.ring().contains(KeyVersion::new(2)));
    }

    #[test]
    fn unknown_version_reloads_again_after_the_gap() {
        let (ring, _, loads) = scripted(&[1]);
        let ring = ring.with_unknown_version_gap(Duration::from_millis(20));
        assert!(ring.reload_for_unknown_version());
        std::thread::sleep(Duration::from_millis(40));
        assert!(ring.reload_for_unknown_version());
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn fleet_active_wins_over_the_highest_version_across_reloads() {
        let (ring, next, _) = scripted(&[1]);
        assert_eq!(
            ring.set_fleet_active(KeyVersion::new(1)),
            FleetActive::Applied
        );
        // A new key file appears: loaded, but v1 stays active until the fleet says otherwise.
        *next.lock().unwrap() = Some(vec![1, 2]);
        ring.reload().unwrap();
        assert_eq!(ring.ring().active_version(), KeyVersion::new(1));
        assert!(ring.ring().contains(KeyVersion::new(2)));
        assert_eq!(
            ring.set_fleet_active(KeyVersion::new(2)),
            FleetActive::Applied
        );
        assert_eq!(ring.ring().active_version(), KeyVersion::new(2));
    }

    #[test]
    fn fleet_active_not_loaded_keeps_the_previous_active() {
        let (ring, next, _) = scripted(&[1, 2]);
        assert_eq!(
            ring.set_fleet_active(KeyVersion::new(1)),
            FleetActive::Applied
        );
        assert_eq!(
            ring.set_fleet_active(KeyVersion::new(3)),
            FleetActive::NotLoaded
        );
        assert_eq!(ring.ring().active_version(), KeyVersion::new(1));
        *next.lock().unwrap() = Some(vec![1, 2, 4]);
        ring.reload().unwrap();
        assert_eq!(ring.ring().active_version(), KeyVersion::new(1));
    }

    #[test]
    fn local_pin_overrides_the_fleet() {
        let ring = ReloadableRing::loaded(Box::new(|| {
            Ok(LoadedRing {
                ring: ring_of(&[1, 2]).with_active(KeyVersion::new(1))?,
                pinned: Some(KeyVersion::new(1)),
                pinned_blind_index: None,
            })
        }))
        .unwrap();
        assert_eq!(
            ring.set_fleet_active(KeyVersion::new(2)),
            FleetActive::Pinned(KeyVersion::new(1))
        );
        ring.reload().unwrap();
        assert_eq!(ring.ring().active_version(), KeyVersion::new(1));
    }

    /// A ring of `versions` with blind-index keys of `blind_index` (the highest active).
    fn ring_with_blind_index(versions: &[u32], blind_index: &[u32]) -> KeyRing {
        let mut ring = ring_of(versions);
        for v in blind_index {
            let byte = 100 + u8::try_from(*v).unwrap();
            ring = ring
                .with_blind_index_key_version(
                    *v,
                    crate::format::blind_index::BlindIndexKey::new(MasterKey::from_bytes(
                        [byte; 32],
                    )),
                )
                .unwrap();
        }
        ring
    }

    /// A ring whose loader gives the blind-index versions `next` holds, pinned to `pin`.
    fn scripted_blind_index(
        first: &[u32],
        pin: Option<u32>,
    ) -> (ReloadableRing, Arc<Mutex<Vec<u32>>>) {
        let next = Arc::new(Mutex::new(first.to_vec()));
        let n = Arc::clone(&next);
        let ring = ReloadableRing::loaded(Box::new(move || {
            let mut ring = ring_with_blind_index(&[1], &n.lock().unwrap());
            let pinned_blind_index = pin.map(KeyVersion::new);
            if let Some(pinned) = pinned_blind_index {
                ring = ring.with_active_blind_index(pinned)?;
            }
            Ok(LoadedRing {
                ring,
                pinned: None,
                pinned_blind_index,
            })
        }))
        .unwrap();
        (ring, next)
    }

    #[test]
    fn a_provisioned_blind_index_version_never_indexes_until_the_fleet_activates_it() {
        let (ring, next) = scripted_blind_index(&[1], None);
        assert_eq!(
            ring.set_fleet_blind_index_active(KeyVersion::new(1)),
            FleetActive::Applied
        );
        // `bidx_key_v2` appears: loaded (lookups match it), but v1 keeps indexing.
        *next.lock().unwrap() = vec![1, 2];
        ring.reload().unwrap();
        let loaded = ring.ring();
        assert_eq!(loaded.blind_index_versions().count(), 2);
        assert_eq!(
            loaded.active_blind_index_version(),
            Some(KeyVersion::new(1))
        );
        assert_eq!(
            ring.set_fleet_blind_index_active(KeyVersion::new(2)),
            FleetActive::Applied
        );
        assert_eq!(
            ring.ring().active_blind_index_version(),
            Some(KeyVersion::new(2))
        );
        ring.reload().unwrap();
        assert_eq!(
            ring.ring().active_blind_index_version(),
            Some(KeyVersion::new(2)),
            "the fleet's version survives a reload"
        );
    }

    #[test]
    fn a_fleet_blind_index_version_not_loaded_keeps_the_previous_one() {
        let (ring, next) = scripted_blind_index(&[1, 2], None);
        assert_eq!(
            ring.set_fleet_blind_index_active(KeyVersion::new(1)),
            FleetActive::Applied
        );
        assert_eq!(
            ring.set_fleet_blind_index_active(KeyVersion::new(3)),
            FleetActive::NotLoaded
        );
        *next.lock().unwrap() = vec![1, 2, 4];
        ring.reload().unwrap();
        assert_eq!(
            ring.ring().active_blind_index_version(),
            Some(KeyVersion::new(1))
        );
        assert_eq!(ring.ring().active_version(), KeyVersion::new(1));
    }

    #[test]
    fn a_local_blind_index_pin_overrides_the_fleet() {
        let (ring, _) = scripted_blind_index(&[1, 2], Some(1));
        assert_eq!(ring.pinned_blind_index(), Some(KeyVersion::new(1)));
        assert_eq!(
            ring.set_fleet_blind_index_active(KeyVersion::new(2)),
            FleetActive::Pinned(KeyVersion::new(1))
        );
        ring.reload().unwrap();
        assert_eq!(
            ring.ring().active_blind_index_version(),
            Some(KeyVersion::new(1))
        );
    }

    #[test]
    fn waiting_for_a_reload_wakes_on_it() {
        let (ring, _, _) = scripted(&[1]);
        let seen = ring.reload_count();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| ring.wait_for_reload(seen, Duration::from_secs(30), &stop));
            std::thread::sleep(Duration::from_millis(20));
            ring.reload().unwrap();
            assert_eq!(waiter.join().unwrap(), seen + 1);
        });
        assert_eq!(
            ring.wait_for_reload(seen + 1, Duration::from_millis(1), &stop),
            seen + 1
        );
    }

    #[test]
    fn a_stopped_waiter_wakes_without_a_reload() {
        let (ring, _, _) = scripted(&[1]);
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| ring.wait_for_reload(0, Duration::from_secs(30), &stop));
            std::thread::sleep(Duration::from_millis(20));
            stop.store(true, Ordering::SeqCst);
            ring.wake_waiters();
            waiter.join().unwrap();
        });
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    /// The environment loader over a keys directory (the process-wide ring's default source),
    /// with the variables in a map instead of the process environment.
    #[cfg(unix)]
    mod sources {
        use std::collections::HashMap;
        use std::ffi::OsString;
        use std::fs;
        use std::os::unix::fs::{PermissionsExt, symlink};
        use std::path::{Path, PathBuf};

        use super::*;
        use crate::keys::env::{EnvVars, load_with_pin};

        fn keys_dir_loader(dir: &Path) -> ReloadableRing {
            let vars: HashMap<String, OsString> =
                HashMap::from([("ENCRYPTED_FIELD_KEYS_DIR".to_owned(), dir.into())]);
            ReloadableRing::loaded(Box::new(move || {
                load_with_pin(&EnvVars::default(), &|name| vars.get(name).cloned())
            }))
            .unwrap()
        }

        fn write_key(path: &Path) {
            fs::write(
                path,
                format!("{}\n", MasterKey::generate().to_base64().as_str()),
            )
            .unwrap();
            fs::set_permissions(path, fs::Permissions::from_mode(0o444)).unwrap();
        }

        fn versions(ring: &ReloadableRing) -> Vec<u32> {
            ring.ring().versions().map(KeyVersion::get).collect()
        }

        /// A Kubernetes secret volume: `enc_key_vN -> ..data/enc_key_vN`, `..data -> ..TIMESTAMP`.
        fn secret_volume(root: &Path, timestamp: &str, keys: &[u32]) -> PathBuf {
            let dir = root.join("secrets");
            let data = dir.join(timestamp);
            fs::create_dir_all(&data).unwrap();
            for v in keys {
                write_key(&data.join(format!("enc_key_v{v}")));
            }
            fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
            dir
        }

        /// What the kubelet does: a new timestamped directory, then `..data` swapped in one
        /// rename, then the links of new keys.
        fn kubelet_swap(dir: &Path, timestamp: &str) {
            symlink(timestamp, dir.join("..data_tmp")).unwrap();
            fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
        }

        fn link_keys(dir: &Path, keys: &[u32]) {
            for v in keys {
                let name = format!("enc_key_v{v}");
                if fs::symlink_metadata(dir.join(&name)).is_err() {
                    symlink(format!("..data/{name}"), dir.join(&name)).unwrap();
                }
            }
        }

        #[test]
        fn kubernetes_secret_update_is_picked_up_across_the_data_swap() {
            let tmp = tempfile::tempdir().unwrap();
            let dir = secret_volume(tmp.path(), "..2026_12_01_10_00_00.1", &[1]);
            symlink("..2026_12_01_10_00_00.1", dir.join("..data")).unwrap();
            link_keys(&dir, &[1]);
            let ring = keys_dir_loader(&dir);
            assert_eq!(versions(&ring), [1]);

            secret_volume(tmp.path(), "..2026_12_01_11_00_00.2", &[1, 2]);
            kubelet_swap(&dir, "..2026_12_01_11_00_00.2");
            link_keys(&dir, &[1, 2]);
            fs::remove_dir_all(dir.join("..2026_12_01_10_00_00.1")).unwrap();
            ring.reload().unwrap();
            assert_eq!(versions(&ring), [1, 2]);
        }

        #[test]
        fn a_reload_caught_mid_swap_keeps_the_old_ring_and_the_next_one_succeeds() {
            let tmp = tempfile::tempdir().unwrap();
            let dir = secret_volume(tmp.path(), "..old", &[1]);
            symlink("..old", dir.join("..data")).unwrap();
            link_keys(&dir, &[1]);
            let ring = keys_dir_loader(&dir);

            // The link of the new key exists before `..data` holds it: it dangles.
            link_keys(&dir, &[1, 2]);
            let err = ring.reload().unwrap_err();
            assert!(err.to_string().contains("enc_key_v2"), "{err}");
            assert_eq!(versions(&ring), [1]);

            secret_volume(tmp.path(), "..new", &[1, 2]);
            kubelet_swap(&dir, "..new");
            ring.reload().unwrap();
            assert_eq!(versions(&ring), [1, 2]);
        }

        #[test]
        fn docker_secrets_directory_gains_a_version() {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("run-secrets");
            fs::create_dir(&dir).unwrap();
            write_key(&dir.join("enc_key_v1"));
            let ring = keys_dir_loader(&dir);
            write_key(&dir.join("enc_key_v2"));
            ring.reload().unwrap();
            assert_eq!(versions(&ring), [1, 2]);
            assert_eq!(ring.ring().active_version(), KeyVersion::new(2));
        }

        #[test]
        fn a_bad_key_file_keeps_the_old_ring() {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("keys");
            fs::create_dir(&dir).unwrap();
            write_key(&dir.join("enc_key_v1"));
            let ring = keys_dir_loader(&dir);
            fs::write(dir.join("enc_key_v2"), "not a key\n").unwrap();
            let err = ring.reload().unwrap_err();
            assert!(err.to_string().contains("enc_key_v2"), "{err}");
            assert!(!err.to_string().contains("not a key"), "{err}");
            assert_eq!(versions(&ring), [1]);
            fs::remove_file(dir.join("enc_key_v2")).unwrap();
            fs::remove_file(dir.join("enc_key_v1")).unwrap();
            assert!(ring.reload().is_err(), "an emptied directory is an error");
            assert_eq!(versions(&ring), [1]);
        }

        #[test]
        fn the_directory_pin_is_a_local_pin() {
            let tmp = tempfile::tempdir().unwrap();
            let keys = crate::keys::dir::KeysDir::new(tmp.path().join("keys"));
            keys.add(true).unwrap();
            keys.add(false).unwrap();
            let ring = keys_dir_loader(keys.path());
            assert_eq!(ring.pinned(), Some(KeyVersion::new(1)));
            assert_eq!(
                ring.set_fleet_active(KeyVersion::new(2)),
                FleetActive::Pinned(KeyVersion::new(1))
            );
            fs::remove_file(keys.path().join(crate::keys::dir::ACTIVE_VERSION_FILE)).unwrap();
            ring.reload().unwrap();
            assert_eq!(ring.pinned(), None);
            assert_eq!(ring.ring().active_version(), KeyVersion::new(2));
        }
    }
}
