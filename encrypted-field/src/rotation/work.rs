//! What a pass does to the rows of one table, or of one chunk of it: the one description that both
//! a single-stream pass and every parallel worker scan with, and that a worker on another host
//! rebuilds from the job's row (`Work::name`) and its own key ring.

use std::collections::BTreeMap;

use crate::format::legacy::LegacyKey;
use crate::keys::ring::KeyRing;
use crate::model::ModelSpec;
use crate::rotation::database::{Database, KeyRange};
use crate::rotation::error::Result;
use crate::rotation::plan::{Migrate, Open, Reencrypt, Reindex, ValueAction};
use crate::rotation::plausibility::LegacyChecks;
use crate::rotation::report::{ColumnReport, Operation};
use crate::rotation::scan::{Failures, ScanSettings};
use crate::rotation::scanner::scan_model;

/// The work of a pass.
#[derive(Clone, Copy)]
pub(crate) enum Work<'r> {
    /// Re-encrypt every value not on the ring's active version.
    Rotate(&'r KeyRing),
    /// Bring legacy values into format v1 (keeping the bytes they replace).
    Migrate {
        ring: &'r KeyRing,
        legacy_key: &'r LegacyKey,
        checks: Option<&'r LegacyChecks>,
    },
    /// Rewrite the blind indexes that are not their value's.
    Reindex(&'r KeyRing),
    /// Open every value and count its version; write nothing.
    Verify(&'r KeyRing),
}

/// What a scan of some rows found: a report per column, and for a verification the values per
/// key version and the stale blind indexes.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    pub columns: Vec<ColumnReport>,
    pub values_by_version: BTreeMap<String, u64>,
    pub stale_blind_indexes: u64,
}

impl Work<'_> {
    /// The kind of report it makes.
    pub(crate) fn operation(&self) -> Operation {
        match self {
            Self::Rotate(_) => Operation::Rotate,
            Self::Migrate { .. } => Operation::Migrate,
            Self::Reindex(_) => Operation::Reindex,
            Self::Verify(_) => Operation::Verify,
        }
    }

    /// Its name in a job's row, which a joining worker reads back.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Rotate(_) => "rotate",
            Self::Migrate { .. } => "migrate",
            Self::Reindex(_) => "reindex",
            Self::Verify(_) => "verify",
        }
    }

    /// The ring it seals and opens with.
    pub(crate) fn ring(&self) -> &KeyRing {
        match self {
            Self::Rotate(ring) | Self::Reindex(ring) | Self::Verify(ring) => ring,
            Self::Migrate { ring, .. } => ring,
        }
    }

    /// Scans the rows of `model` in `range` (see [`scan_model`]).
    pub(crate) fn scan(
        &self,
        db: &mut Database,
        model: &ModelSpec,
        range: &KeyRange,
        settings: &ScanSettings<'_>,
        failures: &mut Failures,
    ) -> Result<Scanned> {
        let mut columns =
            |action: &dyn ValueAction| scan_model(db, model, range, action, settings, failures);
        Ok(match *self {
            Self::Rotate(ring) => Scanned::columns(columns(&Reencrypt::new(ring))?),
            Self::Migrate {
                ring,
                legacy_key,
                checks,
            } => Scanned::columns(columns(&Migrate {
                ring,
                legacy_key,
                checks,
            })?),
            Self::Reindex(ring) => Scanned::columns(columns(&Reindex { ring })?),
            Self::Verify(ring) => {
                let open = Open::new(ring);
                let columns = columns(&open)?;
                Scanned {
                    columns,
                    values_by_version: open.counts.into_inner(),
                    stale_blind_indexes: open.stale_blind_indexes.get(),
                }
            }
        })
    }
}

impl Scanned {
    fn columns(columns: Vec<ColumnReport>) -> Self {
        Self {
            columns,
            ..Self::default()
        }
    }

    /// Adds what another scan of the same pass found (another model, or another chunk).
    pub(crate) fn add_counts(&mut self, other: &Self) {
        for (version, count) in &other.values_by_version {
            *self.values_by_version.entry(version.clone()).or_default() += count;
        }
        self.stale_blind_indexes += other.stale_blind_indexes;
    }
}
