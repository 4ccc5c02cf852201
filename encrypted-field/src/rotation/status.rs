//! `status`: how many values of each column use each key version, read from the envelopes'
//! headers without decrypting anything (no key is needed), and how many blind indexes each
//! blind-index key version computed, read from their length and prefix.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::codec::stored_version;
use crate::format::blind_index::stored_index_version;
use crate::format::stored::blind_index_bytes;
use crate::keys::version::KeyVersion;
use crate::model::{BlindIndexSpec, Storage};
use crate::rotation::Rotation;
use crate::rotation::database::{Database, KeyRange};
use crate::rotation::error::{Error, Result};
use crate::rotation::plan::{Binding, Plan, ValueAction};
use crate::rotation::scan::{Failures, NoProgress, ScanSettings};
use crate::rotation::scanner::scan_model;

/// Values per key version for every encrypted column of every registered model.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// One entry per column.
    pub columns: Vec<ColumnStatus>,
}

/// Values per key version in one column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnStatus {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// Rows in the table.
    pub rows: u64,
    /// NULL values.
    pub null: u64,
    /// Values per key version (`v1`, `v2`, …).
    pub values_by_version: BTreeMap<String, u64>,
    /// Values that are not format-v1 envelopes (plaintext, legacy formats, damage).
    pub not_envelopes: u64,
    /// Legacy values a migration replaced and still keeps (until `migrate --finalize`).
    pub legacy_values_kept: u64,
    /// For a column with a blind index: its indexes per blind-index key version (`v1`, `v2`, …;
    /// `none` for NULL or empty, `invalid` for what is not a blind index). Empty otherwise.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub blind_indexes_by_version: BTreeMap<String, u64>,
}

impl StatusReport {
    /// How many values use `version`, over every column.
    pub fn count_for(&self, version: KeyVersion) -> u64 {
        self.columns
            .iter()
            .filter_map(|c| c.values_by_version.get(&version.to_string()))
            .sum()
    }
}

/// Counts versions per column, keyed by the column's context (unique within a model).
struct CountVersions {
    counts: RefCell<BTreeMap<String, BTreeMap<String, u64>>>,
    blind_indexes: RefCell<BTreeMap<String, BTreeMap<String, u64>>>,
}

/// The blind-index version a stored index names, as `status` shows it.
fn index_version_label(storage: Storage, stored_index: Option<&[u8]>) -> String {
    match stored_index {
        None | Some([]) => "none".to_owned(),
        Some(stored) => blind_index_bytes(storage, stored)
            .and_then(|bytes| stored_index_version(&bytes))
            .map_or_else(|| "invalid".to_owned(), |version| version.to_string()),
    }
}

impl ValueAction for CountVersions {
    fn plan_indexed(
        &self,
        storage: Storage,
        context: Binding<'_>,
        stored: &[u8],
        index: &BlindIndexSpec,
        stored_index: Option<&[u8]>,
    ) -> Plan {
        *self
            .blind_indexes
            .borrow_mut()
            .entry(context.column_context().to_owned())
            .or_default()
            .entry(index_version_label(index.storage(), stored_index))
            .or_default() += 1;
        self.plan(storage, context, stored)
    }

    fn plan(&self, storage: Storage, context: Binding<'_>, stored: &[u8]) -> Plan {
        match stored_version(storage, stored) {
            Ok(version) => {
                *self
                    .counts
                    .borrow_mut()
                    .entry(context.column_context().to_owned())
                    .or_default()
                    .entry(version.to_string())
                    .or_default() += 1;
                Plan::Keep
            }
            Err(error) => Plan::Fail(error.into()),
        }
    }
}

impl Rotation<'_> {
    /// Counts the values per key version in every column of every model of the registry, reading
    /// [`batch_size`](Self::batch_size) rows at a time. Nothing is decrypted: no key is needed.
    pub fn status(&self, db: &mut Database) -> Result<StatusReport> {
        let mut columns = Vec::new();
        let settings = ScanSettings {
            pacing: self.pacing,
            write: false,
            progress: &NoProgress,
        };
        for model in self.registry.iter() {
            let action = CountVersions {
                counts: RefCell::new(BTreeMap::new()),
                blind_indexes: RefCell::new(BTreeMap::new()),
            };
            let reports = scan_model(
                db,
                model,
                &KeyRange::default(),
                &action,
                &settings,
                &mut Failures::default(),
            )?;
            let mut counts = action.counts.into_inner();
            let mut blind_indexes = action.blind_indexes.into_inner();
            for (column, report) in model.columns().iter().zip(reports) {
                columns.push(ColumnStatus {
                    table: model.table().to_owned(),
                    column: column.column().to_owned(),
                    rows: report.rows,
                    null: report.null,
                    values_by_version: counts.remove(column.context()).unwrap_or_default(),
                    not_envelopes: report.failed,
                    legacy_values_kept: db.count_kept(model.table(), column.column())?,
                    blind_indexes_by_version: blind_indexes
                        .remove(column.context())
                        .unwrap_or_default(),
                });
            }
        }
        Ok(StatusReport { columns })
    }
}

impl StatusReport {
    /// Refuses to retire `version` while any value still uses it ([`Error::KeyVersionInUse`]).
    pub fn ensure_unused(&self, version: KeyVersion) -> Result<()> {
        let left = self.count_for(version);
        if left > 0 {
            return Err(Error::KeyVersionInUse {
                version,
                values: left,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_labelled_with_their_blind_index_version() {
        let bare = [7u8; 32];
        let v2 = crate::format::blind_index::stored_index(KeyVersion::new(2), &bare);
        assert_eq!(index_version_label(Storage::Binary, Some(&bare)), "v1");
        assert_eq!(index_version_label(Storage::Binary, Some(&v2)), "v2");
        let hex: String = v2.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            index_version_label(Storage::Text, Some(hex.as_bytes())),
            "v2"
        );
        assert_eq!(index_version_label(Storage::Binary, None), "none");
        assert_eq!(index_version_label(Storage::Text, Some(b"")), "none");
        assert_eq!(
            index_version_label(Storage::Binary, Some(b"abc")),
            "invalid"
        );
    }
}
