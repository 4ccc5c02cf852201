//! The blind-index key files of a keys directory: `bidx_key_v1`, `bidx_key_v2`, … (a `.txt`
//! suffix is allowed), beside the `enc_key_vN` files and read with the same permission checks;
//! `bidx_key_vN.wrapped` is a version wrapped by a KMS or an HSM (`crate::keys::wrap`).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::error::{BadKeyReason, Error, Result};
use crate::format::blind_index::BlindIndexKey;
use crate::keys::master_key::MasterKey;
use crate::keys::secret_file::{check_keys_dir, warn_readable};
use crate::keys::version::KeyVersion;

/// Every `bidx_key_vN` file of `dir`, by version (none is not an error: the blind-index key may
/// come from `DB_BLIND_INDEX_KEY(_FILE)` or not be configured at all).
pub(crate) fn load_blind_index_keys(dir: &Path) -> Result<BTreeMap<KeyVersion, BlindIndexKey>> {
    let bad = |reason| Error::BadKey {
        origin: dir.display().to_string(),
        reason,
    };
    let entries = fs::read_dir(dir).map_err(|e| bad(BadKeyReason::Unreadable(e.to_string())))?;
    let mut keys = BTreeMap::new();
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
            unwrap_file(&entry.path(), version)?
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
    Ok(keys)
}

/// The key of the wrapped blind-index key file `path`, unwrapped by its provider.
#[cfg(feature = "key-wrapping")]
fn unwrap_file(path: &Path, version: KeyVersion) -> Result<MasterKey> {
    use crate::keys::wrap::{KeyWrappers, WrappedKeyFile};
    WrappedKeyFile::read(path)?.unwrap(
        &KeyWrappers::standard(),
        version,
        &path.display().to_string(),
    )
}

#[cfg(not(feature = "key-wrapping"))]
fn unwrap_file(path: &Path, _version: KeyVersion) -> Result<MasterKey> {
    Err(Error::BadKey {
        origin: path.display().to_string(),
        reason: BadKeyReason::Unreadable(
            "a wrapped key needs the `key-wrapping` feature (or `aws-kms`, `pkcs11`)".to_owned(),
        ),
    })
}

/// `bidx_key_v12`, `bidx_key_v12.txt` → (version 12, plain); `bidx_key_v12.wrapped` → (version
/// 12, wrapped).
fn file_name(name: &str) -> Option<(KeyVersion, bool)> {
    match name.strip_suffix(".wrapped") {
        Some(stem) if !stem.ends_with(".txt") => version_from_file_name(stem).map(|v| (v, true)),
        Some(_) => None,
        None => version_from_file_name(name).map(|v| (v, false)),
    }
}

/// `bidx_key_v12` or `bidx_key_v12.txt` → version 12.
fn version_from_file_name(name: &str) -> Option<KeyVersion> {
    let rest = name.strip_prefix("bidx_key_v")?;
    let digits = rest.strip_suffix(".txt").unwrap_or(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(KeyVersion::new)
}

#[cfg(test)]
mod tests {
    use super::*;

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
