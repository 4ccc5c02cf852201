//! The fleet-wide active key version (and active blind-index key version), recorded in the
//! database's `encrypted_field_metadata` table with who activated it and when, so every instance
//! and host agrees on it.

use std::time::SystemTime;

use serde::Serialize;

use crate::fleet::key_kind::KeyKind;
use crate::keys::version::KeyVersion;
use crate::rotation::database::Database;
use crate::rotation::error::Result;
use crate::rotation::schedule::record_activation;

/// The active version as the database records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveRecord {
    /// The version every instance seals with (unless a local pin overrides it on a host).
    pub version: KeyVersion,
    /// Who activated it and when, as recorded (`v2 at 2026-12-01T21:00:00Z by ops@host pid 42`),
    /// when recorded.
    pub activated: Option<String>,
}

/// The active version the database records, if any.
pub fn recorded_active(db: &mut Database) -> Result<Option<ActiveRecord>> {
    recorded_active_of(db, KeyKind::Encryption)
}

/// The active version of `kind` the database records, if any.
pub fn recorded_active_of(db: &mut Database, kind: KeyKind) -> Result<Option<ActiveRecord>> {
    let (version_record, activated_record) = kind.records();
    let Some(text) = db.metadata(version_record)? else {
        return Ok(None);
    };
    let version = KeyVersion::parse_setting(
        &text,
        &format!("{version_record} in encrypted_field_metadata"),
    )?;
    let activated = db.metadata(activated_record)?;
    Ok(Some(ActiveRecord { version, activated }))
}

/// Records `version` as the fleet-wide active version, activated now by `who`: who and when first,
/// the version last (the row every instance reads), so a reader never sees a new version with no
/// record of its activation.
pub fn record_active(db: &mut Database, version: KeyVersion, who: &str) -> Result<()> {
    record_active_of(db, KeyKind::Encryption, version, who)
}

/// [`record_active`] for keys of `kind` (the rotation schedule, `--if-due`, follows the
/// encryption keys only).
pub fn record_active_of(
    db: &mut Database,
    kind: KeyKind,
    version: KeyVersion,
    who: &str,
) -> Result<()> {
    let (version_record, activated_record) = kind.records();
    let now = humantime::format_rfc3339_seconds(SystemTime::now());
    db.set_metadata(activated_record, &format!("{version} at {now} by {who}"))?;
    if kind == KeyKind::Encryption {
        record_activation(db, version)?;
    }
    db.set_metadata(version_record, &version.get().to_string())
}

/// Records the current active version unless the database records one already (before a new key
/// file appears, so no instance takes the new file's "highest version" for the active one).
/// Returns the version recorded now or before.
pub fn record_active_if_absent(
    db: &mut Database,
    current: KeyVersion,
    who: &str,
) -> Result<KeyVersion> {
    record_active_of_if_absent(db, KeyKind::Encryption, current, who)
}

/// [`record_active_if_absent`] for keys of `kind`.
pub fn record_active_of_if_absent(
    db: &mut Database,
    kind: KeyKind,
    current: KeyVersion,
    who: &str,
) -> Result<KeyVersion> {
    match recorded_active_of(db, kind)? {
        Some(record) => Ok(record.version),
        None => record_active_of(db, kind, current, who).map(|()| current),
    }
}

/// Who runs this process, for the activation record: `user@host pid N`.
pub fn who_am_i() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown user".to_owned());
    format!(
        "{user}@{} pid {}",
        crate::fleet::host::host_name(),
        std::process::id()
    )
}
