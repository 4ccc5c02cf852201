//! The blind-index key files of a keys directory: `bidx_key_v1`, `bidx_key_v2`, … (a `.txt`
//! suffix is allowed), beside the `enc_key_vN` files and read with the same permission checks;
//! `bidx_key_vN.wrapped` is a version wrapped by a KMS or an HSM (`crate::keys::wrap`). The
//! `active_blind_index_version` file pins the version new indexes are computed with (without
//! it: the fleet's recorded version, else the highest).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{BadKeyReason, Error, Result};
use crate::format::blind_index::BlindIndexKey;
use crate::keys::dir::{
    KeyFile, KeysDir, keep_if_sole_file_of_its_version, read_version_pin, versioned_file_name,
};
use crate::keys::master_key::MasterKey;
use crate::keys::secret_file::{
    Existing, check_keys_dir, create_private_dir, warn_readable, write_secret_file,
};
use crate::keys::version::KeyVersion;

/// The name of the file that pins the active blind-index version inside a keys directory.
pub const ACTIVE_BLIND_INDEX_VERSION_FILE: &str = "active_blind_index_version";

/// The blind-index key files of a keys directory, and its blind-index pin.
///
/// ```
/// use encrypted_field::KeyVersion;
/// use encrypted_field::keys::KeysDir;
/// let dir = tempfile::tempdir()?;
/// let keys = KeysDir::new(dir.path());
/// let path = keys.write_blind_index_key(KeyVersion::new(2), &encrypted_field::MasterKey::generate())?;
/// assert!(path.ends_with("bidx_key_v2"));
/// assert_eq!(keys.blind_index_files()?[0].version, KeyVersion::new(2));
/// assert_eq!(keys.pinned_blind_index_active()?, None);
/// keys.activate_blind_index(KeyVersion::new(2))?;
/// assert_eq!(keys.pinned_blind_index_active()?, Some(KeyVersion::new(2)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl KeysDir {
    /// The `bidx_key_vN` files, plain or `.wrapped`, by ascending version (none is not an error;
    /// a directory that does not exist has none).
    pub fn blind_index_files(&self) -> Result<Vec<KeyFile>> {
        let bad = |e: std::io::Error| Error::BadKey {
            origin: self.path().display().to_string(),
            reason: BadKeyReason::Unreadable(e.to_string()),
        };
        let entries = match fs::read_dir(self.path()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(bad(e)),
        };
        let mut files: Vec<KeyFile> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(bad)?;
            let Some((version, wrapped)) = entry.file_name().to_str().and_then(file_name) else {
                continue;
            };
            let file = KeyFile {
                version,
                path: entry.path(),
            };
            // A version both plain and wrapped (while `keys wrap` runs) is listed once, plain;
            // loading the ring is what refuses a real duplicate.
            match files.iter_mut().find(|f| f.version == version) {
                Some(seen) if seen.is_wrapped() && !wrapped => *seen = file,
                Some(_) => {}
                None => files.push(file),
            }
        }
        files.sort_by_key(|f| f.version);
        Ok(files)
    }

    /// The blind-index version pinned by the `active_blind_index_version` file, if there is one.
    pub fn pinned_blind_index_active(&self) -> Result<Option<KeyVersion>> {
        read_version_pin(&self.path().join(ACTIVE_BLIND_INDEX_VERSION_FILE))
    }

    /// Whether an `active_blind_index_version` file pins the active blind-index version.
    pub fn has_blind_index_pin_file(&self) -> bool {
        fs::symlink_metadata(self.path().join(ACTIVE_BLIND_INDEX_VERSION_FILE)).is_ok()
    }

    /// Pins blind-index `version` as the one new indexes are computed with (replaced in one
    /// step). It must be a `bidx_key_vN` file of the directory, or version 1 (which
    /// `DB_BLIND_INDEX_KEY(_FILE)` may hold).
    pub fn activate_blind_index(&self, version: KeyVersion) -> Result<()> {
        if version.get() != 1
            && !self
                .blind_index_files()?
                .iter()
                .any(|f| f.version == version)
        {
            return Err(Error::BadKey {
                origin: self.path().display().to_string(),
                reason: BadKeyReason::ActiveVersionMissing(version),
            });
        }
        write_secret_file(
            &self.path().join(ACTIVE_BLIND_INDEX_VERSION_FILE),
            format!("{}\n", version.get()).as_bytes(),
            Existing::Replace,
        )
    }

    /// Writes `key` as the new file `bidx_key_vN` (mode 0600, the directory 0700): complete or
    /// absent, never replacing a file. Pins nothing. Returns its path.
    pub fn write_blind_index_key(&self, version: KeyVersion, key: &MasterKey) -> Result<PathBuf> {
        create_private_dir(self.path())?;
        let path = self.path().join(format!("bidx_key_v{}", version.get()));
        key.write_to_new_file(&path)?;
        keep_if_sole_file_of_its_version(&path, version)?;
        Ok(path)
    }
}

/// How a wrapped blind-index version is stored (what key backups keep): its file, with the
/// `key-wrapping` feature; without it, no wrapped version loads, so there is none.
#[cfg(feature = "key-wrapping")]
pub(crate) type WrappedForm = crate::keys::wrap::WrappedKeyFile;
#[cfg(not(feature = "key-wrapping"))]
pub(crate) type WrappedForm = std::convert::Infallible;

/// The blind-index keys of a keys directory, and the wrapped form of those stored wrapped.
pub(crate) struct BlindIndexFiles {
    /// Every version's key.
    pub(crate) keys: BTreeMap<KeyVersion, BlindIndexKey>,
    /// The versions stored wrapped, as their files say.
    pub(crate) wrapped: BTreeMap<KeyVersion, WrappedForm>,
}

/// Every `bidx_key_vN` file of `dir`, by version (none is not an error: the blind-index key may
/// come from `DB_BLIND_INDEX_KEY(_FILE)` or not be configured at all).
#[cfg(test)]
pub(crate) fn load_blind_index_keys(dir: &Path) -> Result<BTreeMap<KeyVersion, BlindIndexKey>> {
    load_blind_index_files(dir).map(|files| files.keys)
}

/// Every `bidx_key_vN` file of `dir`, by version, and the wrapped form of each wrapped one (each
/// file read once; none is not an error).
pub(crate) fn load_blind_index_files(dir: &Path) -> Result<BlindIndexFiles> {
    let bad = |reason| Error::BadKey {
        origin: dir.display().to_string(),
        reason,
    };
    let entries = fs::read_dir(dir).map_err(|e| bad(BadKeyReason::Unreadable(e.to_string())))?;
    let mut keys = BTreeMap::new();
    let mut wrapped_forms = BTreeMap::new();
    let mut readable = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| bad(BadKeyReason::Unreadable(e.to_string())))?;
        let name = entry.file_name();
        let Some((version, wrapped)) = name.to_str().and_then(file_name) else {
            continue;
        };
        if keys.is_empty() {
            check_keys_dir(dir)?;
        }
        let key = if wrapped {
            let (key, form) = unwrap_file(&entry.path(), version)?;
            wrapped_forms.insert(version, form);
            key
        } else {
            let (key, exposed) = MasterKey::read_file(&entry.path())?;
            readable.extend(exposed);
            key
        };
        if keys.insert(version, BlindIndexKey::new(key)).is_some() {
            return Err(bad(BadKeyReason::DuplicateVersion(version)));
        }
    }
    warn_readable(&readable);
    Ok(BlindIndexFiles {
        keys,
        wrapped: wrapped_forms,
    })
}

/// The key of the wrapped blind-index key file `path`, unwrapped by its provider, and the file.
#[cfg(feature = "key-wrapping")]
fn unwrap_file(path: &Path, version: KeyVersion) -> Result<(MasterKey, WrappedForm)> {
    use crate::keys::wrap::{KeyPurpose, KeyWrappers, WrappedKeyFile};
    let file = WrappedKeyFile::read(path)?;
    let key = file.unwrap(
        &KeyWrappers::standard(),
        KeyPurpose::BlindIndex,
        version,
        &path.display().to_string(),
    )?;
    Ok((key, file))
}

#[cfg(not(feature = "key-wrapping"))]
fn unwrap_file(path: &Path, _version: KeyVersion) -> Result<(MasterKey, WrappedForm)> {
    Err(Error::BadKey {
        origin: path.display().to_string(),
        reason: BadKeyReason::Unreadable(
            "a wrapped key needs the `key-wrapping` feature (or `aws-kms`, `pkcs11`)".to_owned(),
        ),
    })
}

/// The prefix of a blind-index key file's name: `bidx_key_v12`.
const BLIND_INDEX_FILE_PREFIX: &str = "bidx_key_v";

/// `bidx_key_v12`, `bidx_key_v12.txt` → (version 12, plain); `bidx_key_v12.wrapped` → (version
/// 12, wrapped).
fn file_name(name: &str) -> Option<(KeyVersion, bool)> {
    versioned_file_name(BLIND_INDEX_FILE_PREFIX, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version_from_file_name(name: &str) -> Option<KeyVersion> {
        crate::keys::dir::version_of(BLIND_INDEX_FILE_PREFIX, name)
    }

    #[test]
    fn file_names_give_versions() {
        assert_eq!(
            version_from_file_name("bidx_key_v2"),
            Some(KeyVersion::new(2))
        );
        assert_eq!(
            version_from_file_name("bidx_key_v10.txt"),
            Some(KeyVersion::new(10))
        );
        assert_eq!(version_from_file_name("enc_key_v2"), None);
        assert_eq!(version_from_file_name("bidx_key_v"), None);
        assert_eq!(version_from_file_name("bidx_key_v2.bak"), None);
    }
}
