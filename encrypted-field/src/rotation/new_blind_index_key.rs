//! Rotation to a new blind-index key across a fleet: the next blind-index version is generated,
//! backed up, provisioned in the keys directory, activated in stages, and only then are the
//! indexes recomputed with it.
//!
//! The order is what keeps every lookup working at every moment, in every instance:
//!
//! 1. the active blind-index version is recorded in the database unless one is (before the new
//!    file appears, so no instance takes it for the active one because it is the highest);
//! 2. the key backup of the new ring (every encryption and blind-index version) is written;
//! 3. `bidx_key_vN` is written (complete or absent, mode 0600), and nothing pins it: it is
//!    provisioned, and each instance that reloads matches it in lookups but never writes an index
//!    with it;
//! 4. once every running instance has loaded it, it is recorded active; once every one computes
//!    new indexes with it, the indexes are recomputed ([`Rotation::reindex`]'s compare-and-swap
//!    pass). An index written with the old version before then stays findable: the old version
//!    stays loaded everywhere.
//!
//! A crash before 3 leaves an unused backup; after 3, `keys activate N --blind-index
//! --database-url URL` then `rotate --blind-index` finish the job.

use std::time::{Instant, SystemTime};

use crate::error::Error as KeyError;
use crate::fleet::{KeyKind, Staging, activate_blind_index_with, record_active_of_if_absent};
use crate::format::blind_index::BlindIndexKey;
use crate::keys::dir::KeysDir;
use crate::keys::master_key::MasterKey;
use crate::keys::ring::KeyRing;
use crate::keys::version::KeyVersion;
use crate::rotation::Rotation;
use crate::rotation::database::Database;
use crate::rotation::error::{Error, Result};
use crate::rotation::report::{NewKey, RotationReport};
use crate::rotation::work::Work;

impl Rotation<'_> {
    /// Rotates the blind indexes to a new blind-index key kept in `keys_dir`, in stages across
    /// the fleet (see [`crate::fleet`] and this module's steps): generates the next blind-index
    /// version (one above every blind-index version of `ring` and of the directory), writes the
    /// key backup of the new ring into the [backup directory](Self::backup_dir), writes
    /// `bidx_key_vN`, waits for the running instances as `staging` says
    /// ([`fleet::activate_blind_index_with`](crate::fleet::activate_blind_index_with)), then
    /// recomputes every blind index with it as [`reindex`](Self::reindex) does. The report's
    /// [`new_key`](RotationReport::new_key) names the new blind-index version and its file.
    ///
    /// A lagging instance stops it with
    /// [`Error::InstancesLagging`]: the new version
    /// stays provisioned (its file and backup are kept) and no index is rewritten. In a
    /// [dry run](Self::dry_run) nothing is written, not even the key file.
    pub fn reindex_with_new_blind_index_key_in_fleet(
        &self,
        db: &mut Database,
        ring: &KeyRing,
        keys_dir: &KeysDir,
        staging: &Staging,
    ) -> Result<RotationReport> {
        if self.blind_indexes().next().is_none() {
            return Err(Error::NoBlindIndexedColumn);
        }
        self.require_blind_index_key(ring)?;
        let previous = ring
            .active_blind_index_version()
            .ok_or(KeyError::NoBlindIndexKey)?;
        self.locked(db, |db| {
            let started = Instant::now();
            let timestamp = SystemTime::now();
            self.check_columns(db)?;
            let version = next_blind_index_version(ring, keys_dir)?;
            let key = MasterKey::try_generate()?;
            let new_ring = ring
                .with_blind_index_key_version(version, BlindIndexKey::new(key.clone()))?
                .with_active_blind_index(version)?;
            self.check_blind_index_widths(db, &new_ring, version)?;
            let key_file = keys_dir.path().join(format!("bidx_key_v{}", version.get()));
            let new_key = NewKey {
                version: version.get(),
                previous_version: previous.get(),
                key_file: key_file.display().to_string(),
            };
            // A fenced renewal of the lease right before each file written, the records written
            // in fenced transactions (`activate_blind_index_with` renews the lease right before it
            // moves the pin): a run that lost its lease writes nothing more.
            db.renew_lease()?;
            // In a dry run this only checks the backup directory.
            let key_backup_path = self.write_backup(db, &new_ring)?;
            if !self.dry_run {
                let who = crate::fleet::who_am_i();
                record_active_of_if_absent(db, KeyKind::BlindIndex, previous, &who)?;
                db.renew_lease()?;
                keys_dir.write_blind_index_key(version, &key)?;
                activate_blind_index_with(db, version, &who, staging, || {
                    move_blind_index_pin_along(keys_dir, version)
                })?;
            }
            let write = !self.dry_run;
            let (mut report, _) = self.pass(db, Work::Reindex(&new_ring), write, self.progress)?;
            report.key_backup_path = key_backup_path.map(|p| p.display().to_string());
            report.new_key = Some(new_key);
            self.finish_untimed(report, started, timestamp)
        })
    }
}

impl Rotation<'_> {
    /// Refuses when a blind-index column is declared narrower than an index of `version`
    /// (computed with `ring`, as the column stores it): once that version is active, every
    /// application write of the column would fail.
    fn check_blind_index_widths(
        &self,
        db: &mut Database,
        ring: &KeyRing,
        version: KeyVersion,
    ) -> Result<()> {
        for (table, column, index) in self.blind_indexes() {
            let sample = index.stored_value(ring, column.context(), b"0")?;
            let needed = u64::try_from(sample.len()).unwrap_or(u64::MAX);
            let Some(width) = db.column_width(table, index.column())? else {
                continue;
            };
            if width < needed {
                let widen = match index.storage() {
                    crate::format::stored::Storage::Binary => {
                        format!("VARBINARY({needed}) or BLOB")
                    }
                    crate::format::stored::Storage::Text => format!("VARCHAR({needed}) or TEXT"),
                };
                return Err(Error::BlindIndexColumnTooNarrow {
                    column: format!("{table}.{}", index.column()),
                    width,
                    needed,
                    version,
                    widen,
                });
            }
        }
        Ok(())
    }
}

/// Moves a keys directory's existing `active_blind_index_version` pin to `version` (creates
/// none): the processes that read the directory follow the fleet's activation.
pub(crate) fn move_blind_index_pin_along(keys_dir: &KeysDir, version: KeyVersion) -> Result<()> {
    if keys_dir.has_blind_index_pin_file() {
        keys_dir.activate_blind_index(version)?;
    }
    Ok(())
}

/// One above the highest blind-index version of the ring and of the directory (which may hold
/// versions not loaded here).
pub(crate) fn next_blind_index_version(
    ring: &KeyRing,
    keys_dir: &KeysDir,
) -> crate::error::Result<KeyVersion> {
    let in_dir = keys_dir.blind_index_files()?.last().map(|f| f.version);
    let highest = ring
        .blind_index_versions()
        .chain(in_dir)
        .max()
        .map_or(0, KeyVersion::get);
    let next = highest
        .checked_add(1)
        .ok_or_else(|| crate::error::Error::Io {
            action: "choosing the next blind-index key version in",
            path: keys_dir.path().display().to_string(),
            source: std::io::Error::other("the highest version is already u32::MAX"),
        })?;
    Ok(KeyVersion::new(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_blind_index_version_is_above_the_ring_and_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = KeysDir::new(tmp.path().join("keys"));
        let ring = KeyRing::builder()
            .key(1, MasterKey::generate())
            .blind_index_key(BlindIndexKey::new(MasterKey::generate()))
            .build()
            .unwrap();
        assert_eq!(
            next_blind_index_version(&ring, &keys).unwrap(),
            KeyVersion::new(2),
            "a directory that does not exist yet holds none"
        );
        keys.write_blind_index_key(KeyVersion::new(3), &MasterKey::generate())
            .unwrap();
        assert_eq!(
            next_blind_index_version(&ring, &keys).unwrap(),
            KeyVersion::new(4)
        );
    }
}
