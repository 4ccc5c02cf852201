//! The work of each command, on the library's APIs. Each command writes to stdout only once it
//! has succeeded, so a failed command leaves stdout empty (a rotation that completed with failures
//! has succeeded in this sense: its report is printed, and it exits 1).

mod crypt;
#[cfg(feature = "_database")]
mod database;
mod keygen;
mod keys;
#[cfg(feature = "_database")]
mod migrate;
#[cfg(feature = "_database")]
mod reindex;
mod ring;
#[cfg(feature = "_database")]
mod rotate;
#[cfg(feature = "_database")]
mod status;
#[cfg(feature = "_database")]
mod verify;

use super::{Cli, CliError, Command, Exit, Io, Terminal};

/// Runs `command` as `cli` is configured (key variables, the application's models), asking for
/// confirmation and drawing progress only where `terminal` says the streams are terminals.
#[cfg_attr(not(feature = "_database"), allow(unused_variables))]
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
        #[cfg(feature = "_database")]
        Command::Rotate(args) => rotate::run(cli, terminal, args, io),
        #[cfg(feature = "_database")]
        Command::Verify(args) => verify::run(cli, terminal, args, io),
        #[cfg(feature = "_database")]
        Command::Status(args) => status::run(cli, args, io).map(done),
        #[cfg(feature = "_database")]
        Command::Migrate(args) => migrate::run(cli, terminal, args, io),
        #[cfg(feature = "_database")]
        Command::Reindex(args) => reindex::run(cli, terminal, args, io),
    }
}

/// Writes the command's result to stdout.
fn emit(io: &mut Io<'_>, bytes: &[u8]) -> Result<(), CliError> {
    io.stdout
        .write_all(bytes)
        .map_err(|e| CliError::io("writing to stdout", &e))
}
