//! The library's commands inside this binary, as Django's `manage.py` carries
//! `rotate_encryption_key`: they take exactly the arguments of the standalone `encrypted-field`,
//! and know the application's models (every `#[derive(EncryptedModel)]` type linked in), so
//! `rotate`, `verify`, `status`, `migrate` and `reindex` need no `--column` (and `migrate` and
//! `reindex` write `phone_bidx` as the models' setters do). What a command is not told comes from the
//! application: its database (`DATABASE_URL`, else `./phone_requests.sqlite3`, created and
//! migrated as for every other command) and, in development, its keys directory.

use std::path::PathBuf;
use std::process::ExitCode;

use encrypted_field::cli::{Cli, Command, DatabaseArgs, KeySourceArgs, KeysAction};
use encrypted_field::model::Registry;

use crate::db::Location;
use crate::error::AppError;
use crate::keys::KeySource;

/// Runs a library command with the application's models and defaults.
pub fn run(command: Command, location: &Location, keys: &KeySource) -> Result<ExitCode, AppError> {
    let registry = Registry::discovered()
        .map_err(|e| AppError::usage(format!("collecting the encrypted models: {e}")))?;
    let command = with_defaults(command, location, keys)?;
    Ok(Cli::new().registry(registry).execute_std(command))
}

/// Fills in what the command was not told.
fn with_defaults(
    mut command: Command,
    location: &Location,
    keys: &KeySource,
) -> Result<Command, AppError> {
    let (database, key_source, blind_index_key): (
        Option<&mut DatabaseArgs>,
        Option<&mut Option<PathBuf>>,
        Option<&mut Option<PathBuf>>,
    ) = match &mut command {
        Command::Keys(args) => match &mut args.action {
            KeysAction::Retire { database, .. } => (Some(database), Some(&mut args.keys_dir), None),
            _ => (None, Some(&mut args.keys_dir), None),
        },
        Command::Encrypt(args) => (None, unset_key_source(&mut args.keys), None),
        Command::Decrypt(args) => (None, unset_key_source(&mut args.keys), None),
        Command::Rotate(args) => (
            Some(&mut args.database),
            unset_key_source(&mut args.keys),
            None,
        ),
        Command::Verify(args) => with_index_key(&mut args.database, &mut args.keys),
        Command::Migrate(args) => with_index_key(&mut args.database, &mut args.keys),
        Command::Reindex(args) => with_index_key(&mut args.database, &mut args.keys),
        Command::Status(args) => (Some(&mut args.database), None, None),
        _ => (None, None, None),
    };
    if let Some(database) = database.filter(|database| database.database_url.is_none()) {
        // The application's database, with its schema, even on first use.
        drop(location.open()?);
        database.database_url = Some(location.url().to_owned());
    }
    if let (Some(dir), Some(slot)) = (keys.development_dir(), key_source)
        && slot.is_none()
    {
        keys.prepare()?;
        *slot = Some(dir.to_path_buf());
        // The passes that compute `phone_bidx` need the development blind-index key too.
        if let Some(index_slot) = blind_index_key.filter(|slot| slot.is_none()) {
            *index_slot = Some(crate::keys::development_blind_index_key(dir));
        }
    }
    Ok(command)
}

/// The database, the key source and the blind-index key file of a command that computes blind
/// indexes.
fn with_index_key<'a>(
    database: &'a mut DatabaseArgs,
    keys: &'a mut KeySourceArgs,
) -> (
    Option<&'a mut DatabaseArgs>,
    Option<&'a mut Option<PathBuf>>,
    Option<&'a mut Option<PathBuf>>,
) {
    if keys.key_file.is_some() || keys.keys_dir.is_some() {
        return (Some(database), None, None);
    }
    (
        Some(database),
        Some(&mut keys.keys_dir),
        Some(&mut keys.blind_index_key_file),
    )
}

/// The `--keys-dir` of `args`, if neither it nor `--key-file` was given.
fn unset_key_source(args: &mut KeySourceArgs) -> Option<&mut Option<PathBuf>> {
    if args.key_file.is_none() && args.keys_dir.is_none() {
        Some(&mut args.keys_dir)
    } else {
        None
    }
}
