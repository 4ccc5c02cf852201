//! Keys, sealed values and what a scenario expects of them: plaintexts per row, versions, and the
//! counts of a report.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use encrypted_field::model::{KeyKind, Storage};
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::rotation::{ColumnReport, RotationReport};
use encrypted_field::{KeyRing, MasterKey};

use super::{Table, read_column};

/// The keys of a test: v1 (the old key) and v2 (the new one), and v3 for a later rotation.
#[derive(Debug, Clone)]
pub struct Keys {
    v1: MasterKey,
    v2: MasterKey,
    v3: MasterKey,
}

impl Keys {
    pub fn generate() -> Self {
        Self {
            v1: MasterKey::generate(),
            v2: MasterKey::generate(),
            v3: MasterKey::generate(),
        }
    }

    /// The ring before the rotation: v1 only.
    pub fn ring_v1(&self) -> KeyRing {
        KeyRing::builder().key(1, self.v1.clone()).build().unwrap()
    }

    /// The ring of the rotation: v1 and v2, v2 active.
    pub fn ring_v2(&self) -> KeyRing {
        KeyRing::builder()
            .key(1, self.v1.clone())
            .key(2, self.v2.clone())
            .build()
            .unwrap()
    }

    /// A later ring: v1, v2 and v3, v3 active.
    pub fn ring_v3(&self) -> KeyRing {
        KeyRing::builder()
            .key(1, self.v1.clone())
            .key(2, self.v2.clone())
            .key(3, self.v3.clone())
            .build()
            .unwrap()
    }
}

/// What a column stores for `plaintext` sealed with `ring`'s active key under `context`.
pub fn seal(ring: &KeyRing, storage: Storage, context: &str, plaintext: &[u8]) -> Vec<u8> {
    let envelope = ring.encrypt_with_context(plaintext, context);
    match storage {
        Storage::Binary => envelope,
        _ => STANDARD.encode(envelope).into_bytes(),
    }
}

/// The envelope a stored value holds.
pub fn envelope(storage: Storage, stored: &[u8]) -> Vec<u8> {
    match storage {
        Storage::Binary => stored.to_vec(),
        _ => STANDARD.decode(stored).unwrap(),
    }
}

/// Opens a stored value.
pub fn open(
    ring: &KeyRing,
    storage: Storage,
    context: &str,
    stored: &[u8],
) -> encrypted_field::Result<Vec<u8>> {
    ring.decrypt_with_context(&envelope(storage, stored), context)
}

/// The key version of a stored value.
pub fn version(storage: Storage, stored: &[u8]) -> u32 {
    let ring = Keys::generate().ring_v1();
    ring.version_of(&envelope(storage, stored)).unwrap().get()
}

/// The report of `column` of `table`.
pub fn column_report<'r>(
    report: &'r RotationReport,
    table: &str,
    column: &str,
) -> &'r ColumnReport {
    report
        .models
        .iter()
        .find(|m| m.table == table)
        .and_then(|m| m.columns.iter().find(|c| c.column == column))
        .unwrap_or_else(|| panic!("no report for {table}.{column} in {report:#?}"))
}

/// The counts of a [`ColumnReport`], comparable in one assertion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: u64,
    pub null: u64,
    pub unchanged: u64,
    pub rewritten: u64,
    pub changed_concurrently: u64,
    pub failed: u64,
}

impl Counts {
    pub fn of(report: &ColumnReport) -> Self {
        Self {
            rows: report.rows,
            null: report.null,
            unchanged: report.unchanged,
            rewritten: report.rewritten,
            changed_concurrently: report.changed_concurrently,
            failed: report.failed,
        }
    }
}

/// The top-level counts must be the sums of the per-column counts.
pub fn assert_totals_match_columns(report: &RotationReport) {
    let columns = || report.models.iter().flat_map(|m| &m.columns);
    assert_eq!(
        report.records_processed,
        columns().map(|c| c.rows - c.null).sum::<u64>(),
        "records_processed"
    );
    assert_eq!(
        report.records_rewritten,
        columns().map(|c| c.rewritten).sum::<u64>(),
        "records_rewritten"
    );
    assert_eq!(
        report.records_changed_concurrently,
        columns().map(|c| c.changed_concurrently).sum::<u64>(),
        "records_changed_concurrently"
    );
    assert_eq!(
        report.failed_records,
        columns().map(|c| c.failed).sum::<u64>(),
        "failed_records"
    );
}

/// An encrypted column of a test table (keyed by `id`) and the plaintext each row should hold.
#[derive(Debug)]
pub struct Expected<'t> {
    pub table: &'t Table,
    pub column: &'static str,
    pub storage: Storage,
    pub key_kind: KeyKind,
    pub plaintexts: BTreeMap<PrimaryKey, Option<Vec<u8>>>,
}

impl<'t> Expected<'t> {
    pub fn new(
        table: &'t Table,
        column: &'static str,
        storage: Storage,
        key_kind: KeyKind,
    ) -> Self {
        Self {
            table,
            column,
            storage,
            key_kind,
            plaintexts: BTreeMap::new(),
        }
    }

    /// The column's context.
    pub fn context(&self) -> String {
        self.table.context(self.column)
    }

    /// What the column stores now, by key.
    pub fn stored(&self, db: &mut Database) -> BTreeMap<PrimaryKey, Option<Vec<u8>>> {
        read_column(
            db,
            self.table,
            "id",
            self.key_kind,
            self.column,
            self.storage,
        )
    }

    /// Every row is there; NULLs are NULL; every other value is on `version` and opens to its
    /// plaintext with `ring`.
    pub fn assert_all_on(&self, db: &mut Database, ring: &KeyRing, version_number: u32) {
        let stored = self.stored(db);
        assert_eq!(
            stored.keys().collect::<Vec<_>>(),
            self.plaintexts.keys().collect::<Vec<_>>(),
            "rows of {}.{}",
            self.table.name,
            self.column
        );
        self.assert_rows_on(db, ring, version_number);
    }

    /// Every listed row opens to its plaintext with `ring`, whatever its version.
    pub fn assert_rows_on_any_version(&self, db: &mut Database, ring: &KeyRing) {
        self.check_rows(db, ring, None);
    }

    /// Like [`assert_all_on`](Self::assert_all_on), for the rows listed only.
    pub fn assert_rows_on(&self, db: &mut Database, ring: &KeyRing, version_number: u32) {
        self.check_rows(db, ring, Some(version_number));
    }

    fn check_rows(&self, db: &mut Database, ring: &KeyRing, version_number: Option<u32>) {
        let stored = self.stored(db);
        for (key, plaintext) in &self.plaintexts {
            let at = format!("{}.{} id={key}", self.table.name, self.column);
            match (plaintext, &stored[key]) {
                (None, None) => {}
                (Some(plaintext), Some(value)) => {
                    if let Some(version_number) = version_number {
                        assert_eq!(version(self.storage, value), version_number, "{at}");
                    }
                    assert_eq!(
                        &open(ring, self.storage, &self.context(), value)
                            .unwrap_or_else(|e| panic!("{at}: {e}")),
                        plaintext,
                        "{at}"
                    );
                }
                (expected, found) => panic!("{at}: expected {expected:?}, found {found:?}"),
            }
        }
    }
}
