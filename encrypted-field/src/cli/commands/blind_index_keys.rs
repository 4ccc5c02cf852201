//! `keys add|activate --blind-index` and the blind-index part of `keys list`: the `bidx_key_vN`
//! files of a keys directory (version 1 may instead be `DB_BLIND_INDEX_KEY(_FILE)`), and the
//! version new blind indexes are computed with, pinned in the directory's
//! `active_blind_index_version` file or, for a fleet, recorded in the database.

use crate::cli::blind_index_output::{
    ActivatedBlindIndexKey, AddedBlindIndexKey, BlindIndexActiveFrom, BlindIndexListing,
};
use crate::cli::connect::{connect_url, engine};
use crate::cli::error::CliError;
use crate::cli::fleet_output::FleetActivated;
use crate::cli::key_check::check_key_file;
use crate::cli::output::{ListedKey, render};
use crate::cli::{Io, StagingArgs};
use crate::error::{BadKeyReason, Error};
use crate::fleet::{KeyKind, activate_blind_index_with, record_active_of_if_absent, who_am_i};
use crate::keys::dir::KeysDir;
use crate::keys::env::EnvVars;
use crate::keys::master_key::MasterKey;
use crate::keys::version::KeyVersion;
use crate::keys::wrap::KeyPurpose;
use crate::rotation::new_blind_index_key::move_blind_index_pin_along;

/// The blind-index versions a host has: version 1 from the variables when one is set, then
/// the directory's files.
struct Present {
    keys: Vec<ListedKey>,
}

impl Present {
    fn read(dir: &KeysDir, vars: &EnvVars) -> crate::error::Result<Self> {
        let mut keys = Vec::new();
        let check = |result: crate::error::Result<()>| {
            result.err().map(|err| match err {
                Error::BadKey { reason, .. } => reason.to_string(),
                other => other.to_string(),
            })
        };
        if let Some(file) = std::env::var_os(&vars.blind_index_key_file) {
            let path = std::path::PathBuf::from(file);
            let problem = check(MasterKey::from_file(&path).map(drop));
            keys.push(listed(1, path.display().to_string(), problem));
        } else if let Some(inline) = std::env::var_os(&vars.blind_index_key) {
            let text = zeroize::Zeroizing::new(inline.to_string_lossy().into_owned());
            let problem = check(MasterKey::from_base64(&text, &vars.blind_index_key).map(drop));
            keys.push(listed(1, format!("${}", vars.blind_index_key), problem));
        }
        for file in dir.blind_index_files()? {
            let (checked, wrapped_by) = check_key_file(dir, &file, KeyPurpose::BlindIndex);
            let mut key = listed(
                file.version.get(),
                file.path.display().to_string(),
                check(checked),
            );
            key.wrapped_by = wrapped_by;
            keys.push(key);
        }
        keys.sort_by_key(|k| k.version);
        Ok(Self { keys })
    }

    fn has(&self, version: KeyVersion) -> bool {
        self.keys.iter().any(|k| k.version == version.get())
    }

    fn highest(&self) -> Option<KeyVersion> {
        self.keys.last().map(|k| KeyVersion::new(k.version))
    }

    fn versions(&self) -> String {
        if self.keys.is_empty() {
            return "none".to_owned();
        }
        self.keys
            .iter()
            .map(|k| format!("v{}", k.version))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn listed(version: u32, path: String, problem: Option<String>) -> ListedKey {
    ListedKey {
        version,
        active: false,
        path,
        usable: problem.is_none(),
        problem,
        wrapped_by: None,
    }
}

/// The version new indexes are computed with on this host, and why: the variable, the pin
/// file, else the highest.
fn local_active(
    dir: &KeysDir,
    vars: &EnvVars,
    present: &Present,
) -> crate::error::Result<Option<(KeyVersion, BlindIndexActiveFrom, Option<String>)>> {
    let env = std::env::var_os(&vars.active_blind_index_version)
        .map(|value| {
            let text = zeroize::Zeroizing::new(value.to_string_lossy().into_owned());
            KeyVersion::parse_setting(&text, &vars.active_blind_index_version)
        })
        .transpose()?;
    if let Some(version) = env {
        return Ok(Some((
            version,
            BlindIndexActiveFrom::Environment,
            Some(vars.active_blind_index_version.clone()),
        )));
    }
    if let Some(version) = dir.pinned_blind_index_active()? {
        let file = dir
            .path()
            .join(crate::keys::ACTIVE_BLIND_INDEX_VERSION_FILE);
        return Ok(Some((
            version,
            BlindIndexActiveFrom::ActiveBlindIndexVersionFile,
            Some(file.display().to_string()),
        )));
    }
    Ok(present
        .highest()
        .map(|v| (v, BlindIndexActiveFrom::HighestVersion, None)))
}

/// The blind-index part of `keys list`.
pub(super) fn listing(dir: &KeysDir, vars: &EnvVars) -> crate::error::Result<BlindIndexListing> {
    let mut present = Present::read(dir, vars)?;
    let active = local_active(dir, vars, &present)?;
    let active_version = active.as_ref().map(|(v, _, _)| v.get());
    for key in &mut present.keys {
        key.active = Some(key.version) == active_version;
    }
    Ok(BlindIndexListing {
        active_version,
        active_from: active.as_ref().map(|(_, from, _)| *from),
        active_pinned_by: active.and_then(|(_, _, by)| by),
        keys: present.keys,
    })
}

/// The keys directory a `keys … --blind-index` command works on, and how it reports.
pub(super) struct Target<'a> {
    pub(super) dir: &'a KeysDir,
    pub(super) vars: &'a EnvVars,
    /// Turns a key error into the command's error (naming the key sources).
    pub(super) keys_error: &'a dyn Fn(Error) -> CliError,
    pub(super) json: bool,
}

/// `keys add --blind-index [--activate] [--database-url URL]`.
pub(super) fn add(
    target: &Target<'_>,
    activate: bool,
    database_url: Option<&str>,
    wrap_with: Option<&str>,
) -> Result<String, CliError> {
    let Target {
        dir,
        vars,
        keys_error,
        json,
    } = *target;
    let present = Present::read(dir, vars).map_err(keys_error)?;
    let current = local_active(dir, vars, &present)
        .map_err(keys_error)?
        .map(|(v, _, _)| v);
    let next = KeyVersion::new(present.highest().map_or(1, |v| v.get().saturating_add(1)));
    let key = MasterKey::try_generate().map_err(keys_error)?;
    let (active, kept_in) = match (database_url, current) {
        // Recorded before the new file appears, so no instance takes it for the active one.
        (Some(url), Some(current)) => {
            let mut db = connect_url(url)?;
            let recorded =
                record_active_of_if_absent(&mut db, KeyKind::BlindIndex, current, &who_am_i())
                    .map_err(engine)?;
            (Some(recorded), Some("database".to_owned()))
        }
        (_, Some(current)) if !activate => {
            // Pinned before the new file appears: without a pin the highest version indexes.
            if dir.pinned_blind_index_active().map_err(keys_error)? != Some(current) {
                dir.activate_blind_index(current).map_err(keys_error)?;
            }
            (Some(current), Some(pin_file(dir)))
        }
        _ => (None, None),
    };
    let path = match wrap_with {
        Some(uri) => dir.write_wrapped_blind_index_key(next, uri, &key),
        None => dir.write_blind_index_key(next, &key),
    }
    .map_err(keys_error)?;
    let (active, kept_in) = if activate {
        dir.activate_blind_index(next).map_err(keys_error)?;
        (Some(next), Some(pin_file(dir)))
    } else {
        (active.or(Some(next)), kept_in)
    };
    render(
        &AddedBlindIndexKey {
            blind_index_version: next.get(),
            path: path.display().to_string(),
            active_blind_index_version: active.map(KeyVersion::get),
            active_kept_in: kept_in,
        },
        json,
    )
}

/// `keys activate N --blind-index [--database-url URL]`.
pub(super) fn activate(
    target: &Target<'_>,
    version: KeyVersion,
    database_url: Option<&str>,
    staging: &StagingArgs,
    io: &mut Io<'_>,
) -> Result<String, CliError> {
    let Target {
        dir,
        vars,
        keys_error,
        json,
    } = *target;
    let present = Present::read(dir, vars).map_err(keys_error)?;
    if !present.has(version) {
        return Err(CliError::usage(format!(
            "activating blind-index {version} in {}: no blind-index key has this version \
             (present: {})",
            dir.path().display(),
            present.versions()
        )));
    }
    note_override(io, vars, version);
    let Some(url) = database_url else {
        dir.activate_blind_index(version).map_err(keys_error)?;
        return render(
            &ActivatedBlindIndexKey {
                active_blind_index_version: version.get(),
                pinned_in: pin_file(dir),
            },
            json,
        );
    };
    let mut db = connect_url(url)?;
    let pin_moved_in = dir.has_blind_index_pin_file().then(|| pin_file(dir));
    let activation =
        activate_blind_index_with(&mut db, version, &who_am_i(), &staging.staging(), || {
            move_blind_index_pin_along(dir, version)
        })
        .map_err(|e| match e {
            crate::rotation::Error::Crypto(
                e @ Error::BadKey {
                    reason: BadKeyReason::ActiveVersionMissing(_),
                    ..
                },
            ) => keys_error(e),
            other => engine(other),
        })?;
    render(
        &FleetActivated {
            activation,
            pin_moved_in,
        },
        json,
    )
}

fn pin_file(dir: &KeysDir) -> String {
    dir.path()
        .join(crate::keys::ACTIVE_BLIND_INDEX_VERSION_FILE)
        .display()
        .to_string()
}

/// Tells the user when the variable overrides the version just activated on this host.
fn note_override(io: &mut Io<'_>, vars: &EnvVars, version: KeyVersion) {
    // The value is not shown: a key pasted there by mistake must not be echoed.
    if std::env::var_os(&vars.active_blind_index_version).is_some() {
        let _ = writeln!(
            io.stderr,
            "note: {} is set here and overrides blind-index version {version} wherever it is set",
            vars.active_blind_index_version
        );
    }
}
