//! Where the keys come from: the environment, exactly as in production (`ENCRYPTED_FIELD_KEYS_DIR`,
//! `DB_ENCRYPTION_KEY_FILE` or `DB_ENCRYPTION_KEY`, and `DB_BLIND_INDEX_KEY_FILE` or
//! `DB_BLIND_INDEX_KEY`); or, in this example only and only when none of them is set, a
//! development keys directory beside the database, created on first use.

use std::path::{Path, PathBuf};

use encrypted_field::keys::{EnvVars, KeysDir};
use encrypted_field::{BlindIndexKey, KeyRing, MasterKey};

use crate::db::Location;
use crate::error::AppError;

/// The blind-index key's file name, in the development keys directory as under `/run/secrets`.
const BLIND_INDEX_KEY_FILE: &str = "blind_index_key";

/// The blind-index key's file in the development keys directory `dir`.
pub fn development_blind_index_key(dir: &Path) -> PathBuf {
    dir.join(BLIND_INDEX_KEY_FILE)
}

/// Where this process takes its keys from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The environment variables of `DESIGN.md`.
    Environment,
    /// Nothing is configured: the example's development keys directory.
    Development(PathBuf),
}

impl KeySource {
    /// The environment if any key variable is set, else the development directory for `location`.
    pub fn detect(location: &Location) -> Self {
        let vars = EnvVars::default();
        let blind_index_set = [&vars.blind_index_key, &vars.blind_index_key_file]
            .iter()
            .any(|name| std::env::var_os(name).is_some());
        if vars.any_key_set() || blind_index_set {
            Self::Environment
        } else {
            Self::Development(location.dev_keys_dir())
        }
    }

    /// The development keys directory, when that is where the keys are.
    pub fn development_dir(&self) -> Option<&Path> {
        match self {
            Self::Environment => None,
            Self::Development(dir) => Some(dir),
        }
    }

    /// Creates the development keys if they are missing (nothing to do for the environment).
    pub fn prepare(&self) -> Result<(), AppError> {
        match self {
            Self::Environment => Ok(()),
            Self::Development(dir) => create_development_keys(dir),
        }
    }

    /// The key ring: every key version, the active one, and the blind-index key if configured.
    pub fn ring(&self) -> Result<KeyRing, AppError> {
        match self {
            Self::Environment => KeyRing::from_env().map_err(|e| match e {
                encrypted_field::Error::NoKeyConfigured => AppError::usage(
                    "a blind-index key is configured but no encryption key: set \
                     ENCRYPTED_FIELD_KEYS_DIR (a directory of enc_key_vN files), \
                     DB_ENCRYPTION_KEY_FILE (one key file) or DB_ENCRYPTION_KEY (one base64 key)",
                ),
                e => AppError::library("loading the keys from the environment", &e),
            }),
            Self::Development(dir) => {
                self.prepare()?;
                load_development_keys(dir)
            }
        }
    }
}

/// Creates `dir/enc_key_v1` and `dir/blind_index_key` if they are missing, and says so.
fn create_development_keys(dir: &Path) -> Result<(), AppError> {
    let keys = KeysDir::new(dir);
    let mut created = Vec::new();
    let has_key = dir.is_dir()
        && !keys
            .list()
            .map_err(|e| AppError::library("reading the development keys", &e))?
            .is_empty();
    if !has_key {
        let version = keys
            .add(true)
            .map_err(|e| AppError::library("creating a development key", &e))?;
        created.push(format!("enc_key_v{}", version.get()));
    }
    let blind_index = dir.join(BLIND_INDEX_KEY_FILE);
    if !blind_index.exists() {
        write_new_secret(&blind_index)?;
        created.push(BLIND_INDEX_KEY_FILE.to_owned());
    }
    if !created.is_empty() {
        let dir = dir.display();
        eprintln!(
            "note: no encryption key is configured, so this example created development keys in \
             {dir} ({}). Whoever can read that directory can read the phone numbers: keep it out \
             of database backups.\n\
             note: in production, give the keys as Docker secrets instead (see \
             examples/phone_requests/docker-compose.yml):\n\
             \x20     ENCRYPTED_FIELD_KEYS_DIR=/run/secrets                  # enc_key_v1, enc_key_v2, ...\n\
             \x20     DB_BLIND_INDEX_KEY_FILE=/run/secrets/blind_index_key\n\
             note: make each key with `openssl rand -base64 32` or `phone_requests keygen`.",
            created.join(", ")
        );
    }
    Ok(())
}

/// The ring of the development keys directory, with its blind-index key.
fn load_development_keys(dir: &Path) -> Result<KeyRing, AppError> {
    development_ring(dir).map_err(|e| AppError::library("loading the development keys", &e))
}

/// The ring of the development keys directory `dir` (created by [`KeySource::prepare`]), with
/// its blind-index key (version 1) and any `bidx_key_vN` beside it: what `serve` installs as the
/// process-wide ring's loader, so a key added to the directory is picked up without a restart.
/// The directory's `active_blind_index_version` file chooses the version new indexes use, unless
/// the database records one for the fleet (then `serve` follows the database).
pub fn development_ring(dir: &Path) -> Result<KeyRing, encrypted_field::Error> {
    let keys = KeysDir::new(dir);
    let blind_index = MasterKey::from_file(&dir.join(BLIND_INDEX_KEY_FILE))?;
    let mut ring = keys
        .load(None)?
        .with_blind_index_key(BlindIndexKey::new(blind_index))?;
    for file in keys.blind_index_files()? {
        let key = BlindIndexKey::new(MasterKey::from_file(&file.path)?);
        ring = ring.with_blind_index_key_version(file.version, key)?;
    }
    match keys.pinned_blind_index_active()? {
        Some(pinned) => ring.with_active_blind_index(pinned),
        None => Ok(ring),
    }
}

/// Writes a new key file (mode 0600, never through a link); an existing file is left as it is.
fn write_new_secret(path: &Path) -> Result<(), AppError> {
    match MasterKey::generate().write_to_new_file(path) {
        Ok(()) => Ok(()),
        // Another process made it first: use theirs.
        Err(encrypted_field::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            Ok(())
        }
        Err(e) => Err(AppError::library(
            format_args!("writing {}", path.display()),
            &e,
        )),
    }
}
