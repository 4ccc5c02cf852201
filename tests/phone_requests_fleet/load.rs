//! The load client: Rust threads sending a steady mix of requests to every instance of a fleet
//! (reads, writes, blind-index lookups, creations), each thread the only writer of its own rows,
//! so it knows the last value written to each and checks every read against it, whichever
//! instance answers. Shared by the fleet test and the latency benchmark.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::Rng as _;
use serde_json::{Value, json};

/// How the load is shaped.
#[derive(Debug, Clone, Copy)]
pub struct LoadShape {
    /// Client threads.
    pub threads: usize,
    /// Requests per second of each thread (the total is `threads × per_thread_rate`).
    pub per_thread_rate: f64,
    /// Rows each thread creates before its mix starts.
    pub rows_per_thread: usize,
}

/// What a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Read,
    Update,
    Lookup,
}

/// One answered request: when it started and how long it took.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub op: Op,
    pub started: Instant,
    pub latency: Duration,
}

/// What the load saw, all threads together.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Requests sent.
    pub requests: usize,
    /// Requests that failed (transport error, unexpected status, or a wrong answer).
    pub failed: usize,
    /// The first failures, described.
    pub failures: Vec<String>,
    /// Every row the load created, with the last phone number written to it.
    pub last_written: BTreeMap<i64, String>,
    /// Every request's start and latency.
    pub samples: Vec<Sample>,
}

/// How many failures are described (the rest are counted).
const FAILURES_KEPT: usize = 20;

/// A running load; [`stop`](Self::stop) ends it and returns what it saw.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<LoadReport>>,
}

impl Load {
    /// Starts `shape.threads` threads against the instances at `urls`.
    pub fn start(urls: &[String], shape: LoadShape) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..shape.threads)
            .map(|thread| {
                let client = Client {
                    urls: urls.to_vec(),
                    agent: agent(),
                    thread,
                    written: 0,
                    report: LoadReport::default(),
                };
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || client.run(&stop, shape))
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops every thread after its request in flight and merges their reports.
    pub fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = LoadReport::default();
        for thread in self.threads {
            let report = thread.join().unwrap_or_else(|_| LoadReport {
                failed: 1,
                failures: vec!["a load thread panicked".to_owned()],
                ..LoadReport::default()
            });
            all.requests += report.requests;
            all.failed += report.failed;
            let room = FAILURES_KEPT.saturating_sub(all.failures.len());
            all.failures.extend(report.failures.into_iter().take(room));
            all.last_written.extend(report.last_written);
            all.samples.extend(report.samples);
        }
        all.samples.sort_by_key(|sample| sample.started);
        all
    }
}

/// A blocking HTTP client that returns 4xx and 5xx answers as answers, with a timeout far above
/// any healthy latency.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// An answer: its status and its body parsed as JSON (`Null` for an empty body).
pub type Answer = (u16, Value);

/// Sends `method url` with `body` (JSON) if any.
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> Result<Answer, String> {
    let result = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("POST", Some(body)) => agent
            .post(url)
            .header("content-type", "application/json")
            .send(body.to_string()),
        ("PUT", Some(body)) => agent
            .put(url)
            .header("content-type", "application/json")
            .send(body.to_string()),
        _ => return Err(format!("{method} {url}: not a request the load sends")),
    };
    let mut response = result.map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{method} {url}: reading the body: {e}"))?;
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .map_err(|e| format!("{method} {url}: not JSON ({e}): {text}"))?
    };
    Ok((status, value))
}

/// One load thread.
struct Client {
    urls: Vec<String>,
    agent: ureq::Agent,
    thread: usize,
    /// Phone numbers written so far by this thread (each one is new).
    written: usize,
    report: LoadReport,
}

impl Client {
    fn run(mut self, stop: &AtomicBool, shape: LoadShape) -> LoadReport {
        for _ in 0..shape.rows_per_thread {
            self.create();
        }
        let interval = Duration::from_secs_f64(1.0 / shape.per_thread_rate);
        let mut next = Instant::now();
        let mut rng = rand::rng();
        while !stop.load(Ordering::Relaxed) {
            let ids: Vec<i64> = self.report.last_written.keys().copied().collect();
            let id = (!ids.is_empty()).then(|| ids[rng.random_range(0..ids.len())]);
            match (rng.random_range(0..10u8), id) {
                (0..=3, Some(id)) => self.read(id),
                (4..=6, Some(id)) => self.update(id),
                (7..=8, Some(id)) => self.lookup(id),
                _ => self.create(),
            }
            next += interval;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else {
                // Behind: do not send a burst to catch up.
                next = now;
            }
        }
        self.report
    }

    /// A new phone number, never written before by any thread.
    fn next_phone(&mut self) -> String {
        self.written += 1;
        format!("+1 (555) {:03}-{:07}", self.thread, self.written)
    }

    /// An instance, picked at random for each request.
    fn url(&self, path: &str) -> String {
        let i = rand::rng().random_range(0..self.urls.len());
        format!("{}{path}", self.urls[i])
    }

    fn create(&mut self) {
        let phone = self.next_phone();
        let body = json!({"name": format!("load {}", self.thread), "phone": phone});
        let url = self.url("/phone-requests");
        if let Some((_, created)) = self.request(Op::Create, "POST", &url, Some(&body), 201) {
            match created["id"].as_i64() {
                Some(id) => {
                    self.report.last_written.insert(id, phone);
                }
                None => self.fail(format!("POST {url}: no id in {created}")),
            }
        }
    }

    fn read(&mut self, id: i64) {
        let url = self.url(&format!("/phone-requests/{id}"));
        if let Some((_, row)) = self.request(Op::Read, "GET", &url, None, 200) {
            let expected = &self.report.last_written[&id];
            if row["phone"].as_str() != Some(expected) || row["id"].as_i64() != Some(id) {
                self.fail(format!(
                    "GET {url}: stale or wrong row {row}, last written {expected:?}"
                ));
            }
        }
    }

    fn update(&mut self, id: i64) {
        let phone = self.next_phone();
        let url = self.url(&format!("/phone-requests/{id}"));
        let body = json!({"phone": phone});
        if self
            .request(Op::Update, "PUT", &url, Some(&body), 204)
            .is_some()
        {
            self.report.last_written.insert(id, phone);
        }
    }

    fn lookup(&mut self, id: i64) {
        let phone = self.report.last_written[&id].clone();
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let url = self.url(&format!("/phone-requests?phone={digits}"));
        if let Some((_, found)) = self.request(Op::Lookup, "GET", &url, None, 200) {
            let expected =
                json!([{"id": id, "name": format!("load {}", self.thread), "phone": phone}]);
            if found != expected {
                self.fail(format!("GET {url}: found {found}, expected {expected}"));
            }
        }
    }

    /// Sends a request, records its latency, and returns its answer if it has `expected` status.
    fn request(
        &mut self,
        op: Op,
        method: &str,
        url: &str,
        body: Option<&Value>,
        expected: u16,
    ) -> Option<Answer> {
        let started = Instant::now();
        let answer = send(&self.agent, method, url, body);
        self.report.requests += 1;
        self.report.samples.push(Sample {
            op,
            started,
            latency: started.elapsed(),
        });
        match answer {
            Ok((status, value)) if status == expected => Some((status, value)),
            Ok((status, value)) => {
                self.fail(format!(
                    "{method} {url}: status {status}, expected {expected}: {value}"
                ));
                None
            }
            Err(e) => {
                self.fail(e);
                None
            }
        }
    }

    fn fail(&mut self, failure: String) {
        self.report.failed += 1;
        if self.report.failures.len() < FAILURES_KEPT {
            self.report.failures.push(failure);
        }
    }
}
