//! The library's commands inside this binary, as Django's `manage.py` carries
//! `rotate_encryption_key`: they take exactly the arguments of the standalone `encrypted-field`,
//! and whatever they are not told comes from the application: its database and, in
//! development, its keys directory.

use std::process::ExitCode;

use encrypted_field::cli::{Cli, Command, KeySourceArgs};

use crate::db::Location;
use crate::error::AppError;
use crate::keys::KeySource;

/// Runs a library command with the application's defaults.
pub fn run(command: Command, location: &Location, keys: &KeySource) -> Result<ExitCode, AppError> {
    let _ = location;
    let command = with_defaults(command, keys)?;
    Ok(Cli::new().execute_std(command))
}

/// Fills in what the command was not told: in development (no key variable set), the keys
/// directory the application itself uses.
fn with_defaults(mut command: Command, keys: &KeySource) -> Result<Command, AppError> {
    let Some(dir) = keys.development_dir() else {
        return Ok(command);
    };
    let keys_dir = match &mut command {
        Command::Keys(args) => Some(&mut args.keys_dir),
        Command::Encrypt(args) => unset_key_source(&mut args.keys),
        Command::Decrypt(args) => unset_key_source(&mut args.keys),
        _ => None,
    };
    if let Some(slot) = keys_dir.filter(|slot| slot.is_none()) {
        keys.prepare()?;
        *slot = Some(dir.to_path_buf());
    }
    Ok(command)
}

/// The `--keys-dir` of `args`, if neither it nor `--key-file` was given.
fn unset_key_source(args: &mut KeySourceArgs) -> Option<&mut Option<std::path::PathBuf>> {
    if args.key_file.is_none() {
        Some(&mut args.keys_dir)
    } else {
        None
    }
}
