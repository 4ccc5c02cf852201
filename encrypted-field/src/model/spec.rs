//! [`ModelSpec`], [`ColumnSpec`], [`BlindIndexSpec`]: plain values that describe where encrypted
//! values live, so that code with no knowledge of the model (rotation, the CLI) can rewrite them.

use std::borrow::Cow;
use std::fmt;

use crate::error::Error;
use crate::format::blind_index::Normalizer;
pub use crate::format::stored::Storage;
use crate::keys::ring::KeyRing;
use crate::model::SpecError;

type Name = Cow<'static, str>;

/// The SQL type family of a primary key, which decides how a generic routine binds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// An integer key (`INTEGER`, `BIGINT`, `SERIAL`, …), read as `i64`.
    Integer,
    /// A text key (`TEXT`, `VARCHAR`, …), read as `String`.
    Text,
}

/// One table with encrypted columns: its name, its primary key and the columns to rewrite.
///
/// `#[derive(EncryptedModel)]` builds one for each model; a tool that only learns the table at run
/// time (the CLI's `--table/--column/--primary-key`) builds one by hand and checks it with
/// [`validate`](Self::validate):
///
/// ```
/// use encrypted_field::model::{BlindIndexSpec, ColumnSpec, KeyKind, ModelSpec};
///
/// let spec = ModelSpec::new("customers", "id")
///     .column(ColumnSpec::binary("_ssn").nullable())
///     .column(ColumnSpec::binary("_phone").with_blind_index(BlindIndexSpec::binary("phone_bidx").with_builtin_normalizer("digits")?));
/// spec.validate()?;
/// assert_eq!(spec.primary_key_kind(), KeyKind::Integer);
/// assert_eq!(spec.columns()[0].context(), "customers._ssn");
///
/// let hostile = ModelSpec::new("customers; DROP TABLE customers", "id").column(ColumnSpec::text("email"));
/// assert!(hostile.validate().is_err());
/// # Ok::<(), encrypted_field::model::SpecError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    table: Name,
    primary_key: Name,
    primary_key_kind: KeyKind,
    columns: Vec<ColumnSpec>,
    rust_type: Option<Name>,
}

impl ModelSpec {
    /// A table and its primary-key column, with an integer key and no encrypted column yet.
    pub fn new(
        table: impl Into<Cow<'static, str>>,
        primary_key: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            table: table.into(),
            primary_key: primary_key.into(),
            primary_key_kind: KeyKind::Integer,
            columns: Vec::new(),
            rust_type: None,
        }
    }

    /// Sets the kind of the primary key (default [`KeyKind::Integer`]).
    pub fn with_primary_key_kind(mut self, kind: KeyKind) -> Self {
        self.primary_key_kind = kind;
        self
    }

    /// Names the Rust type this description comes from, for messages (the derive sets it).
    pub fn with_rust_type(mut self, rust_type: impl Into<Cow<'static, str>>) -> Self {
        self.rust_type = Some(rust_type.into());
        self
    }

    /// Adds an encrypted column. Its context becomes `table.column` unless one was set with
    /// [`ColumnSpec::with_context`].
    pub fn column(mut self, mut column: ColumnSpec) -> Self {
        if column.context.is_none() {
            column.context = Some(Cow::Owned(format!("{}.{}", self.table, column.column)));
        }
        self.columns.push(column);
        self
    }

    /// The table name, unquoted.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The primary-key column, unquoted.
    pub fn primary_key(&self) -> &str {
        &self.primary_key
    }

    /// The kind of the primary key.
    pub fn primary_key_kind(&self) -> KeyKind {
        self.primary_key_kind
    }

    /// The encrypted columns, in the order they were added.
    pub fn columns(&self) -> &[ColumnSpec] {
        &self.columns
    }

    /// The encrypted column with this name, if any.
    pub fn column_named(&self, column: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.column == column)
    }

    /// The Rust type the description was derived from (e.g. `app::models::Customer`), if known.
    pub fn rust_type(&self) -> Option<&str> {
        self.rust_type.as_deref()
    }

    /// The Rust type if known, else the table: how messages name this model.
    pub(crate) fn display_name(&self) -> &str {
        self.rust_type.as_deref().unwrap_or(&self.table)
    }

    /// Checks what generated SQL will rely on: every name is a plain identifier (ASCII letters,
    /// digits and `_`, not empty), there is at least one encrypted column, and no column is named
    /// twice or is also the primary key.
    pub fn validate(&self) -> Result<(), SpecError> {
        check_identifier("table", &self.table)?;
        check_identifier("primary key", &self.primary_key)?;
        if self.columns.is_empty() {
            return Err(SpecError::NoColumns {
                table: self.table.to_string(),
            });
        }
        let mut seen: Vec<&str> = vec![&self.primary_key];
        for column in &self.columns {
            check_identifier("column", &column.column)?;
            let blind = column.blind_index.as_ref().map(|b| &b.column);
            if let Some(blind) = blind {
                check_identifier("blind-index column", blind)?;
            }
            for name in std::iter::once(&column.column).chain(blind) {
                if seen.contains(&name.as_ref()) {
                    return Err(if *name == self.primary_key {
                        SpecError::ColumnIsPrimaryKey {
                            table: self.table.to_string(),
                            column: name.to_string(),
                        }
                    } else {
                        SpecError::DuplicateColumn {
                            table: self.table.to_string(),
                            column: name.to_string(),
                        }
                    });
                }
                seen.push(name);
            }
        }
        Ok(())
    }

    /// Adds the columns of `other` (the same table described by another model) to this one:
    /// a column both describe must be described identically.
    pub(crate) fn merge(&mut self, other: ModelSpec) -> Result<(), SpecError> {
        let conflict = |detail: String| SpecError::ConflictingModels {
            table: self.table.to_string(),
            first: self.display_name().to_owned(),
            second: other.display_name().to_owned(),
            detail,
        };
        if self.primary_key != other.primary_key {
            return Err(conflict(format!(
                "the primary key is `{}` in one and `{}` in the other",
                self.primary_key, other.primary_key
            )));
        }
        if self.primary_key_kind != other.primary_key_kind {
            return Err(conflict(
                "the primary key is an integer in one and text in the other".to_owned(),
            ));
        }
        let mut merged = self.clone();
        for column in &other.columns {
            match self.column_named(&column.column) {
                Some(existing) if existing == column => {}
                Some(existing) => return Err(conflict(existing.difference(column))),
                None => merged.columns.push(column.clone()),
            }
        }
        merged.validate()?;
        *self = merged;
        Ok(())
    }
}

/// One encrypted column: its name, how it stores the envelope, whether it may be NULL, the context
/// bound into its values and, optionally, the blind index kept beside it.
///
/// ```
/// use encrypted_field::model::{ColumnSpec, ModelSpec, Storage};
/// let spec = ModelSpec::new("phone_requests", "id").column(ColumnSpec::text("phone_number"));
/// let column = &spec.columns()[0];
/// assert_eq!(column.storage(), Storage::Text);
/// assert!(!column.is_nullable());
/// assert_eq!(column.context(), "phone_requests.phone_number");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    column: Name,
    storage: Storage,
    nullable: bool,
    context: Option<Name>,
    bound_to_row: bool,
    blind_index: Option<BlindIndexSpec>,
}

impl ColumnSpec {
    /// A NOT NULL column stored as `storage`.
    pub fn new(column: impl Into<Cow<'static, str>>, storage: Storage) -> Self {
        Self {
            column: column.into(),
            storage,
            nullable: false,
            context: None,
            bound_to_row: false,
            blind_index: None,
        }
    }

    /// A NOT NULL binary column (`BLOB`, `VARBINARY`, `BYTEA`) holding the envelope.
    pub fn binary(column: impl Into<Cow<'static, str>>) -> Self {
        Self::new(column, Storage::Binary)
    }

    /// A NOT NULL text column holding the standard base64 of the envelope.
    pub fn text(column: impl Into<Cow<'static, str>>) -> Self {
        Self::new(column, Storage::Text)
    }

    /// Marks the column as nullable: NULL stays NULL.
    pub fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }

    /// Binds another context than `table.column` into the values (for data written under another
    /// name; `""` for values sealed with no context).
    pub fn with_context(mut self, context: impl Into<Cow<'static, str>>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Binds each value to its row as well as its column (`#[encrypted(bind_row)]`): the context
    /// sealed into a value is the row-bound encoding of the column's context and the row's
    /// primary key (`FORMAT.md`, "Row-bound contexts"), which rotation, verification, status and
    /// migration compute for each row they read. A value copied into another row then fails to
    /// decrypt. Its blind index stays bound to the column alone, so equal values still match
    /// across rows.
    ///
    /// ```
    /// use encrypted_field::model::{ColumnSpec, ModelSpec};
    /// let spec = ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn").bound_to_row());
    /// assert!(spec.columns()[0].is_bound_to_row());
    /// assert_eq!(spec.columns()[0].context(), "customers._ssn");
    /// ```
    pub fn bound_to_row(mut self) -> Self {
        self.bound_to_row = true;
        self
    }

    /// Keeps a blind index of the plaintext in another column.
    pub fn with_blind_index(mut self, blind_index: BlindIndexSpec) -> Self {
        self.blind_index = Some(blind_index);
        self
    }

    /// The column name, unquoted.
    pub fn column(&self) -> &str {
        &self.column
    }

    /// How the column stores the envelope.
    pub fn storage(&self) -> Storage {
        self.storage
    }

    /// Whether the column may be NULL.
    pub fn is_nullable(&self) -> bool {
        self.nullable
    }

    /// The context bound into the column's values: `table.column` once the column is part of a
    /// [`ModelSpec`], unless set with [`with_context`](Self::with_context). Empty for a column
    /// not yet added to a model and given no context.
    pub fn context(&self) -> &str {
        self.context.as_deref().unwrap_or("")
    }

    /// Whether each value is bound to its row as well as its column (see
    /// [`bound_to_row`](Self::bound_to_row)).
    pub fn is_bound_to_row(&self) -> bool {
        self.bound_to_row
    }

    /// The blind index kept beside the column, if any.
    pub fn blind_index(&self) -> Option<&BlindIndexSpec> {
        self.blind_index.as_ref()
    }

    /// Says how `other`, a different description of the same column, differs from this one.
    fn difference(&self, other: &ColumnSpec) -> String {
        let column = &self.column;
        if self.storage != other.storage {
            format!(
                "column `{column}` is {} in one and {} in the other",
                self.storage, other.storage
            )
        } else if self.nullable != other.nullable {
            format!("column `{column}` is nullable in one and not in the other")
        } else if self.bound_to_row != other.bound_to_row {
            format!("column `{column}` is bound to its rows in one and not in the other")
        } else if self.context != other.context {
            format!(
                "column `{column}` binds context `{}` in one and `{}` in the other",
                self.context(),
                other.context()
            )
        } else {
            let describe = |b: Option<&BlindIndexSpec>| {
                b.map_or("no blind index".to_owned(), |b| {
                    format!(
                        "blind index `{}` ({}, normalized by `{}`)",
                        b.column, b.storage, b.normalizer_name
                    )
                })
            };
            format!(
                "column `{column}` has {} in one and {} in the other",
                describe(self.blind_index()),
                describe(other.blind_index())
            )
        }
    }
}

/// A blind index kept beside an encrypted column: the column it is stored in, how, and the
/// normalizer applied to the plaintext first. The index is computed under the encrypted column's
/// context (see [`KeyRing::blind_index`](crate::KeyRing::blind_index)).
///
/// Two descriptions are equal when their columns, storage and normalizer *names* are equal.
///
/// ```
/// use encrypted_field::model::{BlindIndexSpec, Storage};
/// let index = BlindIndexSpec::text("email_bidx").with_builtin_normalizer("lowercase")?;
/// assert_eq!(index.storage(), Storage::Text);
/// assert_eq!((index.normalizer())(" Ada@Example.org"), "ada@example.org");
/// assert!(BlindIndexSpec::text("email_bidx").with_builtin_normalizer("soundex").is_err());
/// # Ok::<(), encrypted_field::model::SpecError>(())
/// ```
#[derive(Clone)]
pub struct BlindIndexSpec {
    column: Name,
    storage: Storage,
    normalizer_name: Name,
    normalizer: Normalizer,
}

/// The normalizers known by name, for descriptions built at run time.
const BUILTIN_NORMALIZERS: [(&str, Normalizer); 3] = [
    ("exact", crate::format::blind_index::normalize::exact),
    ("digits", crate::format::blind_index::normalize::digits),
    (
        "lowercase",
        crate::format::blind_index::normalize::lowercase,
    ),
];

impl BlindIndexSpec {
    /// An index stored as `storage` in `column`, with the [`exact`](crate::normalize::exact)
    /// normalizer.
    pub fn new(column: impl Into<Cow<'static, str>>, storage: Storage) -> Self {
        Self {
            column: column.into(),
            storage,
            normalizer_name: Cow::Borrowed("exact"),
            normalizer: crate::format::blind_index::normalize::exact,
        }
    }

    /// An index stored as 32 raw bytes.
    pub fn binary(column: impl Into<Cow<'static, str>>) -> Self {
        Self::new(column, Storage::Binary)
    }

    /// An index stored as 64 lowercase hex digits.
    pub fn text(column: impl Into<Cow<'static, str>>) -> Self {
        Self::new(column, Storage::Text)
    }

    /// Uses `normalizer`, known in messages and comparisons as `name`.
    pub fn with_normalizer(
        mut self,
        name: impl Into<Cow<'static, str>>,
        normalizer: Normalizer,
    ) -> Self {
        self.normalizer_name = name.into();
        self.normalizer = normalizer;
        self
    }

    /// Uses a normalizer of [`normalize`](crate::normalize) by name: `exact`, `digits` or
    /// `lowercase`.
    pub fn with_builtin_normalizer(self, name: &str) -> Result<Self, SpecError> {
        match BUILTIN_NORMALIZERS.iter().find(|(known, _)| *known == name) {
            Some((known, normalizer)) => Ok(self.with_normalizer(*known, *normalizer)),
            None => Err(SpecError::UnknownNormalizer {
                name: name.to_owned(),
            }),
        }
    }

    /// The column the index is stored in, unquoted.
    pub fn column(&self) -> &str {
        &self.column
    }

    /// How the index is stored.
    pub fn storage(&self) -> Storage {
        self.storage
    }

    /// The normalizer's name (`digits`, or the path of a custom one).
    pub fn normalizer_name(&self) -> &str {
        &self.normalizer_name
    }

    /// The normalizer applied to the plaintext before indexing.
    pub fn normalizer(&self) -> Normalizer {
        self.normalizer
    }

    /// What this index's column stores for `plaintext` of the encrypted column whose context is
    /// `context`: exactly what the derive's setter writes (the normalizer, then the ring's
    /// blind-index key; 32 bytes, or 64 lowercase hex digits for text storage). Fails when the
    /// plaintext is not UTF-8 or the ring has no blind-index key.
    ///
    /// ```
    /// use encrypted_field::model::BlindIndexSpec;
    /// use encrypted_field::{BlindIndexKey, KeyRing, MasterKey, normalize};
    ///
    /// let ring = KeyRing::builder()
    ///     .key(1, MasterKey::generate())
    ///     .blind_index_key(BlindIndexKey::new(MasterKey::generate()))
    ///     .build()?;
    /// let index = BlindIndexSpec::text("phone_bidx").with_builtin_normalizer("digits")?;
    /// let stored = index.stored_value(&ring, "phone_requests.phone_number", b"+1 (555) 010-0100")?;
    /// let computed = ring.blind_index("phone_requests.phone_number", "15550100100", normalize::exact)?;
    /// assert_eq!(stored, computed.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stored_value(
        &self,
        ring: &KeyRing,
        context: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        crate::codec::blind_index(ring, self.storage, context, plaintext, self.normalizer)
    }
}

impl PartialEq for BlindIndexSpec {
    fn eq(&self, other: &Self) -> bool {
        self.column == other.column
            && self.storage == other.storage
            && self.normalizer_name == other.normalizer_name
    }
}

impl Eq for BlindIndexSpec {}

impl fmt::Debug for BlindIndexSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndexSpec")
            .field("column", &self.column)
            .field("storage", &self.storage)
            .field("normalizer", &self.normalizer_name)
            .finish()
    }
}

/// Refuses anything but a plain identifier: generated SQL quotes identifiers, and this keeps
/// quoting trivially correct on every backend.
fn check_identifier(role: &'static str, name: &str) -> Result<(), SpecError> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(SpecError::InvalidIdentifier {
            role,
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customers() -> ModelSpec {
        ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn").nullable())
    }

    #[test]
    fn columns_get_table_dot_column_context_unless_overridden() {
        let spec = customers().column(ColumnSpec::text("note").with_context(""));
        assert_eq!(spec.columns()[0].context(), "customers._ssn");
        assert_eq!(spec.columns()[1].context(), "");
    }

    #[test]
    fn identifiers_are_letters_digits_and_underscores() {
        for bad in ["", "a b", "a-b", "t\"", "a.b", "é"] {
            let err = ModelSpec::new(bad, "id")
                .column(ColumnSpec::binary("c"))
                .validate()
                .unwrap_err();
            assert!(
                matches!(err, SpecError::InvalidIdentifier { role: "table", .. }),
                "{bad:?}"
            );
        }
        let spec = ModelSpec::new("t", "id")
            .column(ColumnSpec::binary("c").with_blind_index(BlindIndexSpec::binary("c idx")));
        assert!(matches!(
            spec.validate(),
            Err(SpecError::InvalidIdentifier {
                role: "blind-index column",
                ..
            })
        ));
    }

    #[test]
    fn a_spec_without_columns_is_invalid() {
        assert!(matches!(
            ModelSpec::new("t", "id").validate(),
            Err(SpecError::NoColumns { .. })
        ));
    }

    #[test]
    fn a_column_named_twice_or_as_the_primary_key_is_invalid() {
        let twice = customers()
            .column(ColumnSpec::binary("_phone").with_blind_index(BlindIndexSpec::binary("_ssn")));
        assert!(matches!(
            twice.validate(),
            Err(SpecError::DuplicateColumn { .. })
        ));
        let key = ModelSpec::new("t", "id").column(ColumnSpec::binary("id"));
        assert!(matches!(
            key.validate(),
            Err(SpecError::ColumnIsPrimaryKey { .. })
        ));
    }

    #[test]
    fn merging_adds_missing_columns_and_accepts_identical_ones() {
        let mut spec = customers();
        spec.merge(customers().column(ColumnSpec::text("_email")))
            .unwrap();
        let names: Vec<_> = spec.columns().iter().map(ColumnSpec::column).collect();
        assert_eq!(names, ["_ssn", "_email"]);
    }

    #[test]
    fn merging_refuses_a_column_described_differently() {
        let mut spec = customers().with_rust_type("app::Customer");
        let other = ModelSpec::new("customers", "id")
            .with_rust_type("app::CustomerText")
            .column(ColumnSpec::text("_ssn").nullable());
        let err = spec.merge(other).unwrap_err();
        assert_eq!(
            err.to_string(),
            "app::Customer and app::CustomerText describe table `customers` differently: \
             column `_ssn` is binary in one and text in the other"
        );
        assert_eq!(
            spec,
            customers().with_rust_type("app::Customer"),
            "a failed merge changes nothing"
        );
    }

    #[test]
    fn merging_refuses_another_primary_key() {
        let mut spec = customers();
        let other = ModelSpec::new("customers", "uuid").with_primary_key_kind(KeyKind::Text);
        assert!(matches!(
            spec.merge(other),
            Err(SpecError::ConflictingModels { .. })
        ));
    }

    #[test]
    fn blind_indexes_compare_by_normalizer_name() {
        let digits = BlindIndexSpec::binary("b")
            .with_builtin_normalizer("digits")
            .unwrap();
        assert_eq!(
            digits,
            BlindIndexSpec::binary("b")
                .with_normalizer("digits", crate::format::blind_index::normalize::digits)
        );
        assert_ne!(digits, BlindIndexSpec::binary("b"));
        assert_eq!(
            format!("{digits:?}"),
            r#"BlindIndexSpec { column: "b", storage: Binary, normalizer: "digits" }"#
        );
    }
}
