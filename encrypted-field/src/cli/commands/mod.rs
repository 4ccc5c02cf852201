//! The work of each command, on the library's APIs. Each command writes to stdout only once it
//! has succeeded, so a failed command leaves stdout empty.

mod crypt;
mod keygen;
mod keys;
mod ring;

use super::{CliError, Command, Io};
use crate::EnvVars;

/// Runs `command`, with keys from the environment variables `vars` unless its flags say otherwise.
pub(crate) fn execute(vars: &EnvVars, command: Command, io: &mut Io<'_>) -> Result<(), CliError> {
    match command {
        Command::Keygen(args) => keygen::run(&args, io),
        Command::Keys(args) => keys::run(vars, args, io),
        Command::Encrypt(args) => crypt::encrypt(vars, &args, io),
        Command::Decrypt(args) => crypt::decrypt(vars, &args, io),
    }
}

/// Writes the command's result to stdout.
fn emit(io: &mut Io<'_>, bytes: &[u8]) -> Result<(), CliError> {
    io.stdout
        .write_all(bytes)
        .map_err(|e| CliError::io("writing to stdout", &e))
}
