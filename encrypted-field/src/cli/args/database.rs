//! Where the database is and which of its columns are encrypted, and the options every pass that
//! writes shares.

use std::path::PathBuf;
use std::time::Duration;

use super::counts::parse_batch_size;
use crate::cli::CliError;
use crate::cli::models::{ColumnArg, PrimaryKeyArg};
use crate::rotation::{DEFAULT_BATCH_SIZE, LEASE_TTL_VAR, MIN_LEASE_TTL, Pacing, Rotation};

/// Where the database is, and which of its columns are encrypted.
#[derive(Clone, Default, clap::Args)]
pub struct DatabaseArgs {
    /// The database: sqlite://PATH (or a bare PATH), mysql://USER:PASSWORD@HOST/DB or
    /// postgres://USER:PASSWORD@HOST/DB [default: $DATABASE_URL].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Read the encrypted models from a TOML file: one `[[model]]` (table, primary_key,
    /// primary_key_type) per table, one `[[model.column]]` (name, storage, nullable, bind_row,
    /// context, blind_index = { column, storage, normalizer }) per column.
    #[arg(long, value_name = "FILE")]
    pub models: Option<PathBuf>,
    /// An encrypted column, as TABLE.COLUMN: its values are the bytes of the envelope (a BLOB,
    /// VARBINARY or BYTEA column); add `:text` for base64 in a TEXT column and `:nullable` if it
    /// may be NULL, e.g. `customers._ssn:nullable`; `:bind-row` when its values are bound to
    /// their rows (`#[encrypted(bind_row)]`). A blind index beside it: `:bidx=COLUMN` (32
    /// bytes) or `:bidx-text=COLUMN` (hex), with `:normalize=exact|digits|lowercase` (the
    /// application's normalizer; default exact). Repeatable. Added to the application's models
    /// when the tool is embedded.
    #[arg(
        long = "column",
        value_name = "TABLE.COLUMN[:text][:nullable][:bind-row][:bidx=COLUMN][:normalize=NAME]"
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
    /// The most rows read and written per batch (one transaction each).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE, value_parser = parse_batch_size)]
    pub batch_size: usize,
    /// How batches are sized by time and paced.
    #[command(flatten)]
    pub pacing: PacingArgs,
    /// Write a key backup (encryption_key_{timestamp}.json, mode 0600, directory 0700) into DIR
    /// first; keep it apart from database backups [default: $ENCRYPTED_FIELD_BACKUP_DIR].
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Print the report as JSON (and draw no progress bar).
    #[arg(long)]
    pub json: bool,
    /// The rotation lease: its time to live, and how long to wait for another run's.
    #[command(flatten)]
    pub lease: LeaseArgs,
    /// Parallel workers.
    #[command(flatten)]
    pub workers: super::WorkersArgs,
}

/// How a writing pass takes the database's rotation lease (a row of encrypted_field_leases that
/// one run at a time holds, renewed with every batch).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LeaseArgs {
    /// How long the rotation lease lasts unless renewed, by the database's clock: how long a
    /// killed run keeps the next one out (`60s`, `5m`; at least 1s; every batch must take less)
    /// [default: $ENCRYPTED_FIELD_LEASE_TTL, else 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_lease_ttl)]
    pub lease_ttl: Option<Duration>,
    /// When another run holds the lease, wait up to DURATION for it to end (or for a killed
    /// run's lease to expire) instead of exiting at once (`10m`; default: do not wait).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_for_lock: Option<Duration>,
}

impl LeaseArgs {
    /// `rotation` with these lease settings (`--lease-ttl`, else `$ENCRYPTED_FIELD_LEASE_TTL`).
    pub fn apply<'a>(&self, rotation: Rotation<'a>) -> Result<Rotation<'a>, CliError> {
        let ttl = match self.lease_ttl {
            Some(ttl) => Some(ttl),
            None => match std::env::var(LEASE_TTL_VAR) {
                Ok(text) => Some(
                    parse_lease_ttl(&text)
                        .map_err(|e| CliError::usage(format!("{LEASE_TTL_VAR}: {e}")))?,
                ),
                Err(_) => None,
            },
        };
        let rotation = match ttl {
            Some(ttl) => rotation.lease_ttl(ttl),
            None => rotation,
        };
        Ok(rotation.wait_for_lease(self.wait_for_lock.unwrap_or_default()))
    }
}

/// A `--lease-ttl`: a duration of at least [`MIN_LEASE_TTL`].
fn parse_lease_ttl(text: &str) -> Result<Duration, String> {
    let ttl = parse_duration(text)?;
    if ttl < MIN_LEASE_TTL {
        return Err(format!(
            "`{text}` is shorter than the shortest lease, {}",
            humantime::format_duration(MIN_LEASE_TTL)
        ));
    }
    Ok(ttl)
}

/// How a writing pass sizes its batches by time and yields to the application between them.
#[derive(Debug, Clone, clap::Args)]
pub struct PacingArgs {
    /// Size batches so that each write transaction lasts about this long (`50ms`, `0.2s`; `0`
    /// writes fixed batches of --batch-size rows): short transactions keep the application's
    /// writes from waiting on rotation's locks.
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = parse_duration)]
    pub batch_time: Duration,
    /// After each batch, pause for this multiple of its write transaction's time (0 = never;
    /// at most 1 s a pause), leaving the application a window to take the locks [default: 0.5
    /// on SQLite, whose one write lock stops every writer; 0.1 on MySQL and PostgreSQL].
    #[arg(long, value_name = "RATIO", value_parser = parse_pause_ratio)]
    pub pause_ratio: Option<f64>,
}

impl PacingArgs {
    /// The pacing these options ask for, with batches of at most `max_rows` rows.
    pub fn pacing(&self, max_rows: usize) -> Pacing {
        let pacing = Pacing::default()
            .with_max_rows(max_rows)
            .with_transaction_time(self.batch_time);
        match self.pause_ratio {
            Some(ratio) => pacing.with_pause_ratio(ratio),
            None => pacing,
        }
    }
}

/// A `--batch-time`: a duration as humantime reads it (`50ms`), or `0`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration like 50ms: {e}"))
}

/// A `--pause-ratio`: a finite number, zero or more.
fn parse_pause_ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err(format!(
            "`{text}` is not a ratio of zero or more (like 0.5)"
        )),
    }
}
