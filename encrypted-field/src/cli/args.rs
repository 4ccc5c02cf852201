//! The command line, as `clap` derive types: parsing only, no work.
//!
//! [`Command`] is a `clap::Subcommand` that carries every argument it needs, so an application can
//! nest it in its own parser and hand it to [`Cli::execute`](super::Cli::execute).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::KeyVersion;
#[cfg(feature = "_database")]
use crate::cli::{DatabaseArgs, MigrateArgs, ReindexArgs, RotateArgs, StatusArgs, VerifyArgs};

/// The `encrypted-field` command line: one subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "encrypted-field",
    version,
    about = "Field-level encryption at rest: keys, single values, and key rotation of a database",
    after_help = "Exit status: 0 success, 1 a value failed to decrypt (or a rotation, migration or \
                  verification completed with failures), 2 bad usage or configuration.\n\
                  Keys come from ENCRYPTED_FIELD_KEYS_DIR, DB_ENCRYPTION_KEY_FILE or DB_ENCRYPTION_KEY \
                  (the first that is set), unless --keys-dir or --key-file is given. The database is \
                  --database-url or DATABASE_URL."
)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Print a new random key as base64, exactly like `openssl rand -base64 32`.
    Keygen(KeygenArgs),
    /// List, add, activate and retire the versioned keys of a keys directory.
    Keys(KeysArgs),
    /// Encrypt stdin into one format-v1 value on stdout.
    #[command(long_about = "Encrypt stdin into one format-v1 value on stdout.\n\n\
        The whole of stdin is the plaintext, byte for byte (a trailing newline included: use \
        `printf %s` rather than `echo` to leave it out). The value is sealed with the active key.\n\n\
        Output: the standard base64 of the value and a newline, as a TEXT column stores it; \
        --binary writes the raw value bytes instead, as a BLOB / BYTEA column stores them.")]
    Encrypt(EncryptArgs),
    /// Decrypt one value from stdin to stdout.
    #[command(long_about = "Decrypt one value from stdin to stdout.\n\n\
        Input: the standard base64 of a format-v1 value (white space ignored), as `encrypt` prints \
        it; --binary reads the raw value bytes instead. The plaintext is written byte for byte.\n\n\
        With --from fernet|node-cbc and --key-file FILE it reads one legacy value instead: a Fernet \
        token (the Django module) or hex(iv):hex(ciphertext) (the Node backend), with that \
        system's key.")]
    Decrypt(DecryptArgs),
    /// Re-encrypt every value that is not on the active key (optionally with a new key first).
    #[cfg(feature = "_database")]
    #[command(
        long_about = "Re-encrypt every value that is not on the active key.\n\n\
        Online: rows are read in primary-key order in batches; each batch is one transaction, and a \
        row is written only if it still holds the value read, so the application keeps running. \
        Crash-safe: kill it at any instant and run it again to finish. One rotation at a time per \
        database (a lock in the database itself). After the rewrite every value is verified.\n\n\
        With --new-key it first generates the next key version in the keys directory, writes the key \
        backup into --backup-dir, and activates the new key.\n\n\
        --if-due daily|weekly|monthly rotates only when the active key was activated longer ago than \
        that (as recorded in the database's encrypted_field_metadata table); otherwise it prints when \
        the rotation is due and exits 0. Run `rotate --new-key --if-due monthly --force` daily from \
        cron, a systemd timer or a Kubernetes CronJob.\n\n\
        Without --force it asks for confirmation, and refuses when stdin is not a terminal.\n\
        Exit status: 0 completed, 1 completed with failures (values that could not be read are \
        listed and left untouched), 2 bad usage or configuration, or another rotation is running."
    )]
    Rotate(RotateArgs),
    /// Decrypt every value; report what does not decrypt or is not on the active key.
    #[cfg(feature = "_database")]
    Verify(VerifyArgs),
    /// Count the values of each column per key version (reads the headers only; needs no key).
    #[cfg(feature = "_database")]
    Status(StatusArgs),
    /// Bring the values of a replaced system (plaintext, Fernet, Node AES-CBC) into format v1.
    #[cfg(feature = "_database")]
    #[command(
        long_about = "Bring the values of a replaced system (plaintext, Fernet, Node \
        AES-CBC) into format v1, sealed with the active key of the key ring (a NEW key: never the \
        legacy key, which is refused).\n\n\
        node-cbc values are not authenticated, so a preflight first reads every legacy value and \
        checks that it decrypts to UTF-8 text (--plaintext-bytes allows binary values) matching \
        --expect REGEX when given (for any format); one failure refuses the migration and nothing \
        is written. Every batch is checked again before it is written.\n\n\
        The legacy bytes each value held are kept in the table encrypted_field_legacy_values, \
        written in the same transaction: `migrate --undo` puts them back (rows changed since are \
        left alone and listed), `migrate --finalize` verifies every value and then deletes them. \
        `status` counts them.\n\
        Exit status: 0 done, 1 refused by the checks, done with failures, undo left values or \
        finalize's verification failed, 2 bad usage or configuration."
    )]
    Migrate(MigrateArgs),
    /// Rewrite every blind index that is empty or not its value's, so that lookups find the row.
    #[cfg(feature = "_database")]
    #[command(
        long_about = "Rewrite every blind index that is empty or not its value's.\n\n\
        Every value of a column with a blind index is decrypted and its index computed as the \
        application computes it (the column's normalizer, the blind-index key from \
        DB_BLIND_INDEX_KEY_FILE or DB_BLIND_INDEX_KEY); an index that is NULL, empty or different is \
        rewritten. Online, like rotate: batches in primary-key order, one transaction each, and each \
        index is written only if its row still holds the value read, so an application's concurrent \
        write wins. Values that cannot be decrypted are listed and left alone.\n\n\
        Without --force it asks for confirmation, and refuses when stdin is not a terminal.\n\
        Exit status: 0 completed, 1 completed with failures, 2 bad usage or configuration (no \
        blind-index key, no column with a blind index), or a rotation is running."
    )]
    Reindex(ReindexArgs),
}

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Write the key into FILE (created with mode 0600; an existing file is never overwritten)
    /// instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Arguments of `keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    /// The keys directory (files enc_key_v1, enc_key_v2, …) [default: $ENCRYPTED_FIELD_KEYS_DIR].
    #[arg(long, value_name = "DIR", global = true)]
    pub keys_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do with the keys.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// The subcommands of `keys`.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum KeysAction {
    /// List the key versions, which one is active, and their files (never the keys themselves).
    List,
    /// Generate a key as the next version. The active version stays as it is unless --activate.
    Add {
        /// Make the new key the active one at once (otherwise: `keys activate N` once every
        /// reader has it).
        #[arg(long)]
        activate: bool,
    },
    /// Make version N the active one (pinned in the directory's `active_version` file).
    Activate {
        /// The version, as `2` or `v2`.
        #[arg(value_name = "N", value_parser = parse_version)]
        version: KeyVersion,
    },
    /// Move version N's key file into retired/ under the keys directory, once no value of the
    /// database's encrypted columns uses it (it is then no longer loaded, but not destroyed).
    #[cfg(feature = "_database")]
    Retire {
        /// The version, as `2` or `v2`.
        #[arg(value_name = "N", value_parser = parse_version)]
        version: KeyVersion,
        /// The database whose values must no longer use the version.
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Where `encrypt` and `decrypt` take their keys from, when not from the environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeySourceArgs {
    /// Use the keys directory DIR instead of the environment's keys.
    #[arg(long, value_name = "DIR", conflicts_with = "key_file")]
    pub keys_dir: Option<PathBuf>,
    /// Use the one key in FILE (as version 1) instead of the environment's keys; for
    /// `decrypt --from`, the key of that legacy system.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Use the blind-index key in FILE instead of $DB_BLIND_INDEX_KEY_FILE or
    /// $DB_BLIND_INDEX_KEY (for `migrate`, `reindex` and `verify` on columns with a blind index).
    #[arg(long, value_name = "FILE")]
    pub blind_index_key_file: Option<PathBuf>,
}

/// Arguments of `encrypt`.
#[derive(Debug, clap::Args)]
pub struct EncryptArgs {
    /// Where the keys come from.
    #[command(flatten)]
    pub keys: KeySourceArgs,
    /// Bind the value to this column identity (`table.column`); decrypt needs the same.
    #[arg(long, value_name = "C")]
    pub context: Option<String>,
    /// Write the raw value bytes instead of base64 and a newline.
    #[arg(long)]
    pub binary: bool,
}

/// Arguments of `decrypt`.
#[derive(Debug, clap::Args)]
pub struct DecryptArgs {
    /// Where the keys come from.
    #[command(flatten)]
    pub keys: KeySourceArgs,
    /// The column identity the value was encrypted with.
    #[arg(long, value_name = "C")]
    pub context: Option<String>,
    /// Read raw value bytes instead of base64 text.
    #[arg(long)]
    pub binary: bool,
    /// Read a value of a legacy system instead of format v1 (needs --key-file).
    #[arg(
        long,
        value_name = "FORMAT",
        requires = "key_file",
        conflicts_with_all = ["keys_dir", "context", "binary"]
    )]
    pub from: Option<LegacySource>,
}

/// The legacy formats `decrypt --from` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum LegacySource {
    /// A Fernet token, with a Fernet key (url-safe base64 of 32 bytes): the Django module.
    Fernet,
    /// `hex(iv):hex(ciphertext)` AES-256-CBC, with a base64 key of 32 bytes: the Node backend.
    NodeCbc,
}

impl From<LegacySource> for crate::format::legacy::LegacyFormat {
    fn from(source: LegacySource) -> Self {
        match source {
            LegacySource::Fernet => Self::Fernet,
            LegacySource::NodeCbc => Self::NodeCbc,
        }
    }
}

fn parse_version(text: &str) -> Result<KeyVersion, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a key version (expected a number such as 2 or v2)"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn activate_accepts_v_prefix() {
        let args = Args::try_parse_from(["encrypted-field", "keys", "activate", "v3"]).unwrap();
        assert!(matches!(
            args.command,
            Command::Keys(KeysArgs { action: KeysAction::Activate { version }, .. }) if version == KeyVersion::new(3)
        ));
    }

    #[test]
    fn from_requires_key_file() {
        assert!(Args::try_parse_from(["encrypted-field", "decrypt", "--from", "fernet"]).is_err());
    }

    #[test]
    fn keys_dir_and_key_file_conflict() {
        let parsed = Args::try_parse_from([
            "encrypted-field",
            "encrypt",
            "--keys-dir",
            "d",
            "--key-file",
            "f",
        ]);
        assert!(parsed.is_err());
    }
}
