//! A directory of key files, `enc_key_v1`, `enc_key_v2`, … (a `.txt` suffix is allowed), as Docker
//! mounts secrets under `/run/secrets`. An optional `active_version` file pins the active version;
//! without it the highest version is active.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{BadKeyReason, Error, Result};
use crate::keys::master_key::MasterKey;
use crate::keys::ring::KeyRing;
use crate::keys::secret_file::{
    Existing, check_key_file, check_keys_dir, create_private_dir, warn_readable, write_secret_file,
};
use crate::keys::version::KeyVersion;

/// The name of the file that pins the active version inside a keys directory.
pub const ACTIVE_VERSION_FILE: &str = "active_version";

/// One key file found in a [`KeysDir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// The version its name gives.
    pub version: KeyVersion,
    /// Its path.
    pub path: PathBuf,
}

impl KeyFile {
    /// Whether it is a wrapped key (`enc_key_vN.wrapped`, wrapped by a KMS or an HSM: see
    /// `keys::wrap`, with the `key-wrapping` feature).
    pub fn is_wrapped(&self) -> bool {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".wrapped"))
    }
}

/// A directory of versioned key files.
///
/// ```
/// use encrypted_field::KeyVersion;
/// use encrypted_field::keys::KeysDir;
/// let dir = tempfile::tempdir()?;
/// let keys = KeysDir::new(dir.path());
/// keys.add(false)?;                       // v1, active (the only one)
/// keys.add(false)?;                       // v2, provisioned but v1 stays active
/// assert_eq!(keys.load(None)?.active_version(), KeyVersion::new(1));
/// keys.activate(KeyVersion::new(2))?;
/// assert_eq!(keys.load(None)?.active_version(), KeyVersion::new(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct KeysDir {
    path: PathBuf,
    /// The providers of wrapped versions (`None`: [`KeyWrappers::standard`] at each load).
    #[cfg(feature = "key-wrapping")]
    pub(crate) wrappers: Option<crate::keys::wrap::KeyWrappers>,
    /// Whether a ring may load without versions whose provider failed (`None`: as
    /// `ENCRYPTED_FIELD_ALLOW_PARTIAL_RING` says at each load).
    #[cfg(feature = "key-wrapping")]
    pub(crate) allow_partial: Option<bool>,
}

impl KeysDir {
    /// The directory at `path` (nothing is read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            #[cfg(feature = "key-wrapping")]
            wrappers: None,
            #[cfg(feature = "key-wrapping")]
            allow_partial: None,
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn origin(&self) -> String {
        self.path.display().to_string()
    }

    fn bad(&self, reason: BadKeyReason) -> Error {
        Error::BadKey {
            origin: self.origin(),
            reason,
        }
    }

    /// The key files in the directory, by ascending version. Other files are ignored.
    pub fn list(&self) -> Result<Vec<KeyFile>> {
        let entries = fs::read_dir(&self.path)
            .map_err(|e| self.bad(BadKeyReason::Unreadable(e.to_string())))?;
        let mut files: Vec<KeyFile> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.bad(BadKeyReason::Unreadable(e.to_string())))?;
            let name = entry.file_name();
            let Some((version, wrapped)) = name.to_str().and_then(key_file_name) else {
                continue;
            };
            let file = KeyFile {
                version,
                path: entry.path(),
            };
            match files.iter_mut().find(|f| f.version == version) {
                // While `keys wrap N` runs, the plain file and the wrapped one hold the same key
                // for an instant: the plain one is loaded (the wrapped one is being checked).
                Some(plain) if wrapped && !plain.is_wrapped() => {}
                Some(seen) if !wrapped && seen.is_wrapped() => *seen = file,
                Some(_) => return Err(self.bad(BadKeyReason::DuplicateVersion(version))),
                None => files.push(file),
            }
        }
        files.sort_by_key(|f| f.version);
        Ok(files)
    }

    /// The version pinned by the `active_version` file, if there is one.
    pub fn pinned_active(&self) -> Result<Option<KeyVersion>> {
        read_version_pin(&self.path.join(ACTIVE_VERSION_FILE))
    }

    /// Loads every key. The active version is `active` if given (e.g. from
    /// `ENCRYPTED_FIELD_ACTIVE_VERSION`), else the pinned one, else the highest.
    pub fn load(&self, active: Option<KeyVersion>) -> Result<KeyRing> {
        let files = self.list()?;
        if files.is_empty() {
            return Err(self.bad(BadKeyReason::NoKeysInDirectory));
        }
        check_keys_dir(&self.path)?;
        let chosen = active.map_or_else(|| self.pinned_active(), |v| Ok(Some(v)))?;
        let mut builder = KeyRing::builder().origin(self.origin());
        let mut readable = Vec::new();
        #[cfg(feature = "key-wrapping")]
        let unwrapping = crate::keys::wrap::Unwrapping::new(
            self.wrappers(),
            self.allow_partial,
            files.iter().any(KeyFile::is_wrapped),
            chosen.or_else(|| files.last().map(|f| f.version)),
        )?;
        for file in &files {
            if file.is_wrapped() {
                #[cfg(feature = "key-wrapping")]
                {
                    builder = unwrapping.add(builder, file.version, &file.path)?;
                    continue;
                }
                #[cfg(not(feature = "key-wrapping"))]
                return Err(Error::BadKey {
                    origin: file.path.display().to_string(),
                    reason: BadKeyReason::Unreadable(
                        "a wrapped key needs the `key-wrapping` feature (or `aws-kms`, `pkcs11`)"
                            .to_owned(),
                    ),
                });
            }
            let (key, exposed) = MasterKey::read_file(&file.path)?;
            readable.extend(exposed);
            builder = builder.key(file.version, key);
        }
        warn_readable(&readable);
        if let Some(version) = chosen {
            builder = builder.active(version);
        }
        builder.build()
    }

    /// Generates a new key as the next version, writes it (mode 0600, never overwriting), and
    /// returns its version. Unless `activate` is set, the currently active version stays active.
    pub fn add(&self, activate: bool) -> Result<KeyVersion> {
        self.add_key(&MasterKey::try_generate()?, activate)
    }

    /// Like [`add`](Self::add), with a given key.
    pub fn add_key(&self, key: &MasterKey, activate: bool) -> Result<KeyVersion> {
        self.add_key_observed(key, activate, &mut || {})
    }

    /// [`add_key`](Self::add_key), calling `after_key_file` once the new key file exists and
    /// before any activation (for tests that load the directory at that instant).
    fn add_key_observed(
        &self,
        key: &MasterKey,
        activate: bool,
        after_key_file: &mut dyn FnMut(),
    ) -> Result<KeyVersion> {
        self.add_file_observed(
            activate,
            &mut |version| {
                let path = self.path.join(format!("enc_key_v{}", version.get()));
                key.write_to_new_file(&path)?;
                keep_if_sole_file_of_its_version(&path, version)
            },
            after_key_file,
        )
    }

    /// [`add_key_observed`](Self::add_key_observed) with the key file written by `write_file`,
    /// given the new version (a plain or a wrapped key file).
    pub(crate) fn add_file_observed(
        &self,
        activate: bool,
        write_file: &mut dyn FnMut(KeyVersion) -> Result<()>,
        after_key_file: &mut dyn FnMut(),
    ) -> Result<KeyVersion> {
        create_private_dir(&self.path)?;
        let files = self.list()?;
        // Pinned before the new file appears: without a pin the highest version is active, and a
        // process starting in between would encrypt with a key nobody announced.
        if let Some(current) = self.active_of(&files)?
            && self.pinned_active()? != Some(current)
        {
            self.activate(current)?;
        }
        let next = KeyVersion::new(
            files
                .last()
                .map_or(1, |f| f.version.get().saturating_add(1)),
        );
        write_file(next)?;
        after_key_file();
        if activate {
            self.activate(next)?;
        }
        Ok(next)
    }

    /// Writes `key` as the next version and pins nothing: for a fleet, whose active version is
    /// recorded in the database (record it there before calling this, so no instance takes the
    /// new file's "highest version" for the active one). A pin already in the directory stays.
    pub fn provision(&self, key: &MasterKey) -> Result<KeyVersion> {
        create_private_dir(&self.path)?;
        let files = self.list()?;
        let next = KeyVersion::new(
            files
                .last()
                .map_or(1, |f| f.version.get().saturating_add(1)),
        );
        let path = self.path.join(format!("enc_key_v{}", next.get()));
        key.write_to_new_file(&path)?;
        keep_if_sole_file_of_its_version(&path, next)?;
        Ok(next)
    }

    /// Whether an `active_version` file pins the active version.
    pub fn has_pin_file(&self) -> bool {
        fs::symlink_metadata(self.path.join(ACTIVE_VERSION_FILE)).is_ok()
    }

    /// The version the directory makes active: the pinned one, else the highest of `files`.
    pub(crate) fn active_of(&self, files: &[KeyFile]) -> Result<Option<KeyVersion>> {
        Ok(match self.pinned_active()? {
            Some(pinned) => Some(pinned),
            None => files.last().map(|f| f.version),
        })
    }

    /// Pins `version` as the active one (it must be in the directory).
    pub fn activate(&self, version: KeyVersion) -> Result<()> {
        if !self.list()?.iter().any(|f| f.version == version) {
            return Err(self.bad(BadKeyReason::ActiveVersionMissing(version)));
        }
        // Replaced in one step: a crash leaves the old pin or the new one, never an empty file
        // that no process could load keys with.
        write_secret_file(
            &self.path.join(ACTIVE_VERSION_FILE),
            format!("{}\n", version.get()).as_bytes(),
            Existing::Replace,
        )
    }
}

/// The version a pin file (`active_version`, `active_blind_index_version`) names, if it exists.
pub(crate) fn read_version_pin(path: &Path) -> Result<Option<KeyVersion>> {
    // Who can write the pin chooses the key new values are sealed (or indexed) with.
    if fs::symlink_metadata(path).is_ok() {
        check_key_file(path)?;
    }
    match fs::read_to_string(path) {
        Ok(text) => {
            let text = zeroize::Zeroizing::new(text);
            KeyVersion::parse_setting(&text, &path.display().to_string()).map(Some)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::BadKey {
            origin: path.display().to_string(),
            reason: BadKeyReason::Unreadable(e.to_string()),
        }),
    }
}

/// Called once a new key file was created (exclusively) at `written`: if another file of the
/// same version stands beside it (plain, `.txt` or `.wrapped`, written by a concurrent `keys add`
/// that chose the same version), removes `written` and fails, so two different keys never stay
/// in place for one version. When two writers race, at most one keeps its file. Works for the
/// `enc_key_vN` and the `bidx_key_vN` files; `version` is the one `written` holds.
pub(crate) fn keep_if_sole_file_of_its_version(written: &Path, version: KeyVersion) -> Result<()> {
    let name = written.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name.strip_suffix(".wrapped").unwrap_or(name);
    let stem = stem.strip_suffix(".txt").unwrap_or(stem);
    let Some(dir) = written.parent() else {
        return Ok(());
    };
    for other in [
        stem.to_owned(),
        format!("{stem}.txt"),
        format!("{stem}.wrapped"),
    ] {
        if other != name && fs::symlink_metadata(dir.join(&other)).is_ok() {
            let removed = fs::remove_file(written);
            return Err(Error::BadKey {
                origin: match removed {
                    Ok(()) => dir.join(&other).display().to_string(),
                    Err(e) => format!(
                        "{} (and {name} could not be removed: {e})",
                        dir.join(&other).display()
                    ),
                },
                reason: BadKeyReason::DuplicateVersion(version),
            });
        }
    }
    Ok(())
}

/// The prefix of an encryption key file's name: `enc_key_v12`.
const KEY_FILE_PREFIX: &str = "enc_key_v";

/// `enc_key_v12` or `enc_key_v12.txt` → (version 12, plain); `enc_key_v12.wrapped` → (version
/// 12, wrapped).
pub(crate) fn key_file_name(name: &str) -> Option<(KeyVersion, bool)> {
    versioned_file_name(KEY_FILE_PREFIX, name)
}

/// `{prefix}12` or `{prefix}12.txt` → (version 12, plain); `{prefix}12.wrapped` → (version 12,
/// wrapped): the names of the encryption (`enc_key_v`) and blind-index (`bidx_key_v`) key files.
pub(crate) fn versioned_file_name(prefix: &str, name: &str) -> Option<(KeyVersion, bool)> {
    match name.strip_suffix(".wrapped") {
        Some(stem) if !stem.ends_with(".txt") => version_of(prefix, stem).map(|v| (v, true)),
        Some(_) => None,
        None => version_of(prefix, name).map(|v| (v, false)),
    }
}

/// `{prefix}12` or `{prefix}12.txt` → version 12.
pub(crate) fn version_of(prefix: &str, name: &str) -> Option<KeyVersion> {
    let rest = name.strip_prefix(prefix)?;
    let digits = rest.strip_suffix(".txt").unwrap_or(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(KeyVersion::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version_from_file_name(name: &str) -> Option<KeyVersion> {
        version_of(KEY_FILE_PREFIX, name)
    }

    #[test]
    fn file_names_give_versions() {
        assert_eq!(
            version_from_file_name("enc_key_v1"),
            Some(KeyVersion::new(1))
        );
        assert_eq!(
            version_from_file_name("enc_key_v20.txt"),
            Some(KeyVersion::new(20))
        );
        assert_eq!(version_from_file_name("enc_key_v"), None);
        assert_eq!(version_from_file_name("enc_key_v1.bak"), None);
        assert_eq!(version_from_file_name("enc_key.txt"), None);
    }

    #[test]
    fn a_new_key_file_beside_another_of_its_version_is_removed_and_refused() {
        let tmp = tempfile::tempdir().unwrap();
        // A concurrent `keys add --wrap-with` chose version 2 too and wrote its file first.
        fs::write(tmp.path().join("enc_key_v2.wrapped"), b"{}").unwrap();
        let plain = tmp.path().join("enc_key_v2");
        MasterKey::generate().write_to_new_file(&plain).unwrap();
        let err = keep_if_sole_file_of_its_version(&plain, KeyVersion::new(2)).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::BadKey { reason: BadKeyReason::DuplicateVersion(v), origin }
                    if *v == KeyVersion::new(2) && origin.ends_with("enc_key_v2.wrapped")
            ),
            "{err}"
        );
        assert!(!plain.exists(), "the later file is removed");
        assert!(tmp.path().join("enc_key_v2.wrapped").exists());
        // Alone, a file is kept; the same holds for blind-index files.
        let bidx = tmp.path().join("bidx_key_v3");
        MasterKey::generate().write_to_new_file(&bidx).unwrap();
        keep_if_sole_file_of_its_version(&bidx, KeyVersion::new(3)).unwrap();
        assert!(bidx.exists());
        fs::write(tmp.path().join("bidx_key_v3.txt"), b"x").unwrap();
        assert!(keep_if_sole_file_of_its_version(&bidx, KeyVersion::new(3)).is_err());
        assert!(!bidx.exists());
    }

    #[test]
    fn empty_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = KeysDir::new(dir.path()).load(None).unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadKey {
                    reason: BadKeyReason::NoKeysInDirectory,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn both_spellings_of_one_version_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate().to_base64();
        fs::write(dir.path().join("enc_key_v1"), key.as_bytes()).unwrap();
        fs::write(dir.path().join("enc_key_v1.txt"), key.as_bytes()).unwrap();
        let err = KeysDir::new(dir.path()).load(None).unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadKey {
                    reason: BadKeyReason::DuplicateVersion(_),
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_key_pasted_into_the_active_version_file_is_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeysDir::new(dir.path());
        keys.add(true).unwrap();
        let pasted = MasterKey::generate().to_base64();
        fs::write(dir.path().join(ACTIVE_VERSION_FILE), pasted.as_bytes()).unwrap();
        let err = keys.load(None).unwrap_err();
        let (shown, debug) = (err.to_string(), format!("{err:?}"));
        assert!(
            shown.contains(ACTIVE_VERSION_FILE) && shown.contains("is not a key version number"),
            "{shown}"
        );
        assert!(!shown.contains(&pasted[..8]), "{shown}");
        assert!(!debug.contains(&pasted[..8]), "{debug}");
    }

    #[test]
    fn keys_add_pins_the_old_active_version_before_the_new_key_file_appears() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeysDir::new(dir.path());
        keys.add(true).unwrap();
        fs::remove_file(dir.path().join(ACTIVE_VERSION_FILE)).unwrap(); // v1 active as the highest
        let mut seen_between = None;
        keys.add_key_observed(&MasterKey::generate(), false, &mut || {
            seen_between = Some(keys.load(None).map(|r| r.active_version()));
        })
        .unwrap();
        assert_eq!(
            seen_between.unwrap().unwrap(),
            KeyVersion::new(1),
            "a process loading the keys while `keys add` runs must see the old active version"
        );
        assert_eq!(
            keys.load(None).unwrap().active_version(),
            KeyVersion::new(1)
        );
    }

    #[cfg(unix)]
    #[test]
    fn added_keys_are_private_and_not_overwritten() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let keys = KeysDir::new(dir.path().join("keys"));
        let v = keys.add(true).unwrap();
        let meta = fs::metadata(dir.path().join("keys/enc_key_v1")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(keys.path()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(
            write_secret_file(&dir.path().join("keys/enc_key_v1"), b"x", Existing::Keep).is_err()
        );
        assert_eq!(v, KeyVersion::new(1));
    }

    #[cfg(unix)]
    mod on_disk {
        use std::os::unix::fs::{PermissionsExt as _, symlink};
        use std::sync::{Arc, Mutex};

        use super::*;

        fn chmod(path: &Path, mode: u32) {
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
        }

        /// A keys directory of mode `dir_mode` holding v1 and v2 with mode `file_mode`.
        fn keys_with_modes(dir_mode: u32, file_mode: u32) -> (tempfile::TempDir, PathBuf) {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("keys");
            fs::create_dir(&dir).unwrap();
            for v in [1, 2] {
                let path = dir.join(format!("enc_key_v{v}"));
                fs::write(&path, MasterKey::generate().to_base64().as_bytes()).unwrap();
                chmod(&path, file_mode);
            }
            chmod(&dir, dir_mode);
            (tmp, dir)
        }

        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);

        impl std::io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        /// The warnings logged while `f` runs, one per line.
        fn warnings_of<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_max_level(tracing::Level::WARN)
                .with_ansi(false)
                .finish();
            let result = tracing::subscriber::with_default(subscriber, f);
            let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
            (result, text.lines().map(str::to_owned).collect())
        }

        #[test]
        fn a_key_file_group_or_others_can_write_is_refused_with_its_mode_and_the_fix() {
            for mode in [0o620, 0o602, 0o666] {
                let (_tmp, dir) = keys_with_modes(0o700, 0o600);
                let path = dir.join("enc_key_v2");
                chmod(&path, mode);
                let err = KeysDir::new(&dir).load(None).unwrap_err().to_string();
                assert!(
                    err.contains(&path.display().to_string())
                        && err.contains(&format!("{mode:04o}"))
                        && err.contains("chmod go-w"),
                    "{err}"
                );
            }
        }

        #[test]
        fn an_active_version_pin_others_can_write_is_refused() {
            let (_tmp, dir) = keys_with_modes(0o700, 0o600);
            let keys = KeysDir::new(&dir);
            keys.activate(KeyVersion::new(1)).unwrap();
            chmod(&dir.join(ACTIVE_VERSION_FILE), 0o666);
            let err = keys.load(None).unwrap_err().to_string();
            assert!(
                err.contains(ACTIVE_VERSION_FILE) && err.contains("0666"),
                "{err}"
            );
        }

        #[test]
        fn a_key_directory_group_or_others_can_write_is_refused() {
            let (_tmp, dir) = keys_with_modes(0o770, 0o600);
            let err = KeysDir::new(&dir).load(None).unwrap_err().to_string();
            assert!(
                err.contains(&dir.display().to_string())
                    && err.contains("0770")
                    && err.contains("chmod go-w"),
                "{err}"
            );
        }

        #[test]
        fn a_single_key_file_others_can_write_is_refused() {
            let (_tmp, dir) = keys_with_modes(0o700, 0o666);
            let err = MasterKey::from_file(&dir.join("enc_key_v1"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("0666") && err.contains("chmod go-w"), "{err}");
        }

        #[test]
        fn readable_key_files_in_a_listable_directory_warn_once_per_load_naming_them() {
            let (_tmp, dir) = keys_with_modes(0o755, 0o644);
            let key_text =
                MasterKey::from_file(&dir.join("enc_key_v1")).map(|k| k.to_base64().to_string());
            let (ring, warnings) = warnings_of(|| KeysDir::new(&dir).load(None));
            assert_eq!(ring.unwrap().versions().count(), 2);
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            for v in [1, 2] {
                let path = dir.join(format!("enc_key_v{v}")).display().to_string();
                assert!(warnings[0].contains(&path), "{warnings:?}");
            }
            if let Ok(text) = key_text {
                assert!(!warnings[0].contains(&text[..8]));
            }
        }

        #[test]
        fn private_keys_and_read_only_secret_mounts_load_without_a_warning() {
            for (dir_mode, file_mode) in [
                (0o700, 0o600),
                (0o755, 0o600),
                (0o700, 0o644),
                (0o755, 0o444),
                (0o755, 0o440),
            ] {
                let (_tmp, dir) = keys_with_modes(dir_mode, file_mode);
                let (ring, warnings) = warnings_of(|| KeysDir::new(&dir).load(None));
                assert!(ring.is_ok(), "{dir_mode:o}/{file_mode:o}: {ring:?}");
                assert!(
                    warnings.is_empty(),
                    "{dir_mode:o}/{file_mode:o}: {warnings:?}"
                );
            }
        }

        /// The layout of a Kubernetes secret volume: each key a link into `..data`, itself a
        /// link to the timestamped directory the kubelet swaps atomically.
        fn kubernetes_layout() -> (tempfile::TempDir, PathBuf, Vec<String>) {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("secrets");
            let data = dir.join("..2026_12_01_10_00_00.123456789");
            fs::create_dir_all(&data).unwrap();
            let mut keys = Vec::new();
            for v in [1, 2] {
                let key = MasterKey::generate().to_base64().to_string();
                let name = format!("enc_key_v{v}");
                fs::write(data.join(&name), format!("{key}\n")).unwrap();
                chmod(&data.join(&name), 0o444);
                symlink(format!("..data/{name}"), dir.join(&name)).unwrap();
                keys.push(key);
            }
            symlink("..2026_12_01_10_00_00.123456789", dir.join("..data")).unwrap();
            chmod(&data, 0o755);
            chmod(&dir, 0o755);
            (tmp, dir, keys)
        }

        #[test]
        fn the_kubernetes_secret_layout_loads_without_a_warning() {
            let (_tmp, dir, _) = kubernetes_layout();
            let (ring, warnings) = warnings_of(|| KeysDir::new(&dir).load(None));
            let ring = ring.unwrap();
            assert_eq!(ring.versions().count(), 2);
            assert_eq!(ring.active_version(), KeyVersion::new(2));
            assert!(warnings.is_empty(), "{warnings:?}");
        }

        #[test]
        fn a_symlink_planted_at_the_pin_s_temporary_name_is_not_followed() {
            let tmp = tempfile::tempdir().unwrap();
            let keys = KeysDir::new(tmp.path().join("keys"));
            keys.add(true).unwrap();
            let victim = tmp.path().join("victim");
            fs::write(&victim, "keep").unwrap();
            symlink(&victim, keys.path().join(".active_version.tmp")).unwrap();
            let _ = fs::remove_file(keys.path().join(ACTIVE_VERSION_FILE));
            symlink(&victim, keys.path().join(ACTIVE_VERSION_FILE)).unwrap();
            keys.activate(KeyVersion::new(1)).unwrap();
            assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
            let pin = fs::symlink_metadata(keys.path().join(ACTIVE_VERSION_FILE)).unwrap();
            assert!(pin.is_file(), "the pin is a file of its own, not a link");
            assert_eq!(pin.permissions().mode() & 0o777, 0o600);
            assert_eq!(keys.pinned_active().unwrap(), Some(KeyVersion::new(1)));
        }
    }
}
