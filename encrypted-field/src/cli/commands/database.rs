//! What the database commands share: the models, the connection, the confirmation, the
//! notifiers and the printing of a report.

use std::io::{BufRead as _, Read as _};
use std::path::PathBuf;

use crate::cli::output::render;
use crate::cli::{Cli, CliError, DatabaseArgs, Exit, Io, Terminal, models};
use crate::database::{Database, DatabaseUrl};
use crate::model::Registry;
use crate::notify::notifiers_from_env;
use crate::rotation::{Operation, Rotation, RotationReport, RotationStatus};

/// The variable `--database-url` defaults to.
pub(super) const DATABASE_URL_VAR: &str = "DATABASE_URL";
/// The variable `--backup-dir` defaults to.
pub(super) const BACKUP_DIR_VAR: &str = "ENCRYPTED_FIELD_BACKUP_DIR";

/// The application's models with those of the flags added.
pub(super) fn registry(cli: &Cli, args: &DatabaseArgs) -> Result<Registry, CliError> {
    models::registry(
        cli.registry.clone(),
        args.models.as_deref(),
        &args.columns,
        &args.primary_keys,
    )
}

/// Connects to `--database-url` or `$DATABASE_URL`. A SQLite file that does not exist is an
/// error (SQLite would silently create an empty database in its place).
pub(super) fn connect(args: &DatabaseArgs) -> Result<Database, CliError> {
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => std::env::var(DATABASE_URL_VAR).map_err(|_| {
            CliError::usage(format!(
                "no database: pass --database-url URL or set {DATABASE_URL_VAR}"
            ))
        })?,
    };
    let parsed = DatabaseUrl::parse(&url).map_err(engine)?;
    if let Some((backend, feature)) = missing_backend(&parsed) {
        return Err(backend_not_built(&parsed, backend, feature));
    }
    if let DatabaseUrl::Sqlite(Some(path)) = &parsed
        && !path.exists()
    {
        return Err(CliError::usage(format!(
            "database URL `{}`: the SQLite database file {} does not exist",
            parsed.redacted(),
            path.display()
        )));
    }
    Database::connect(&url).map_err(engine)
}

/// The backend `url` names and its cargo feature, when this build lacks it.
fn missing_backend(url: &DatabaseUrl) -> Option<(&'static str, &'static str)> {
    let (backend, feature, built) = match url {
        DatabaseUrl::Sqlite(_) => ("SQLite", "sqlite", cfg!(feature = "sqlite")),
        DatabaseUrl::Mysql(_) => ("MySQL/MariaDB", "mysql", cfg!(feature = "mysql")),
        DatabaseUrl::Postgres(_) => ("PostgreSQL", "postgres", cfg!(feature = "postgres")),
    };
    (!built).then_some((backend, feature))
}

/// The error for a URL of a backend this build lacks: it says how to get a tool that has it.
fn backend_not_built(url: &DatabaseUrl, backend: &str, feature: &str) -> CliError {
    CliError::usage(format!(
        "database URL `{}`: this build of encrypted-field has no {backend} support; install the \
         tool with all three backends: {} (an application embedding the tool enables \
         encrypted-field's `{feature}` feature)",
        url.redacted(),
        crate::cli::INSTALL_COMMAND,
    ))
}

/// `--backup-dir`, else `$ENCRYPTED_FIELD_BACKUP_DIR`.
pub(super) fn backup_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| std::env::var_os(BACKUP_DIR_VAR).map(PathBuf::from))
}

/// An error of the rotation engine or the database: the command could not run (exit 2). Its
/// message says what was being done and where (the table and column, the file, the URL with its
/// password removed).
pub(super) fn engine(err: crate::Error) -> CliError {
    CliError::usage(err.to_string())
}

/// Asks on the terminal whether to go ahead with `action` (which should name what will be
/// written), unless `--force` or `--dry-run`. Refuses when stdin is not a terminal: a job that
/// runs unattended must say `--force`.
pub(super) fn confirm(
    terminal: Terminal,
    force: bool,
    dry_run: bool,
    action: &str,
    io: &mut Io<'_>,
) -> Result<(), CliError> {
    if force || dry_run {
        return Ok(());
    }
    if !terminal.stdin {
        return Err(CliError::usage(format!(
            "refusing to {action} without confirmation: stdin is not a terminal \
             (pass --force to go ahead without asking, or --dry-run to see what would change)"
        )));
    }
    let _ = write!(io.stderr, "About to {action}.\nContinue? [y/N] ");
    let _ = io.stderr.flush();
    let mut answer = String::new();
    std::io::BufReader::new(io.stdin.take(256))
        .read_line(&mut answer)
        .map_err(|e| CliError::io("reading the answer from stdin", &e))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::usage("cancelled; nothing was written")),
    }
}

/// `table.column, table.column, …` of every registered column, for prompts.
pub(super) fn column_list(registry: &Registry) -> String {
    registry
        .iter()
        .flat_map(|m| {
            m.columns()
                .iter()
                .map(move |c| format!("{}.{}", m.table(), c.column()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `rotation` with the notifiers told about every rotation, migration and verification: the log
/// always, and a webhook and an e-mail when the environment configures them
/// ([`notifiers_from_env`]). A notifier configuration that cannot be used is an error before
/// anything is written.
pub(super) fn with_notifiers(rotation: Rotation<'_>) -> Result<Rotation<'_>, CliError> {
    let notifiers = notifiers_from_env()
        .map_err(|e| CliError::usage(format!("configuring notifications: {e}")))?;
    Ok(notifiers.into_iter().fold(rotation, Rotation::notifier))
}

/// Prints the report (JSON or text) and says how the command ends: 0 completed, 1 failed.
pub(super) fn emit_report(
    io: &mut Io<'_>,
    report: &RotationReport,
    json: bool,
) -> Result<Exit, CliError> {
    super::emit(io, render(report, json)?.as_bytes())?;
    if report.status == RotationStatus::Completed {
        return Ok(Exit::Success);
    }
    if !json {
        let mut why = Vec::new();
        let stale = report
            .verification
            .as_ref()
            .map_or(0, |v| v.stale_blind_indexes);
        // A verification lists its stale blind indexes among its failures; those values did open.
        let unreadable = match report.operation {
            Operation::Verify => report.failed_records.saturating_sub(stale),
            _ => report.failed_records,
        };
        if unreadable > 0 {
            why.push(format!(
                "{unreadable} values could not be read (they are listed above and were left untouched)"
            ));
        }
        if stale > 0 {
            why.push(format!(
                "{stale} blind indexes do not match their values (run reindex)"
            ));
        }
        if let Some(v) = report
            .verification
            .as_ref()
            .filter(|v| v.values_on_other_versions > 0)
        {
            why.push(format!(
                "{} values are not on the active key v{}",
                v.values_on_other_versions, report.active_version
            ));
        }
        if why.is_empty() {
            why.push("verification failed".to_owned());
        }
        let _ = writeln!(io.stderr, "error: {}", why.join("; "));
    }
    Ok(Exit::Failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TERMINAL: Terminal = Terminal {
        stdin: true,
        stderr: true,
    };

    fn ask(
        terminal: Terminal,
        force: bool,
        dry_run: bool,
        answer: &[u8],
    ) -> (Result<(), CliError>, String) {
        let (mut stdin, mut stdout, mut stderr) = (answer, Vec::new(), Vec::new());
        let mut io = Io {
            stdin: &mut stdin,
            stdout: &mut stdout,
            stderr: &mut stderr,
        };
        let result = confirm(terminal, force, dry_run, "rotate customers._ssn", &mut io);
        assert!(stdout.is_empty(), "the prompt never goes to stdout");
        (result, String::from_utf8(stderr).unwrap())
    }

    #[test]
    fn a_terminal_is_asked_and_yes_goes_ahead() {
        for answer in [&b"y\n"[..], b"YES\n", b" yes \r\n"] {
            let (result, prompt) = ask(TERMINAL, false, false, answer);
            assert!(result.is_ok(), "{answer:?}");
            assert_eq!(prompt, "About to rotate customers._ssn.\nContinue? [y/N] ");
        }
    }

    #[test]
    fn any_other_answer_cancels() {
        for answer in [&b"n\n"[..], b"\n", b"", b"yess\n"] {
            let (result, _) = ask(TERMINAL, false, false, answer);
            let err = result.unwrap_err();
            assert_eq!(err.exit(), Exit::Usage);
            assert!(err.to_string().contains("cancelled"), "{err}");
        }
    }

    #[test]
    fn without_a_terminal_it_refuses_and_names_force() {
        let (result, prompt) = ask(Terminal::default(), false, false, b"y\n");
        let err = result.unwrap_err();
        assert_eq!(err.exit(), Exit::Usage);
        assert!(err.to_string().contains("--force"), "{err}");
        assert!(prompt.is_empty());
    }

    #[test]
    fn force_and_dry_run_ask_nothing() {
        assert!(ask(Terminal::default(), true, false, b"").0.is_ok());
        assert!(ask(Terminal::default(), false, true, b"").0.is_ok());
    }

    #[test]
    fn a_backend_the_build_lacks_names_the_install_command() {
        let url = DatabaseUrl::parse("mysql://app:s3cret@db/app").unwrap();

        let err = backend_not_built(&url, "MySQL/MariaDB", "mysql");

        assert_eq!(err.exit(), Exit::Usage);
        let message = err.to_string();
        assert!(
            message.contains("cargo install encrypted-field --features cli-all-backends"),
            "{message}"
        );
        assert!(message.contains("`mysql` feature"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}
