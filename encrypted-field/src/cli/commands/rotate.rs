//! `rotate`: every value onto the active key, or onto a new one with `--new-key`; with
//! `--if-due`, only when the active key is old enough.

use std::time::SystemTime;

use super::emit;
use crate::cli::connect::{check_columns, connect, engine, registry};
use crate::cli::error::{CliError, KeySources};
use crate::cli::key_ring::{self as ring, env_active_version, keys_dir_path};
use crate::cli::output::{NotDue, render};
use crate::cli::pass::{backup_dir, column_list, confirm, emit_report, with_notifiers};
use crate::cli::progress::ProgressLine;
use crate::cli::workers::{WorkerConnections, join, with_workers};
use crate::cli::{Cli, Exit, Io, RotateArgs, Terminal};
use crate::keys::dir::KeysDir;
use crate::keys::env::EnvVars;
use crate::keys::ring::KeyRing;
use crate::rotation::database::Database;
use crate::rotation::{Rotation, RotationPeriod};

/// Runs `rotate`.
pub(super) fn run(
    cli: &Cli,
    terminal: Terminal,
    args: RotateArgs,
    io: &mut Io<'_>,
) -> Result<Exit, CliError> {
    if args.blind_index && args.new_key {
        return super::rotate_blind_index::run(cli, terminal, args, io);
    }
    if args.blind_index {
        if args.write.backup_dir.is_some() {
            return Err(CliError::usage(
                "--backup-dir goes with --new-key: rotate --blind-index alone writes no key",
            ));
        }
        return super::reindex::run(cli, terminal, blind_index_pass(args), io);
    }
    let registry = registry(cli, &args.database)?;
    let connections = WorkerConnections::new(&args.database, &args.write.workers)?;
    let mut db = connect(&args.database)?;
    let ring = ring::load_for_database(&cli.env, &args.keys, &mut db, io)?;
    let ring = with_recorded_active(&mut db, ring, &cli.env, &args, io)?;
    if args.write.workers.join {
        if args.new_key || args.if_due.is_some() || args.write.backup_dir.is_some() {
            return Err(CliError::usage(
                "--join works on the pass another run started: --new-key, --if-due and \
                 --backup-dir belong to that run",
            ));
        }
        check_columns(&mut db, &registry)?;
        let rotation =
            Rotation::new(&registry).pacing(args.write.pacing.pacing(args.write.batch_size));
        let rotation = with_workers(
            args.write.lease.apply(rotation)?,
            &args.write.workers,
            connections.as_ref(),
        );
        return join(&rotation, &mut db, &ring, None, args.write.json, io);
    }
    let backup_dir = backup_dir(args.write.backup_dir.clone());
    let keys_dir = if args.new_key {
        Some(new_key_dir(&cli.env, &args, backup_dir.is_some())?)
    } else {
        None
    };
    check_columns(&mut db, &registry)?;
    if let Some(period) = args.if_due
        && let Some(not_due) = not_due(&mut db, &ring, period.into())?
    {
        emit(io, render(&not_due, args.write.json)?.as_bytes())?;
        return Ok(Exit::Success);
    }
    let action = match &keys_dir {
        Some(dir) => format!(
            "generate a new key in {}, activate it once every running instance has it, and \
             re-encrypt every value of {} with it",
            dir.path().display(),
            column_list(&registry)
        ),
        None => format!(
            "re-encrypt every value of {} that is not on key {}",
            column_list(&registry),
            ring.active_version()
        ),
    };
    confirm(terminal, args.write.force, args.write.dry_run, &action, io)?;

    let progress = ProgressLine::new(terminal.stderr && !args.write.json);
    let mut rotation = Rotation::new(&registry)
        .pacing(args.write.pacing.pacing(args.write.batch_size))
        .dry_run(args.write.dry_run)
        .progress(&progress);
    if let Some(dir) = backup_dir {
        rotation = rotation.backup_dir(dir);
    }
    if let Some(uri) = &args.wrap_with {
        rotation = rotation.wrap_new_key_with(uri.clone());
    }
    let rotation = with_workers(rotation, &args.write.workers, connections.as_ref());
    let rotation = with_notifiers(args.write.lease.apply(rotation)?)?;
    let report = match &keys_dir {
        Some(dir) => rotation
            .run_with_new_key_in_fleet(&mut db, &ring, dir, &args.staging.staging())
            .map_err(|e| lagging_hint(e, &args)),
        None => rotation.run(&mut db, &ring).map_err(engine),
    };
    progress.finish();
    emit_report(io, &report?, args.write.json)
}

/// The keys directory `--new-key` writes into: `--keys-dir`, else the environment's. Refused
/// when the environment pins the active version (it would override the new key's activation),
/// and without a backup directory (the new key is backed up before anything depends on it).
fn new_key_dir(
    vars: &EnvVars,
    args: &RotateArgs,
    has_backup_dir: bool,
) -> Result<KeysDir, CliError> {
    let path = keys_dir_path(
        args.keys.keys_dir.clone(),
        vars,
        "--new-key needs a keys directory to write the new key into",
    )?;
    let sources = KeySources {
        keys_dir: Some(&path),
        vars: Some(vars),
        ..KeySources::default()
    };
    if let Some(pinned) = env_active_version(vars).map_err(|e| CliError::keys(&e, &sources))? {
        return Err(CliError::usage(format!(
            "--new-key activates the new key in {}, but {}={} pins the active version and would \
             override it: unset {} first",
            path.display(),
            vars.active_version,
            pinned.get(),
            vars.active_version
        )));
    }
    if !has_backup_dir {
        return Err(CliError::usage(format!(
            "--new-key needs --backup-dir DIR (or {}): the new key is backed up there before \
             anything depends on it",
            crate::cli::pass::BACKUP_DIR_VAR
        )));
    }
    Ok(KeysDir::new(path))
}

/// `None` when a rotation is due, else when it will be.
fn not_due(
    db: &mut Database,
    ring: &KeyRing,
    period: RotationPeriod,
) -> Result<Option<NotDue>, CliError> {
    let due = period
        .check_due(db, ring.active_version(), SystemTime::now())
        .map_err(engine)?;
    if due.due {
        return Ok(None);
    }
    let stamp = |t: SystemTime| humantime::format_rfc3339_seconds(t).to_string();
    Ok(Some(NotDue {
        status: "not_due",
        period: period_name(period),
        active_version: ring.active_version().get(),
        activated_at: due.activated_at.map(stamp),
        next_due: due.next_due.map(stamp),
    }))
}

fn period_name(period: RotationPeriod) -> &'static str {
    match period {
        RotationPeriod::Daily => "daily",
        RotationPeriod::Weekly => "weekly",
        RotationPeriod::Monthly => "monthly",
    }
}

/// `rotate --blind-index` is the reindex pass: every index not computed with the active
/// blind-index key is stale and rewritten with it.
fn blind_index_pass(args: RotateArgs) -> crate::cli::ReindexArgs {
    crate::cli::ReindexArgs {
        database: args.database,
        keys: args.keys,
        dry_run: args.write.dry_run,
        force: args.write.force,
        batch_size: args.write.batch_size,
        pacing: args.write.pacing,
        json: args.write.json,
        lease: args.write.lease,
        workers: args.write.workers,
    }
}

/// A staged activation that stopped: the new key stays provisioned, and the message says how to
/// finish without generating yet another key.
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
                "{text}\n{version} stays provisioned (its key file and backup are kept); once the \
                 instances have it: encrypted-field keys activate {}{url}, then encrypted-field \
                 rotate (without --new-key)",
                version.get()
            ))
        }
        other => engine(other),
    }
}

/// The ring with the active version the database records for the fleet, when one is recorded
/// and no local pin (the active-version variable, the keys directory's `active_version` file)
/// chooses for this host: rewriting onto any other version would seal values with a key the
/// fleet has not activated. A recorded version this ring lacks is an error.
fn with_recorded_active(
    db: &mut Database,
    ring: KeyRing,
    vars: &EnvVars,
    args: &RotateArgs,
    io: &mut Io<'_>,
) -> Result<KeyRing, CliError> {
    let Some(record) = crate::fleet::recorded_active(db).map_err(engine)? else {
        return Ok(ring);
    };
    let recorded = record.version;
    if ring.active_version() == recorded {
        return Ok(ring);
    }
    let pinned_by = if env_active_version(vars).ok().flatten().is_some() {
        Some(vars.active_version.clone())
    } else {
        keys_dir_path(args.keys.keys_dir.clone(), vars, "")
            .ok()
            .map(KeysDir::new)
            .filter(|dir| dir.pinned_active().ok().flatten().is_some())
            .map(|dir| {
                dir.path()
                    .join(crate::keys::ACTIVE_VERSION_FILE)
                    .display()
                    .to_string()
            })
    };
    if let Some(pin) = pinned_by {
        let _ = writeln!(
            io.stderr,
            "note: the database records {recorded} active, but {pin} pins {} on this host: \
             rewriting onto {}",
            ring.active_version(),
            ring.active_version()
        );
        return Ok(ring);
    }
    ring.with_active(recorded).map_err(|_| {
        CliError::usage(format!(
            "the database records key version {recorded} active (encrypted_field_metadata), but \
             this key ring lacks it (it holds {}): give this host the key file first",
            ring.versions()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}
