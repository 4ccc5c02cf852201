//! The work of each command, on the library's APIs. Each command writes to stdout only once it
//! has succeeded, so a failed command leaves stdout empty (a rotation that completed with failures
//! has succeeded in this sense: its report is printed, and it exits 1).

mod blind_index_keys;
mod crypt;
mod keygen;
mod keys;
mod migrate;
mod reindex;
mod rotate;
mod rotate_blind_index;
mod status;
mod verify;

use super::{Cli, CliError, Command, Exit, Io, Terminal};

/// Runs `command` as `cli` is configured (key variables, the application's models), asking for
/// confirmation and drawing progress only where `terminal` says the streams are terminals.
pub(crate) fn execute(
    cli: &Cli,
    terminal: Terminal,
    command: Command,
    io: &mut Io<'_>,
) -> Result<Exit, CliError> {
    let vars = &cli.env;
    let done = |()| Exit::Success;
    match command {
        Command::Keygen(args) => keygen::run(&args, io).map(done),
        Command::Keys(args) => keys::run(cli, args, io).map(done),
        Command::Encrypt(args) => crypt::encrypt(vars, &args, io).map(done),
        Command::Decrypt(args) => crypt::decrypt(vars, &args, io).map(done),
        Command::Rotate(args) => rotate::run(cli, terminal, args, io),
        Command::Verify(args) => verify::run(cli, terminal, args, io),
        Command::Status(args) => status::run(cli, args, io).map(done),
        Command::Migrate(args) => migrate::run(cli, terminal, args, io),
        Command::Reindex(args) => reindex::run(cli, terminal, args, io),
    }
}

/// Writes the command's result to stdout.
pub(crate) fn emit(io: &mut Io<'_>, bytes: &[u8]) -> Result<(), CliError> {
    io.stdout
        .write_all(bytes)
        .map_err(|e| CliError::io("writing to stdout", &e))
}
