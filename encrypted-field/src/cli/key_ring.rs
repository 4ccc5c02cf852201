//! The key ring of a command: from `--keys-dir` or `--key-file` when given, else from the
//! environment, exactly as [`KeyRing::from_env`](crate::KeyRing::from_env) loads it; and its
//! blind-index key from `--blind-index-key-file`, else from the environment.

use std::path::{Path, PathBuf};

use crate::cli::connect::engine;
use crate::cli::error::{CliError, KeySources};
use crate::cli::{Io, KeySourceArgs};
use crate::error::{BadKeyReason, Error};
use crate::fleet::KeyKind;
use crate::format::blind_index::BlindIndexKey;
use crate::keys::dir::KeysDir;
use crate::keys::env::EnvVars;
use crate::keys::master_key::MasterKey;
use crate::keys::ring::KeyRing;
use crate::keys::version::KeyVersion;
use crate::rotation::database::Database;

/// Loads the ring. A flag replaces the environment's source of encryption keys; the
/// active-version variable (`ENCRYPTED_FIELD_ACTIVE_VERSION`) and the blind-index keys
/// (`DB_BLIND_INDEX_KEY_FILE`, `DB_BLIND_INDEX_KEY`, the keys directory's `bidx_key_vN` files,
/// `ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION`) apply either way, as they do to the
/// environment's keys. `--blind-index-key-file` replaces blind-index version 1.
pub(crate) fn load(vars: &EnvVars, flags: &KeySourceArgs) -> Result<KeyRing, CliError> {
    let mut ring = load_encryption_keys(vars, flags)?;
    if flags.keys_dir.is_some() || flags.key_file.is_some() {
        // The environment's ring has its blind-index keys already; this one not yet.
        ring = vars
            .add_blind_index_key(ring, flags.keys_dir.as_deref())
            .map_err(|e| CliError::keys(&e, &KeySources::default()))?;
    }
    let Some(file) = &flags.blind_index_key_file else {
        return Ok(ring);
    };
    let sources = KeySources {
        key_file: Some(file),
        ..KeySources::default()
    };
    let keys_error = |e: Error| CliError::keys(&e, &sources);
    let key = MasterKey::from_file(file).map_err(keys_error)?;
    let active = ring.active_blind_index_version();
    let replaced = ring
        .with_blind_index_key(BlindIndexKey::new(key))
        .map_err(keys_error)?;
    // The version the environment made active stays active.
    match active {
        Some(version) => replaced
            .with_active_blind_index(version)
            .map_err(keys_error),
        None => Ok(replaced),
    }
}

/// [`load`], then [`with_recorded_blind_index`]: the ring of a pass over `db`, whose blind
/// indexes must be computed (and checked) with the blind-index version the fleet has activated.
pub(crate) fn load_for_database(
    vars: &EnvVars,
    flags: &KeySourceArgs,
    db: &mut Database,
    io: &mut Io<'_>,
) -> Result<KeyRing, CliError> {
    let ring = load(vars, flags)?;
    with_recorded_blind_index(db, ring, vars, flags, io)
}

/// The ring with the active blind-index version the database records for the fleet, when one is
/// recorded and no local pin (the active blind-index variable, the keys directory's
/// `active_blind_index_version` file) chooses for this host: an index written with a version the
/// fleet has not activated could not be found by an instance that has not loaded it. A recorded
/// version this ring lacks is an error.
pub(crate) fn with_recorded_blind_index(
    db: &mut Database,
    ring: KeyRing,
    vars: &EnvVars,
    flags: &KeySourceArgs,
    io: &mut Io<'_>,
) -> Result<KeyRing, CliError> {
    let record = crate::fleet::recorded_active_of(db, KeyKind::BlindIndex).map_err(engine)?;
    let (Some(record), Some(active)) = (record, ring.active_blind_index_version()) else {
        return Ok(ring);
    };
    let recorded = record.version;
    if active == recorded {
        return Ok(ring);
    }
    let keys_dir = flags
        .keys_dir
        .clone()
        .or_else(|| std::env::var_os(&vars.keys_dir).map(PathBuf::from));
    if let Some(pin) = blind_index_pin_source(vars, keys_dir.as_deref()) {
        let _ = writeln!(
            io.stderr,
            "note: the database records blind-index key version {recorded} active, but {pin} \
             pins {active} on this host: indexing with {active}"
        );
        return Ok(ring);
    }
    ring.with_active_blind_index(recorded).map_err(|_| {
        CliError::usage(format!(
            "the database records blind-index key version {recorded} active \
             (encrypted_field_metadata), but this key ring lacks it (it holds {}): give this host \
             the bidx_key_v{} file first",
            ring.blind_index_versions()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            recorded.get()
        ))
    })
}

/// What pins the active blind-index version on this host, if anything: the variable, else the
/// keys directory's `active_blind_index_version` file.
pub(crate) fn blind_index_pin_source(vars: &EnvVars, keys_dir: Option<&Path>) -> Option<String> {
    if std::env::var_os(&vars.active_blind_index_version).is_some() {
        return Some(vars.active_blind_index_version.clone());
    }
    let dir = KeysDir::new(keys_dir?);
    dir.has_blind_index_pin_file().then(|| {
        dir.path()
            .join(crate::keys::ACTIVE_BLIND_INDEX_VERSION_FILE)
            .display()
            .to_string()
    })
}

/// The encryption keys of [`load`].
fn load_encryption_keys(vars: &EnvVars, flags: &KeySourceArgs) -> Result<KeyRing, CliError> {
    if let Some(dir) = &flags.keys_dir {
        let sources = KeySources {
            keys_dir: Some(dir),
            vars: Some(vars),
            ..KeySources::default()
        };
        let keys_error = |e: Error| CliError::keys(&e, &sources);
        let active = env_active_version(vars).map_err(keys_error)?;
        return KeysDir::new(dir).load(active).map_err(keys_error);
    }
    if let Some(file) = &flags.key_file {
        let sources = KeySources {
            key_file: Some(file),
            vars: Some(vars),
            ..KeySources::default()
        };
        let keys_error = |e: Error| CliError::keys(&e, &sources);
        let active = env_active_version(vars).map_err(keys_error)?;
        let key = MasterKey::from_file(file).map_err(keys_error)?;
        let mut builder = KeyRing::builder()
            .origin(file.display().to_string())
            .key(1, key);
        if let Some(version) = active {
            builder = builder.active(version);
        }
        return builder.build().map_err(keys_error);
    }
    let env_dir = std::env::var_os(&vars.keys_dir).map(PathBuf::from);
    let env_file = std::env::var_os(&vars.key_file)
        .map(PathBuf::from)
        .filter(|_| env_dir.is_none());
    let sources = KeySources {
        keys_dir: env_dir.as_deref(),
        key_file: env_file.as_deref(),
        vars: Some(vars),
    };
    vars.load().map_err(|e| CliError::keys(&e, &sources))
}

/// The active version named by the environment (`ENCRYPTED_FIELD_ACTIVE_VERSION`), if any.
pub(crate) fn env_active_version(vars: &EnvVars) -> crate::error::Result<Option<KeyVersion>> {
    let Some(value) = std::env::var_os(&vars.active_version) else {
        return Ok(None);
    };
    let bad = |reason| Error::BadKey {
        origin: vars.active_version.clone(),
        reason,
    };
    let text = value.into_string().map_err(|_| {
        bad(BadKeyReason::Unreadable(
            "the value is not valid UTF-8".to_owned(),
        ))
    })?;
    KeyVersion::parse_setting(&zeroize::Zeroizing::new(text), &vars.active_version).map(Some)
}

/// The keys directory a command works on: `--keys-dir`, else the keys-directory variable; a usage
/// error that says what `purpose` needs it for when neither is given.
pub(crate) fn keys_dir_path(
    explicit: Option<PathBuf>,
    vars: &EnvVars,
    purpose: &str,
) -> Result<PathBuf, CliError> {
    explicit
        .or_else(|| std::env::var_os(&vars.keys_dir).map(PathBuf::from))
        .ok_or_else(|| {
            CliError::usage(format!(
                "{purpose}: pass --keys-dir DIR or set {}",
                vars.keys_dir
            ))
        })
}
