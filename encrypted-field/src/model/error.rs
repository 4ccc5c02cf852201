//! [`SpecError`]: a model description that generated SQL cannot rely on.

/// A [`ModelSpec`](super::ModelSpec) that is not usable, or two that contradict each other.
///
/// `#[derive(EncryptedModel)]` rejects all of these at compile time; they reach run time only
/// through descriptions built by hand (e.g. from the CLI's `--table/--column`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A table or column name that is not a plain identifier.
    #[error("invalid {role} name `{name}`: use ASCII letters, digits and `_` only")]
    InvalidIdentifier {
        /// What the name was for: `table`, `primary key`, `column` or `blind-index column`.
        role: &'static str,
        /// The name as given.
        name: String,
    },

    /// A model with no encrypted column.
    #[error("model for table `{table}` has no encrypted column")]
    NoColumns {
        /// The table.
        table: String,
    },

    /// The same column is described twice (two encrypted columns, or one also holding a blind
    /// index).
    #[error("column `{column}` of table `{table}` is described twice")]
    DuplicateColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },

    /// The primary key is also named as an encrypted or blind-index column.
    #[error(
        "column `{column}` of table `{table}` is its primary key: rows are found by their key, so it cannot be \
         encrypted or hold a blind index"
    )]
    ColumnIsPrimaryKey {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },

    /// A blind-index normalizer name that is not built in.
    #[error("unknown normalizer `{name}`: expected `exact`, `digits` or `lowercase`")]
    UnknownNormalizer {
        /// The name as given.
        name: String,
    },

    /// Two models describe the same table in contradictory ways.
    #[error("{first} and {second} describe table `{table}` differently: {detail}")]
    ConflictingModels {
        /// The table.
        table: String,
        /// The model registered first (its Rust type, or the table name).
        first: String,
        /// The model registered second.
        second: String,
        /// What differs.
        detail: String,
    },
}
