//! [`AppError`]: why a command stopped, and the exit status that says so.

use std::fmt;

use encrypted_field::cli::Exit;

/// A command that could not finish. The message says what was being done and why; it never holds
/// key bytes, a database password or a plaintext phone number.
#[derive(Debug)]
pub struct AppError {
    exit: Exit,
    message: String,
}

impl AppError {
    /// Bad usage or configuration, or the command could not run (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    /// Nothing matched, or a stored value failed to decrypt (exit status 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Failure,
            message: message.into(),
        }
    }

    /// An error of the library while doing `action`, with the exit status its kind deserves: a
    /// value that does not decrypt is a failure (1); a missing or bad key, a bad database URL or a
    /// database that cannot be used is configuration (2).
    pub fn library(action: impl fmt::Display, error: &encrypted_field::Error) -> Self {
        Self::with_message_of(error, format!("{action}: {error}"))
    }

    fn with_message_of(error: &encrypted_field::Error, message: String) -> Self {
        use encrypted_field::Error as E;
        match error {
            E::UnknownKeyVersion(_)
            | E::Malformed(_)
            | E::Authentication { .. }
            | E::InvalidPlaintext { .. }
            | E::Legacy { .. }
            | E::Column { .. } => Self::failure(message),
            _ => Self::usage(message),
        }
    }

    /// A database error while doing `action` (exit status 2: the command could not run).
    pub fn database(action: impl fmt::Display, error: &diesel::result::Error) -> Self {
        Self::usage(format!("{action}: {error}"))
    }

    /// Writing the output failed. A closed pipe (`phone_requests list | head`) is not an error
    /// worth a message: the reader has what it wanted.
    pub fn output(error: &std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            Self {
                exit: Exit::Success,
                message: String::new(),
            }
        } else {
            Self::usage(format!("writing to stdout: {error}"))
        }
    }

    /// The exit status this error ends the process with.
    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// Whether there is anything to print (a closed pipe has nothing).
    pub fn is_silent(&self) -> bool {
        self.message.is_empty()
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

/// For `?` inside a Diesel transaction whose closure returns `AppError`.
impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        Self::database("in a database transaction", &error)
    }
}
