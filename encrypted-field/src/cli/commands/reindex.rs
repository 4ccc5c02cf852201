//! `reindex`: the blind index of every value of every column that has one, rewritten where it is
//! empty or stale (see [`Rotation::reindex`]).

use crate::cli::connect::{check_columns, connect, engine, registry};
use crate::cli::key_ring as ring;
use crate::cli::pass::{confirm, emit_report, with_notifiers};
use crate::cli::progress::ProgressLine;
use crate::cli::workers::{WorkerConnections, join, with_workers};
use crate::cli::{Cli, CliError, Exit, Io, ReindexArgs, Terminal};
use crate::model::Registry;
use crate::rotation::Rotation;

/// Rewrites stale blind indexes; exit 1 if any value could not be read.
pub(super) fn run(
    cli: &Cli,
    terminal: Terminal,
    args: ReindexArgs,
    io: &mut Io<'_>,
) -> Result<Exit, CliError> {
    let registry = registry(cli, &args.database)?;
    let connections = WorkerConnections::new(&args.database, &args.workers)?;
    let mut db = connect(&args.database)?;
    let ring = ring::load_for_database(&cli.env, &args.keys, &mut db, io)?;
    check_columns(&mut db, &registry)?;
    if args.workers.join {
        let reindex = Rotation::new(&registry).pacing(args.pacing.pacing(args.batch_size));
        let reindex = with_workers(
            args.lease.apply(reindex)?,
            &args.workers,
            connections.as_ref(),
        );
        return join(&reindex, &mut db, &ring, None, args.json, io);
    }
    let action = format!(
        "rewrite the stale blind indexes of {}",
        index_list(&registry)
    );
    confirm(terminal, args.force, args.dry_run, &action, io)?;

    let progress = ProgressLine::new(terminal.stderr && !args.json);
    let reindex = Rotation::new(&registry)
        .pacing(args.pacing.pacing(args.batch_size))
        .dry_run(args.dry_run)
        .progress(&progress);
    let reindex = with_workers(reindex, &args.workers, connections.as_ref());
    let reindex = with_notifiers(args.lease.apply(reindex)?)?;
    let report = reindex.reindex(&mut db, &ring);
    progress.finish();
    emit_report(io, &report.map_err(engine)?, args.json)
}

/// `table.index_column, …` of every registered blind index, for the prompt.
pub(super) fn index_list(registry: &Registry) -> String {
    registry
        .iter()
        .flat_map(|m| {
            m.columns()
                .iter()
                .filter_map(move |c| Some(format!("{}.{}", m.table(), c.blind_index()?.column())))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
