//! `verify`: opens every value of every encrypted column; exit 1 if any does not open or is not on
//! the active key.

use crate::cli::connect::{check_columns, connect, engine, registry};
use crate::cli::error::CliError;
use crate::cli::key_ring as ring;
use crate::cli::pass::{emit_report, with_notifiers};
use crate::cli::progress::ProgressLine;
use crate::cli::workers::{WorkerConnections, join, with_workers};
use crate::cli::{Cli, Exit, Io, Terminal, VerifyArgs};
use crate::rotation::Rotation;

/// `verify`: opens every value; exit 1 if any does not open or is not on the active key.
pub(super) fn run(
    cli: &Cli,
    terminal: Terminal,
    args: VerifyArgs,
    io: &mut Io<'_>,
) -> Result<Exit, CliError> {
    let registry = registry(cli, &args.database)?;
    let connections = WorkerConnections::new(&args.database, &args.workers)?;
    let mut db = connect(&args.database)?;
    let ring = ring::load_for_database(&cli.env, &args.keys, &mut db, io)?;
    check_columns(&mut db, &registry)?;
    if args.workers.join {
        let verification = Rotation::new(&registry).batch_size(args.batch_size);
        let verification = with_workers(
            args.lease.apply(verification)?,
            &args.workers,
            connections.as_ref(),
        );
        return join(&verification, &mut db, &ring, None, args.json, io);
    }
    let progress = ProgressLine::new(terminal.stderr && !args.json);
    let verification = Rotation::new(&registry)
        .batch_size(args.batch_size)
        .progress(&progress);
    let verification = with_workers(verification, &args.workers, connections.as_ref());
    let verification = with_notifiers(args.lease.apply(verification)?)?;
    let report = verification.verify_only(&mut db, &ring);
    progress.finish();
    emit_report(io, &report.map_err(engine)?, args.json)
}
