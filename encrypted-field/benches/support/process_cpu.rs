//! CPU time spent by this process (the client: reading rows, cryptography, building statements)
//! and by the database server's processes (executing them), read from `/proc` on Linux: how a
//! benchmark splits a pass's cost between the two, to say what more cores on either side would
//! give. SQLite runs inside the client, so its server time is 0.

use std::time::Instant;

/// Clock ticks per second of `/proc/*/stat` (`getconf CLK_TCK`: 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds used so far, and when they were read.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    at: Instant,
    client: f64,
    server: f64,
}

/// What a measured stretch of work cost.
#[derive(Debug, Clone, Copy)]
pub struct CpuCost {
    /// Wall-clock seconds.
    pub wall: f64,
    /// CPU seconds of this process (every thread).
    pub client: f64,
    /// CPU seconds of the server's processes.
    pub server: f64,
}

impl CpuSnapshot {
    /// Now, with the server's processes named (`comm`) `server_comm` (`mariadbd`, `postgres`;
    /// none for SQLite).
    pub fn take(server_comm: Option<&str>) -> Self {
        Self {
            at: Instant::now(),
            client: cpu_seconds("/proc/self/stat").unwrap_or(0.0),
            server: server_comm.map_or(0.0, server_seconds),
        }
    }

    /// What happened since `self`.
    pub fn cost_since(&self, server_comm: Option<&str>) -> CpuCost {
        let now = Self::take(server_comm);
        CpuCost {
            wall: now.at.duration_since(self.at).as_secs_f64(),
            client: now.client - self.client,
            server: now.server - self.server,
        }
    }
}

/// `utime + stime` of one `/proc/PID/stat`, in seconds, plus `cutime + cstime` (the children it
/// has reaped) when `with_children`.
fn cpu_seconds_of(stat_path: &str, with_children: bool) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // The command name is in parentheses and may hold spaces: fields count from after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, the state is field 3 of the line; utime, stime, cutime, cstime are 14–17.
    let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
    let mut ticks = field(14)? + field(15)?;
    if with_children {
        ticks += field(16)? + field(17)?;
    }
    Some(ticks / TICKS_PER_SECOND)
}

fn cpu_seconds(stat_path: &str) -> Option<f64> {
    cpu_seconds_of(stat_path, false)
}

/// The CPU seconds of every process whose `comm` is `comm`, with the children they reaped: a
/// PostgreSQL server is a postmaster and one backend per connection, all named `postgres`, and a
/// backend that ended counts in its postmaster's children's time.
fn server_seconds(comm: &str) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|name| name.trim() == comm)
        })
        .filter_map(|entry| cpu_seconds_of(&entry.path().join("stat").display().to_string(), true))
        .sum()
}
