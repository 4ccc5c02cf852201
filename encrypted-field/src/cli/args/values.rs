//! The arguments of the single-value commands, `encrypt` and `decrypt`.

use clap::ValueEnum;

use super::KeySourceArgs;

/// Arguments of `encrypt`.
#[derive(Debug, clap::Args)]
pub struct EncryptArgs {
    /// Where the keys come from.
    #[command(flatten)]
    pub keys: KeySourceArgs,
    /// Bind the value to this column identity (`table.column`); decrypt needs the same.
    #[arg(long, value_name = "C")]
    pub context: Option<String>,
    /// Bind the value to the row whose primary key is KEY as well (a `bind_row` column): the
    /// key's canonical text, e.g. `42` or `f81d4fae-7dec-11d0-a765-00a0c91e6bf6`. Needs --context.
    #[arg(long, value_name = "KEY", requires = "context")]
    pub row: Option<String>,
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
    /// The primary key of the row a row-bound value (`bind_row`) belongs to. Needs --context.
    #[arg(long, value_name = "KEY", requires = "context")]
    pub row: Option<String>,
    /// Read raw value bytes instead of base64 text.
    #[arg(long)]
    pub binary: bool,
    /// Read a value of a legacy system instead of format v1 (needs --key-file).
    #[arg(
        long,
        value_name = "FORMAT",
        requires = "key_file",
        conflicts_with_all = ["keys_dir", "context", "row", "binary"]
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
