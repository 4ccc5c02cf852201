//! The `phone_requests` example as a process: built once per test process, run in a directory of
//! its own with an environment of its own.
//!
//! # How the binary is found
//!
//! Cargo gives integration tests the path of the package's binaries (`CARGO_BIN_EXE_<name>`) but
//! not of its examples. The choices were:
//! - run the application's code in-process (its modules reused as a library): it would not test
//!   the binary, its argument parsing, its exit statuses or its streams, and the process-wide state
//!   (the key ring, stdout) would be shared by every test;
//! - take `target/<profile>/examples/phone_requests` as it is: `cargo test --test
//!   phone_requests_e2e` does not build examples, so that file may be missing or, worse, stale (a
//!   test passing against last week's binary);
//! - ask Cargo: `cargo build --example phone_requests --message-format=json`, with this test's
//!   own features, profile and target directory, and take the executable from Cargo's report.
//!
//! The last is what this does. The binary is always built from the current source, with the same
//! backends as this test; when `cargo test` has just built it, the call costs a fingerprint check.
//! (Cargo does not hold its build lock while tests run, so the nested call cannot deadlock.)

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The variables that choose the database and the keys: cleared for every run, so that the
/// developer's own environment cannot leak into a test.
const CONFIGURATION: [&str; 9] = [
    "DATABASE_URL",
    "ENCRYPTED_FIELD_KEYS_DIR",
    "ENCRYPTED_FIELD_ACTIVE_VERSION",
    "ENCRYPTED_FIELD_BACKUP_DIR",
    "DB_ENCRYPTION_KEY_FILE",
    "DB_ENCRYPTION_KEY",
    "DB_BLIND_INDEX_KEY_FILE",
    "DB_BLIND_INDEX_KEY",
    "RUST_LOG",
];

/// The example's executable, built on first use.
pub fn executable() -> &'static Path {
    static EXECUTABLE: OnceLock<PathBuf> = OnceLock::new();
    EXECUTABLE.get_or_init(build)
}

fn build() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--example",
            "phone_requests",
            "-p",
            env!("CARGO_PKG_NAME"),
        ])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .args(["--no-default-features", "--features", &features()]);
    // This test runs from <target-dir>/<profile-dir>/deps/: build into the same place.
    let test_exe = std::env::current_exe().expect("the test knows its own path");
    if let Some(profile_dir) = test_exe.parent().and_then(Path::parent)
        && let (Some(target_dir), Some(profile)) = (profile_dir.parent(), profile_dir.file_name())
    {
        command.arg("--target-dir").arg(target_dir);
        command.args(profile_args(profile));
    }
    let output = command.output().expect("running cargo build");
    assert!(
        output.status.success(),
        "cargo build --example phone_requests failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact"
                && message["target"]["name"] == "phone_requests"
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported the example's executable")
}

/// The features this test was built with, for the example (the same set, so that Cargo reuses
/// the libraries this test was linked with).
fn features() -> String {
    let mut features = vec!["sqlite"];
    if cfg!(feature = "mysql") {
        features.push("mysql");
    }
    if cfg!(feature = "postgres") {
        features.push("postgres");
    }
    if cfg!(feature = "json") {
        features.push("json");
    }
    if cfg!(feature = "aws-kms") {
        features.push("aws-kms");
    }
    if cfg!(feature = "pkcs11") {
        features.push("pkcs11");
    }
    features.join(",")
}

/// `debug` is the `dev` profile's directory (and `test`'s); any other directory is named after
/// its profile.
fn profile_args(profile_dir: &OsStr) -> Vec<String> {
    match profile_dir.to_str() {
        Some("debug") | None => vec![],
        Some(profile) => vec!["--profile".to_owned(), profile.to_owned()],
    }
}

/// The example run in `dir`, with `vars` as its only configuration.
#[derive(Debug)]
pub struct App {
    dir: PathBuf,
    vars: Vec<(String, String)>,
}

/// What one run did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl App {
    /// The example in `dir` with no configuration at all.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            vars: Vec::new(),
        }
    }

    /// The same, with one more variable.
    pub fn var(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.push((name.to_owned(), value.into()));
        self
    }

    /// The command that runs it with `args`, in its directory with its configuration only (for
    /// a process the test keeps running, such as `serve`).
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(executable());
        command.args(args).current_dir(&self.dir);
        for name in CONFIGURATION {
            command.env_remove(name);
        }
        command.envs(self.vars.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs it with `args`.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Run::from(self.command(args).output().expect("running the example"))
    }

    /// Runs it with `args`, expects exit status 0, and returns its stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<S> = args.into_iter().collect();
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let run = self.run(args);
        assert_eq!(
            run.code,
            Some(0),
            "phone_requests {}\nstdout:\n{}\nstderr:\n{}",
            shown.join(" "),
            run.stdout,
            run.stderr
        );
        run.stdout
    }

    /// Runs it with `args` and returns its stdout parsed as JSON.
    pub fn json<I, S>(&self, args: I) -> serde_json::Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
    }
}
