//! What the commands that make a pass over a database share: the confirmation, the key backup
//! directory, the notifiers, and the printing of the report with the exit status it means.

use std::io::{BufRead as _, Read as _};
use std::path::PathBuf;

use crate::cli::output::render;
use crate::cli::{CliError, Exit, Io, Terminal};
use crate::model::Registry;
use crate::notify::notifiers_from_env;
use crate::rotation::{Rotation, RotationReport, RotationStatus};

/// The variable `--backup-dir` defaults to.
pub(crate) const BACKUP_DIR_VAR: &str = "ENCRYPTED_FIELD_BACKUP_DIR";

/// `--backup-dir`, else `$ENCRYPTED_FIELD_BACKUP_DIR`.
pub(crate) fn backup_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| std::env::var_os(BACKUP_DIR_VAR).map(PathBuf::from))
}

/// Asks on the terminal whether to go ahead with `action` (which should name what will be
/// written), unless `--force` or `--dry-run`. Refuses when stdin is not a terminal: a job that
/// runs unattended must say `--force`.
pub(crate) fn confirm(
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
pub(crate) fn column_list(registry: &Registry) -> String {
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
pub(crate) fn with_notifiers(rotation: Rotation<'_>) -> Result<Rotation<'_>, CliError> {
    let notifiers = notifiers_from_env()
        .map_err(|e| CliError::usage(format!("configuring notifications: {e}")))?;
    Ok(notifiers.into_iter().fold(rotation, Rotation::notifier))
}

/// Prints the report (JSON or text) and says how the command ends: 0 completed, 1 failed.
pub(crate) fn emit_report(
    io: &mut Io<'_>,
    report: &RotationReport,
    json: bool,
) -> Result<Exit, CliError> {
    crate::cli::commands::emit(io, render(report, json)?.as_bytes())?;
    if report.status == RotationStatus::Completed {
        return Ok(Exit::Success);
    }
    if !json {
        let mut why = Vec::new();
        let stale = report.stale_blind_indexes();
        let unreadable = report.unreadable_values();
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
}
