//! The legacy bytes a migration replaced, kept in the database (`encrypted_field_legacy_values`,
//! written in the same transaction as each batch) until the migration is verified: `migrate
//! --undo` puts them back, `migrate --finalize` verifies and then deletes them.

use std::fmt;
use std::time::Instant;

use serde::Serialize;

use super::Rotation;
use super::report::{FailedValue, MAX_LISTED_FAILURES, Verification};
use super::scan::target;
use crate::keys::ring::KeyRing;
use crate::rotation::database::Database;
use crate::rotation::error::{Error, Result};

/// What `migrate --undo` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UndoReport {
    /// Values put back to the legacy bytes they held before the migration.
    pub restored: u64,
    /// Values left as they are because the application changed (or deleted) them after the
    /// migration wrote them; their legacy bytes stay kept.
    pub left: u64,
    /// The first [`MAX_LISTED_FAILURES`] of those values (never their content).
    pub left_values: Vec<FailedValue>,
    /// Legacy values still kept for the registered columns afterwards.
    pub legacy_values_kept: u64,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl fmt::Display for UndoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "undo: {} values restored to their legacy bytes, {} left because they changed since \
             the migration; {} legacy values still kept",
            self.restored, self.left, self.legacy_values_kept
        )?;
        for value in &self.left_values {
            writeln!(
                f,
                "  left: {}.{} primary key {}: {}",
                value.table, value.column, value.primary_key, value.reason
            )?;
        }
        Ok(())
    }
}

/// What `migrate --finalize` did.
#[derive(Debug, Clone, Serialize)]
pub struct FinalizeReport {
    /// Legacy values deleted.
    pub deleted: u64,
    /// The verification that came first.
    pub verification: Verification,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl fmt::Display for FinalizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "finalized: every value verified; {} kept legacy values deleted",
            self.deleted
        )
    }
}

/// Why a value was left by an undo.
const CHANGED_SINCE: &str =
    "the value changed since the migration wrote it; left as it is (its legacy bytes stay kept)";

impl Rotation<'_> {
    /// Undoes migrations of the registered columns: every kept legacy value is put back where
    /// the column still holds the bytes the migration wrote (compare-and-swap), and its kept row
    /// is deleted in the same transaction. A value the application changed since is left as it
    /// is, counted and listed, and stays kept. A [dry run](Self::dry_run) restores nothing and
    /// only counts the values kept.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};
    /// use encrypted_field::rotation::database::Database;
    /// use encrypted_field::legacy::LegacyKey;
    /// use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
    /// use encrypted_field::rotation::Rotation;
    /// use encrypted_field::{KeyRing, MasterKey};
    ///
    /// let mut conn = SqliteConnection::establish(":memory:")?;
    /// diesel::sql_query("CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT)").execute(&mut conn)?;
    /// diesel::sql_query("INSERT INTO t VALUES (1, 'ada@example.com')").execute(&mut conn)?;
    /// let mut db = Database::from(conn);
    /// let registry = Registry::new()
    ///     .register_spec(ModelSpec::new("t", "id").column(ColumnSpec::text("email")))?;
    /// let ring = KeyRing::builder().key(1, MasterKey::generate()).build()?;
    /// let migration = Rotation::new(&registry);
    /// let report = migration.migrate(&mut db, &ring, &LegacyKey::None)?;
    /// assert_eq!(report.legacy_values_kept, Some(1));
    ///
    /// let dry = Rotation::new(&registry).dry_run(true).undo_migration(&mut db)?;
    /// assert_eq!((dry.restored, dry.legacy_values_kept), (0, 1));
    /// let undo = migration.undo_migration(&mut db)?;
    /// assert_eq!((undo.restored, undo.left, undo.legacy_values_kept), (1, 0, 0));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn undo_migration(&self, db: &mut Database) -> Result<UndoReport> {
        self.locked(db, |db| {
            let started = Instant::now();
            let mut report = UndoReport::default();
            let registry = if self.dry_run {
                None
            } else {
                Some(self.registry)
            };
            for model in registry.into_iter().flatten() {
                for column in model.columns() {
                    let target = target(model, column);
                    let mut after: Option<String> = None;
                    loop {
                        let kept =
                            db.read_kept(&target, after.as_deref(), self.pacing.max_rows())?;
                        let Some(last) = kept.last() else { break };
                        after = Some(last.key.as_text());
                        let left = db.restore_kept(&target, &kept)?;
                        report.restored += (kept.len() - left.len()) as u64;
                        report.left += left.len() as u64;
                        for key in left {
                            if report.left_values.len() < MAX_LISTED_FAILURES {
                                report.left_values.push(FailedValue {
                                    table: model.table().to_owned(),
                                    primary_key: key.to_string(),
                                    column: column.column().to_owned(),
                                    reason: CHANGED_SINCE.to_owned(),
                                });
                            }
                        }
                        if kept.len() < self.pacing.max_rows() {
                            break;
                        }
                    }
                }
            }
            report.legacy_values_kept = self.legacy_values_kept(db)?;
            report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            Ok(report)
        })
    }

    /// Ends migrations of the registered columns: verifies every value with `ring` first and
    /// refuses ([`Error::FinalizeRefused`], nothing deleted) unless every value opens and uses
    /// the active key; then deletes their kept legacy values (and the table once it is empty).
    /// A [dry run](Self::dry_run) verifies and deletes nothing.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};
    /// use encrypted_field::rotation::database::Database;
    /// use encrypted_field::legacy::LegacyKey;
    /// use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
    /// use encrypted_field::rotation::Rotation;
    /// use encrypted_field::{KeyRing, MasterKey};
    ///
    /// let mut conn = SqliteConnection::establish(":memory:")?;
    /// diesel::sql_query("CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT)").execute(&mut conn)?;
    /// diesel::sql_query("INSERT INTO t VALUES (1, 'ada@example.com'), (2, 'alan@example.com')").execute(&mut conn)?;
    /// let mut db = Database::from(conn);
    /// let registry = Registry::new()
    ///     .register_spec(ModelSpec::new("t", "id").column(ColumnSpec::text("email")))?;
    /// let ring = KeyRing::builder().key(1, MasterKey::generate()).build()?;
    /// let migration = Rotation::new(&registry);
    /// migration.migrate(&mut db, &ring, &LegacyKey::None)?;
    ///
    /// assert_eq!(migration.finalize_migration(&mut db, &ring)?.deleted, 2);
    /// assert_eq!(migration.legacy_values_kept(&mut db)?, 0);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finalize_migration(&self, db: &mut Database, ring: &KeyRing) -> Result<FinalizeReport> {
        self.locked(db, |db| {
            let started = Instant::now();
            let (verification, pass) = self.verification(db, ring)?;
            if !verification.ok {
                let first = pass.failures.first().map_or_else(String::new, |f| {
                    format!(
                        "; first: {}.{} primary key {}: {}",
                        f.table, f.column, f.primary_key, f.reason
                    )
                });
                return Err(Error::FinalizeRefused {
                    reason: format!(
                        "verification found {} values that do not open and {} on other key \
                         versions{first}",
                        verification.undecryptable, verification.values_on_other_versions
                    ),
                });
            }
            let mut deleted = 0;
            let registry = if self.dry_run {
                None
            } else {
                Some(self.registry)
            };
            for model in registry.into_iter().flatten() {
                for column in model.columns() {
                    deleted += db.delete_kept(model.table(), column.column())?;
                }
            }
            Ok(FinalizeReport {
                deleted,
                verification,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            })
        })
    }

    /// How many legacy values are kept for the registered columns.
    pub fn legacy_values_kept(&self, db: &mut Database) -> Result<u64> {
        let mut kept = 0;
        for model in self.registry.iter() {
            for column in model.columns() {
                kept += db.count_kept(model.table(), column.column())?;
            }
        }
        Ok(kept)
    }
}
