//! A one-message SMTP server on 127.0.0.1, speaking just enough SMTP (RFC 5321) for a client:
//! the 220 greeting, EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT, and STARTTLS
//! (RFC 3207) or TLS from the first byte when given a certificate (rustls). It captures the
//! message and stops by itself after [`LIFETIME`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::listen::accept_before;

/// How long a sink waits for its one session.
pub const LIFETIME: Duration = Duration::from_secs(5);

/// What the sink says to `RCPT TO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    /// `250 OK`.
    Accept,
    /// `550 5.1.1 No such user`.
    Reject,
}

/// How the sink protects the session.
#[derive(Clone)]
pub enum Security {
    /// No TLS; STARTTLS is not offered.
    Plain,
    /// STARTTLS offered in the EHLO answer, with this certificate.
    StartTls(Arc<rustls::ServerConfig>),
    /// TLS from the first byte (`smtps://`), with this certificate.
    Tls(Arc<rustls::ServerConfig>),
}

/// One SMTP session as the server saw it.
#[derive(Debug, Default)]
pub struct Session {
    /// The argument of EHLO or HELO.
    pub hello: String,
    /// `(user, password)` from `AUTH PLAIN`, if the client authenticated.
    pub auth: Option<(String, String)>,
    /// The address of `MAIL FROM:<…>`.
    pub mail_from: String,
    /// The addresses of every `RCPT TO:<…>`.
    pub rcpt_to: Vec<String>,
    /// The message after DATA, with dot-stuffing undone and lines joined by CRLF.
    pub data: String,
    /// Whether the client ended with QUIT.
    pub quit: bool,
    /// Whether the session went over to TLS: from the first byte, or after STARTTLS.
    pub tls: bool,
}

/// A running sink.
#[derive(Debug)]
pub struct SmtpSink {
    /// `127.0.0.1:PORT`.
    pub address: String,
    thread: JoinHandle<Option<Session>>,
}

impl SmtpSink {
    /// Starts a plain sink on a free port.
    pub fn start(recipients: Recipients) -> Self {
        Self::start_with(recipients, Security::Plain)
    }

    /// Starts a sink on a free port, protected as `security` says.
    pub fn start_with(recipients: Recipients, security: Security) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let thread = thread::spawn(move || {
            let tcp = accept_before(&listener, Instant::now() + LIFETIME)?;
            tcp.set_read_timeout(Some(LIFETIME)).unwrap();
            let mut session = Session::default();
            let (stream, starttls): (Box<dyn Stream>, _) = match security {
                Security::Plain => (Box::new(tcp), None),
                Security::StartTls(config) => (Box::new(tcp), Some(config)),
                Security::Tls(config) => {
                    session.tls = true;
                    (Box::new(over_tls(config, tcp)), None)
                }
            };
            converse(stream, starttls, recipients, &mut session, true);
            Some(session)
        });
        Self { address, thread }
    }

    /// The session, or `None` if no client came in the sink's lifetime.
    pub fn session(self) -> Option<Session> {
        self.thread.join().unwrap()
    }
}

/// A connection, plain or TLS.
trait Stream: Read + Write + Send {}
impl<S: Read + Write + Send> Stream for S {}

/// The server side of TLS over `stream`.
fn over_tls<S: Read + Write>(
    config: Arc<rustls::ServerConfig>,
    stream: S,
) -> rustls::StreamOwned<rustls::ServerConnection, S> {
    rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), stream)
}

/// Talks SMTP on `stream` until QUIT or the end of the stream; offers STARTTLS when `starttls`
/// holds a certificate, and carries on over TLS after it.
fn converse(
    stream: Box<dyn Stream>,
    starttls: Option<Arc<rustls::ServerConfig>>,
    recipients: Recipients,
    session: &mut Session,
    greet: bool,
) {
    let mut reader = BufReader::new(stream);
    if greet {
        reply(&mut reader, "220 sink.test ESMTP ready");
    }
    while let Some(line) = read_line(&mut reader) {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO ") || upper.starts_with("HELO ") {
            session.hello = line[5..].trim().to_owned();
            reply(&mut reader, "250-sink.test greets you");
            if starttls.is_some() {
                reply(&mut reader, "250-STARTTLS");
            }
            reply(&mut reader, "250 AUTH PLAIN");
        } else if upper == "STARTTLS"
            && let Some(config) = starttls.clone()
        {
            reply(&mut reader, "220 2.0.0 Ready to start TLS");
            session.tls = true;
            // The client waits for the 220 before its handshake: nothing is left in the buffer.
            let tls = over_tls(config, reader.into_inner());
            return converse(Box::new(tls), None, recipients, session, false);
        } else if upper.starts_with("AUTH PLAIN") {
            let encoded = line[10..].trim();
            let encoded = if encoded.is_empty() {
                reply(&mut reader, "334 ");
                read_line(&mut reader).unwrap_or_default()
            } else {
                encoded.to_owned()
            };
            let decoded = STANDARD.decode(encoded).unwrap_or_default();
            let parts: Vec<String> = decoded
                .split(|&b| b == 0)
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect();
            if let [_, user, password] = parts.as_slice() {
                session.auth = Some((user.clone(), password.clone()));
                reply(&mut reader, "235 2.7.0 Authentication successful");
            } else {
                reply(&mut reader, "501 5.5.2 Cannot decode AUTH PLAIN");
            }
        } else if upper.starts_with("MAIL FROM:") {
            session.mail_from = angle_address(&line[10..]);
            reply(&mut reader, "250 2.1.0 OK");
        } else if upper.starts_with("RCPT TO:") {
            if recipients == Recipients::Reject {
                reply(&mut reader, "550 5.1.1 No such user here");
            } else {
                session.rcpt_to.push(angle_address(&line[8..]));
                reply(&mut reader, "250 2.1.5 OK");
            }
        } else if upper == "DATA" {
            reply(&mut reader, "354 End data with <CR><LF>.<CR><LF>");
            let mut lines = Vec::new();
            while let Some(line) = read_line(&mut reader) {
                if line == "." {
                    break;
                }
                lines.push(line.strip_prefix('.').map_or(line.clone(), str::to_owned));
            }
            session.data = lines.join("\r\n");
            reply(&mut reader, "250 2.0.0 OK queued");
        } else if upper == "RSET" || upper == "NOOP" {
            reply(&mut reader, "250 2.0.0 OK");
        } else if upper == "QUIT" {
            session.quit = true;
            reply(&mut reader, "221 2.0.0 Bye");
            break;
        } else {
            reply(&mut reader, "502 5.5.1 Command not implemented");
        }
    }
}

/// Sends one reply line.
fn reply(reader: &mut BufReader<Box<dyn Stream>>, text: &str) {
    let out = reader.get_mut();
    let _ = out.write_all(format!("{text}\r\n").as_bytes());
    let _ = out.flush();
}

/// One line without its CRLF, or `None` at the end of the stream or after the read timeout.
fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

/// `<user@example.com> SIZE=123` → `user@example.com`.
fn angle_address(text: &str) -> String {
    let text = text.trim();
    let start = text.find('<').map_or(0, |i| i + 1);
    let end = text.find('>').unwrap_or(text.len());
    text[start..end].to_owned()
}

/// A message split into unfolded headers and a decoded body.
#[derive(Debug)]
pub struct Mail {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Mail {
    /// Parses `data` (RFC 5322), undoing header folding and the body's transfer encoding
    /// (7bit, 8bit, quoted-printable or base64, whichever the client chose).
    pub fn parse(data: &str) -> Self {
        let (head, body) = data.split_once("\r\n\r\n").unwrap_or((data, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                let (_, value) = headers.last_mut().unwrap();
                value.push(' ');
                value.push_str(line.trim());
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let mut mail = Self {
            headers,
            body: String::new(),
        };
        mail.body = match mail
            .header("content-transfer-encoding")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("base64") => {
                let compact: String = body.split_whitespace().collect();
                String::from_utf8(STANDARD.decode(compact).unwrap()).unwrap()
            }
            Some("quoted-printable") => quoted_printable(body),
            _ => body.to_owned(),
        }
        .replace("\r\n", "\n");
        mail
    }

    /// The value of a header (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes quoted-printable (RFC 2045 §6.7): `=XX` escapes and `=` soft line breaks.
fn quoted_printable(text: &str) -> String {
    let mut bytes = Vec::new();
    let input = text.replace("=\r\n", "");
    let mut rest = input.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'=' && tail.len() >= 2 {
            let hex = std::str::from_utf8(&tail[..2]).unwrap();
            bytes.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).unwrap()
}
