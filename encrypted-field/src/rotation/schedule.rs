//! Scheduled rotation: `--if-due monthly|weekly|daily`, judged from when the active key version
//! was activated, as recorded in the database's `encrypted_field_metadata` table so that every host
//! agrees. A daily cron job, systemd timer or Kubernetes CronJob then replaces the Celery beat entry.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use crate::keys::version::KeyVersion;
use crate::rotation::database::Database;
use crate::rotation::error::Result;

/// How often keys are rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationPeriod {
    /// Every day.
    Daily,
    /// Every 7 days.
    Weekly,
    /// Every 30 days.
    Monthly,
}

impl RotationPeriod {
    /// The period's length.
    pub fn length(self) -> Duration {
        let day = Duration::from_secs(24 * 60 * 60);
        match self {
            Self::Daily => day,
            Self::Weekly => day * 7,
            Self::Monthly => day * 30,
        }
    }
}

impl FromStr for RotationPeriod {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "daily" => Ok(Self::Daily),
            "weekly" => Ok(Self::Weekly),
            "monthly" => Ok(Self::Monthly),
            other => Err(format!(
                "unknown period `{other}` (expected daily, weekly or monthly)"
            )),
        }
    }
}

/// A job that runs once a day at a fixed hour starts a little earlier or later each time; a key
/// activated this much less than a period ago already counts as due, so the schedule does not
/// slip by a day.
pub const SCHEDULE_SLACK: Duration = Duration::from_secs(60 * 60);

/// Whether a rotation is due, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Whether it is due now.
    pub due: bool,
    /// When the active version was activated, if that was recorded.
    pub activated_at: Option<SystemTime>,
    /// When the next rotation is due (`None` when due now).
    pub next_due: Option<SystemTime>,
}

/// The metadata name under which a version's activation time is recorded.
pub(crate) fn activation_record(version: KeyVersion) -> String {
    format!("key_activated_at:{version}")
}

/// Records that `version` became active now, unless its activation was already recorded.
pub(crate) fn record_activation(db: &mut Database, version: KeyVersion) -> Result<()> {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    db.record_metadata_if_absent(&activation_record(version), &now)
}

impl RotationPeriod {
    /// Whether a rotation is due at `now` for a key `active` activated per the database's record. An
    /// active version with no record (never rotated by this tool) is due.
    pub fn check_due(self, db: &mut Database, active: KeyVersion, now: SystemTime) -> Result<Due> {
        let period = self;
        // A record that does not parse, or lies in the future (a clock gone wrong, or an edited
        // table), is no evidence of a recent activation: the rotation is due.
        let activated_at = db
            .metadata(&activation_record(active))?
            .and_then(|text| humantime::parse_rfc3339(&text).ok())
            .filter(|at| *at <= now + SCHEDULE_SLACK);
        let Some(activated_at) = activated_at else {
            return Ok(Due {
                due: true,
                activated_at: None,
                next_due: None,
            });
        };
        let due_at = activated_at + period.length();
        let due = now + SCHEDULE_SLACK >= due_at;
        Ok(Due {
            due,
            activated_at: Some(activated_at),
            next_due: (!due).then_some(due_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_have_their_length() {
        assert_eq!(
            "monthly"
                .parse::<RotationPeriod>()
                .unwrap()
                .length()
                .as_secs(),
            30 * 86_400
        );
        assert!("yearly".parse::<RotationPeriod>().is_err());
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_recorded_activation_in_the_future_counts_as_due() {
        let mut db = Database::connect(":memory:").unwrap();
        let version = KeyVersion::new(1);
        db.record_metadata_if_absent(&activation_record(version), "9999-12-31T23:59:59Z")
            .unwrap();
        let due = RotationPeriod::Monthly
            .check_due(&mut db, version, SystemTime::now())
            .unwrap();
        assert!(due.due && due.next_due.is_none());
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_recent_activation_is_not_due_until_the_period_has_passed() {
        let mut db = Database::connect(":memory:").unwrap();
        let version = KeyVersion::new(2);
        record_activation(&mut db, version).unwrap();
        let now = SystemTime::now();
        assert!(
            !RotationPeriod::Weekly
                .check_due(&mut db, version, now)
                .unwrap()
                .due
        );
        let later = now + RotationPeriod::Weekly.length();
        assert!(
            RotationPeriod::Weekly
                .check_due(&mut db, version, later)
                .unwrap()
                .due
        );
    }
}
