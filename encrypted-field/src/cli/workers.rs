//! What the passes that run parallel workers share: each worker's connection, the workers set on
//! a [`Rotation`], and `--join`, which works on another run's pass and prints what it did.

use std::fmt::Write as _;

use crate::cli::connect::{database_url, engine};
use crate::cli::output::{Report, render};
use crate::cli::{CliError, DatabaseArgs, Exit, Io, WorkersArgs};
use crate::format::legacy::LegacyKey;
use crate::keys::ring::KeyRing;
use crate::rotation::database::{Database, DatabaseUrl};
use crate::rotation::{JoinReport, Rotation};

/// Opens each worker's connection to the database of a command.
pub(crate) struct WorkerConnections {
    connect: Box<dyn Fn() -> crate::rotation::Result<Database> + Sync>,
}

impl WorkerConnections {
    /// The connections of `--workers` or `--join` (none without either). An in-memory SQLite
    /// database cannot be shared between connections: refused.
    pub(crate) fn new(
        args: &DatabaseArgs,
        workers: &WorkersArgs,
    ) -> Result<Option<Self>, CliError> {
        if workers.workers.is_none() && !workers.join {
            return Ok(None);
        }
        let url = database_url(args)?;
        if matches!(
            DatabaseUrl::parse(&url).map_err(engine)?,
            DatabaseUrl::Sqlite(None)
        ) {
            return Err(CliError::usage(
                "--workers and --join need a database every worker can open: not an in-memory \
                 SQLite database",
            ));
        }
        Ok(Some(Self {
            connect: Box::new(move || Database::connect(&url)),
        }))
    }
}

/// `rotation` with the workers `args` asks for, each connected by `connections`.
pub(crate) fn with_workers<'a>(
    rotation: Rotation<'a>,
    args: &WorkersArgs,
    connections: Option<&'a WorkerConnections>,
) -> Rotation<'a> {
    match (args.workers, connections) {
        (Some(count), Some(connections)) => rotation
            .workers(count, &*connections.connect)
            .chunk_rows(args.chunk_rows),
        _ => rotation,
    }
}

/// `--join`: works on the running pass with `rotation`'s workers until it ends, and prints what
/// this run did (exit 0; the run it joined reports the pass).
pub(crate) fn join(
    rotation: &Rotation<'_>,
    db: &mut Database,
    ring: &KeyRing,
    legacy_key: Option<&LegacyKey>,
    json: bool,
    io: &mut Io<'_>,
) -> Result<Exit, CliError> {
    let report = rotation.join(db, ring, legacy_key).map_err(engine)?;
    crate::cli::commands::emit(io, render(&report, json)?.as_bytes())?;
    Ok(Exit::Success)
}

impl Report for JoinReport {
    fn human(&self, out: &mut String) {
        if !self.joined {
            let _ = writeln!(
                out,
                "no parallel pass is running: nothing to join (start one with --workers N; \
                 --wait-for-lock DURATION waits for one)"
            );
            return;
        }
        let _ = writeln!(
            out,
            "joined {} passes: {} chunks, {} values read, {} rewritten, {} failed (the run \
             that started the pass reports it whole)",
            self.passes,
            self.chunks,
            self.records_processed,
            self.records_rewritten,
            self.failed_records
        );
    }
}
