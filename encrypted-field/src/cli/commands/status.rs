//! `status`: values per key version in every column, read from the envelopes' headers (no key);
//! then the fleet: the active version (and active blind-index version) the database records, a
//! local pin that overrides either on this host, and the running instances with their key
//! versions.

use super::emit;
use crate::cli::connect::{check_columns, connect, engine, registry};
use crate::cli::error::CliError;
use crate::cli::fleet_output::{FleetView, LocalPin, StatusWithFleet};
use crate::cli::key_ring::{blind_index_pin_source, env_active_version};
use crate::cli::output::render;
use crate::cli::{Cli, Io, StatusArgs};
use crate::fleet::{DEFAULT_SEEN_WITHIN, KeyKind, instances, recorded_active, recorded_active_of};
use crate::keys::dir::{ACTIVE_VERSION_FILE, KeysDir};
use crate::keys::env::EnvVars;
use crate::rotation::Rotation;

/// `status`: values per key version in every column, from the envelopes' headers (no key).
pub(super) fn run(cli: &Cli, args: StatusArgs, io: &mut Io<'_>) -> Result<(), CliError> {
    let registry = registry(cli, &args.database)?;
    let mut db = connect(&args.database)?;
    check_columns(&mut db, &registry)?;
    let rotation = Rotation::new(&registry).batch_size(args.batch_size);
    let columns = rotation.status(&mut db).map_err(engine)?;
    let rotation_lease = rotation.lease_holder(&mut db).map_err(engine)?;
    let fleet = FleetView {
        recorded_active: recorded_active(&mut db).map_err(engine)?,
        local_pin: local_pin(&cli.env),
        recorded_active_blind_index: recorded_active_of(&mut db, KeyKind::BlindIndex)
            .map_err(engine)?,
        local_blind_index_pin: local_blind_index_pin(&cli.env),
        seen_within_seconds: DEFAULT_SEEN_WITHIN.as_secs(),
        instances: instances(&mut db, DEFAULT_SEEN_WITHIN).map_err(engine)?,
    };
    let key_storage = std::env::var_os(&cli.env.keys_dir)
        .map(|dir| crate::cli::wrapped_output::key_storage(&KeysDir::new(dir)))
        .unwrap_or_default();
    emit(
        io,
        render(
            &StatusWithFleet {
                columns,
                rotation_lease,
                fleet,
                key_storage,
            },
            args.json,
        )?
        .as_bytes(),
    )
}

/// The pin of this host: the active-version variable, else the `active_version` file of the
/// environment's keys directory. One that cannot be read is left out (`keys list` says why).
fn local_pin(vars: &EnvVars) -> Option<LocalPin> {
    if let Ok(Some(version)) = env_active_version(vars) {
        return Some(LocalPin {
            version: version.get(),
            pinned_by: vars.active_version.clone(),
        });
    }
    let dir = KeysDir::new(std::env::var_os(&vars.keys_dir)?);
    let version = dir.pinned_active().ok()??;
    Some(LocalPin {
        version: version.get(),
        pinned_by: dir.path().join(ACTIVE_VERSION_FILE).display().to_string(),
    })
}

/// The blind-index pin of this host: the active blind-index variable, else the
/// `active_blind_index_version` file of the environment's keys directory. One that cannot be read
/// is left out (`keys list` says why).
fn local_blind_index_pin(vars: &EnvVars) -> Option<LocalPin> {
    let keys_dir = std::env::var_os(&vars.keys_dir).map(std::path::PathBuf::from);
    let version = crate::keys::env::blind_index_pin(
        vars,
        &|name| std::env::var_os(name),
        keys_dir.as_deref(),
    )
    .ok()??;
    Some(LocalPin {
        version: version.get(),
        pinned_by: blind_index_pin_source(vars, keys_dir.as_deref())?,
    })
}
