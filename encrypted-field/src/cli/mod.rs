//! The `encrypted-field` command-line tool (feature `cli`), as a library: the binary is
//! [`run`] and nothing else, and an application can embed the same commands in its own binary.
//!
//! # Usage
//!
//! ```text
//! # A key, exactly as `openssl rand -base64 32` prints it (44 characters and a newline):
//! $ encrypted-field keygen > db/enc_key.txt
//! $ encrypted-field keygen --out /run/secrets/enc_key_v1     # mode 0600, never overwrites
//!
//! # A keys directory (enc_key_v1, enc_key_v2, …), from ENCRYPTED_FIELD_KEYS_DIR or --keys-dir:
//! $ export ENCRYPTED_FIELD_KEYS_DIR=/run/secrets
//! $ encrypted-field keys add                 # v2 is written; v1 stays active
//! $ encrypted-field keys activate 2          # once every reader has v2
//! $ encrypted-field keys list                # versions, the active one, files; never key bytes
//! $ encrypted-field keys list --json
//!
//! # One value, stdin to stdout, with the keys of the environment (or --keys-dir / --key-file).
//! # encrypt prints standard base64 and a newline (what a TEXT column stores), or with --binary
//! # the raw bytes (what a BLOB column stores); decrypt reads the same, and prints the plaintext.
//! $ printf %s '078-05-1120' | encrypted-field encrypt --context customers._ssn
//! RUYBAAAAA…
//! $ printf %s 'RUYBAAAAA…' | encrypted-field decrypt --context customers._ssn
//! 078-05-1120
//!
//! # One value of a replaced system, with that system's key:
//! $ printf %s 'gAAAAAB…' | encrypted-field decrypt --from fernet --key-file fernet.key
//! $ printf %s '9f1c…:03ab…' | encrypted-field decrypt --from node-cbc --key-file db/enc_key.txt
//! ```
//!
//! # Rotation
//!
//! The database is `--database-url` or `DATABASE_URL` (`sqlite://path` or a path, `mysql://…`,
//! `postgres://…`). The encrypted columns are the embedding application's models
//! ([`Cli::registry`]) and, for the standalone binary, `--column TABLE.COLUMN[:text][:nullable]`
//! with `[:bind-row]` for a row-bound column and `[:bidx=COLUMN][:normalize=NAME]` for a blind
//! index (the primary key is `id`, an integer, unless `--primary-key TABLE=COLUMN[:text]` says
//! otherwise) or `--models models.toml`.
//!
//! ```text
//! $ export DATABASE_URL=sqlite://app.db ENCRYPTED_FIELD_KEYS_DIR=/run/secrets
//! $ C="--column customers._ssn:nullable --column phone_requests.phone_number:text"
//! $ encrypted-field status $C                  # values per key version, per column (no key needed)
//! $ encrypted-field rotate $C --dry-run         # what would be rewritten; writes nothing
//! $ encrypted-field rotate $C                   # asks first on a terminal; --force in scripts
//! $ encrypted-field rotate $C --new-key --backup-dir /var/backups/keys --force --json
//! $ encrypted-field verify $C                   # every value opens, and is on the active key
//! $ encrypted-field keys retire 1 $C            # once no value uses v1: enc_key_v1 → retired/
//! $ encrypted-field migrate $C --from node-cbc --legacy-key-file db/enc_key.txt --force
//!
//! # A column with a blind index (here phone numbers, indexed by their digits): migrate writes
//! # each value's index with it; reindex rewrites indexes that are empty or stale; verify fails
//! # on a stale one (and says so when it has no blind-index key to check them with). The
//! # blind-index key is DB_BLIND_INDEX_KEY_FILE (or DB_BLIND_INDEX_KEY, or --blind-index-key-file).
//! $ export DB_BLIND_INDEX_KEY_FILE=/run/secrets/blind_index_key
//! $ P="--column phone_requests.phone_number:bidx=phone_bidx:normalize=digits"
//! $ encrypted-field migrate $P --from node-cbc --legacy-key-file db/enc_key.txt --force
//! $ encrypted-field reindex $P --dry-run        # how many indexes are empty or stale
//! $ encrypted-field reindex $P --force
//!
//! # Scheduled rotation, the Celery beat entry's replacement: run this daily (cron, a systemd
//! # timer, a Kubernetes CronJob). It rotates to a new key when the active one was activated more
//! # than a month ago (as recorded in the database), and otherwise prints when it is due, exit 0.
//! $ encrypted-field rotate $C --new-key --backup-dir /var/backups/keys --if-due monthly --force
//! ```
//!
//! Without `--force`, `rotate`, `migrate` and `reindex` ask for confirmation on a terminal and refuse (exit
//! 2) when stdin is not one. A progress line is drawn on stderr when it is a terminal, never with
//! `--json`; stdout holds the report only. Notifications go to the log (`tracing`; the binary
//! prints it on stderr at the level `RUST_LOG` names, `warn` by default), and to a webhook or by
//! e-mail when the environment configures them ([`notify::env`](crate::notify::env)): features
//! `webhook` and `email`, which the standalone binary always has. A build without one refuses
//! (exit 2, naming the feature) a configuration that uses it, before anything is written.
//!
//! # Exit status
//!
//! Stable, as [`Exit`] documents: 0 success, 1 a value failed to decrypt (or a rotation,
//! migration or verification completed with failures: its report is printed and lists them), 2
//! bad usage or configuration (including every command-line error `clap` reports, a bad key, a
//! bad database URL, an unknown table or column, another rotation holding the lock). When a
//! command fails, stdout stays empty and stderr holds one line, `error: <what was being done>:
//! <why>`, never key bytes and never a backtrace.
//!
//! # Embedding
//!
//! [`run_with`] takes the arguments and the three streams, so the tool runs in-process:
//!
//! ```
//! use encrypted_field::cli::{run_with, Exit, Io};
//!
//! let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
//! let mut io = Io { stdin: &mut std::io::empty(), stdout: &mut stdout, stderr: &mut stderr };
//! assert_eq!(run_with(["encrypted-field", "keygen"], &mut io), Exit::Success);
//! assert_eq!(stdout.len(), 45); // 44 characters of base64 and a newline
//! ```
//!
//! An application can also nest [`Command`] in its own `clap` parser (as Django's `manage.py`
//! carries `rotate_encryption_key`), and run it with [`Cli::execute_std`], handing over its own
//! models so that `manage encryption rotate` needs no `--column`:
//!
//! ```no_run
//! use clap::Parser;
//! use encrypted_field::cli::{Cli, Command};
//! use encrypted_field::model::Registry;
//!
//! #[derive(Parser)]
//! enum Manage {
//!     /// The application's own command.
//!     Serve,
//!     /// Encryption keys, values, and rotation of the application's encrypted columns.
//!     #[command(subcommand)]
//!     Encryption(Command),
//! }
//!
//! fn main() -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
//!     Ok(match Manage::parse() {
//!         Manage::Serve => std::process::ExitCode::SUCCESS,
//!         // Every #[derive(EncryptedModel)] type linked into the binary.
//!         Manage::Encryption(command) => Cli::new().registry(Registry::discovered()?).execute_std(command),
//!     })
//! }
//! ```

mod args;
mod blind_index_output;
mod commands;
mod connect;
mod error;
mod fleet_output;
mod key_check;
mod key_ring;
mod models;
mod output;
mod pass;
mod progress;
mod workers;
mod wrapped_output;

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Parser as _;

pub use args::{
    Args, Command, DatabaseArgs, DecryptArgs, EncryptArgs, KeySourceArgs, KeygenArgs, KeysAction,
    KeysArgs, LegacySource, MigrateArgs, MigrationSource, Period, ReindexArgs, RotateArgs,
    StagingArgs, StatusArgs, VerifyArgs, WorkersArgs, WriteArgs,
};
pub use error::CliError;
pub use models::{ColumnArg, PrimaryKeyArg};

use crate::keys::env::EnvVars;

/// How to install the standalone tool with all three backends (SQLite, MySQL/MariaDB,
/// PostgreSQL): what the README says, and what the tool says when it meets a URL of a backend
/// it was built without.
///
/// ```
/// assert!(encrypted_field::cli::INSTALL_COMMAND.starts_with("cargo install encrypted-field"));
/// ```
pub const INSTALL_COMMAND: &str = "cargo install encrypted-field --features cli-all-backends";

/// The exit status of a command. The numbers are stable: scripts may rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Exit {
    /// 0: the command did what was asked.
    Success = 0,
    /// 1: the command ran, but a value failed to decrypt (tampered, truncated, wrong context, key
    /// version not loaded, not a value at all); for `rotate`, `migrate` and `verify`: the pass
    /// completed, with failures (the report's status is `failed` and lists them).
    Failure = 1,
    /// 2: bad usage or configuration: an unknown flag, a missing or bad key, an unreadable file,
    /// a file that would be overwritten, a bad database URL, an unknown table or column, another
    /// rotation holding the lock, a refused confirmation.
    Usage = 2,
}

impl Exit {
    /// The number the process exits with.
    ///
    /// ```
    /// use encrypted_field::cli::Exit;
    /// assert_eq!(Exit::Usage.code(), 2);
    /// ```
    pub const fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// The streams a command reads and writes: the process's own, or buffers when embedded or tested.
pub struct Io<'a> {
    /// Where `encrypt` and `decrypt` read their input, and confirmations are read.
    pub stdin: &'a mut dyn Read,
    /// Where results go; written only when the command succeeds.
    pub stdout: &'a mut dyn Write,
    /// Where errors and notes go.
    pub stderr: &'a mut dyn Write,
}

impl fmt::Debug for Io<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Io").finish_non_exhaustive()
    }
}

/// The tool, configured. The default reads the environment variables of `DESIGN.md`
/// (`ENCRYPTED_FIELD_KEYS_DIR`, `DB_ENCRYPTION_KEY_FILE`, `DB_ENCRYPTION_KEY`, …).
///
/// The commands that work on a database (`rotate`, `verify`, `status`, `migrate`, `reindex`,
/// `keys retire`) take the application's models from here, so an embedding application
/// configures them once (`--column` and `--models` add to them).
///
/// ```
/// use encrypted_field::keys::EnvVars;
/// use encrypted_field::cli::Cli;
/// // A tool for the application's second ring, read from PAYLOAD_KEYS_DIR, PAYLOAD_ENCRYPTION_KEY, …
/// let payload = Cli::new().env_vars(EnvVars::with_prefix("PAYLOAD"));
/// # let _ = payload;
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cli {
    env: EnvVars,
    registry: crate::model::Registry,
}

/// Whether the process's streams are terminals: a confirmation can be asked on stdin, a progress
/// bar drawn on stderr. Buffers (embedding, tests) are neither.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Terminal {
    pub(crate) stdin: bool,
    pub(crate) stderr: bool,
}

impl Cli {
    /// The tool with the default environment variable names.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads keys from these environment variable names instead of the default ones.
    pub fn env_vars(mut self, vars: EnvVars) -> Self {
        self.env = vars;
        self
    }

    /// The application's encrypted models, for `rotate`, `verify`, `status`, `migrate` and
    /// `keys retire`: typically [`Registry::discovered`](crate::model::Registry::discovered), every
    /// `#[derive(EncryptedModel)]` type of the binary.
    ///
    /// ```
    /// use encrypted_field::cli::Cli;
    /// use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
    /// let registry = Registry::new()
    ///     .register_spec(ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn").nullable()))?;
    /// let manage = Cli::new().registry(registry);
    /// # let _ = manage;
    /// # Ok::<(), encrypted_field::model::SpecError>(())
    /// ```
    pub fn registry(mut self, registry: crate::model::Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Parses the process's arguments and runs the command on the process's streams.
    pub fn run(&self) -> ExitCode {
        match Args::try_parse() {
            Ok(args) => self.execute_std(args.command),
            Err(err) => {
                // clap prints help and version on stdout, usage errors on stderr, with colour on
                // a terminal; if even that fails there is nowhere left to report it.
                let _ = err.print();
                clap_exit(&err).into()
            }
        }
    }

    /// Parses `args` (the first one is the program name) and runs the command on `io`.
    pub fn run_with<I, T>(&self, args: I, io: &mut Io<'_>) -> Exit
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        match Args::try_parse_from(args) {
            Ok(args) => self.execute(args.command, io),
            Err(err) => {
                let exit = clap_exit(&err);
                let stream = if exit == Exit::Success {
                    &mut *io.stdout
                } else {
                    &mut *io.stderr
                };
                let _ = write!(stream, "{}", err.render());
                exit
            }
        }
    }

    /// Runs an already parsed command on `io`: its result goes to `io.stdout` only if it succeeds
    /// (a rotation, migration or verification prints its report, failures or not), its error to
    /// `io.stderr` as `error: …`.
    ///
    /// `io` is not a terminal here: commands that ask for confirmation need `--force`, and no
    /// progress bar is drawn. [`execute_std`](Self::execute_std) asks and draws on a terminal.
    pub fn execute(&self, command: Command, io: &mut Io<'_>) -> Exit {
        self.execute_on(command, io, Terminal::default())
    }

    fn execute_on(&self, command: Command, io: &mut Io<'_>, terminal: Terminal) -> Exit {
        match commands::execute(self, terminal, command, io).and_then(|exit| {
            io.stdout
                .flush()
                .map(|()| exit)
                .map_err(|e| CliError::io("writing to stdout", &e))
        }) {
            Ok(exit) => exit,
            Err(err) => {
                let _ = writeln!(io.stderr, "error: {err}");
                err.exit()
            }
        }
    }

    /// Runs an already parsed command on the process's streams.
    pub fn execute_std(&self, command: Command) -> ExitCode {
        use std::io::IsTerminal as _;
        let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
        let terminal = Terminal {
            stdin: stdin.is_terminal(),
            stderr: stderr.is_terminal(),
        };
        // stderr stays unlocked: the progress bar and the log write to it from other threads.
        let (mut stdin, mut stdout, mut stderr) = (stdin.lock(), stdout.lock(), stderr);
        let mut io = Io {
            stdin: &mut stdin,
            stdout: &mut stdout,
            stderr: &mut stderr,
        };
        self.execute_on(command, &mut io, terminal).into()
    }
}

/// Runs the tool on the process's arguments and streams: the whole of `main` of the binary.
///
/// It also sends `tracing` events (the log notifier's report summary, failed notifications) to
/// stderr, at the level `RUST_LOG` names (`error`, `warn`, `info`, `debug`, `trace`; default
/// `warn`), unless the process already has a subscriber.
pub fn run() -> ExitCode {
    init_log();
    Cli::new().run()
}

fn init_log() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::WARN);
    // Fails only if a subscriber is already installed, which then stays.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .try_init();
}

/// Runs the tool on `args` (the first one is the program name) and `io`, with the default
/// configuration. See [`Cli::run_with`].
pub fn run_with<I, T>(args: I, io: &mut Io<'_>) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::new().run_with(args, io)
}

/// `--help` and `--version` succeed; every other parse error is bad usage.
fn clap_exit(err: &clap::Error) -> Exit {
    if err.use_stderr() {
        Exit::Usage
    } else {
        Exit::Success
    }
}
