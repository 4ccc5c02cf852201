//! A directory of key files, `enc_key_v1`, `enc_key_v2`, … (a `.txt` suffix is allowed), as Docker
//! mounts secrets under `/run/secrets`. An optional `active_version` file pins the active version;
//! without it the highest version is active.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{BadKeyReason, Error, Result};
use crate::key::{KeyVersion, MasterKey};
use crate::keyring::KeyRing;

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

/// A directory of versioned key files.
///
/// ```
/// use encrypted_field::{KeysDir, KeyVersion};
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
}

impl KeysDir {
    /// The directory at `path` (nothing is read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
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
            let Some(version) = name.to_str().and_then(version_from_file_name) else {
                continue;
            };
            if files.iter().any(|f| f.version == version) {
                return Err(self.bad(BadKeyReason::DuplicateVersion(version)));
            }
            files.push(KeyFile {
                version,
                path: entry.path(),
            });
        }
        files.sort_by_key(|f| f.version);
        Ok(files)
    }

    /// The version pinned by the `active_version` file, if there is one.
    pub fn pinned_active(&self) -> Result<Option<KeyVersion>> {
        let path = self.path.join(ACTIVE_VERSION_FILE);
        match fs::read_to_string(&path) {
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

    /// Loads every key. The active version is `active` if given (e.g. from
    /// `ENCRYPTED_FIELD_ACTIVE_VERSION`), else the pinned one, else the highest.
    pub fn load(&self, active: Option<KeyVersion>) -> Result<KeyRing> {
        let files = self.list()?;
        if files.is_empty() {
            return Err(self.bad(BadKeyReason::NoKeysInDirectory));
        }
        let mut builder = KeyRing::builder().origin(self.origin());
        for file in &files {
            builder = builder.key(file.version, MasterKey::from_file(&file.path)?);
        }
        if let Some(version) = active.map_or_else(|| self.pinned_active(), |v| Ok(Some(v)))? {
            builder = builder.active(version);
        }
        builder.build()
    }

    /// Generates a new key as the next version, writes it (mode 0600, never overwriting), and
    /// returns its version. Unless `activate` is set, the currently active version stays active.
    pub fn add(&self, activate: bool) -> Result<KeyVersion> {
        self.add_key(&MasterKey::generate(), activate)
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
        write_secret_file(
            &self.path.join(format!("enc_key_v{}", next.get())),
            key.to_base64().as_bytes(),
        )?;
        after_key_file();
        if activate {
            self.activate(next)?;
        }
        Ok(next)
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
        let path = self.path.join(ACTIVE_VERSION_FILE);
        let tmp = self.path.join(format!(".{ACTIVE_VERSION_FILE}.tmp"));
        // Written, synced and renamed over the old file: a crash leaves the old pin or the new
        // one, never an empty file that no process could load keys with.
        fs::File::create(&tmp)
            .and_then(|mut file| {
                file.write_all(format!("{}\n", version.get()).as_bytes())?;
                file.sync_all()
            })
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|source| Error::Io {
                action: "writing",
                path: path.display().to_string(),
                source,
            })
    }
}

/// `enc_key_v12` or `enc_key_v12.txt` → version 12.
fn version_from_file_name(name: &str) -> Option<KeyVersion> {
    let rest = name.strip_prefix("enc_key_v")?;
    let digits = rest.strip_suffix(".txt").unwrap_or(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(KeyVersion::new)
}

/// Creates a directory (and its parents) readable by its owner only.
pub(crate) fn create_private_dir(path: &Path) -> Result<()> {
    let io = |source| Error::Io {
        action: "creating directory",
        path: path.display().to_string(),
        source,
    };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(io)
}

/// Writes a new file with mode 0600, refusing to overwrite an existing one.
pub(crate) fn write_secret_file(path: &Path, contents: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        action: "writing secret file",
        path: path.display().to_string(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(contents)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(write_secret_file(&dir.path().join("keys/enc_key_v1"), b"x").is_err());
        assert_eq!(v, KeyVersion::new(1));
    }
}
