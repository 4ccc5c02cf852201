//! The process-wide key ring: installed once with [`install`] (fixed) or [`install_loader`], or
//! loaded from the environment on first use. Everything here also exists on [`KeyRing`] for code
//! that keeps its rings explicit.
//!
//! A ring with sources (the environment, or an installed loader) reloads without a restart
//! (see `keys/reload.rs` for how the active version is chosen):
//! - when a value's key version is not loaded: one reload, at most once a second for the whole
//!   process (one thread reloads, the others wait for it), then the value is opened once more;
//! - on a timer, every `ENCRYPTED_FIELD_RELOAD_INTERVAL` (humantime, e.g. `30s`, `5m`; `0` turns
//!   it off; default 30 s), in a background thread started with the first load;
//! - on [`reload`].
//!
//! A reload that fails (an unreadable file, a bad key, an empty directory caught mid-swap) keeps
//! the ring it had and logs why with `tracing` (never a key byte): the ring is never emptied.
//!
//! Reading the ring on the hot path (a column's `ToSql`/`FromSql`, a derived getter) takes no
//! lock and touches no shared reference count: each thread keeps a copy of the `Arc` with the
//! generation it was read at, and compares that generation with the ring's (one atomic load of a
//! value that changes only on a reload). A thread's copy is replaced on its first read after a
//! reload; until then an idle thread holds the previous ring (its keys are zeroized when the last
//! copy goes). See `keys/reload.rs` and BENCHMARKS.md.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::format::plaintext::string_from_plaintext;
use crate::keys::env::{EnvVars, load_with_pin};
use crate::keys::reload::{LoadedRing, ReloadOutcome, ReloadableRing};
use crate::keys::ring::KeyRing;

static GLOBAL: OnceLock<ReloadableRing> = OnceLock::new();

thread_local! {
    /// This thread's copy of the process-wide ring, and the generation it was read at.
    static CACHED: RefCell<Option<(u64, Arc<KeyRing>)>> = const { RefCell::new(None) };
}

/// Runs `f` with the process-wide ring as it is now, through this thread's copy (refreshed when
/// a reload published a newer ring). A nested call, or a thread being torn down, reads the ring
/// under its lock instead.
fn with_current<R>(state: &'static ReloadableRing, f: impl FnOnce(&KeyRing) -> R) -> R {
    let generation = state.generation();
    let mut f = Some(f);
    let done = CACHED
        .try_with(|cell| {
            if let Ok(mut cached) = cell.try_borrow_mut()
                && cached.as_ref().is_none_or(|(seen, _)| *seen != generation)
            {
                // Read after the generation: the ring is at least that new.
                *cached = Some((generation, state.ring()));
            }
            let cached = cell.try_borrow().ok()?;
            let (seen, ring) = cached.as_ref()?;
            if *seen != generation {
                return None;
            }
            f.take().map(|f| f(ring))
        })
        .ok()
        .flatten();
    if let Some(result) = done {
        return result;
    }
    // `f` runs in the closure only when it returns `Some`, so it is still here.
    #[allow(clippy::expect_used)]
    let f = f
        .take()
        .expect("invariant: f is taken only on the path that returns its result");
    f(&state.ring())
}

/// The variable that sets the reload timer's interval (humantime; `0` turns the timer off).
pub const RELOAD_INTERVAL_VAR: &str = "ENCRYPTED_FIELD_RELOAD_INTERVAL";

/// The reload timer's interval when [`RELOAD_INTERVAL_VAR`] is not set.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// Installs a fixed process-wide key ring. Call it once, at start-up, before the first query; a
/// second call (or a call after the ring was loaded from the environment) is
/// [`Error::AlreadyInstalled`]. A fixed ring has no sources: [`reload`] leaves it as it is (use
/// [`install_loader`] for a ring that reloads).
///
/// ```
/// use encrypted_field::{KeyRing, MasterKey};
/// encrypted_field::install(KeyRing::builder().key(1, MasterKey::generate()).build()?)?;
/// let again = KeyRing::builder().key(1, MasterKey::generate()).build()?;
/// assert!(matches!(encrypted_field::install(again), Err(encrypted_field::Error::AlreadyInstalled)));
/// assert_eq!(encrypted_field::reload()?, encrypted_field::ReloadOutcome::Fixed);
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn install(ring: KeyRing) -> Result<()> {
    GLOBAL
        .set(ReloadableRing::fixed(ring))
        .map_err(|_| Error::AlreadyInstalled)
}

/// Installs a process-wide key ring that `loader` builds now and again on every reload (the
/// timer, a value of an unknown version, [`reload`]). A loader that fails at a reload leaves the
/// ring as it was. Its ring's active version is a default that a fleet's database-recorded
/// active version overrides (see the `fleet` module).
///
/// ```
/// use encrypted_field::keys::KeysDir;
/// let tmp = tempfile::tempdir()?;
/// let keys = KeysDir::new(tmp.path());
/// keys.add(true)?;
/// let dir = keys.clone();
/// encrypted_field::install_loader(move || dir.load(None))?;
/// keys.add(true)?; // v2, active in the directory
/// assert!(matches!(
///     encrypted_field::reload()?,
///     encrypted_field::ReloadOutcome::Reloaded { active, .. } if active.get() == 2
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn install_loader(loader: impl Fn() -> Result<KeyRing> + Send + Sync + 'static) -> Result<()> {
    if GLOBAL.get().is_some() {
        return Err(Error::AlreadyInstalled);
    }
    let ring = ReloadableRing::loaded(Box::new(move || loader().map(LoadedRing::unpinned)))?;
    let mut installed = false;
    let state = GLOBAL.get_or_init(|| {
        installed = true;
        ring
    });
    if !installed {
        return Err(Error::AlreadyInstalled);
    }
    start_reload_timer(state);
    Ok(())
}

/// The process-wide ring's state, loading it from the environment on first use.
pub(crate) fn state() -> Result<&'static ReloadableRing> {
    if let Some(state) = GLOBAL.get() {
        return Ok(state);
    }
    let loaded = ReloadableRing::loaded(Box::new(|| {
        load_with_pin(&EnvVars::default(), &|name| std::env::var_os(name))
    }))?;
    // Another thread may have won the race; either way the stored ring is the one to use, and
    // only the winner starts a timer.
    let mut stored = false;
    let state = GLOBAL.get_or_init(|| {
        stored = true;
        loaded
    });
    if stored {
        start_reload_timer(state);
    }
    Ok(state)
}

/// The process-wide key ring as it is now, loading it from the environment (see
/// [`KeyRing::from_env`]) on first use. With nothing installed and no key configured, this is
/// [`Error::NoKeyConfigured`]: a key is never generated silently.
///
/// The ring may be replaced by a reload at any time; the `Arc` keeps the one returned valid for
/// as long as it is held, so use one for a unit of work and ask again for the next.
pub fn global() -> Result<Arc<KeyRing>> {
    let state = state()?;
    let generation = state.generation();
    let cached = CACHED
        .try_with(|cell| {
            let mut cached = cell.try_borrow_mut().ok()?;
            if cached.as_ref().is_none_or(|(seen, _)| *seen != generation) {
                *cached = Some((generation, state.ring()));
            }
            cached.as_ref().map(|(_, ring)| Arc::clone(ring))
        })
        .ok()
        .flatten();
    Ok(cached.unwrap_or_else(|| state.ring()))
}

/// Runs `f` with the process-wide ring as it is now, without cloning it (the hot path of
/// `ToSql`).
pub(crate) fn with_ring<R>(f: impl FnOnce(&KeyRing) -> Result<R>) -> Result<R> {
    with_current(state()?, f)
}

/// Reads the process-wide ring's sources again now (the environment's keys directory or key
/// files, or the installed loader) and swaps the new ring in. Loads it first if nothing is loaded
/// yet. A ring installed with [`install`] is fixed: the answer is [`ReloadOutcome::Fixed`] and
/// nothing changes. On failure the previous ring stays in use, and the error says why.
pub fn reload() -> Result<ReloadOutcome> {
    let Some(state) = GLOBAL.get() else {
        let ring = state()?.ring();
        return Ok(ReloadOutcome::Reloaded {
            versions: ring.versions().collect(),
            active: ring.active_version(),
        });
    };
    state.reload().inspect_err(|error| {
        tracing::warn!(%error, "reloading the key ring failed; the loaded ring stays");
    })
}

/// Runs `open` with the process-wide ring; when it fails because the value's key version is not
/// loaded, reloads (rate-limited, see the module documentation) and runs it once more.
pub(crate) fn with_global<R>(open: impl Fn(&KeyRing) -> Result<R>) -> Result<R> {
    let state = state()?;
    match with_current(state, &open) {
        Err(error) if is_unknown_key_version(&error) && state.reload_for_unknown_version() => {
            with_current(state, &open)
        }
        done => done,
    }
}

fn is_unknown_key_version(error: &Error) -> bool {
    match error {
        Error::UnknownKeyVersion(_) => true,
        Error::Column { error, .. } => is_unknown_key_version(error),
        _ => false,
    }
}

/// The timer's interval: [`RELOAD_INTERVAL_VAR`] when set and valid (a bad value is logged, and
/// the default used), else [`DEFAULT_RELOAD_INTERVAL`].
fn reload_interval() -> Duration {
    let Some(text) = std::env::var_os(RELOAD_INTERVAL_VAR) else {
        return DEFAULT_RELOAD_INTERVAL;
    };
    match parse_interval(&text.to_string_lossy()) {
        Ok(interval) => interval,
        Err(reason) => {
            tracing::warn!(
                variable = RELOAD_INTERVAL_VAR,
                %reason,
                "ignoring the reload interval; reloading every {}s",
                DEFAULT_RELOAD_INTERVAL.as_secs()
            );
            DEFAULT_RELOAD_INTERVAL
        }
    }
}

/// `30s`, `5m`, `1h 30m` (humantime), or `0` for no timer.
pub(crate) fn parse_interval(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as `30s` or `5m`, nor `0`: {e}"))
}

/// Starts the thread that reloads `state` on the timer, unless the ring is fixed or the timer is
/// off. A thread that cannot start is logged: the other triggers still work.
fn start_reload_timer(state: &'static ReloadableRing) {
    let interval = reload_interval();
    if interval.is_zero() || !state.is_reloadable() {
        return;
    }
    let started = std::thread::Builder::new()
        .name("encrypted-field-key-reload".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                if let Err(error) = state.reload() {
                    tracing::warn!(%error, "reloading the key ring on the timer failed; the loaded ring stays");
                }
            }
        });
    if let Err(error) = started {
        tracing::warn!(%error, "the key ring's reload timer could not start; reloads happen on unknown versions and on request only");
    }
}

/// Encrypts a string with the process-wide ring and no context: the Django module's
/// `EncryptionService.encrypt`.
///
/// ```
/// # encrypted_field::install(encrypted_field::KeyRing::builder().key(1, encrypted_field::MasterKey::generate()).build()?)?;
/// let sealed = encrypted_field::encrypt("078-05-1120")?;
/// assert_eq!(encrypted_field::decrypt(&sealed)?, "078-05-1120");
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn encrypt(plaintext: &str) -> Result<Vec<u8>> {
    with_ring(|ring| ring.try_encrypt_with_context(plaintext.as_bytes(), ""))
}

/// Decrypts a value sealed by [`encrypt`] into a string: `EncryptionService.decrypt`.
pub fn decrypt(envelope: &[u8]) -> Result<String> {
    string_from_plaintext(with_global(|ring| ring.decrypt(envelope))?)
}

/// Encrypts a string, binding `context` (`table.column`) into the tag.
///
/// ```
/// # encrypted_field::install(encrypted_field::KeyRing::builder().key(1, encrypted_field::MasterKey::generate()).build()?)?;
/// let sealed = encrypted_field::encrypt_with_context("078-05-1120", "customers._ssn")?;
/// assert!(encrypted_field::decrypt_with_context(&sealed, "customers._phone").is_err());
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn encrypt_with_context(plaintext: &str, context: &str) -> Result<Vec<u8>> {
    with_ring(|ring| ring.try_encrypt_with_context(plaintext.as_bytes(), context))
}

/// Decrypts a value sealed by [`encrypt_with_context`] with the same context.
pub fn decrypt_with_context(envelope: &[u8], context: &str) -> Result<String> {
    string_from_plaintext(with_global(|ring| {
        ring.decrypt_with_context(envelope, context)
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_humantime_and_zero_turns_the_timer_off() {
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval(" 5m "), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_interval("soon").unwrap_err().contains("`soon`"));
    }

    #[test]
    fn unknown_versions_are_found_inside_column_errors() {
        let unknown = Error::UnknownKeyVersion(crate::KeyVersion::new(3));
        assert!(is_unknown_key_version(&unknown));
        assert!(is_unknown_key_version(&unknown.in_column("t.c")));
        assert!(!is_unknown_key_version(&Error::NoKeyConfigured));
    }
}
