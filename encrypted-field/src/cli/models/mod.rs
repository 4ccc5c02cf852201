//! The models the database commands work on: the embedding application's [`Registry`], plus
//! those named on the command line (`--column`, `--primary-key`) or in a TOML file (`--models`).
//!
//! Every name goes through [`ModelSpec::validate`] (ASCII letters, digits and `_`) and is quoted
//! by the database layer; nothing typed here is ever pasted into SQL as is.
//!
//! A column may keep a blind index (an HMAC of its normalized plaintext, for equality lookups) in
//! another column: `migrate` then writes each migrated value's index with it, `reindex` rewrites
//! indexes that are empty or stale, and `verify` checks them. On the command line:
//! `--column phone_requests.phone_number:bidx=phone_bidx:normalize=digits` (32 raw bytes in a
//! binary column), or `:bidx-text=COLUMN` for 64 lowercase hex digits in a text column; the
//! normalizer is `exact` (the default), `digits` or `lowercase`, and must be the one the
//! application uses, or every index differs from the application's.
//!
//! ```toml
//! # models.toml
//! [[model]]
//! table = "customers"
//! primary_key = "id"             # default "id"
//! primary_key_type = "integer"   # "integer" (default) or "text"
//!
//! [[model.column]]
//! name = "_ssn"
//! storage = "binary"             # "binary" (default: BLOB / VARBINARY / BYTEA) or "text" (base64)
//! nullable = true                # default false
//! bind_row = true                # default false: values bound to their rows (`bind_row`)
//! # context = "customers._ssn"   # default "table.column"
//!
//! [[model]]
//! table = "phone_requests"
//!
//! [[model.column]]
//! name = "phone_number"
//! # The blind index beside it: its column, "binary" (default: 32 bytes) or "text" (hex), and the
//! # normalizer: "exact" (default), "digits" or "lowercase".
//! blind_index = { column = "phone_bidx", storage = "binary", normalizer = "digits" }
//! ```

mod file;
mod flags;

use std::path::Path;

pub use flags::{ColumnArg, PrimaryKeyArg};

use crate::cli::CliError;
use crate::model::Registry;

/// `registry` with the models of `file` (if given) and of the flags added, every one validated.
pub(crate) fn registry(
    mut registry: Registry,
    file: Option<&Path>,
    columns: &[ColumnArg],
    primary_keys: &[PrimaryKeyArg],
) -> Result<Registry, CliError> {
    if let Some(path) = file {
        for spec in file::read_models_file(path)? {
            registry = registry.register_spec(spec).map_err(|e| {
                CliError::usage(format!("reading models file {}: {e}", path.display()))
            })?;
        }
    }
    for spec in flags::specs_from_flags(columns, primary_keys)? {
        registry = registry
            .register_spec(spec)
            .map_err(|e| CliError::usage(format!("--column: {e}")))?;
    }
    if registry.is_empty() {
        return Err(CliError::usage(
            "no encrypted columns: pass --column TABLE.COLUMN (and --primary-key TABLE=COLUMN unless it is `id`), \
             or --models FILE",
        ));
    }
    Ok(registry)
}
