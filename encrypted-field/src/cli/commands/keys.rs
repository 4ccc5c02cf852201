//! `keys list|add|activate|retire`: the versioned key files of a keys directory, through
//! [`KeysDir`] (and, to retire one, the database that must no longer use it); with
//! `--blind-index`, its blind-index keys (`blind_index_keys.rs`).

use super::{blind_index_keys, emit};
use crate::cli::blind_index_output::KeyListingWithBlindIndex;
use crate::cli::connect::{connect_url, engine};
use crate::cli::error::{CliError, KeySources};
use crate::cli::fleet_output::{FleetActivated, ProvisionedKey};
use crate::cli::key_check::check_key_file;
use crate::cli::key_ring::{env_active_version, keys_dir_path};
use crate::cli::output::{ActivatedKey, ActiveFrom, AddedKey, KeyListing, ListedKey, render};
use crate::cli::wrapped_output::{RewrapReport, WrappedVersion};
use crate::cli::{Cli, Io, KeysAction, KeysArgs};
use crate::error::Error;
use crate::fleet::{activate_with, record_active_if_absent, who_am_i};
use crate::keys::dir::{ACTIVE_VERSION_FILE, KeysDir};
use crate::keys::env::EnvVars;
use crate::keys::master_key::MasterKey;
use crate::keys::version::KeyVersion;
use crate::keys::wrap::KeyPurpose;
use crate::rotation::new_key::move_pin_along;

/// Runs a `keys` subcommand on the directory of `--keys-dir` or of the keys-directory variable.
pub(super) fn run(cli: &Cli, args: KeysArgs, io: &mut Io<'_>) -> Result<(), CliError> {
    let vars = &cli.env;
    let path = keys_dir_path(args.keys_dir, vars, "no keys directory")?;
    let sources = KeySources {
        keys_dir: Some(&path),
        vars: Some(vars),
        ..KeySources::default()
    };
    let keys_error = |e: Error| CliError::keys(&e, &sources);
    let dir = KeysDir::new(&path);
    let env_active = env_active_version(vars).map_err(keys_error)?;
    let target = blind_index_keys::Target {
        dir: &dir,
        vars,
        keys_error: &keys_error,
        json: args.json,
    };

    let text = match args.action {
        KeysAction::List => render(
            &KeyListingWithBlindIndex {
                keys: list(&dir, env_active, vars).map_err(keys_error)?,
                blind_index: blind_index_keys::listing(&dir, vars).map_err(keys_error)?,
            },
            args.json,
        )?,
        KeysAction::Add {
            blind_index: true,
            activate,
            database_url,
            wrap_with,
        } => blind_index_keys::add(
            &target,
            activate,
            database_url.as_deref(),
            wrap_with.as_deref(),
        )?,
        KeysAction::Activate {
            blind_index: true,
            version,
            database_url,
            staging,
        } => blind_index_keys::activate(&target, version, database_url.as_deref(), &staging, io)?,
        KeysAction::Add {
            database_url: Some(url),
            wrap_with,
            ..
        } => {
            let mut db = connect_url(&url)?;
            let current = dir.load(env_active).map_err(keys_error)?.active_version();
            let recorded =
                record_active_if_absent(&mut db, current, &who_am_i()).map_err(engine)?;
            let version = match &wrap_with {
                Some(uri) => dir.provision_wrapped(uri),
                None => dir.provision(&MasterKey::try_generate().map_err(keys_error)?),
            }
            .map_err(keys_error)?;
            let path = key_file_path(&dir, version).map_err(keys_error)?;
            render(
                &ProvisionedKey {
                    version: version.get(),
                    path,
                    active_version: recorded.get(),
                },
                args.json,
            )?
        }
        KeysAction::Add {
            activate,
            wrap_with,
            ..
        } => {
            let version = match &wrap_with {
                Some(uri) => dir.add_wrapped(uri, activate),
                None => dir.add(activate),
            }
            .map_err(keys_error)?;
            let active = dir.pinned_active().map_err(keys_error)?.unwrap_or(version);
            let path = key_file_path(&dir, version).map_err(keys_error)?;
            note_override(io, vars, env_active, active);
            render(
                &AddedKey {
                    version: version.get(),
                    path,
                    active_version: active.get(),
                },
                args.json,
            )?
        }
        KeysAction::Activate {
            version,
            database_url,
            staging,
            ..
        } => {
            let files = dir.list().map_err(keys_error)?;
            if !files.iter().any(|f| f.version == version) {
                let present: Vec<String> = files.iter().map(|f| f.version.to_string()).collect();
                return Err(CliError::usage(format!(
                    "activating {version} in {}: no key file has this version (present: {})",
                    path.display(),
                    if present.is_empty() {
                        "none".to_owned()
                    } else {
                        present.join(", ")
                    }
                )));
            }
            if let Some(url) = database_url {
                let mut db = connect_url(&url)?;
                let pin_moved_in = dir
                    .has_pin_file()
                    .then(|| path.join(ACTIVE_VERSION_FILE).display().to_string());
                let activation =
                    activate_with(&mut db, version, &who_am_i(), &staging.staging(), || {
                        move_pin_along(&dir, version)
                    })
                    .map_err(engine)?;
                note_override(io, vars, env_active, version);
                emit(
                    io,
                    render(
                        &FleetActivated {
                            activation,
                            pin_moved_in,
                        },
                        args.json,
                    )?
                    .as_bytes(),
                )?;
                return Ok(());
            }
            dir.activate(version).map_err(keys_error)?;
            note_override(io, vars, env_active, version);
            let pinned_in = path.join(ACTIVE_VERSION_FILE).display().to_string();
            render(
                &ActivatedKey {
                    active_version: version.get(),
                    pinned_in,
                },
                args.json,
            )?
        }
        KeysAction::Wrap { version, with } => {
            let removed = key_file_path(&dir, version).map_err(keys_error)?;
            let wrapped = dir.wrap_version(version, &with).map_err(keys_error)?;
            render(
                &WrappedVersion {
                    version: version.get(),
                    path: wrapped.display().to_string(),
                    removed,
                    wrapped_by: with,
                },
                args.json,
            )?
        }
        KeysAction::Rewrap { with, versions } => {
            let done = dir.rewrap(&versions, &with).map_err(keys_error)?;
            render(
                &RewrapReport {
                    wrapped_by: with,
                    rewrapped: done.into_iter().map(Into::into).collect(),
                },
                args.json,
            )?
        }
        KeysAction::Retire { version, database } => {
            use crate::cli::connect::{connect, registry};
            let registry = registry(cli, &database)?;
            let mut db = connect(&database)?;
            let retired = crate::rotation::Rotation::new(&registry)
                .retire_key(&mut db, &dir, version, env_active)
                .map_err(|e| match e {
                    crate::rotation::Error::Crypto(e @ Error::BadKey { .. }) => keys_error(e),
                    other => engine(other),
                })?;
            render(&retired, args.json)?
        }
    };
    emit(io, text.as_bytes())
}

/// The listing: every key file, whether it holds a usable key, and which version is active, why.
fn list(
    dir: &KeysDir,
    env_active: Option<KeyVersion>,
    vars: &EnvVars,
) -> crate::error::Result<KeyListing> {
    let files = dir.list()?;
    let pinned = dir.pinned_active()?;
    let (active, active_from, active_pinned_by) = match (env_active, pinned, files.last()) {
        (Some(v), _, _) => (
            Some(v),
            Some(ActiveFrom::Environment),
            Some(vars.active_version.clone()),
        ),
        (None, Some(v), _) => (
            Some(v),
            Some(ActiveFrom::ActiveVersionFile),
            Some(dir.path().join(ACTIVE_VERSION_FILE).display().to_string()),
        ),
        (None, None, Some(highest)) => (
            Some(highest.version),
            Some(ActiveFrom::HighestVersion),
            None,
        ),
        (None, None, None) => (None, None, None),
    };
    let keys = files
        .iter()
        .map(|file| {
            // Loaded only to check it (a wrapped one unwrapped once, without retries); the key
            // is dropped (and zeroized) at once.
            let (checked, wrapped_by) = check_key_file(dir, file, KeyPurpose::Encryption);
            let problem = checked.err().map(|err| match err {
                Error::BadKey { reason, .. } => reason.to_string(),
                other => other.to_string(),
            });
            ListedKey {
                version: file.version.get(),
                active: Some(file.version) == active,
                path: file.path.display().to_string(),
                usable: problem.is_none(),
                problem,
                wrapped_by,
            }
        })
        .collect();
    Ok(KeyListing {
        keys_dir: dir.path().display().to_string(),
        active_version: active.map(KeyVersion::get),
        active_from,
        active_pinned_by,
        keys,
    })
}

/// Whether the wrapped `file` unwraps (one attempt), and the key-encryption key that wraps it.
fn key_file_path(dir: &KeysDir, version: KeyVersion) -> crate::error::Result<String> {
    let files = dir.list()?;
    let path = files.iter().find(|f| f.version == version).map_or_else(
        || dir.path().join(format!("enc_key_v{}", version.get())),
        |f| f.path.clone(),
    );
    Ok(path.display().to_string())
}

/// Tells the user when the environment overrides the version the directory now pins.
fn note_override(
    io: &mut Io<'_>,
    vars: &EnvVars,
    env_active: Option<KeyVersion>,
    pinned: KeyVersion,
) {
    if let Some(env) = env_active.filter(|v| *v != pinned) {
        let _ = writeln!(
            io.stderr,
            "note: {}={} overrides the pinned version {pinned} wherever it is set",
            vars.active_version,
            env.get()
        );
    }
}
