//! Wrapped versions in a [`KeysDir`]: loading them, adding one, wrapping a plain one, and
//! rewrapping under another key-encryption key, each file replaced atomically.

use std::fs;
use std::path::{Path, PathBuf};

use super::{KeyPurpose, KeyWrappers, WrapError, WrapErrorKind, WrappedKeyFile};
use crate::error::{BadKeyReason, Error, Result};
use crate::keys::dir::{KeyFile, KeysDir, keep_if_sole_file_of_its_version};
use crate::keys::master_key::MasterKey;
use crate::keys::secret_file::{
    Existing, create_private_dir, io_error, sync_dir, write_secret_file,
};
use crate::keys::version::KeyVersion;

/// One version moved under another key-encryption key by [`KeysDir::rewrap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrapped {
    /// Whether it is an encryption or a blind-index key.
    pub purpose: KeyPurpose,
    /// The version.
    pub version: KeyVersion,
    /// Its wrapped key file.
    pub path: PathBuf,
    /// The key-encryption key that wrapped it before.
    pub from: String,
    /// The key-encryption key that wraps it now.
    pub to: String,
}

impl KeysDir {
    /// The same directory, whose wrapped versions go through `wrappers` (instead of
    /// [`KeyWrappers::standard`]).
    #[must_use]
    pub fn with_wrappers(mut self, wrappers: KeyWrappers) -> Self {
        self.wrappers = Some(wrappers);
        self
    }

    /// The same directory, whose loads may (or may not) leave out a wrapped version whose
    /// provider fails, logging it, whatever `ENCRYPTED_FIELD_ALLOW_PARTIAL_RING` says. The active
    /// version is never left out.
    #[must_use]
    pub fn allow_partial_ring(mut self, allow: bool) -> Self {
        self.allow_partial = Some(allow);
        self
    }

    /// The providers its wrapped versions go through.
    pub(crate) fn wrappers(&self) -> KeyWrappers {
        self.wrappers.clone().unwrap_or_else(KeyWrappers::standard)
    }

    fn wrapped_path(&self, version: KeyVersion) -> PathBuf {
        self.path()
            .join(format!("enc_key_v{}.wrapped", version.get()))
    }

    /// Generates a new key as the next version, wraps it with the key-encryption key `key_uri`
    /// and writes only the wrapped form, `enc_key_vN.wrapped` (the plaintext key never touches
    /// the disk). The provider is asked to unwrap it before the file is written. Unless
    /// `activate` is set, the currently active version stays active, as with
    /// [`add`](Self::add).
    pub fn add_wrapped(&self, key_uri: &str, activate: bool) -> Result<KeyVersion> {
        let key = MasterKey::try_generate()?;
        let wrappers = self.wrappers();
        self.add_file_observed(
            activate,
            &mut |version| self.write_wrapped(&wrappers, key_uri, version, &key),
            &mut || {},
        )
    }

    /// Like [`add_wrapped`](Self::add_wrapped) without pinning anything: for a fleet, as
    /// [`provision`](Self::provision) is.
    pub fn provision_wrapped(&self, key_uri: &str) -> Result<KeyVersion> {
        let key = MasterKey::try_generate()?;
        let wrappers = self.wrappers();
        create_private_dir(self.path())?;
        let next = next_version(&self.list()?);
        self.write_wrapped(&wrappers, key_uri, next, &key)?;
        Ok(next)
    }

    /// Wraps `key` as `version` with `key_uri`, checks that it unwraps, and writes it.
    pub(crate) fn write_wrapped(
        &self,
        wrappers: &KeyWrappers,
        key_uri: &str,
        version: KeyVersion,
        key: &MasterKey,
    ) -> Result<()> {
        write_wrapped_at(
            &self.wrapped_path(version),
            wrappers,
            key_uri,
            KeyPurpose::Encryption,
            version,
            key,
        )
    }

    /// Wraps the blind-index `key` as `version` with the key-encryption key `key_uri` and writes
    /// only the wrapped form, `bidx_key_vN.wrapped` (mode 0600, complete or absent, never
    /// replacing a file; the plaintext key never touches the disk), after the provider unwrapped
    /// it to the same key. Pins nothing. Returns its path.
    pub fn write_wrapped_blind_index_key(
        &self,
        version: KeyVersion,
        key_uri: &str,
        key: &MasterKey,
    ) -> Result<PathBuf> {
        create_private_dir(self.path())?;
        let path = self
            .path()
            .join(format!("bidx_key_v{}.wrapped", version.get()));
        write_wrapped_at(
            &path,
            &self.wrappers(),
            key_uri,
            KeyPurpose::BlindIndex,
            version,
            key,
        )?;
        Ok(path)
    }

    /// Turns the plain key file of `version` into `enc_key_vN.wrapped`, wrapped with `key_uri`:
    /// the wrapped file is written under a hidden name, read back and unwrapped, and only if it
    /// gives the same key is it linked into place and the plain file removed. A process loading
    /// the directory meanwhile reads the same key either way. Run again after a crash, it
    /// finishes the job. Returns the wrapped file's path.
    pub fn wrap_version(&self, version: KeyVersion, key_uri: &str) -> Result<PathBuf> {
        let file = self.file_of(version)?;
        if file.is_wrapped() {
            return Err(self.refuse(
                &file.path,
                "it is wrapped already (to move it under another key-encryption key: keys rewrap)",
            ));
        }
        let key = MasterKey::from_file(&file.path)?;
        let wrappers = self.wrappers();
        let target = self.wrapped_path(version);
        let origin = target.display().to_string();
        if fs::symlink_metadata(&target).is_err() {
            let purpose = KeyPurpose::Encryption;
            let wrapped =
                WrappedKeyFile::wrap(&wrappers, key_uri, purpose, version, &key, &origin)?;
            let staged = self.stage(&target, &wrapped, &wrappers, (purpose, version), &key)?;
            let linked = fs::hard_link(&staged, &target);
            let _ = fs::remove_file(&staged);
            linked.map_err(|e| io_error("linking wrapped key file", &target, e))?;
            sync_dir(self.path())?;
        }
        // Also what finishes a run that stopped here: the wrapped file must give this key.
        let written = WrappedKeyFile::read(&target)?;
        check_unwraps_to(
            &written,
            &wrappers,
            (KeyPurpose::Encryption, version),
            &key,
            &origin,
        )?;
        fs::remove_file(&file.path)
            .map_err(|e| io_error("removing plain key file", &file.path, e))?;
        sync_dir(self.path())?;
        Ok(target)
    }

    /// Key-encryption-key rotation: unwraps each wrapped encryption-key version of `versions`
    /// (when empty: every wrapped file of the directory, the blind-index ones too) with the key
    /// that wraps it now, wraps it with `key_uri`, and replaces its file atomically, after the new
    /// file was read back and unwrapped to the same key. No value is rewritten: the keys stay the
    /// same.
    pub fn rewrap(&self, versions: &[KeyVersion], key_uri: &str) -> Result<Vec<Rewrapped>> {
        let files = self.list()?;
        let chosen: Vec<(KeyPurpose, &KeyFile)> = if versions.is_empty() {
            files
                .iter()
                .filter(|f| f.is_wrapped())
                .map(|f| (KeyPurpose::Encryption, f))
                .collect()
        } else {
            versions
                .iter()
                .map(|v| {
                    let file = files.iter().find(|f| f.version == *v).ok_or_else(|| {
                        self.refuse(self.path(), &format!("no key file has version {v}"))
                    })?;
                    if file.is_wrapped() {
                        Ok((KeyPurpose::Encryption, file))
                    } else {
                        Err(self.refuse(
                            &file.path,
                            "it is a plain key file (to wrap it: keys wrap N --with URI)",
                        ))
                    }
                })
                .collect::<Result<_>>()?
        };
        let blind_index_files = if versions.is_empty() {
            self.blind_index_files()?
        } else {
            Vec::new()
        };
        let chosen = chosen.into_iter().chain(
            blind_index_files
                .iter()
                .filter(|f| f.is_wrapped())
                .map(|f| (KeyPurpose::BlindIndex, f)),
        );
        let wrappers = self.wrappers();
        let mut done = Vec::new();
        for (purpose, file) in chosen {
            let origin = file.path.display().to_string();
            let old = WrappedKeyFile::read(&file.path)?;
            let key = old.unwrap(&wrappers, purpose, file.version, &origin)?;
            let new =
                WrappedKeyFile::wrap(&wrappers, key_uri, purpose, file.version, &key, &origin)?;
            let staged = self.stage(&file.path, &new, &wrappers, (purpose, file.version), &key)?;
            fs::rename(&staged, &file.path).map_err(|e| {
                let _ = fs::remove_file(&staged);
                io_error("replacing wrapped key file", &file.path, e)
            })?;
            sync_dir(self.path())?;
            done.push(Rewrapped {
                purpose,
                version: file.version,
                path: file.path.clone(),
                from: old.key_uri,
                to: key_uri.to_owned(),
            });
        }
        Ok(done)
    }

    /// Writes `wrapped` under a hidden name beside `target` (never loaded as a key), reads it
    /// back and checks it unwraps to `key`; returns the hidden name.
    fn stage(
        &self,
        target: &Path,
        wrapped: &WrappedKeyFile,
        wrappers: &KeyWrappers,
        bound_to: (KeyPurpose, KeyVersion),
        key: &MasterKey,
    ) -> Result<PathBuf> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let staged = self.path().join(format!(".{name}.new"));
        // A leftover of a run that crashed: ours, hidden, never loaded.
        let _ = fs::remove_file(&staged);
        write_secret_file(&staged, wrapped.to_json().as_bytes(), Existing::Keep)?;
        let check = WrappedKeyFile::read(&staged).and_then(|read_back| {
            check_unwraps_to(
                &read_back,
                wrappers,
                bound_to,
                key,
                &target.display().to_string(),
            )
        });
        if let Err(error) = check {
            let _ = fs::remove_file(&staged);
            return Err(error);
        }
        Ok(staged)
    }

    fn file_of(&self, version: KeyVersion) -> Result<KeyFile> {
        self.list()?
            .into_iter()
            .find(|f| f.version == version)
            .ok_or_else(|| self.refuse(self.path(), &format!("no key file has version {version}")))
    }

    fn refuse(&self, path: &Path, why: &str) -> Error {
        Error::BadKey {
            origin: path.display().to_string(),
            reason: BadKeyReason::Unreadable(why.to_owned()),
        }
    }
}

/// One above the highest version of `files` (1 for none).
fn next_version(files: &[KeyFile]) -> KeyVersion {
    KeyVersion::new(
        files
            .last()
            .map_or(1, |f| f.version.get().saturating_add(1)),
    )
}

/// Wraps `key` as `version` of `purpose` with `key_uri`, checks that it unwraps, and writes it at
/// `path`.
fn write_wrapped_at(
    path: &Path,
    wrappers: &KeyWrappers,
    key_uri: &str,
    purpose: KeyPurpose,
    version: KeyVersion,
    key: &MasterKey,
) -> Result<()> {
    let origin = path.display().to_string();
    let file = WrappedKeyFile::wrap(wrappers, key_uri, purpose, version, key, &origin)?;
    check_unwraps_to(&file, wrappers, (purpose, version), key, &origin)?;
    file.write_new(path)?;
    keep_if_sole_file_of_its_version(path, version)
}

/// Unwraps `file` and checks that it gives `key` (compared in constant time).
fn check_unwraps_to(
    file: &WrappedKeyFile,
    wrappers: &KeyWrappers,
    (purpose, version): (KeyPurpose, KeyVersion),
    key: &MasterKey,
    origin: &str,
) -> Result<()> {
    let back = file.unwrap(wrappers, purpose, version, origin)?;
    if back == *key {
        return Ok(());
    }
    Err(super::KeyWrapFailure {
        action: "checking",
        origin: origin.to_owned(),
        version,
        provider: file.provider.clone(),
        key_uri: file.key_uri.clone(),
        attempts: 1,
        source: WrapError::new(
            WrapErrorKind::WrongKey,
            "the wrapped key read back unwraps to another key; nothing was replaced",
        ),
    }
    .into())
}
