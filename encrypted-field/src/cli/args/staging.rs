//! How `keys activate` and `rotate --new-key` wait for the running instances of a fleet.

use std::time::Duration;

use crate::fleet::Staging;

/// The waits of a staged activation (see `encrypted_field::fleet`).
#[derive(Debug, Clone, clap::Args)]
pub struct StagingArgs {
    /// Wait at most DURATION (e.g. 30s, 5m) for every running instance to load the new version,
    /// and again for every one to seal with it once it is recorded active. An instance still
    /// lagging then is named, and the command stops: before the activation, nothing is
    /// activated; after it, nothing is rewritten.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub wait: Duration,
    /// Instances that checked in (table encrypted_field_instances) within DURATION count as
    /// running; older rows are ignored.
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = parse_duration)]
    pub seen_within: Duration,
    /// Activate without waiting for the running instances (for instances known to be gone, or
    /// to have the key): an instance without the key cannot read the values rewritten with it
    /// until it reloads.
    #[arg(long)]
    pub force_activate: bool,
}

impl StagingArgs {
    /// The library's staging.
    pub(crate) fn staging(&self) -> Staging {
        Staging {
            wait: self.wait,
            seen_within: self.seen_within,
            // Often enough to return soon after the last instance, never more than 4 times a second.
            poll: (self.wait / 20).clamp(Duration::from_millis(250), Duration::from_secs(2)),
            force: self.force_activate,
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as 30s or 5m: {e}"))
}
