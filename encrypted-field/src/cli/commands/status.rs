//! `status`: values per key version in every column, read from the envelopes' headers (no key).

use super::emit;
use crate::cli::connect::{check_columns, connect, engine, registry};
use crate::cli::error::CliError;
use crate::cli::output::render;
use crate::cli::{Cli, Io, StatusArgs};
use crate::rotation::Rotation;

/// `status`: values per key version in every column, from the envelopes' headers (no key).
pub(super) fn run(cli: &Cli, args: StatusArgs, io: &mut Io<'_>) -> Result<(), CliError> {
    let registry = registry(cli, &args.database)?;
    let mut db = connect(&args.database)?;
    check_columns(&mut db, &registry)?;
    let report = Rotation::new(&registry)
        .batch_size(args.batch_size)
        .status(&mut db)
        .map_err(engine)?;
    emit(io, render(&report, args.json)?.as_bytes())
}
