//! The key ring of a command: from `--keys-dir` or `--key-file` when given, else from the
//! environment, exactly as [`KeyRing::from_env`](crate::KeyRing::from_env) loads it; and its
//! blind-index key from `--blind-index-key-file`, else from the environment.

use std::path::PathBuf;

use crate::cli::KeySourceArgs;
use crate::cli::error::{CliError, KeySources};
use crate::error::{BadKeyReason, Error};
use crate::format::blind_index::BlindIndexKey;
use crate::keys::dir::KeysDir;
use crate::keys::env::EnvVars;
use crate::keys::master_key::MasterKey;
use crate::keys::ring::KeyRing;
use crate::keys::version::KeyVersion;

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
