//! [`CliError`]: why a command stopped, and with which exit status.

use std::fmt;
use std::path::Path;

use super::Exit;
use crate::error::Error;
use crate::keys::dir::ACTIVE_VERSION_FILE;
use crate::keys::env::EnvVars;

/// A command that could not finish: the exit status and the message for stderr, which says what
/// was being done and why it failed, and never holds key bytes.
#[derive(Debug)]
pub struct CliError {
    exit: Exit,
    message: String,
}

impl CliError {
    /// Bad usage or configuration (exit status 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    /// A value that failed to decrypt (exit status 1).
    pub(crate) fn failure(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Failure,
            message: message.into(),
        }
    }

    /// Reading or writing a stream or file failed (exit status 2: the command could not run).
    pub(crate) fn io(action: impl fmt::Display, source: &std::io::Error) -> Self {
        Self::usage(format!("{action}: {source}"))
    }

    /// Loading keys failed (exit status 2). The message names the file or directory that is wrong
    /// when `err` comes from one of `sources`.
    pub(crate) fn keys(err: &Error, sources: &KeySources<'_>) -> Self {
        Self::usage(sources.describe(err))
    }

    /// The exit status this error ends the command with.
    pub fn exit(&self) -> Exit {
        self.exit
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// What the command knows about where its keys came from, to say which file a key error is about.
#[derive(Debug, Default)]
pub(crate) struct KeySources<'a> {
    /// The keys directory in use, if any.
    pub(crate) keys_dir: Option<&'a Path>,
    /// The single key file in use, if any.
    pub(crate) key_file: Option<&'a Path>,
    /// The environment variable names, for the "no key configured" message.
    pub(crate) vars: Option<&'a EnvVars>,
}

impl KeySources<'_> {
    fn describe(&self, err: &Error) -> String {
        match err {
            Error::BadKey { origin, reason } => {
                let origin_path = Path::new(origin);
                if self.keys_dir == Some(origin_path) {
                    format!("reading keys directory {origin}: {reason}")
                } else if self.key_file == Some(origin_path) {
                    format!("reading key file {origin}: {reason}")
                } else if self
                    .keys_dir
                    .is_some_and(|dir| origin_path.parent() == Some(dir))
                {
                    if origin_path
                        .file_name()
                        .is_some_and(|name| name == ACTIVE_VERSION_FILE)
                    {
                        format!("reading {origin}: {reason}")
                    } else {
                        format!("reading key file {origin}: {reason}")
                    }
                } else {
                    err.to_string()
                }
            }
            Error::NoKeyConfigured => {
                let default_vars = EnvVars::default();
                let vars = self.vars.unwrap_or(&default_vars);
                format!(
                    "no encryption key is configured: set {} (a directory of enc_key_vN files), {} (one key \
                     file) or {} (one base64 key), or pass --keys-dir DIR or --key-file FILE",
                    vars.keys_dir, vars.key_file, vars.key
                )
            }
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BadKeyReason;

    fn bad_key(origin: &str) -> Error {
        Error::BadKey {
            origin: origin.to_owned(),
            reason: BadKeyReason::WrongLength { found: 31 },
        }
    }

    #[test]
    fn key_file_errors_name_the_file() {
        let sources = KeySources {
            key_file: Some(Path::new("/run/secrets/enc_key.txt")),
            ..KeySources::default()
        };
        let message = CliError::keys(&bad_key("/run/secrets/enc_key.txt"), &sources).to_string();
        assert!(
            message
                .starts_with("reading key file /run/secrets/enc_key.txt: it decodes to 31 bytes"),
            "{message}"
        );
    }

    #[test]
    fn errors_about_a_file_in_the_keys_directory_name_that_file() {
        let sources = KeySources {
            keys_dir: Some(Path::new("/run/secrets")),
            ..KeySources::default()
        };
        let message = CliError::keys(&bad_key("/run/secrets/enc_key_v2"), &sources).to_string();
        assert!(
            message.starts_with("reading key file /run/secrets/enc_key_v2: "),
            "{message}"
        );
        let message = CliError::keys(&bad_key("/run/secrets"), &sources).to_string();
        assert!(
            message.starts_with("reading keys directory /run/secrets: "),
            "{message}"
        );
    }

    #[test]
    fn no_key_configured_names_the_variables_and_the_flags() {
        let vars = EnvVars::with_prefix("PAYLOAD");
        let sources = KeySources {
            vars: Some(&vars),
            ..KeySources::default()
        };
        let err = CliError::keys(&Error::NoKeyConfigured, &sources);
        assert_eq!(err.exit(), Exit::Usage);
        let message = err.to_string();
        for name in [
            "PAYLOAD_KEYS_DIR",
            "PAYLOAD_ENCRYPTION_KEY_FILE",
            "PAYLOAD_ENCRYPTION_KEY",
            "--keys-dir",
        ] {
            assert!(message.contains(name), "{message}");
        }
    }
}
