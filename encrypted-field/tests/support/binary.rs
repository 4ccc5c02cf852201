//! Running the `encrypted-field` binary as a process, in an environment of the test's choosing:
//! what the CLI tests (`cli.rs`, `rotation_cli.rs`, `rotation_crash.rs`) share.
#![cfg(feature = "cli")]

use std::ffi::OsStr;
use std::process::{Command, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_encrypted-field");

/// Variables the binary would read from the test's own environment: removed before each run.
pub const CLEARED: [&str; 22] = [
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
