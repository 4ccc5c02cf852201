//! Where keys come from, and the arguments of `keygen` and `keys`.

use std::path::PathBuf;

use clap::Subcommand;

use super::{DatabaseArgs, StagingArgs};
use crate::keys::version::KeyVersion;

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
    /// List the key versions, which one is active, and their files (never the keys themselves);
    /// then the blind-index key versions likewise.
    List,
    /// Generate a key as the next version. The active version stays as it is unless --activate.
    Add {
        /// A blind-index key (`bidx_key_vN`; DB_BLIND_INDEX_KEY(_FILE) is version 1) instead
        /// of an encryption key. The active blind-index version is pinned first in
        /// the directory's `active_blind_index_version` file (or, with --database-url, recorded
        /// in the database), so the new key matches lookups and writes no index until `keys
        /// activate N --blind-index`.
        #[arg(long)]
        blind_index: bool,
        /// Make the new key the active one at once (otherwise: `keys activate N` once every
        /// reader has it). Not with --database-url.
        #[arg(long, conflicts_with = "database_url")]
        activate: bool,
        /// For a fleet: record the current active version in this database's
        /// encrypted_field_metadata (unless one is recorded) before the new file appears, and
        /// pin nothing: the new version is provisioned (it decrypts, never encrypts) until
        /// `keys activate N --database-url URL`.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Store the new key wrapped by this key-encryption key (`aws-kms://alias/NAME`,
        /// `pkcs11:token=LABEL;object=LABEL`): only enc_key_vN.wrapped is written, the plaintext
        /// key never touches the disk (with --blind-index: bidx_key_vN.wrapped).
        #[arg(long, value_name = "URI")]
        wrap_with: Option<String>,
    },
    /// Turn the plain key file of version N into enc_key_vN.wrapped, wrapped by the
    /// key-encryption key URI; the plain file is removed only once the wrapped one has been read
    /// back and unwraps to the same key.
    Wrap {
        /// The version, as `2` or `v2`.
        #[arg(value_name = "N", value_parser = parse_version)]
        version: KeyVersion,
        /// The key-encryption key (`aws-kms://…`, `pkcs11:…`).
        #[arg(long = "with", value_name = "URI")]
        with: String,
    },
    /// Key-encryption-key rotation: unwrap each wrapped version (all of them, or N…) and wrap it
    /// again with the key-encryption key URI, each file replaced atomically. No value is
    /// rewritten: the data keys stay the same.
    Rewrap {
        /// The new key-encryption key (`aws-kms://…`, `pkcs11:…`).
        #[arg(long = "with", value_name = "URI")]
        with: String,
        /// The versions, as `2` or `v2` [default: every wrapped version].
        #[arg(value_name = "N", value_parser = parse_version)]
        versions: Vec<KeyVersion>,
    },
    /// Make version N the active one: pinned in the directory's `active_version` file or, with
    /// --database-url, recorded in the database once every running instance has loaded it.
    Activate {
        /// The version, as `2` or `v2`.
        #[arg(value_name = "N", value_parser = parse_version)]
        version: KeyVersion,
        /// Activate blind-index version N (the one new blind indexes are computed with): pinned
        /// in the directory's `active_blind_index_version` file or, with --database-url,
        /// recorded in the database in the same stages. Then `rotate --blind-index` recomputes
        /// the existing indexes with it. Widen the index columns first for a version above 1
        /// (38 bytes, 76 hex digits: FORMAT.md); `rotate --blind-index --new-key` checks them.
        #[arg(long)]
        blind_index: bool,
        /// For a fleet: wait (--wait) until every instance that checked in recently has loaded
        /// version N, record it active in this database (an `active_version` file already in
        /// the directory is moved along), then wait until every instance seals with it.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// The waits (with --database-url).
        #[command(flatten)]
        staging: StagingArgs,
    },
    /// Move version N's key file into retired/ under the keys directory, once no value of the
    /// database's encrypted columns uses it (it is then no longer loaded, but not destroyed).
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
    /// Use the blind-index key in FILE as blind-index version 1 instead of
    /// $DB_BLIND_INDEX_KEY_FILE or $DB_BLIND_INDEX_KEY (for `migrate`, `reindex` and `verify` on
    /// columns with a blind index); the keys directory's bidx_key_vN files still count.
    #[arg(long, value_name = "FILE")]
    pub blind_index_key_file: Option<PathBuf>,
}

fn parse_version(text: &str) -> Result<KeyVersion, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a key version (expected a number such as 2 or v2)"))
}
