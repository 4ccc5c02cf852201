//! What the fleet-aware commands report: a staged activation (`keys activate --database-url`),
//! a provisioned key (`keys add --database-url`), and the fleet part of `status`.

use std::fmt::Write as _;

use serde::Serialize;

use super::output::Report;
use crate::fleet::{Activation, ActiveRecord, Instance, KeyKind};
use crate::rotation::{LeaseHolder, StatusReport};

/// `keys activate N --database-url`.
#[derive(Debug, Serialize)]
pub(crate) struct FleetActivated {
    #[serde(flatten)]
    pub(crate) activation: Activation,
    /// The `active_version` file moved along, if the directory had one.
    pub(crate) pin_moved_in: Option<String>,
}

impl Report for FleetActivated {
    fn human(&self, out: &mut String) {
        let a = &self.activation;
        let what = match a.kind {
            KeyKind::Encryption => "active",
            KeyKind::BlindIndex => "active blind-index version",
        };
        let _ = write!(out, "{what}: {} (recorded in the database", a.version);
        if let Some(previous) = a.previous {
            let _ = write!(out, "; was {previous}");
        }
        if a.forced {
            let _ = write!(out, "; --force-activate: the instances were not waited for");
        }
        let _ = writeln!(out, ")");
        if let Some(pin) = &self.pin_moved_in {
            let _ = writeln!(out, "pin moved along in {pin}");
        }
        instance_lines(&a.instances, out);
    }
}

/// `keys add --database-url`.
#[derive(Debug, Serialize)]
pub(crate) struct ProvisionedKey {
    pub(crate) version: u32,
    pub(crate) path: String,
    /// The version the database records active (unchanged by the provisioning).
    pub(crate) active_version: u32,
}

impl Report for ProvisionedKey {
    fn human(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "provisioned: v{} in {} (decrypts, never encrypts)",
            self.version, self.path
        );
        let _ = writeln!(
            out,
            "active: v{} (recorded in the database; once every instance has the new file: \
             encrypted-field keys activate {} --database-url URL)",
            self.active_version, self.version
        );
    }
}

/// A pin of the active version on the host running the command.
#[derive(Debug, Serialize)]
pub(crate) struct LocalPin {
    pub(crate) version: u32,
    /// The variable or file that pins it.
    pub(crate) pinned_by: String,
}

/// The fleet part of `status`.
#[derive(Debug, Serialize)]
pub(crate) struct FleetView {
    pub(crate) recorded_active: Option<ActiveRecord>,
    pub(crate) local_pin: Option<LocalPin>,
    /// The active blind-index version the database records, if any.
    pub(crate) recorded_active_blind_index: Option<ActiveRecord>,
    /// A pin of the active blind-index version on this host.
    pub(crate) local_blind_index_pin: Option<LocalPin>,
    pub(crate) seen_within_seconds: u64,
    pub(crate) instances: Vec<Instance>,
}

/// `status`: the columns, then the fleet.
#[derive(Debug, Serialize)]
pub(crate) struct StatusWithFleet {
    #[serde(flatten)]
    pub(crate) columns: StatusReport,
    /// Who holds the rotation lease (a rotation, migration or reindex in progress), if anyone.
    pub(crate) rotation_lease: Option<LeaseHolder>,
    pub(crate) fleet: FleetView,
    /// How each version of the environment's keys directory is stored (plain, or wrapped by
    /// which key-encryption key).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) key_storage: Vec<crate::cli::wrapped_output::KeyStorage>,
}

impl Report for StatusWithFleet {
    fn human(&self, out: &mut String) {
        self.columns.human(out);
        let _ = match &self.rotation_lease {
            Some(holder) => writeln!(out, "rotation in progress: lease held by {holder}"),
            None => writeln!(out, "rotation lease: free (no rotation running)"),
        };
        crate::cli::wrapped_output::key_storage_human(&self.key_storage, out);
        let fleet = &self.fleet;
        match &fleet.recorded_active {
            Some(record) => {
                let _ = write!(out, "active key version (database): {}", record.version);
                if let Some(activated) = &record.activated {
                    let _ = write!(out, " (activated {activated})");
                }
                let _ = writeln!(out);
            }
            None => {
                let _ = writeln!(
                    out,
                    "active key version (database): none recorded (each instance seals with its \
                     own ring's active version)"
                );
            }
        }
        if let Some(pin) = &fleet.local_pin {
            let overrides = fleet
                .recorded_active
                .as_ref()
                .is_some_and(|r| r.version.get() != pin.version);
            let _ = writeln!(
                out,
                "local pin on this host: v{} ({}){}",
                pin.version,
                pin.pinned_by,
                if overrides {
                    " - overrides the database's active version here"
                } else {
                    ""
                }
            );
        }
        blind_index_lines(fleet, out);
        let _ = writeln!(
            out,
            "instances seen in the last {}s: {}",
            fleet.seen_within_seconds,
            fleet.instances.len()
        );
        instance_lines(&fleet.instances, out);
    }
}

/// The active blind-index version the database records, and a local pin that overrides it.
fn blind_index_lines(fleet: &FleetView, out: &mut String) {
    if let Some(record) = &fleet.recorded_active_blind_index {
        let _ = write!(
            out,
            "active blind-index key version (database): {}",
            record.version
        );
        if let Some(activated) = &record.activated {
            let _ = write!(out, " (activated {activated})");
        }
        let _ = writeln!(out);
    }
    if let Some(pin) = &fleet.local_blind_index_pin {
        let overrides = fleet
            .recorded_active_blind_index
            .as_ref()
            .is_some_and(|r| r.version.get() != pin.version);
        let _ = writeln!(
            out,
            "local blind-index pin on this host: v{} ({}){}",
            pin.version,
            pin.pinned_by,
            if overrides {
                " - overrides the database's active blind-index version here"
            } else {
                ""
            }
        );
    }
}

fn instance_lines(instances: &[Instance], out: &mut String) {
    for instance in instances {
        let _ = writeln!(out, "  {instance}");
    }
}
