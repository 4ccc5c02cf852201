//! A one-request HTTP/1.1 server on 127.0.0.1, plain or over TLS (rustls): it captures the
//! request, answers with a given status (or not at all), and stops by itself after [`LIFETIME`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::listen::accept_before;

/// How long a sink waits for its one request, and keeps a silent connection open.
pub const LIFETIME: Duration = Duration::from_secs(5);

/// What the sink does with the request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// Answers with this status line, e.g. `200 OK`.
    Status(&'static str),
    /// Reads the request and never answers (until [`LIFETIME`] ends).
    Silence,
}

/// One request as the server read it.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The value of a header (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running sink.
#[derive(Debug)]
pub struct HttpSink {
    /// `http://127.0.0.1:PORT`, or `https://…` for a TLS sink.
    pub base_url: String,
    thread: JoinHandle<Option<Request>>,
}

impl HttpSink {
    /// Starts a sink on a free port.
    pub fn start(answer: Answer) -> Self {
        Self::spawn(answer, None)
    }

    /// Starts a sink that speaks HTTPS with `tls`'s certificate. A client that refuses the
    /// certificate sends no request.
    pub fn start_tls(answer: Answer, tls: Arc<rustls::ServerConfig>) -> Self {
        Self::spawn(answer, Some(tls))
    }

    fn spawn(answer: Answer, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let thread = thread::spawn(move || serve_once(&listener, answer, tls));
        Self { base_url, thread }
    }

    /// The request the sink received, or `None` if none came in its lifetime.
    pub fn request(self) -> Option<Request> {
        self.thread.join().unwrap()
    }
}

/// A connection, plain or TLS.
trait Stream: Read + Write {}
impl<S: Read + Write> Stream for S {}

fn serve_once(
    listener: &TcpListener,
    answer: Answer,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Option<Request> {
    let deadline = Instant::now() + LIFETIME;
    let tcp = accept_before(listener, deadline)?;
    tcp.set_read_timeout(Some(LIFETIME)).unwrap();
    let mut stream: Box<dyn Stream> = match tls {
        Some(config) => Box::new(rustls::StreamOwned::new(
            rustls::ServerConnection::new(config).unwrap(),
            tcp,
        )),
        None => Box::new(tcp),
    };
    let request = read_request(&mut stream)?;
    match answer {
        Answer::Status(status) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.flush();
        }
        Answer::Silence => {
            // Hold the connection open, unanswered, for the rest of the lifetime.
            thread::sleep(deadline.saturating_duration_since(Instant::now()));
        }
    }
    Some(request)
}

fn read_request(stream: &mut dyn Stream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let length: usize = request.header("content-length")?.parse().ok()?;
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}
