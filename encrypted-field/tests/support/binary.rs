//! Running the `encrypted-field` binary as a process, in an environment of the test's choosing,
//! and what a run gives back: the one harness of the CLI tests (`cli.rs`, `rotation_cli.rs`,
//! `rotation_crash.rs`).
#![cfg(feature = "cli")]
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write as _;
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_encrypted-field");

/// Variables the binary would read from the test's own environment: removed before each run.
pub const CLEARED: [&str; 23] = [
    "ENCRYPTED_FIELD_WEBHOOK_URL",
    "ENCRYPTED_FIELD_WEBHOOK_AUTHORIZATION",
    "ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP",
    "ENCRYPTED_FIELD_NOTIFY_CA_FILE",
    "ENCRYPTED_FIELD_SMTP_URL",
    "ENCRYPTED_FIELD_SMTP_USERNAME",
    "ENCRYPTED_FIELD_SMTP_PASSWORD",
    "ENCRYPTED_FIELD_EMAIL_FROM",
    "EMAIL_FROM_ALERTS",
    "ENCRYPTED_FIELD_EMAIL_TO",
    "EMAIL_SECURITY",
    "ENCRYPTED_FIELD_NOTIFY_TIMEOUT",
    "ENCRYPTED_FIELD_KEYS_DIR",
    "ENCRYPTED_FIELD_ACTIVE_VERSION",
    "ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION",
    "DB_ENCRYPTION_KEY_FILE",
    "DB_ENCRYPTION_KEY",
    "DB_BLIND_INDEX_KEY_FILE",
    "DB_BLIND_INDEX_KEY",
    "DATABASE_URL",
    "ENCRYPTED_FIELD_BACKUP_DIR",
    "RUST_LOG",
    "PG_DATABASE_URL",
];

/// The binary with `args` and only the variables of `env` among those it reads; stdin is empty
/// (not a terminal), stdout and stderr are captured.
pub fn command(args: &[&str], env: &[(&str, &OsStr)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in CLEARED {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

/// A finished run of the binary.
pub struct Run {
    /// Its exit status.
    pub code: i32,
    /// Its stdout, as bytes: `--binary` writes envelopes there.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    /// stdout as text where it is text, so that a failed assertion shows the whole run readably.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("code", &self.code)
            .field("stdout", &String::from_utf8_lossy(&self.stdout))
            .field("stderr", &self.stderr)
            .finish()
    }
}

impl Run {
    fn from_output(output: Output) -> Self {
        Self {
            code: output
                .status
                .code()
                .expect("the binary exits, it is not killed by a signal"),
            stdout: output.stdout,
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// stdout as UTF-8 text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8(self.stdout.clone())
            .unwrap_or_else(|e| panic!("stdout is not UTF-8 ({e}): {self:#?}"))
    }

    /// stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// Asserts the exit status, showing the whole run when it differs.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "{self:#?}");
        self
    }

    /// Asserts exit status 0.
    pub fn assert_success(&self) -> &Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }

    /// Failed with `code`, one `error: …` line on stderr, nothing on stdout.
    pub fn assert_failed(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "{self:?}");
        assert!(
            self.stdout.is_empty(),
            "stdout must stay empty on failure: {self:?}"
        );
        assert!(self.stderr.starts_with("error: "), "{self:?}");
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "{self:?}"
        );
        self
    }
}

/// Runs the binary to the end with `args`, the variables of `env` and no stdin.
pub fn run(args: &[&str], env: &[(&str, &OsStr)]) -> Run {
    Run::from_output(command(args, env).output().unwrap())
}

/// Runs the binary to the end with `args`, the variables of `env`, and `stdin` on a pipe.
pub fn run_with_stdin(args: &[&str], env: &[(&str, &OsStr)], stdin: &[u8]) -> Run {
    let mut command = command(args, env);
    command.stdin(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    // The command may exit before reading stdin (a usage error): a broken pipe is not a failure here.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    Run::from_output(child.wait_with_output().unwrap())
}
