//! `keygen`: a new random key, as `openssl rand -base64 32` prints one.

use std::io::ErrorKind;

use zeroize::Zeroizing;

use super::emit;
use crate::cli::{CliError, Io, KeygenArgs};
use crate::error::Error;
use crate::keys::master_key::MasterKey;

/// Prints a new key (44 characters of standard base64 and a newline), or writes it into a new
/// file with mode 0600, never over an existing one.
pub(super) fn run(args: &KeygenArgs, io: &mut Io<'_>) -> Result<(), CliError> {
    let key = MasterKey::try_generate().map_err(|e| CliError::usage(e.to_string()))?;
    let Some(path) = &args.out else {
        let mut line = Zeroizing::new(String::with_capacity(45));
        line.push_str(&key.to_base64());
        line.push('\n');
        return emit(io, line.as_bytes());
    };
    key.write_to_new_file(path).map_err(|err| match err {
        Error::Io { source, .. } if source.kind() == ErrorKind::AlreadyExists => {
            CliError::usage(format!(
                "writing key file {}: the file exists, and a key file is never overwritten",
                path.display()
            ))
        }
        Error::Io { source, .. } => {
            CliError::io(format_args!("writing key file {}", path.display()), &source)
        }
        other => CliError::usage(other.to_string()),
    })?;
    // A note, not the result: stdout stays free for scripts.
    let _ = writeln!(
        io.stderr,
        "wrote a new key to {} (mode 0600)",
        path.display()
    );
    Ok(())
}
