//! What the instances table says about one running instance, as read back.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::fleet::key_kind::KeyKind;
use crate::keys::version::KeyVersion;
use crate::rotation::database::{Database, InstanceRow};
use crate::rotation::error::Result;

/// How recently an instance must have checked in to count as running, unless told otherwise:
/// a few check-in intervals of the default timer (30 s).
pub const DEFAULT_SEEN_WITHIN: Duration = Duration::from_secs(3 * 60);

/// One running instance of the application, as it last checked in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    /// Its id (random, one per [`join`](crate::fleet::join)).
    pub id: String,
    /// Its host name.
    pub host: String,
    /// Its process id.
    pub pid: i64,
    /// The key versions its ring holds, ascending.
    pub loaded_versions: Vec<KeyVersion>,
    /// The version it seals new values with.
    pub active_version: KeyVersion,
    /// The version a local pin (`ENCRYPTED_FIELD_ACTIVE_VERSION`, an `active_version` file)
    /// makes it seal with whatever the database records, if any.
    pub pinned_version: Option<KeyVersion>,
    /// The blind-index key versions its ring holds, ascending (lookups match each).
    pub blind_index_versions: Vec<KeyVersion>,
    /// The blind-index version it computes new indexes with, if it has a blind-index key.
    pub active_blind_index_version: Option<KeyVersion>,
    /// The blind-index version a local pin (`ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION`, an
    /// `active_blind_index_version` file) makes it index with whatever the database records.
    pub pinned_blind_index_version: Option<KeyVersion>,
    /// Seconds since its last check-in, by the database's clock.
    pub seconds_since_check_in: u64,
}

impl Instance {
    /// Whether its ring holds `version`.
    pub fn has_loaded(&self, version: KeyVersion) -> bool {
        self.loaded_versions.contains(&version)
    }

    /// Whether its ring holds `version` of the keys of `kind`.
    pub fn has_loaded_of(&self, kind: KeyKind, version: KeyVersion) -> bool {
        match kind {
            KeyKind::Encryption => self.has_loaded(version),
            KeyKind::BlindIndex => self.blind_index_versions.contains(&version),
        }
    }

    /// The version of `kind` it seals (or indexes) with.
    pub fn active_of(&self, kind: KeyKind) -> Option<KeyVersion> {
        match kind {
            KeyKind::Encryption => Some(self.active_version),
            KeyKind::BlindIndex => self.active_blind_index_version,
        }
    }
}

/// `v1, v2`, or `nothing`.
fn version_list(versions: &[KeyVersion]) -> String {
    if versions.is_empty() {
        return "nothing".to_owned();
    }
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `host web-1 pid 42 (loaded v1, v2; sealing with v1; pinned to v1 by a local setting;
/// blind index: loaded v1, v2; indexing with v2; checked in 3s ago)`.
impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "host {} pid {} (loaded {}; sealing with {}",
            self.host,
            self.pid,
            version_list(&self.loaded_versions),
            self.active_version
        )?;
        if let Some(pinned) = self.pinned_version {
            write!(f, "; pinned to {pinned} by a local setting")?;
        }
        if let Some(active) = self.active_blind_index_version {
            write!(
                f,
                "; blind index: loaded {}; indexing with {active}",
                version_list(&self.blind_index_versions)
            )?;
            if let Some(pinned) = self.pinned_blind_index_version {
                write!(f, "; blind index pinned to {pinned} by a local setting")?;
            }
        } else {
            write!(f, "; no blind-index key")?;
        }
        write!(f, "; checked in {}s ago)", self.seconds_since_check_in)
    }
}

/// A version number as stored (0 and out-of-range numbers stand for none).
fn version_of(number: i64) -> Option<KeyVersion> {
    u32::try_from(number)
        .ok()
        .filter(|n| *n > 0)
        .map(KeyVersion::new)
}

/// Versions as stored (`1,2`); anything else is skipped.
fn versions_of(text: &str) -> Vec<KeyVersion> {
    text.split(',')
        .filter_map(|n| n.trim().parse::<i64>().ok().and_then(version_of))
        .collect()
}

impl From<InstanceRow> for Instance {
    fn from(row: InstanceRow) -> Self {
        Self {
            loaded_versions: versions_of(&row.loaded_versions),
            active_version: version_of(row.active_version).unwrap_or(KeyVersion::new(0)),
            pinned_version: version_of(row.pinned_version),
            blind_index_versions: versions_of(&row.blind_index_versions),
            active_blind_index_version: version_of(row.active_blind_index_version),
            pinned_blind_index_version: version_of(row.pinned_blind_index_version),
            seconds_since_check_in: u64::try_from(row.age_seconds).unwrap_or(0),
            id: row.id,
            host: row.host,
            pid: row.pid,
        }
    }
}

/// The instances that checked in within `seen_within`, by host and pid.
pub fn instances(db: &mut Database, seen_within: Duration) -> Result<Vec<Instance>> {
    Ok(db
        .instances_seen_within(seen_within)?
        .into_iter()
        .map(Instance::from)
        .collect())
}

/// The loaded versions as the instances table stores them: `1,2,3`.
pub(crate) fn versions_text(versions: impl Iterator<Item = KeyVersion>) -> String {
    versions
        .map(|v| v.get().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> InstanceRow {
        InstanceRow {
            id: "a1".to_owned(),
            host: "web-1".to_owned(),
            pid: 42,
            loaded_versions: versions_text([1, 2].into_iter().map(KeyVersion::new)),
            active_version: 1,
            pinned_version: 0,
            blind_index_versions: versions_text([1, 2].into_iter().map(KeyVersion::new)),
            active_blind_index_version: 1,
            pinned_blind_index_version: 0,
            age_seconds: 3,
        }
    }

    #[test]
    fn a_row_reads_back_as_its_versions() {
        let instance = Instance::from(row());
        assert_eq!(
            instance.loaded_versions,
            [KeyVersion::new(1), KeyVersion::new(2)]
        );
        assert!(instance.has_loaded(KeyVersion::new(2)));
        assert_eq!(instance.pinned_version, None);
        assert_eq!(
            instance.to_string(),
            "host web-1 pid 42 (loaded v1, v2; sealing with v1; blind index: loaded v1, v2; \
             indexing with v1; checked in 3s ago)"
        );
        assert!(instance.has_loaded_of(KeyKind::BlindIndex, KeyVersion::new(2)));
        assert_eq!(
            instance.active_of(KeyKind::BlindIndex),
            Some(KeyVersion::new(1))
        );
    }

    #[test]
    fn an_instance_without_a_blind_index_key_says_so_and_has_loaded_no_blind_index_version() {
        let instance = Instance::from(InstanceRow {
            blind_index_versions: String::new(),
            active_blind_index_version: 0,
            ..row()
        });
        assert!(instance.to_string().contains("; no blind-index key;"));
        assert!(!instance.has_loaded_of(KeyKind::BlindIndex, KeyVersion::new(1)));
        assert_eq!(instance.active_of(KeyKind::BlindIndex), None);
    }

    #[test]
    fn a_blind_index_pin_is_named() {
        let instance = Instance::from(InstanceRow {
            pinned_blind_index_version: 1,
            ..row()
        });
        assert!(
            instance
                .to_string()
                .contains("blind index pinned to v1 by a local setting")
        );
    }

    #[test]
    fn a_pin_is_named() {
        let instance = Instance::from(InstanceRow {
            pinned_version: 1,
            ..row()
        });
        assert!(
            instance
                .to_string()
                .contains("pinned to v1 by a local setting")
        );
    }
}
