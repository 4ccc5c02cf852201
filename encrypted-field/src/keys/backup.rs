//! Key backups: `encryption_key_{timestamp}.json`, written before a rewrite makes data depend on a
//! new key, into a directory of their own (mode 0700, files 0600), apart from database backups.
//!
//! Recovery: [`restore_ring`] reads a backup back into a [`KeyRing`]; `README.md` shows the steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{BadKeyReason, Error, Result};
use crate::format::blind_index::BlindIndexKey;
use crate::keys::master_key::MasterKey;
use crate::keys::ring::KeyRing;
use crate::keys::secret_file::{Existing, create_private_dir, write_secret_file};
use crate::keys::version::KeyVersion;

/// The `format` field of every backup file.
pub const BACKUP_FORMAT: &str = "encrypted-field key backup v1";

#[derive(Serialize, Deserialize)]
struct BackupFile {
    format: String,
    created_at: String,
    active_version: u32,
    /// `"1"` → standard base64 of the master key.
    keys: BTreeMap<u32, String>,
    /// Blind-index key version 1 (the only one before blind-index versions existed).
    blind_index_key: Option<String>,
    /// Blind-index key versions 2 and up, `"2"` → standard base64; absent in older backups.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    blind_index_keys: BTreeMap<u32, String>,
    /// The active blind-index version; absent in older backups (then the highest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    active_blind_index_version: Option<u32>,
    /// The versions stored wrapped by a KMS or an HSM, `"3"` → their wrapped key file (never the
    /// plaintext key: restoring one needs its key-encryption key); absent in older backups.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    wrapped_keys: BTreeMap<u32, crate::keys::wrap::WrappedKeyFile>,
    /// The blind-index versions stored wrapped, likewise (never in `blind_index_key(s)`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    wrapped_blind_index_keys: BTreeMap<u32, crate::keys::wrap::WrappedKeyFile>,
}

impl Drop for BackupFile {
    fn drop(&mut self) {
        self.keys.values_mut().for_each(Zeroize::zeroize);
        self.blind_index_keys
            .values_mut()
            .for_each(Zeroize::zeroize);
        if let Some(key) = &mut self.blind_index_key {
            key.zeroize();
        }
    }
}

/// Refuses a backup directory that others can read, or one inside the database's directory
/// (where a database backup would carry the keys along with the data).
pub fn check_backup_dir(dir: &Path, database_dir: Option<&Path>) -> Result<()> {
    let refuse = |why: &str| Error::Io {
        action: "using the key backup directory",
        path: dir.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, why.to_owned()),
    };
    if let Some(db_dir) = database_dir
        && resolved(dir).starts_with(resolved(db_dir))
    {
        return Err(refuse(
            "it is inside the database's directory; keep key backups apart from database backups",
        ));
    }
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(dir) {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(refuse("it is accessible to other users (chmod 700 it)"));
        }
    }
    Ok(())
}

/// `path` made absolute with `.`, `..` and symbolic links resolved, even where its last
/// components do not exist yet: the longest existing prefix is canonicalized and the rest is
/// normalized lexically.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            let mut result = canonical;
            for component in rest.iter().rev() {
                match component {
                    std::path::Component::ParentDir => {
                        result.pop();
                    }
                    std::path::Component::Normal(name) => result.push(name),
                    _ => {}
                }
            }
            return result;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Writes every key of `ring` (and its blind-index key versions) into a new
/// `encryption_key_{timestamp}.json` in `dir`, creating `dir` with mode 0700 if needed; the file
/// has mode 0600 and is never overwritten. Returns its path.
pub fn write_backup(ring: &KeyRing, dir: &Path, database_dir: Option<&Path>) -> Result<PathBuf> {
    check_backup_dir(dir, database_dir)?;
    create_private_dir(dir)?;
    let now = std::time::SystemTime::now();
    let stamp = humantime::format_rfc3339_millis(now)
        .to_string()
        .replace(['-', ':'], "");
    let path = dir.join(format!("encryption_key_{stamp}.json"));
    let backup = BackupFile {
        format: BACKUP_FORMAT.to_owned(),
        created_at: humantime::format_rfc3339_seconds(now).to_string(),
        active_version: ring.active_version().get(),
        keys: ring
            .versions()
            .filter(|v| ring.wrapped_form(*v).is_none())
            .filter_map(|v| {
                ring.master_key(v)
                    .map(|k| (v.get(), k.to_base64().to_string()))
            })
            .collect(),
        blind_index_key: ring
            .blind_index_key_of(KeyVersion::new(1))
            .filter(|_| ring.blind_index_wrapped_form(KeyVersion::new(1)).is_none())
            .map(|k| k.master_key().to_base64().to_string()),
        blind_index_keys: ring
            .blind_index_versions()
            .filter(|v| v.get() > 1 && ring.blind_index_wrapped_form(*v).is_none())
            .filter_map(|v| {
                ring.blind_index_key_of(v)
                    .map(|k| (v.get(), k.master_key().to_base64().to_string()))
            })
            .collect(),
        active_blind_index_version: ring.active_blind_index_version().map(KeyVersion::get),
        wrapped_keys: ring
            .versions()
            .filter_map(|v| ring.wrapped_form(v).map(|w| (v.get(), w.clone())))
            .collect(),
        wrapped_blind_index_keys: ring
            .blind_index_versions()
            .filter_map(|v| {
                ring.blind_index_wrapped_form(v)
                    .map(|w| (v.get(), w.clone()))
            })
            .collect(),
    };
    let json = Zeroizing::new(
        serde_json::to_string_pretty(&backup).map_err(|e| Error::Io {
            action: "encoding the key backup",
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?,
    );
    let mut contents = Zeroizing::new(Vec::with_capacity(json.len() + 1));
    contents.extend_from_slice(json.as_bytes());
    contents.push(b'\n');
    write_secret_file(&path, &contents, Existing::Keep)?;
    Ok(path)
}

/// Reads a backup file back into the ring it was written from. Wrapped versions are unwrapped
/// through their providers ([`KeyWrappers::standard`](crate::keys::wrap::KeyWrappers::standard)).
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use encrypted_field::{KeyRing, MasterKey};
/// use encrypted_field::keys::{restore_ring, write_backup};
/// let ring = KeyRing::builder().key(1, MasterKey::generate()).key(2, MasterKey::generate()).build()?;
/// let dir = tempfile::tempdir()?;
/// let path = write_backup(&ring, &dir.path().join("keys"), None)?;
/// let restored = restore_ring(&path)?;
/// assert_eq!(restored.active_version(), ring.active_version());
/// assert_eq!(restored.decrypt(&ring.encrypt(b"x"))?, b"x");
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn restore_ring(path: &Path) -> Result<KeyRing> {
    let origin = path.display().to_string();
    let bad = |reason: String| Error::BadKey {
        origin: origin.clone(),
        reason: BadKeyReason::Unreadable(reason),
    };
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
    let backup: BackupFile = serde_json::from_str(&text)
        .map_err(|e| bad(format!("not a key backup file ({})", e.classify_name())))?;
    if backup.format != BACKUP_FORMAT {
        // Its text is not shown: the file holds keys, and so may this field.
        return Err(bad(format!(
            "unknown backup format (expected `{BACKUP_FORMAT}`)"
        )));
    }
    let mut builder = KeyRing::builder()
        .origin(origin.clone())
        .active(KeyVersion::new(backup.active_version));
    for (version, key) in &backup.keys {
        builder = builder.key(
            *version,
            MasterKey::from_base64(key, &format!("{origin} (key v{version})"))?,
        );
    }
    if !backup.wrapped_keys.is_empty() {
        let wrappers = crate::keys::wrap::KeyWrappers::standard();
        for (version, wrapped) in &backup.wrapped_keys {
            let key = wrapped.unwrap(
                &wrappers,
                crate::keys::wrap::KeyPurpose::Encryption,
                KeyVersion::new(*version),
                &format!("{origin} (key v{version})"),
            )?;
            builder = builder
                .key(*version, key)
                .wrapped_form(*version, wrapped.clone());
        }
    }
    if let Some(key) = &backup.blind_index_key {
        builder = builder.blind_index_key(BlindIndexKey::from_base64(
            key,
            &format!("{origin} (blind-index key)"),
        )?);
    }
    for (version, key) in &backup.blind_index_keys {
        builder = builder.blind_index_key_version(
            *version,
            BlindIndexKey::from_base64(key, &format!("{origin} (blind-index key v{version})"))?,
        );
    }
    if !backup.wrapped_blind_index_keys.is_empty() {
        let wrappers = crate::keys::wrap::KeyWrappers::standard();
        for (version, wrapped) in &backup.wrapped_blind_index_keys {
            let key = wrapped.unwrap(
                &wrappers,
                crate::keys::wrap::KeyPurpose::BlindIndex,
                KeyVersion::new(*version),
                &format!("{origin} (blind-index key v{version})"),
            )?;
            builder = builder
                .blind_index_key_version(*version, BlindIndexKey::new(key))
                .blind_index_wrapped_form(*version, wrapped.clone());
        }
    }
    if let Some(version) = backup.active_blind_index_version {
        builder = builder.active_blind_index(version);
    }
    builder.build()
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn backup_file_is_private_in_a_private_directory() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("backups");
        let ring = KeyRing::builder()
            .key(1, MasterKey::generate())
            .build()
            .unwrap();
        let path = write_backup(&ring, &dir, None).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("encryption_key_") && name.ends_with(".json"),
            "{name}"
        );
    }

    #[test]
    fn backup_holds_every_version_and_restores_the_active_one() {
        let tmp = tempfile::tempdir().unwrap();
        let ring = KeyRing::builder()
            .key(1, MasterKey::generate())
            .key(2, MasterKey::generate())
            .active(1)
            .build()
            .unwrap();
        let restored =
            restore_ring(&write_backup(&ring, &tmp.path().join("b"), None).unwrap()).unwrap();
        assert_eq!(restored.versions().count(), 2);
        assert_eq!(restored.active_version(), KeyVersion::new(1));
        let v2_value = ring
            .with_active(KeyVersion::new(2))
            .unwrap()
            .encrypt(b"two");
        assert_eq!(restored.decrypt(&v2_value).unwrap(), b"two");
    }

    #[test]
    fn backup_holds_every_blind_index_version_and_the_active_one() {
        let tmp = tempfile::tempdir().unwrap();
        let ring = KeyRing::builder()
            .key(1, MasterKey::generate())
            .blind_index_key(BlindIndexKey::new(MasterKey::generate()))
            .blind_index_key_version(2, BlindIndexKey::new(MasterKey::generate()))
            .active_blind_index(1)
            .build()
            .unwrap();
        let path = write_backup(&ring, &tmp.path().join("b"), None).unwrap();
        let restored = restore_ring(&path).unwrap();
        assert_eq!(restored.blind_index_versions().count(), 2);
        assert_eq!(
            restored.active_blind_index_version(),
            Some(KeyVersion::new(1))
        );
        let exact = crate::format::blind_index::normalize::exact;
        assert_eq!(
            restored.blind_indexes_any("t.c", "v", exact).unwrap(),
            ring.blind_indexes_any("t.c", "v", exact).unwrap()
        );
        // `blind_index_key` stays version 1, as a release without versions reads it.
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let v1 = ring.blind_index_key_of(KeyVersion::new(1)).unwrap();
        assert_eq!(
            json["blind_index_key"].as_str(),
            Some(v1.master_key().to_base64().as_str())
        );
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_directory_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let ring = KeyRing::builder()
            .key(1, MasterKey::generate())
            .build()
            .unwrap();
        let err = write_backup(&ring, tmp.path(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("other users"), "{err}");
    }

    #[test]
    fn directory_inside_the_database_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let ring = KeyRing::builder()
            .key(1, MasterKey::generate())
            .build()
            .unwrap();
        let err = write_backup(&ring, &tmp.path().join("keys"), Some(tmp.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("database's directory"), "{err}");
    }

    #[test]
    fn directory_inside_the_database_directory_is_refused_however_spelled() {
        let tmp = tempfile::tempdir().unwrap();
        let db_dir = tmp.path().join("data");
        std::fs::create_dir(&db_dir).unwrap();
        let ring = KeyRing::builder()
            .key(1, MasterKey::generate())
            .build()
            .unwrap();
        let sneaky = db_dir.join("..").join("data").join("keys");
        assert!(write_backup(&ring, &sneaky, Some(&db_dir)).is_err());
        let beside = db_dir.join("..").join("backups");
        assert!(write_backup(&ring, &beside, Some(&db_dir)).is_ok());
    }

    #[test]
    fn a_file_that_is_not_a_backup_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.json");
        std::fs::write(&path, "{}").unwrap();
        let err = restore_ring(&path).unwrap_err().to_string();
        assert!(err.contains("not a key backup"), "{err}");
    }

    #[test]
    fn an_unknown_backup_format_is_not_echoed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.json");
        let pasted = MasterKey::generate().to_base64();
        std::fs::write(
            &path,
            format!(
                r#"{{"format":"{}","created_at":"","active_version":1,"keys":{{}},"blind_index_key":null}}"#,
                pasted.as_str()
            ),
        )
        .unwrap();
        let err = restore_ring(&path).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("unknown backup format"), "{shown}");
        assert!(!shown.contains(&pasted[..8]), "{shown}");
        assert!(!format!("{err:?}").contains(&pasted[..8]));
    }
}
