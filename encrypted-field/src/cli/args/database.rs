//! Where the database is and which of its columns are encrypted, and the options every pass that
//! writes shares.

use std::path::PathBuf;

use crate::cli::models::{ColumnArg, PrimaryKeyArg};
use crate::rotation::DEFAULT_BATCH_SIZE;

/// Where the database is, and which of its columns are encrypted.
#[derive(Clone, Default, clap::Args)]
pub struct DatabaseArgs {
    /// The database: sqlite://PATH (or a bare PATH), mysql://USER:PASSWORD@HOST/DB or
    /// postgres://USER:PASSWORD@HOST/DB [default: $DATABASE_URL].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Read the encrypted models from a TOML file: one `[[model]]` (table, primary_key,
    /// primary_key_type) per table, one `[[model.column]]` (name, storage, nullable, context,
    /// blind_index = { column, storage, normalizer }) per column.
    #[arg(long, value_name = "FILE")]
    pub models: Option<PathBuf>,
    /// An encrypted column, as TABLE.COLUMN: its values are the bytes of the envelope (a BLOB,
    /// VARBINARY or BYTEA column); add `:text` for base64 in a TEXT column and `:nullable` if it
    /// may be NULL, e.g. `customers._ssn:nullable`. A blind index beside it: `:bidx=COLUMN` (32
    /// bytes) or `:bidx-text=COLUMN` (hex), with `:normalize=exact|digits|lowercase` (the
    /// application's normalizer; default exact). Repeatable. Added to the application's models
    /// when the tool is embedded.
    #[arg(
        long = "column",
        value_name = "TABLE.COLUMN[:text][:nullable][:bidx=COLUMN][:normalize=NAME]"
    )]
    pub columns: Vec<ColumnArg>,
    /// The primary key of a table named by --column, when it is not `id` (an integer):
    /// TABLE=COLUMN, or TABLE=COLUMN:text for a text key. Repeatable.
    #[arg(long = "primary-key", value_name = "TABLE=COLUMN[:text]")]
    pub primary_keys: Vec<PrimaryKeyArg>,
}

impl std::fmt::Debug for DatabaseArgs {
    /// The URL is shown with its password redacted: embedding applications log their commands.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field(
                "database_url",
                &self
                    .database_url
                    .as_deref()
                    .map(crate::rotation::database::redact),
            )
            .field("models", &self.models)
            .field("columns", &self.columns)
            .field("primary_keys", &self.primary_keys)
            .finish()
    }
}

/// The options of a pass that writes: `rotate` and `migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct WriteArgs {
    /// Write nothing; report what would change.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed when stdin is not a terminal, e.g. in cron).
    #[arg(long)]
    pub force: bool,
    /// Rows read and written per batch (one transaction each).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE, value_parser = parse_batch_size)]
    pub batch_size: usize,
    /// Write a key backup (encryption_key_{timestamp}.json, mode 0600, directory 0700) into DIR
    /// first; keep it apart from database backups [default: $ENCRYPTED_FIELD_BACKUP_DIR].
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Print the report as JSON (and draw no progress bar).
    #[arg(long)]
    pub json: bool,
}

/// A `--batch-size`: a positive number of rows.
pub(super) fn parse_batch_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{text}` is not a positive number of rows")),
    }
}
