//! The arguments of the passes over a database's encrypted columns: `rotate`, `verify`,
//! `status`, `migrate` and `reindex`.

use std::path::PathBuf;

use clap::ValueEnum;

use super::counts::parse_batch_size;
use super::{
    DatabaseArgs, KeySourceArgs, LeaseArgs, PacingArgs, StagingArgs, WorkersArgs, WriteArgs,
};
use crate::format::legacy::LegacyFormat;
use crate::rotation::{DEFAULT_BATCH_SIZE, RotationPeriod};

/// Arguments of `rotate`.
#[derive(Debug, Clone, clap::Args)]
pub struct RotateArgs {
    /// The database and its encrypted columns.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Where the keys come from.
    #[command(flatten)]
    pub keys: KeySourceArgs,
    /// Dry run, confirmation, batch size, key backup, JSON.
    #[command(flatten)]
    pub write: WriteArgs,
    /// First generate the next key version in the keys directory (--keys-dir or
    /// $ENCRYPTED_FIELD_KEYS_DIR) and back it up (needs --backup-dir); then activate it in
    /// stages: wait until every running instance of the application (encrypted_field::fleet)
    /// has loaded it, record it active in the database, wait until every one seals with it;
    /// then rewrite every value with it.
    #[arg(long, conflicts_with = "key_file")]
    pub new_key: bool,
    /// With --new-key: store the new key wrapped by this key-encryption key (`aws-kms://…`,
    /// `pkcs11:…`), as enc_key_vN.wrapped; the key backup holds the wrapped form.
    /// Not with --blind-index.
    #[arg(
        long,
        value_name = "URI",
        requires = "new_key",
        conflicts_with = "blind_index"
    )]
    pub wrap_with: Option<String>,
    /// The waits of --new-key's activation.
    #[command(flatten)]
    pub staging: StagingArgs,
    /// Rotate only if the active key was activated more than PERIOD ago (as recorded in the
    /// database); otherwise print when it is due and exit 0. For a daily cron job, systemd timer
    /// or Kubernetes CronJob.
    #[arg(long, value_name = "PERIOD")]
    pub if_due: Option<Period>,
    /// Rotate the blind indexes instead of the values: recompute every blind index from its
    /// decrypted value with the active blind-index key (the version the database records, else
    /// $ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION or the keys directory's
    /// active_blind_index_version file, else the highest loaded), compare-and-swap on the
    /// value, as `reindex` does. Lookups match every loaded blind-index version meanwhile. With
    /// --new-key: first generate the next blind-index key (`bidx_key_vN`, backed up into
    /// --backup-dir) and activate it in the same stages as a value key (--wait,
    /// --force-activate), then recompute the indexes with it.
    #[arg(long, conflicts_with_all = ["if_due"])]
    pub blind_index: bool,
}

/// Arguments of `verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The database and its encrypted columns.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Where the keys come from.
    #[command(flatten)]
    pub keys: KeySourceArgs,
    /// Rows read per batch.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE, value_parser = parse_batch_size)]
    pub batch_size: usize,
    /// Print the report as JSON (and draw no progress bar).
    #[arg(long)]
    pub json: bool,
    /// With --workers: the rotation lease a parallel verification holds (one pass at a time).
    #[command(flatten)]
    pub lease: LeaseArgs,
    /// Parallel workers.
    #[command(flatten)]
    pub workers: WorkersArgs,
}

/// Arguments of `status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The database and its encrypted columns.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Rows read per batch.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE, value_parser = parse_batch_size)]
    pub batch_size: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// The database and its encrypted columns.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Where the keys come from (the new values are sealed with the active key).
    #[command(flatten)]
    pub keys: KeySourceArgs,
    /// Dry run, confirmation, batch size, key backup, JSON.
    #[command(flatten)]
    pub write: WriteArgs,
    /// The format the columns hold now.
    #[arg(long, value_name = "FORMAT", required_unless_present_any = ["undo", "finalize"])]
    pub from: Option<MigrationSource>,
    /// The key of the legacy system (needed for fernet and node-cbc): a Fernet key, or the
    /// Node backend's base64 key file (e.g. its Docker secret enc_key.txt).
    #[arg(
        long,
        value_name = "FILE",
        required_if_eq_any = [("from", "fernet"), ("from", "node-cbc")]
    )]
    pub legacy_key_file: Option<PathBuf>,
    /// Every legacy plaintext must match REGEX as a whole (e.g. '\+?[0-9 ()-]{7,20}' for phone
    /// numbers); checked before anything is written, for every format.
    #[arg(long, value_name = "REGEX", conflicts_with_all = ["undo", "finalize"])]
    pub expect: Option<String>,
    /// Accept legacy plaintexts that are not UTF-8 text (binary values): by default a node-cbc
    /// value that decrypts to anything but text (tab, CR and LF are the only control characters
    /// allowed) refuses the migration, since a wrong key decrypts to such garbage.
    #[arg(long, conflicts_with_all = ["undo", "finalize"])]
    pub plaintext_bytes: bool,
    /// Put back the legacy bytes a migration replaced (kept in encrypted_field_legacy_values),
    /// where the column still holds what the migration wrote; rows changed since are listed and
    /// left alone.
    #[arg(long, conflicts_with_all = ["from", "finalize"])]
    pub undo: bool,
    /// Verify every value of the columns, then delete the legacy bytes kept for them (refused,
    /// exit 1, if verification fails).
    #[arg(long, conflicts_with_all = ["from", "undo"])]
    pub finalize: bool,
}

/// Arguments of `reindex`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReindexArgs {
    /// The database and its encrypted columns (those with a blind index are reindexed).
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Where the keys come from (the blind-index key from DB_BLIND_INDEX_KEY_FILE or
    /// DB_BLIND_INDEX_KEY).
    #[command(flatten)]
    pub keys: KeySourceArgs,
    /// Write nothing; report how many blind indexes would be rewritten.
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
    /// Print the report as JSON (and draw no progress bar).
    #[arg(long)]
    pub json: bool,
    /// The rotation lease: its time to live, and how long to wait for another run's.
    #[command(flatten)]
    pub lease: LeaseArgs,
    /// Parallel workers.
    #[command(flatten)]
    pub workers: WorkersArgs,
}

/// What `migrate --from` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum MigrationSource {
    /// Values not encrypted yet (the column holds the plaintext).
    Plaintext,
    /// Fernet tokens: the Django module.
    Fernet,
    /// `hex(iv):hex(ciphertext)` AES-256-CBC: the Node backend.
    NodeCbc,
}

impl From<MigrationSource> for LegacyFormat {
    fn from(source: MigrationSource) -> Self {
        match source {
            MigrationSource::Plaintext => Self::Plaintext,
            MigrationSource::Fernet => Self::Fernet,
            MigrationSource::NodeCbc => Self::NodeCbc,
        }
    }
}

/// How often `rotate --if-due` rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum Period {
    /// Every day.
    Daily,
    /// Every 7 days.
    Weekly,
    /// Every 30 days.
    Monthly,
}

impl From<Period> for RotationPeriod {
    fn from(period: Period) -> Self {
        match period {
            Period::Daily => Self::Daily,
            Period::Weekly => Self::Weekly,
            Period::Monthly => Self::Monthly,
        }
    }
}
