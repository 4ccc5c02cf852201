//! Rotation to a new key: the next version is generated, backed up, written into the keys
//! directory and activated there, and only then does the rewrite start.
//!
//! The order is what makes a crash at any instant harmless:
//!
//! 1. the key is generated in memory, and the new ring (every old key, the new one active) built;
//! 2. the key backup of the new ring is written (before anything can depend on the new key);
//! 3. the key file is written under a temporary name and linked into place, so `enc_key_vN` is
//!    either absent or complete, never half written, and never written through a link;
//! 4. it is activated (the directory's `active_version` file, replaced atomically);
//! 5. its activation time is recorded in the database (what `--if-due` judges from);
//! 6. every value is rewritten with it, exactly as [`Rotation::run`] does.
//!
//! A crash before 3 leaves an unused backup; after 4, running `rotate` again finishes the job.
//!
//! The run holds the rotation lease throughout, and checks that it still does (a fenced renewal)
//! right before each of 2, 3 and 4, and in the transaction that writes 5: a run whose lease
//! was taken over while it waited (for a KMS, say) writes no backup, key file, pin or record, and
//! stops with [`Error::LeaseLost`](crate::rotation::Error::LeaseLost).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::fleet::{Staging, activate_with, record_active_if_absent, who_am_i};
use crate::keys::dir::KeysDir;
use crate::keys::master_key::MasterKey;
use crate::keys::ring::KeyRing;
use crate::keys::secret_file::create_private_dir;
use crate::keys::version::KeyVersion;
use crate::keys::wrap::WrappedKeyFile;
use crate::rotation::database::Database;
use crate::rotation::error::Result;
use crate::rotation::report::{NewKey, RotationReport};
use crate::rotation::{Rotation, schedule};

impl Rotation<'_> {
    /// Rotates to a new key kept in `keys_dir`: generates the next version (one above every
    /// version of `ring` and of the directory), writes the key backup of the new ring into the
    /// [backup directory](Self::backup_dir) (set one: without it no backup is written), writes
    /// `enc_key_vN` (mode 0600) and activates it in the directory, records the activation time in
    /// the database, then rewrites every value with it as [`run`](Self::run) does. The report's
    /// [`new_key`](RotationReport::new_key) names the new version and its file.
    ///
    /// Every registered column is read once first, so an unknown table or column fails before a
    /// key is created. In a [dry run](Self::dry_run) nothing is written, not even the key file:
    /// the report counts the values that the new key would rewrite.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};
    /// use encrypted_field::rotation::database::Database;
    /// use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
    /// use encrypted_field::rotation::{Rotation, RotationStatus};
    /// use encrypted_field::KeyVersion;
    /// use encrypted_field::keys::KeysDir;
    ///
    /// let tmp = tempfile::tempdir()?;
    /// let keys = KeysDir::new(tmp.path().join("keys"));
    /// keys.add(true)?; // v1
    /// let ring = keys.load(None)?;
    /// let mut conn = SqliteConnection::establish(":memory:")?;
    /// diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY, _ssn BLOB)").execute(&mut conn)?;
    /// let sealed: String = ring.encrypt_with_context(b"078-05-1120", "customers._ssn").iter().map(|b| format!("{b:02x}")).collect();
    /// diesel::sql_query(&format!("INSERT INTO customers VALUES (1, x'{sealed}')")).execute(&mut conn)?;
    /// let mut db = Database::from(conn);
    ///
    /// let registry = Registry::new().register_spec(ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn").nullable()))?;
    /// let report = Rotation::new(&registry)
    ///     .backup_dir(tmp.path().join("key-backups"))
    ///     .run_with_new_key(&mut db, &ring, &keys)?;
    /// assert_eq!(report.status, RotationStatus::Completed);
    /// assert_eq!(report.new_key.map(|k| k.version), Some(2));
    /// assert_eq!(report.records_rewritten, 1);
    /// assert!(report.key_backup_path.is_some());
    /// assert_eq!(keys.load(None)?.active_version(), KeyVersion::new(2));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_with_new_key(
        &self,
        db: &mut Database,
        ring: &KeyRing,
        keys_dir: &KeysDir,
    ) -> Result<RotationReport> {
        self.locked(db, |db| {
            let started = Instant::now();
            self.check_columns(db)?;
            let version = next_version(ring, keys_dir)?;
            let key = MasterKey::try_generate()?;
            let wrapped = self.wrapped_new_key(keys_dir, version, &key)?;
            let new_ring = ring_with(ring, version, &key, wrapped.as_ref())?;
            let key_file = new_key_file(keys_dir, version, wrapped.is_some());
            let new_key = NewKey {
                version: version.get(),
                previous_version: ring.active_version().get(),
                key_file: key_file.display().to_string(),
            };
            // Each side effect below is preceded by a fenced renewal of the lease (the metadata
            // record is written in a fenced transaction): the wrap above may have taken longer
            // than the lease, and a run that lost it writes nothing more.
            db.renew_lease()?;
            // In a dry run this only checks the backup directory.
            let key_backup_path = self.write_backup(db, &new_ring)?;
            if !self.dry_run {
                db.renew_lease()?;
                write_key_file(&key_file, version, &key, wrapped.as_ref())?;
                db.renew_lease()?;
                keys_dir.activate(version)?;
                schedule::record_activation(db, version)?;
            }
            self.rewrite(db, &new_ring, key_backup_path, Some(new_key), started)
        })
    }
}

impl Rotation<'_> {
    /// [`run_with_new_key`](Self::run_with_new_key) for a fleet (see [`crate::fleet`]): the new
    /// key is provisioned, then activated in stages, then values are rewritten.
    ///
    /// 1. the current active version is recorded in the database unless one is (before the new
    ///    file appears, so no instance takes it for the active one because it is the highest);
    /// 2. the key backup is written, then `enc_key_vN`, and no pin: the version is provisioned;
    /// 3. [`fleet::activate_with`](crate::fleet::activate_with) waits until every running
    ///    instance has loaded it, records it active (moving an `active_version` file already in
    ///    the directory along), and waits until every running instance seals with it;
    /// 4. every value is rewritten with it.
    ///
    /// A lagging instance stops the rotation at 3 with
    /// [`Error::InstancesLagging`](crate::rotation::Error::InstancesLagging): the new version
    /// stays provisioned (its file and backup are kept), and nothing is rewritten.
    pub fn run_with_new_key_in_fleet(
        &self,
        db: &mut Database,
        ring: &KeyRing,
        keys_dir: &KeysDir,
        staging: &Staging,
    ) -> Result<RotationReport> {
        self.locked(db, |db| {
            let started = Instant::now();
            self.check_columns(db)?;
            let version = next_version(ring, keys_dir)?;
            let key = MasterKey::try_generate()?;
            let wrapped = self.wrapped_new_key(keys_dir, version, &key)?;
            let new_ring = ring_with(ring, version, &key, wrapped.as_ref())?;
            let key_file = new_key_file(keys_dir, version, wrapped.is_some());
            let new_key = NewKey {
                version: version.get(),
                previous_version: ring.active_version().get(),
                key_file: key_file.display().to_string(),
            };
            // As in `run_with_new_key`: a fenced renewal right before each file written, and the
            // records written in fenced transactions (`activate_with` renews the lease right
            // before it moves the pin).
            db.renew_lease()?;
            let key_backup_path = self.write_backup(db, &new_ring)?;
            if !self.dry_run {
                let who = who_am_i();
                record_active_if_absent(db, ring.active_version(), &who)?;
                db.renew_lease()?;
                write_key_file(&key_file, version, &key, wrapped.as_ref())?;
                activate_with(db, version, &who, staging, || {
                    move_pin_along(keys_dir, version)
                })?;
            }
            self.rewrite(db, &new_ring, key_backup_path, Some(new_key), started)
        })
    }
}

impl Rotation<'_> {
    /// The new key's wrapped form, when [`wrap_new_key_with`](Self::wrap_new_key_with) asks for
    /// one: wrapped, and unwrapped again to check the provider gives it back, before anything
    /// depends on it.
    fn wrapped_new_key(
        &self,
        keys_dir: &KeysDir,
        version: KeyVersion,
        key: &MasterKey,
    ) -> crate::error::Result<Option<WrappedKeyFile>> {
        let Some(key_uri) = &self.wrap_new_key_with else {
            return Ok(None);
        };
        let wrappers = keys_dir.wrappers();
        let path = new_key_file(keys_dir, version, true);
        let origin = path.display().to_string();
        let wrapped = WrappedKeyFile::wrap(
            &wrappers,
            key_uri,
            crate::keys::wrap::KeyPurpose::Encryption,
            version,
            key,
            &origin,
        )?;
        if wrapped.unwrap(
            &wrappers,
            crate::keys::wrap::KeyPurpose::Encryption,
            version,
            &origin,
        )? != *key
        {
            return Err(crate::keys::wrap::KeyWrapFailure {
                action: "checking",
                origin,
                version,
                provider: wrapped.provider,
                key_uri: key_uri.clone(),
                attempts: 1,
                source: crate::keys::wrap::WrapError::new(
                    crate::keys::wrap::WrapErrorKind::WrongKey,
                    "the provider unwrapped the new key to another key; nothing was written",
                ),
            }
            .into());
        }
        Ok(Some(wrapped))
    }
}

/// `enc_key_vN`, or `enc_key_vN.wrapped` for a wrapped key, in `keys_dir`.
fn new_key_file(keys_dir: &KeysDir, version: KeyVersion, wrapped: bool) -> PathBuf {
    let suffix = if wrapped { ".wrapped" } else { "" };
    keys_dir
        .path()
        .join(format!("enc_key_v{}{suffix}", version.get()))
}

/// Moves a keys directory's existing `active_version` pin to `version` (creates none): the
/// processes that read the directory follow the fleet's activation.
pub(crate) fn move_pin_along(keys_dir: &KeysDir, version: KeyVersion) -> Result<()> {
    if keys_dir.has_pin_file() {
        keys_dir.activate(version)?;
    }
    Ok(())
}

/// One above the highest version of the ring and of the directory (which may hold keys not
/// loaded, e.g. when the active version is pinned by the environment).
fn next_version(ring: &KeyRing, keys_dir: &KeysDir) -> crate::error::Result<KeyVersion> {
    let in_dir = match keys_dir.list() {
        Ok(files) => files.last().map(|f| f.version),
        // A directory that does not exist yet is created with the key file.
        Err(_) if !keys_dir.path().exists() => None,
        Err(error) => return Err(error),
    };
    let highest = ring
        .versions()
        .chain(in_dir)
        .max()
        .map_or(0, KeyVersion::get);
    let next = highest
        .checked_add(1)
        .ok_or_else(|| crate::error::Error::Io {
            action: "choosing the next key version in",
            path: keys_dir.path().display().to_string(),
            source: std::io::Error::other("the highest version is already u32::MAX"),
        })?;
    Ok(KeyVersion::new(next))
}

/// `ring`'s keys (and how the wrapped ones are stored) and blind-index key, with `key` added as
/// `version` and active (stored as `wrapped`, when given).
fn ring_with(
    ring: &KeyRing,
    version: KeyVersion,
    key: &MasterKey,
    wrapped: Option<&WrappedKeyFile>,
) -> crate::error::Result<KeyRing> {
    let mut builder = KeyRing::builder()
        .origin("the new key ring")
        .key(version, key.clone())
        .active(version);
    if let Some(wrapped) = wrapped {
        builder = builder.wrapped_form(version, wrapped.clone());
    }
    for old in ring.versions() {
        if let Some(old_key) = ring.master_key(old) {
            builder = builder.key(old, old_key.clone());
        }
        if let Some(old_wrapped) = ring.wrapped_form(old) {
            builder = builder.wrapped_form(old, old_wrapped.clone());
        }
    }
    // Every blind-index version comes along, with the same one active.
    builder.build()?.with_blind_index_keys_of(ring)
}

/// Writes `key` (or its `wrapped` form) into the new file `path` (mode 0600), creating its
/// directory (mode 0700): the name appears only once the content is complete, and never replaces
/// another file.
fn write_key_file(
    path: &Path,
    version: KeyVersion,
    key: &MasterKey,
    wrapped: Option<&WrappedKeyFile>,
) -> crate::error::Result<()> {
    create_private_dir(path.parent().unwrap_or(Path::new(".")))?;
    match wrapped {
        Some(wrapped) => wrapped.write_new(path)?,
        None => key.write_to_new_file(path)?,
    }
    crate::keys::dir::keep_if_sole_file_of_its_version(path, version)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::ErrorKind;

    use super::*;

    #[test]
    fn next_version_is_above_the_ring_and_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = KeysDir::new(tmp.path());
        keys.add(true).unwrap();
        keys.add(false).unwrap(); // v2 on disk, v1 active
        let ring = keys
            .load(None)
            .unwrap()
            .with_active(KeyVersion::new(1))
            .unwrap();
        assert_eq!(next_version(&ring, &keys).unwrap(), KeyVersion::new(3));
        let only_v1 = KeyRing::builder()
            .key(5, MasterKey::generate())
            .build()
            .unwrap();
        assert_eq!(next_version(&only_v1, &keys).unwrap(), KeyVersion::new(6));
    }

    #[test]
    fn the_new_ring_keeps_every_old_key_and_activates_the_new_one() {
        let old = KeyRing::builder()
            .key(1, MasterKey::generate())
            .build()
            .unwrap();
        let sealed = old.encrypt(b"old");
        let new = ring_with(&old, KeyVersion::new(2), &MasterKey::generate(), None).unwrap();
        assert_eq!(new.active_version(), KeyVersion::new(2));
        assert_eq!(new.decrypt(&sealed).unwrap(), b"old");
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private_complete_and_never_replaced() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("keys/enc_key_v2");
        let key = MasterKey::generate();
        write_key_file(&path, KeyVersion::new(2), &key, None).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(MasterKey::from_file(&path).unwrap(), key);
        let names: Vec<_> = fs::read_dir(tmp.path().join("keys"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["enc_key_v2"], "no temporary file is left behind");
        let err =
            write_key_file(&path, KeyVersion::new(2), &MasterKey::generate(), None).unwrap_err();
        assert!(
            matches!(err, crate::error::Error::Io { ref source, .. } if source.kind() == ErrorKind::AlreadyExists),
            "{err}"
        );
        assert_eq!(MasterKey::from_file(&path).unwrap(), key);
    }
}
