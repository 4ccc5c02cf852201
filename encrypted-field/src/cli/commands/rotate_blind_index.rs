//! `rotate --blind-index --new-key`: a new blind-index key, provisioned, activated in stages
//! across the fleet, then every blind index recomputed with it.

use crate::cli::connect::{check_columns, connect, engine, registry};
use crate::cli::error::CliError;
use crate::cli::key_ring::{self as ring, blind_index_pin_source, keys_dir_path};
use crate::cli::pass::{backup_dir, confirm, emit_report, with_notifiers};
use crate::cli::progress::ProgressLine;
use crate::cli::{Cli, Exit, Io, RotateArgs, Terminal};
use crate::keys::dir::KeysDir;
use crate::rotation::Rotation;

/// Runs `rotate --blind-index --new-key`.
pub(super) fn run(
    cli: &Cli,
    terminal: Terminal,
    args: RotateArgs,
    io: &mut Io<'_>,
) -> Result<Exit, CliError> {
    let registry = registry(cli, &args.database)?;
    let mut db = connect(&args.database)?;
    let keys_dir = new_key_dir(cli, &args)?;
    let ring = ring::load_for_database(&cli.env, &args.keys, &mut db, io)?;
    check_columns(&mut db, &registry)?;
    let action = format!(
        "generate a new blind-index key in {}, activate it once every running instance has it, \
         and recompute every blind index of {} with it",
        keys_dir.path().display(),
        super::reindex::index_list(&registry)
    );
    confirm(terminal, args.write.force, args.write.dry_run, &action, io)?;

    let progress = ProgressLine::new(terminal.stderr && !args.write.json);
    let mut rotation = Rotation::new(&registry)
        .pacing(args.write.pacing.pacing(args.write.batch_size))
        .dry_run(args.write.dry_run)
        .progress(&progress);
    if let Some(dir) = backup_dir(args.write.backup_dir.clone()) {
        rotation = rotation.backup_dir(dir);
    }
    let rotation = with_notifiers(rotation)?;
    let report = rotation
        .reindex_with_new_blind_index_key_in_fleet(
            &mut db,
            &ring,
            &keys_dir,
            &args.staging.staging(),
        )
        .map_err(|e| lagging_hint(e, &args));
    progress.finish();
    emit_report(io, &report?, args.write.json)
}

/// The keys directory the new `bidx_key_vN` goes into: `--keys-dir`, else the environment's.
/// Refused when a local pin would override the activation on this host, and without a backup
/// directory (the new key is backed up before anything depends on it).
fn new_key_dir(cli: &Cli, args: &RotateArgs) -> Result<KeysDir, CliError> {
    let vars = &cli.env;
    let path = keys_dir_path(
        args.keys.keys_dir.clone(),
        vars,
        "--blind-index --new-key needs a keys directory to write the new blind-index key into",
    )?;
    if std::env::var_os(&vars.active_blind_index_version).is_some() {
        let pin = blind_index_pin_source(vars, Some(&path)).unwrap_or_default();
        return Err(CliError::usage(format!(
            "--blind-index --new-key activates the new blind-index key in {}, but {pin} pins the \
             active blind-index version and would override it: unset {} first",
            path.display(),
            vars.active_blind_index_version
        )));
    }
    if backup_dir(args.write.backup_dir.clone()).is_none() {
        return Err(CliError::usage(format!(
            "--blind-index --new-key needs --backup-dir DIR (or {}): the new key is backed up \
             there before anything depends on it",
            crate::cli::pass::BACKUP_DIR_VAR
        )));
    }
    Ok(KeysDir::new(path))
}

/// A staged activation that stopped: the new blind-index key stays provisioned, and the message
/// says how to finish without generating yet another key.
fn lagging_hint(error: crate::rotation::Error, args: &RotateArgs) -> CliError {
    let text = error.to_string();
    match error {
        crate::rotation::Error::InstancesLagging { version, .. } => {
            let url = if args.database.database_url.is_some() {
                " --database-url URL"
            } else {
                ""
            };
            CliError::usage(format!(
                "{text}\nblind-index {version} stays provisioned (its key file and backup are \
                 kept; lookups match it wherever it is loaded); once the instances have it: \
                 encrypted-field keys activate {} --blind-index{url}, then encrypted-field \
                 rotate --blind-index (without --new-key)",
                version.get()
            ))
        }
        other => engine(other),
    }
}
