//! What the instances table says about one running instance, as read back.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

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
    /// Seconds since its last check-in, by the database's clock.
    pub seconds_since_check_in: u64,
}

impl Instance {
    /// Whether its ring holds `version`.
    pub fn has_loaded(&self, version: KeyVersion) -> bool {
        self.loaded_versions.contains(&version)
    }
}

/// `host web-1 pid 42 (loaded v1, v2; sealing with v1; pinned to v1; checked in 3s ago)`.
impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loaded: Vec<String> = self
            .loaded_versions
            .iter()
            .map(ToString::to_string)
            .collect();
        write!(
            f,
            "host {} pid {} (loaded {}; sealing with {}",
            self.host,
            self.pid,
            if loaded.is_empty() {
                "nothing".to_owned()
            } else {
                loaded.join(", ")
            },
            self.active_version
        )?;
        if let Some(pinned) = self.pinned_version {
            write!(f, "; pinned to {pinned} by a local setting")?;
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

impl From<InstanceRow> for Instance {
    fn from(row: InstanceRow) -> Self {
        Self {
            loaded_versions: row
                .loaded_versions
                .split(',')
                .filter_map(|n| n.trim().parse::<i64>().ok().and_then(version_of))
                .collect(),
            active_version: version_of(row.active_version).unwrap_or(KeyVersion::new(0)),
            pinned_version: version_of(row.pinned_version),
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
            "host web-1 pid 42 (loaded v1, v2; sealing with v1; checked in 3s ago)"
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
