//! Loading a [`KeyRing`] from environment variables, in the order `DESIGN.md` gives:
//! a keys directory, then one key file, then one inline key.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{BadKeyReason, Error, Result};
use crate::format::blind_index::BlindIndexKey;
use crate::keys::blind_index_dir::load_blind_index_files;
use crate::keys::dir::KeysDir;
use crate::keys::master_key::MasterKey;
use crate::keys::reload::LoadedRing;
use crate::keys::ring::KeyRing;
use crate::keys::version::KeyVersion;

/// The names of the environment variables a ring is loaded from.
///
/// The default names are those of `DESIGN.md`; [`EnvVars::with_prefix`] gives a second family,
/// so an application can keep a second ring apart (the Django module's `PAYLOAD_ENCRYPTION_KEY`).
///
/// ```
/// use encrypted_field::keys::EnvVars;
/// let payload = EnvVars::with_prefix("PAYLOAD");
/// assert_eq!(payload.key, "PAYLOAD_ENCRYPTION_KEY");
/// assert_eq!(payload.keys_dir, "PAYLOAD_KEYS_DIR");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVars {
    /// A directory of `enc_key_vN` files (default `ENCRYPTED_FIELD_KEYS_DIR`).
    pub keys_dir: String,
    /// The active version (default `ENCRYPTED_FIELD_ACTIVE_VERSION`).
    pub active_version: String,
    /// One key file, version 1 (default `DB_ENCRYPTION_KEY_FILE`).
    pub key_file: String,
    /// One inline key, version 1 (default `DB_ENCRYPTION_KEY`).
    pub key: String,
    /// The blind-index key file (default `DB_BLIND_INDEX_KEY_FILE`).
    pub blind_index_key_file: String,
    /// The inline blind-index key (default `DB_BLIND_INDEX_KEY`).
    pub blind_index_key: String,
    /// The active blind-index key version (default
    /// `ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION`; unset: the keys directory's
    /// `active_blind_index_version` file, else the fleet's recorded version for a fleet member,
    /// else the highest loaded).
    pub active_blind_index_version: String,
}

impl Default for EnvVars {
    fn default() -> Self {
        Self {
            keys_dir: "ENCRYPTED_FIELD_KEYS_DIR".to_owned(),
            active_version: "ENCRYPTED_FIELD_ACTIVE_VERSION".to_owned(),
            key_file: "DB_ENCRYPTION_KEY_FILE".to_owned(),
            key: "DB_ENCRYPTION_KEY".to_owned(),
            blind_index_key_file: "DB_BLIND_INDEX_KEY_FILE".to_owned(),
            blind_index_key: "DB_BLIND_INDEX_KEY".to_owned(),
            active_blind_index_version: "ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION".to_owned(),
        }
    }
}

impl EnvVars {
    /// `{P}_KEYS_DIR`, `{P}_ACTIVE_VERSION`, `{P}_ENCRYPTION_KEY(_FILE)`, `{P}_BLIND_INDEX_KEY(_FILE)`,
    /// `{P}_ACTIVE_BLIND_INDEX_VERSION`.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            keys_dir: format!("{prefix}_KEYS_DIR"),
            active_version: format!("{prefix}_ACTIVE_VERSION"),
            key_file: format!("{prefix}_ENCRYPTION_KEY_FILE"),
            key: format!("{prefix}_ENCRYPTION_KEY"),
            blind_index_key_file: format!("{prefix}_BLIND_INDEX_KEY_FILE"),
            blind_index_key: format!("{prefix}_BLIND_INDEX_KEY"),
            active_blind_index_version: format!("{prefix}_ACTIVE_BLIND_INDEX_VERSION"),
        }
    }

    /// Whether any of the encryption-key variables is set in this process.
    pub fn any_key_set(&self) -> bool {
        [&self.keys_dir, &self.key_file, &self.key]
            .iter()
            .any(|name| std::env::var_os(name).is_some())
    }

    /// Loads the ring from this process's environment.
    pub fn load(&self) -> Result<KeyRing> {
        load(self, &|name| std::env::var_os(name))
    }

    /// `ring` with this process's blind-index keys, when any is set (for a ring whose encryption
    /// keys came from elsewhere, e.g. the CLI's `--keys-dir`, whose `bidx_key_vN` files count).
    #[cfg(feature = "cli")]
    pub(crate) fn add_blind_index_key(
        &self,
        ring: KeyRing,
        keys_dir: Option<&Path>,
    ) -> Result<KeyRing> {
        with_blind_index_key(self, &|name| std::env::var_os(name), ring, keys_dir)
    }
}

impl KeyRing {
    /// Loads the ring from the environment, as `DESIGN.md` orders the sources:
    /// `ENCRYPTED_FIELD_KEYS_DIR`, then `DB_ENCRYPTION_KEY_FILE`, then `DB_ENCRYPTION_KEY`;
    /// `ENCRYPTED_FIELD_ACTIVE_VERSION` picks the active version. The blind-index keys are
    /// `DB_BLIND_INDEX_KEY(_FILE)` (version 1) and the keys directory's `bidx_key_vN` files;
    /// `ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION`, else the directory's
    /// `active_blind_index_version` file, picks the active one (default: the highest).
    /// See [`EnvVars`](crate::keys::EnvVars) for other variable names.
    pub fn from_env() -> Result<Self> {
        load(&EnvVars::default(), &|name| std::env::var_os(name))
    }
}

/// The value of `name` through `get`, as UTF-8 text.
fn text_of(get: &dyn Fn(&str) -> Option<OsString>, name: &str) -> Result<Option<String>> {
    get(name)
        .map(|value| {
            value.into_string().map_err(|_| Error::BadKey {
                origin: name.to_owned(),
                reason: BadKeyReason::Unreadable("the value is not valid UTF-8".to_owned()),
            })
        })
        .transpose()
}

/// Loads a ring through `get` (the environment, or a map in tests).
pub(crate) fn load(vars: &EnvVars, get: &dyn Fn(&str) -> Option<OsString>) -> Result<KeyRing> {
    load_with_pin(vars, get).map(|loaded| loaded.ring)
}

/// Loads a ring through `get`, with the version pinned for this host (the active-version
/// variable, else the keys directory's `active_version` file), which the process-wide ring keeps
/// over a fleet's choice.
pub(crate) fn load_with_pin(
    vars: &EnvVars,
    get: &dyn Fn(&str) -> Option<OsString>,
) -> Result<LoadedRing> {
    let text_of = |name: &str| text_of(get, name);
    let mut pinned = text_of(&vars.active_version)?
        .map(|text| KeyVersion::parse_setting(&zeroize::Zeroizing::new(text), &vars.active_version))
        .transpose()?;
    let active = pinned;

    let keys_dir = get(&vars.keys_dir).map(PathBuf::from);
    let ring = if let Some(path) = &keys_dir {
        let dir = KeysDir::new(path);
        if pinned.is_none() {
            pinned = dir.pinned_active()?;
        }
        dir.load(pinned)?
    } else {
        let (origin, key) = if let Some(file) = get(&vars.key_file) {
            let path = PathBuf::from(file);
            (path.display().to_string(), MasterKey::from_file(&path)?)
        } else if let Some(inline) = text_of(&vars.key)? {
            let inline = zeroize::Zeroizing::new(inline);
            (
                vars.key.clone(),
                MasterKey::from_base64(&inline, &vars.key)?,
            )
        } else {
            return Err(Error::NoKeyConfigured);
        };
        let mut builder = KeyRing::builder().origin(origin).key(1, key);
        if let Some(version) = active {
            builder = builder.active(version);
        }
        builder.build()?
    };

    let pinned_blind_index = blind_index_pin(vars, get, keys_dir.as_deref())?;
    Ok(LoadedRing {
        ring: with_blind_index_key(vars, get, ring, keys_dir.as_deref())?,
        pinned,
        pinned_blind_index,
    })
}

/// The blind-index version pinned for this host: the active blind-index variable, else the keys
/// directory's `active_blind_index_version` file.
pub(crate) fn blind_index_pin(
    vars: &EnvVars,
    get: &dyn Fn(&str) -> Option<OsString>,
    keys_dir: Option<&Path>,
) -> Result<Option<KeyVersion>> {
    let from_var = text_of(get, &vars.active_blind_index_version)?
        .map(|text| {
            KeyVersion::parse_setting(
                &zeroize::Zeroizing::new(text),
                &vars.active_blind_index_version,
            )
        })
        .transpose()?;
    match (from_var, keys_dir) {
        (Some(version), _) => Ok(Some(version)),
        (None, Some(dir)) => KeysDir::new(dir).pinned_blind_index_active(),
        (None, None) => Ok(None),
    }
}

/// `ring` with the blind-index keys of `vars` (read through `get`) and the `bidx_key_vN` files
/// of `keys_dir`, when any is set; the active one pinned for this host (see
/// [`blind_index_pin`]), else the highest.
fn with_blind_index_key(
    vars: &EnvVars,
    get: &dyn Fn(&str) -> Option<OsString>,
    ring: KeyRing,
    keys_dir: Option<&Path>,
) -> Result<KeyRing> {
    let active = blind_index_pin(vars, get, keys_dir)?;
    let mut ring = with_first_blind_index_key(vars, get, ring)?;
    let files = keys_dir.map(load_blind_index_files).transpose()?;
    let (keys, wrapped) = files.map_or_else(Default::default, |f| (f.keys, f.wrapped));
    for (version, key) in keys {
        if ring.blind_index_key_of(version).is_some() {
            return Err(Error::BadKey {
                origin: vars.blind_index_key.clone(),
                reason: BadKeyReason::DuplicateVersion(version),
            });
        }
        ring = ring.with_blind_index_key_version(version, key)?;
    }
    // Recorded so that key backups hold the wrapped form, never the unwrapped key.
    #[cfg(feature = "key-wrapping")]
    for (version, form) in wrapped {
        ring = ring.with_blind_index_wrapped_form(version, form);
    }
    #[cfg(not(feature = "key-wrapping"))]
    let _ = wrapped;
    match active {
        Some(version) if ring.active_blind_index_version().is_some() => ring
            .with_active_blind_index(version)
            .map_err(|_| Error::BadKey {
                origin: pin_origin(vars, get, keys_dir),
                reason: BadKeyReason::ActiveVersionMissing(version),
            }),
        _ => Ok(ring),
    }
}

/// What pins the blind-index version, for an error: the variable when set, else the file.
fn pin_origin(
    vars: &EnvVars,
    get: &dyn Fn(&str) -> Option<OsString>,
    keys_dir: Option<&Path>,
) -> String {
    match keys_dir {
        Some(dir) if get(&vars.active_blind_index_version).is_none() => dir
            .join(crate::keys::blind_index_dir::ACTIVE_BLIND_INDEX_VERSION_FILE)
            .display()
            .to_string(),
        _ => vars.active_blind_index_version.clone(),
    }
}

/// `ring` with blind-index version 1 of `vars` (read through `get`), when one is set.
fn with_first_blind_index_key(
    vars: &EnvVars,
    get: &dyn Fn(&str) -> Option<OsString>,
    ring: KeyRing,
) -> Result<KeyRing> {
    let blind_index = if let Some(file) = get(&vars.blind_index_key_file) {
        Some(BlindIndexKey::new(MasterKey::from_file(&PathBuf::from(
            file,
        ))?))
    } else if let Some(inline) = text_of(get, &vars.blind_index_key)? {
        let inline = zeroize::Zeroizing::new(inline);
        Some(BlindIndexKey::from_base64(&inline, &vars.blind_index_key)?)
    } else {
        None
    };
    match blind_index {
        Some(key) => ring.with_blind_index_key(key),
        None => Ok(ring),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load_from(pairs: &[(&str, String)]) -> Result<KeyRing> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.into()))
            .collect();
        load(&EnvVars::default(), &|name| map.get(name).cloned())
    }

    fn key_text(byte: u8) -> String {
        MasterKey::from_bytes([byte; 32]).to_base64().to_string()
    }

    fn reason(result: Result<KeyRing>) -> BadKeyReason {
        match result {
            Err(Error::BadKey { reason, .. }) => reason,
            other => panic!("expected BadKey, got {other:?}"),
        }
    }

    #[test]
    fn nothing_set_is_no_key_configured() {
        assert!(matches!(load_from(&[]), Err(Error::NoKeyConfigured)));
    }

    #[test]
    fn inline_key_is_version_one() {
        let ring = load_from(&[("DB_ENCRYPTION_KEY", key_text(1))]).unwrap();
        assert_eq!(ring.active_version(), KeyVersion::new(1));
    }

    #[test]
    fn key_file_wins_over_inline_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enc_key.txt");
        std::fs::write(&path, format!("{}\n", key_text(2))).unwrap();
        let ring = load_from(&[
            ("DB_ENCRYPTION_KEY_FILE", path.display().to_string()),
            ("DB_ENCRYPTION_KEY", "garbage".to_owned()),
        ])
        .unwrap();
        assert_eq!(
            ring.master_key(KeyVersion::new(1))
                .map(|k| k.expose_bytes()[0]),
            Some(2)
        );
    }

    #[test]
    fn keys_dir_wins_and_highest_version_is_active() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("enc_key_v1"), key_text(1)).unwrap();
        std::fs::write(dir.path().join("enc_key_v2.txt"), key_text(2)).unwrap();
        std::fs::write(dir.path().join("README"), "ignored").unwrap();
        let ring = load_from(&[
            ("ENCRYPTED_FIELD_KEYS_DIR", dir.path().display().to_string()),
            ("DB_ENCRYPTION_KEY", "garbage".to_owned()),
        ])
        .unwrap();
        assert_eq!(
            ring.versions().collect::<Vec<_>>(),
            [KeyVersion::new(1), KeyVersion::new(2)]
        );
        assert_eq!(ring.active_version(), KeyVersion::new(2));
    }

    #[test]
    fn active_version_variable_selects_an_older_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("enc_key_v1"), key_text(1)).unwrap();
        std::fs::write(dir.path().join("enc_key_v2"), key_text(2)).unwrap();
        let ring = load_from(&[
            ("ENCRYPTED_FIELD_KEYS_DIR", dir.path().display().to_string()),
            ("ENCRYPTED_FIELD_ACTIVE_VERSION", "v1".to_owned()),
        ])
        .unwrap();
        assert_eq!(ring.active_version(), KeyVersion::new(1));
    }

    #[test]
    fn active_version_naming_a_missing_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("enc_key_v1"), key_text(1)).unwrap();
        let result = load_from(&[
            ("ENCRYPTED_FIELD_KEYS_DIR", dir.path().display().to_string()),
            ("ENCRYPTED_FIELD_ACTIVE_VERSION", "3".to_owned()),
        ]);
        assert_eq!(
            reason(result),
            BadKeyReason::ActiveVersionMissing(KeyVersion::new(3))
        );
    }

    #[test]
    fn active_version_that_is_not_a_number_is_refused() {
        let result = load_from(&[
            ("DB_ENCRYPTION_KEY", key_text(1)),
            ("ENCRYPTED_FIELD_ACTIVE_VERSION", "latest".to_owned()),
        ]);
        assert_eq!(reason(result), BadKeyReason::InvalidVersion { chars: 6 });
    }

    #[test]
    fn a_key_pasted_as_active_version_is_never_echoed() {
        let pasted = key_text(9);
        let err = load_from(&[
            ("DB_ENCRYPTION_KEY", key_text(1)),
            ("ENCRYPTED_FIELD_ACTIVE_VERSION", pasted.clone()),
        ])
        .unwrap_err();
        let (shown, debug) = (err.to_string(), format!("{err:?}"));
        assert!(
            shown.contains("ENCRYPTED_FIELD_ACTIVE_VERSION")
                && shown.contains("is not a key version number"),
            "{shown}"
        );
        assert!(!shown.contains(&pasted[..8]), "{shown}");
        assert!(!debug.contains(&pasted[..8]), "{debug}");
    }

    #[test]
    fn directory_without_keys_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let result = load_from(&[("ENCRYPTED_FIELD_KEYS_DIR", dir.path().display().to_string())]);
        assert_eq!(reason(result), BadKeyReason::NoKeysInDirectory);
    }

    #[test]
    fn missing_key_file_names_the_path() {
        let err = load_from(&[(
            "DB_ENCRYPTION_KEY_FILE",
            "/nonexistent/enc_key.txt".to_owned(),
        )])
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/enc_key.txt"),
            "{err}"
        );
        assert!(matches!(
            err,
            Error::BadKey {
                reason: BadKeyReason::Unreadable(_),
                ..
            }
        ));
    }

    #[test]
    fn empty_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enc_key.txt");
        std::fs::write(&path, "\n").unwrap();
        let result = load_from(&[("DB_ENCRYPTION_KEY_FILE", path.display().to_string())]);
        assert_eq!(reason(result), BadKeyReason::Empty);
    }

    #[test]
    fn blind_index_key_equal_to_the_encryption_key_is_refused() {
        let result = load_from(&[
            ("DB_ENCRYPTION_KEY", key_text(1)),
            ("DB_BLIND_INDEX_KEY", key_text(1)),
        ]);
        assert_eq!(reason(result), BadKeyReason::SameAsEncryptionKey);
    }

    #[test]
    fn blind_index_key_is_loaded() {
        let ring = load_from(&[
            ("DB_ENCRYPTION_KEY", key_text(1)),
            ("DB_BLIND_INDEX_KEY", key_text(7)),
        ])
        .unwrap();
        assert!(ring.blind_index_key().is_some());
    }

    #[test]
    fn blind_index_files_in_the_keys_dir_are_versions_beside_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("enc_key_v1"), key_text(1)).unwrap();
        std::fs::write(dir.path().join("bidx_key_v2"), key_text(8)).unwrap();
        std::fs::write(dir.path().join("bidx_key_v3.txt"), key_text(9)).unwrap();
        let keys_dir = ("ENCRYPTED_FIELD_KEYS_DIR", dir.path().display().to_string());
        let ring = load_from(&[keys_dir.clone(), ("DB_BLIND_INDEX_KEY", key_text(7))]).unwrap();
        assert_eq!(
            ring.blind_index_versions()
                .map(KeyVersion::get)
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(ring.active_blind_index_version(), Some(KeyVersion::new(3)));
        assert_eq!(
            ring.versions().count(),
            1,
            "bidx files are not encryption keys"
        );

        let pinned = load_from(&[
            keys_dir.clone(),
            (
                "ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION",
                "v2".to_owned(),
            ),
        ])
        .unwrap();
        assert_eq!(
            pinned.active_blind_index_version(),
            Some(KeyVersion::new(2))
        );

        let missing = load_from(&[
            keys_dir,
            ("ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION", "4".to_owned()),
        ]);
        assert_eq!(
            reason(missing),
            BadKeyReason::ActiveVersionMissing(KeyVersion::new(4))
        );
    }

    #[test]
    fn the_blind_index_pin_file_pins_and_the_variable_wins_over_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("enc_key_v1"), key_text(1)).unwrap();
        std::fs::write(dir.path().join("bidx_key_v2"), key_text(8)).unwrap();
        std::fs::write(dir.path().join("bidx_key_v3"), key_text(9)).unwrap();
        KeysDir::new(dir.path())
            .activate_blind_index(KeyVersion::new(2))
            .unwrap();
        let keys_dir = ("ENCRYPTED_FIELD_KEYS_DIR", dir.path().display().to_string());
        let map: HashMap<String, OsString> = [keys_dir.clone()]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.into()))
            .collect();
        let loaded = load_with_pin(&EnvVars::default(), &|name| map.get(name).cloned()).unwrap();
        assert_eq!(loaded.pinned_blind_index, Some(KeyVersion::new(2)));
        assert_eq!(
            loaded.ring.active_blind_index_version(),
            Some(KeyVersion::new(2))
        );
        let by_variable = load_from(&[
            keys_dir.clone(),
            ("ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION", "3".to_owned()),
        ])
        .unwrap();
        assert_eq!(
            by_variable.active_blind_index_version(),
            Some(KeyVersion::new(3))
        );
        KeysDir::new(dir.path())
            .activate_blind_index(KeyVersion::new(1))
            .unwrap();
        let err = load_from(&[keys_dir]).unwrap_err();
        assert!(
            err.to_string().contains("active_blind_index_version"),
            "the error names the pin file: {err}"
        );
    }

    #[test]
    fn a_blind_index_file_equal_to_an_encryption_key_or_to_version_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("enc_key_v1"), key_text(1)).unwrap();
        std::fs::write(dir.path().join("bidx_key_v2"), key_text(1)).unwrap();
        let keys_dir = ("ENCRYPTED_FIELD_KEYS_DIR", dir.path().display().to_string());
        assert_eq!(
            reason(load_from(std::slice::from_ref(&keys_dir))),
            BadKeyReason::SameAsEncryptionKey
        );
        std::fs::write(dir.path().join("bidx_key_v2"), key_text(7)).unwrap();
        assert!(matches!(
            reason(load_from(&[
                keys_dir.clone(),
                ("DB_BLIND_INDEX_KEY", key_text(7))
            ])),
            BadKeyReason::SameKeyTwice(..)
        ));
        std::fs::write(dir.path().join("bidx_key_v1"), key_text(6)).unwrap();
        assert_eq!(
            reason(load_from(&[keys_dir, ("DB_BLIND_INDEX_KEY", key_text(5))])),
            BadKeyReason::DuplicateVersion(KeyVersion::new(1))
        );
    }
}
