//! The command line, as `clap` derive types: parsing only, no work.
//!
//! [`Command`] is a `clap::Subcommand` that carries every argument it needs, so an application can
//! nest it in its own parser and hand it to [`Cli::execute`](super::Cli::execute). The arguments
//! are grouped by what they describe: where keys come from and the `keys` commands (`keys.rs`),
//! single values (`values.rs`), the database and its columns (`database.rs`), and the passes over
//! a database (`passes.rs`).

mod counts;
mod database;
mod keys;
mod passes;
mod staging;
mod values;
mod workers;

use clap::{Parser, Subcommand};

pub use database::{DatabaseArgs, LeaseArgs, PacingArgs, WriteArgs};
pub use keys::{KeySourceArgs, KeygenArgs, KeysAction, KeysArgs};
pub use passes::{
    MigrateArgs, MigrationSource, Period, ReindexArgs, RotateArgs, StatusArgs, VerifyArgs,
};
pub use staging::StagingArgs;
pub use values::{DecryptArgs, EncryptArgs, LegacySource};
pub use workers::WorkersArgs;

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
    #[command(
        long_about = "Re-encrypt every value that is not on the active key.\n\n\
        Online: rows are read in primary-key order in batches; each batch is one transaction, and a \
        row is written only if it still holds the value read, so the application keeps running. \
        Crash-safe: kill it at any instant and run it again to finish. One rotation at a time per \
        database (a lock in the database itself). After the rewrite every value is verified.\n\n\
        With --new-key it first generates the next key version in the keys directory, writes the key \
        backup into --backup-dir, and activates the new key in stages across the running instances \
        (--wait, --force-activate).\n\n\
        With --blind-index it recomputes the blind indexes instead (as reindex does); with \
        --blind-index --new-key it first generates the next blind-index key (bidx_key_vN), backs \
        it up and activates it in the same stages.\n\n\
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
    Verify(VerifyArgs),
    /// Count the values of each column per key version (reads the headers only; needs no key).
    Status(StatusArgs),
    /// Bring the values of a replaced system (plaintext, Fernet, Node AES-CBC) into format v1.
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
    #[command(
        long_about = "Rewrite every blind index that is empty or not its value's.\n\n\
        Every value of a column with a blind index is decrypted and its index computed as the \
        application computes it (the column's normalizer, the active blind-index key: the version \
        the database records for the fleet, else ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION or the \
        keys directory's active_blind_index_version file, else the highest of \
        DB_BLIND_INDEX_KEY(_FILE) as version 1 and the keys directory's bidx_key_vN files); an index that is NULL, empty, different or \
        computed with another blind-index version is rewritten (also `rotate --blind-index`). Online, like rotate: batches in primary-key order, one transaction each, and each \
        index is written only if its row still holds the value read, so an application's concurrent \
        write wins. Values that cannot be decrypted are listed and left alone.\n\n\
        Without --force it asks for confirmation, and refuses when stdin is not a terminal.\n\
        Exit status: 0 completed, 1 completed with failures, 2 bad usage or configuration (no \
        blind-index key, no column with a blind index), or a rotation is running."
    )]
    Reindex(ReindexArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;
    use crate::keys::version::KeyVersion;

    #[test]
    fn command_line_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn activate_accepts_v_prefix() {
        let args = Args::try_parse_from(["encrypted-field", "keys", "activate", "v3"]).unwrap();
        assert!(matches!(
            args.command,
            Command::Keys(KeysArgs { action: KeysAction::Activate { version, .. }, .. }) if version == KeyVersion::new(3)
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
