//! Staged activation: a new key version becomes active only after every running instance has
//! loaded it, and the command that activates it returns only once they all seal with it. A
//! blind-index key version goes through the same stages: loaded everywhere (lookups match it),
//! recorded active, then every instance indexes with it.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::fleet::active::{record_active_of, recorded_active_of};
use crate::fleet::instance::{DEFAULT_SEEN_WITHIN, Instance, instances};
use crate::fleet::key_kind::KeyKind;
use crate::keys::version::KeyVersion;
use crate::rotation::database::Database;
use crate::rotation::error::{Error, Result};

/// How a staged activation waits for the running instances.
#[derive(Debug, Clone)]
pub struct Staging {
    /// How long to wait at each stage before giving up (default 5 minutes).
    pub wait: Duration,
    /// Instances that checked in within this window count as running (default 3 minutes).
    pub seen_within: Duration,
    /// How often the instances table is read while waiting (default 1 s).
    pub poll: Duration,
    /// Skip both waits: activate now whatever the instances have loaded.
    pub force: bool,
}

impl Default for Staging {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(5 * 60),
            seen_within: DEFAULT_SEEN_WITHIN,
            poll: Duration::from_secs(1),
            force: false,
        }
    }
}

/// What a staged activation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activation {
    /// Which keys: encryption or blind-index.
    pub kind: KeyKind,
    /// The version now recorded active.
    pub version: KeyVersion,
    /// The version recorded active before, if any.
    pub previous: Option<KeyVersion>,
    /// The running instances, as they last checked in (all sealing, or indexing, with `version`,
    /// unless `forced`).
    pub instances: Vec<Instance>,
    /// Whether the waits were skipped (`--force-activate`).
    pub forced: bool,
}

/// Activates `version` across the fleet: waits until every running instance has loaded it,
/// records it active in the database (`who` activated it), then waits until every running
/// instance seals with it. An instance still lagging when a wait ends is named in
/// [`Error::InstancesLagging`]; the first wait failing means nothing was activated.
pub fn activate(
    db: &mut Database,
    version: KeyVersion,
    who: &str,
    staging: &Staging,
) -> Result<Activation> {
    activate_with(db, version, who, staging, || Ok(()))
}

/// [`activate`], calling `recorded` right after the version is recorded active and before the
/// second wait (the command line moves a keys directory's existing `active_version` pin along
/// there, so the instances that read it can follow).
pub fn activate_with(
    db: &mut Database,
    version: KeyVersion,
    who: &str,
    staging: &Staging,
    recorded: impl FnOnce() -> Result<()>,
) -> Result<Activation> {
    stage(db, KeyKind::Encryption, version, who, staging, recorded)
}

/// [`activate_with`] for a blind-index key version: waits until every running instance has
/// loaded it (from then on their lookups match indexes computed with it), records it active
/// (`active_blind_index_version` in `encrypted_field_metadata`), calls `recorded` (the command
/// line moves an `active_blind_index_version` pin along there), then waits until every running
/// instance computes new indexes with it. Only then may indexes be rewritten with it: before,
/// an instance that had not loaded it would no longer find the rows rewritten.
pub fn activate_blind_index_with(
    db: &mut Database,
    version: KeyVersion,
    who: &str,
    staging: &Staging,
    recorded: impl FnOnce() -> Result<()>,
) -> Result<Activation> {
    stage(db, KeyKind::BlindIndex, version, who, staging, recorded)
}

/// The stages, for keys of `kind`.
fn stage(
    db: &mut Database,
    kind: KeyKind,
    version: KeyVersion,
    who: &str,
    staging: &Staging,
    recorded: impl FnOnce() -> Result<()>,
) -> Result<Activation> {
    let previous = recorded_active_of(db, kind)?.map(|record| record.version);
    if !staging.force {
        wait_for(db, staging, |i| i.has_loaded_of(kind, version))
            .map_err(|lagging| lagging.into_error(kind, version, false, staging))?;
    }
    record_active_of(db, kind, version, who)?;
    // The pin moved by `recorded` is a file, outside any transaction: a rotation checks that its
    // lease still holds right before it.
    db.renew_lease()?;
    recorded()?;
    let instances = if staging.force {
        instances(db, staging.seen_within)?
    } else {
        wait_for(db, staging, |i| i.active_of(kind) == Some(version))
            .map_err(|lagging| lagging.into_error(kind, version, true, staging))?
    };
    Ok(Activation {
        kind,
        version,
        previous,
        instances,
        forced: staging.force,
    })
}

/// Why a wait ended without every instance ready.
enum Lagging {
    Instances(Vec<Instance>),
    Failed(Error),
}

impl From<Error> for Lagging {
    fn from(error: Error) -> Self {
        Self::Failed(error)
    }
}

impl Lagging {
    fn into_error(
        self,
        kind: KeyKind,
        version: KeyVersion,
        activated: bool,
        staging: &Staging,
    ) -> Error {
        match self {
            Self::Failed(error) => error,
            Self::Instances(lagging) => Error::InstancesLagging {
                kind,
                version,
                activated,
                waited: humantime::format_duration(staging.wait).to_string(),
                instances: lagging.iter().map(ToString::to_string).collect(),
            },
        }
    }
}

/// Reads the instances until every one seen within the window is `ready`, or the wait ends.
fn wait_for(
    db: &mut Database,
    staging: &Staging,
    ready: impl Fn(&Instance) -> bool,
) -> std::result::Result<Vec<Instance>, Lagging> {
    let started = Instant::now();
    loop {
        // A rotation waiting here (`rotate --new-key`) keeps its lease alive meanwhile.
        db.renew_lease_if_due()?;
        let running = instances(db, staging.seen_within)?;
        let lagging: Vec<Instance> = running.iter().filter(|i| !ready(i)).cloned().collect();
        if lagging.is_empty() {
            return Ok(running);
        }
        if started.elapsed() >= staging.wait {
            return Err(Lagging::Instances(lagging));
        }
        std::thread::sleep(
            staging
                .poll
                .min(staging.wait.saturating_sub(started.elapsed())),
        );
    }
}
