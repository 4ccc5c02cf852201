//! A fleet: `phone_requests serve` processes on one database, each on a free port, stopped with
//! SIGTERM at the end (and killed if the test fails first).

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::example::App;
use crate::load::{agent, send};

/// How long an instance may take to listen (it migrates the schema first).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How often each instance checks in (the production default is 30 s).
pub const CHECK_IN_INTERVAL: &str = "1s";

/// One `serve` process.
#[derive(Debug)]
pub struct Instance {
    child: Child,
    url: String,
    stderr: PathBuf,
}

impl Instance {
    /// Starts `serve --listen 127.0.0.1:0` and waits for the address it prints. Its stderr goes
    /// to `log`.
    pub fn start(app: &App, log: &Path) -> Self {
        let stderr = File::create(log).expect("creating the instance's log");
        let mut child = app
            .command([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--pool-size",
                "4",
                "--check-in-interval",
                CHECK_IN_INTERVAL,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting phone_requests serve");
        let stdout = child.stdout.take().expect("the instance's stdout is piped");
        let (sender, first_line) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = sender.send(line);
            // Keep the pipe drained until the process ends.
            let _ = stdout.read_to_end(&mut Vec::new());
        });
        let line = first_line.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            panic!(
                "serve did not print its address (got {line:?}); its stderr:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        };
        Self {
            url: url.to_owned(),
            child,
            stderr: log.to_path_buf(),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `lines` lines it wrote on stderr so far.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Whether the process is still the one started (it never exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `GET /healthz`.
    pub fn health(&self) -> Value {
        let url = format!("{}/healthz", self.url);
        match send(&agent(), "GET", &url, None) {
            Ok((200, health)) => health,
            other => panic!("GET {url}: {other:?}"),
        }
    }

    /// Sends SIGTERM and waits for the process to end.
    pub fn terminate(mut self) -> ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -TERM {}", self.pid());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for serve") {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // A test that failed before `terminate` leaves no process behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
