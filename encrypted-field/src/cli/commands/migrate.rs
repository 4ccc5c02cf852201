//! `migrate`: legacy values (plaintext, Fernet, Node AES-CBC) into format v1, and `--undo` /
//! `--finalize` to end a migration one way or the other.

use std::fmt::Write as _;

use super::emit;
use crate::cli::connect::{check_columns, connect, engine, registry};
use crate::cli::error::{CliError, KeySources};
use crate::cli::key_ring as ring;
use crate::cli::output::{Report, render};
use crate::cli::pass::{backup_dir, column_list, confirm, emit_report, with_notifiers};
use crate::cli::progress::ProgressLine;
use crate::cli::workers::{WorkerConnections, join, with_workers};
use crate::cli::{Cli, Exit, Io, MigrateArgs, Terminal};
use crate::format::legacy::{LegacyFormat, LegacyKey};
use crate::rotation::Error as RotationError;
use crate::rotation::{FinalizeReport, LegacyChecks, Rotation, UndoReport};

/// `migrate --from FORMAT`: legacy values into format v1 with the active key; `--undo` and
/// `--finalize` end a migration one way or the other.
pub(super) fn run(
    cli: &Cli,
    terminal: Terminal,
    args: MigrateArgs,
    io: &mut Io<'_>,
) -> Result<Exit, CliError> {
    if args.undo || args.finalize {
        return end_migration(cli, terminal, args, io);
    }
    let Some(from) = args.from else {
        return Err(CliError::usage(
            "migrate needs --from FORMAT (or --undo, or --finalize)",
        ));
    };
    let format = LegacyFormat::from(from);
    let legacy_key = match (&args.legacy_key_file, format) {
        (_, LegacyFormat::Plaintext) => LegacyKey::None,
        (Some(path), _) => {
            let sources = KeySources {
                key_file: Some(path),
                ..KeySources::default()
            };
            LegacyKey::from_file(format, path).map_err(|e| CliError::keys(&e, &sources))?
        }
        (None, _) => {
            return Err(CliError::usage(format!(
                "migrate --from {format} needs --legacy-key-file FILE: the {format} key"
            )));
        }
    };
    let mut checks = LegacyChecks::new().allow_bytes(args.plaintext_bytes);
    if let Some(pattern) = &args.expect {
        checks = checks
            .expect(pattern)
            .map_err(|e| CliError::usage(format!("--expect: {e}")))?;
    }
    let registry = registry(cli, &args.database)?;
    let connections = WorkerConnections::new(&args.database, &args.write.workers)?;
    let mut db = connect(&args.database)?;
    let ring = ring::load_for_database(&cli.env, &args.keys, &mut db, io)?;
    check_columns(&mut db, &registry)?;
    if args.write.workers.join {
        let migration = Rotation::new(&registry)
            .pacing(args.write.pacing.pacing(args.write.batch_size))
            .legacy_checks(checks);
        let migration = with_workers(
            args.write.lease.apply(migration)?,
            &args.write.workers,
            connections.as_ref(),
        );
        return join(
            &migration,
            &mut db,
            &ring,
            Some(&legacy_key),
            args.write.json,
            io,
        );
    }
    let action = format!(
        "encrypt every {format} value of {} with key {}",
        column_list(&registry),
        ring.active_version()
    );
    confirm(terminal, args.write.force, args.write.dry_run, &action, io)?;

    let progress = ProgressLine::new(terminal.stderr && !args.write.json);
    let mut migration = Rotation::new(&registry)
        .pacing(args.write.pacing.pacing(args.write.batch_size))
        .dry_run(args.write.dry_run)
        .legacy_checks(checks)
        .progress(&progress);
    if let Some(dir) = backup_dir(args.write.backup_dir.clone()) {
        migration = migration.backup_dir(dir);
    }
    let migration = with_workers(migration, &args.write.workers, connections.as_ref());
    let migration = with_notifiers(args.write.lease.apply(migration)?)?;
    let report = migration.migrate(&mut db, &ring, &legacy_key);
    progress.finish();
    emit_report(io, &report.map_err(migration_error)?, args.write.json)
}

/// `migrate --undo` or `migrate --finalize`: exit 1 when undo left values the application
/// changed since, or finalize's verification failed.
fn end_migration(
    cli: &Cli,
    terminal: Terminal,
    args: MigrateArgs,
    io: &mut Io<'_>,
) -> Result<Exit, CliError> {
    if args.write.dry_run {
        return Err(CliError::usage(
            "--dry-run does not apply to --undo or --finalize (`status` counts the legacy values kept)",
        ));
    }
    let registry = registry(cli, &args.database)?;
    let mut db = connect(&args.database)?;
    check_columns(&mut db, &registry)?;
    let columns = column_list(&registry);
    let rotation = args
        .write
        .lease
        .apply(Rotation::new(&registry).pacing(args.write.pacing.pacing(args.write.batch_size)))?;
    if args.undo {
        let action = format!("put the kept legacy values of {columns} back");
        confirm(terminal, args.write.force, false, &action, io)?;
        let report = rotation.undo_migration(&mut db).map_err(engine)?;
        emit(io, render(&report, args.write.json)?.as_bytes())?;
        return Ok(if report.left == 0 {
            Exit::Success
        } else {
            Exit::Failure
        });
    }
    let ring = ring::load_for_database(&cli.env, &args.keys, &mut db, io)?;
    let action = format!("verify {columns}, then delete their kept legacy values");
    confirm(terminal, args.write.force, false, &action, io)?;
    let report = rotation
        .finalize_migration(&mut db, &ring)
        .map_err(migration_error)?;
    emit(io, render(&report, args.write.json)?.as_bytes())?;
    Ok(Exit::Success)
}

/// A migration that refused a value, or a finalize whose verification failed, ends with exit
/// status 1 (data needs attention); any other error is bad usage or configuration.
fn migration_error(err: RotationError) -> CliError {
    match err {
        RotationError::MigrationRefused { .. } | RotationError::FinalizeRefused { .. } => {
            CliError::failure(err.to_string())
        }
        other => engine(other),
    }
}

impl Report for UndoReport {
    fn human(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Report for FinalizeReport {
    fn human(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}
