//! [`WebhookNotifier`]: the report POSTed as JSON to a URL (feature `webhook`).
//!
//! # The HTTP client
//!
//! [`ureq`] 3, with `default-features = false` and only `rustls` (the `ring` provider and the
//! Mozilla roots of `webpki-roots`). It is blocking, which is all one POST after a rotation needs,
//! so no async runtime enters the CLI or an application that does not use one; it implements
//! HTTP/1.1 itself over std sockets (about a dozen small crates beside rustls, against a hundred
//! for `reqwest`'s blocking client on hyper and tokio); it is actively maintained and widely used;
//! it never links OpenSSL; and it shares its one rustls with `lettre` in the `email` feature, so
//! both notifiers together add one TLS stack. It also keeps the path and query of a URL out of its
//! own debug logs, as this module keeps them out of errors. Proxies come from the usual variables
//! (`HTTPS_PROXY`, `NO_PROXY`, …), as operators expect of a command-line tool.

use std::fmt;
use std::time::Duration;

use ureq::http::{HeaderName, HeaderValue, Uri};
use zeroize::Zeroizing;

use super::{DEFAULT_TIMEOUT, Notifier, TrustedRoots, is_loopback};
use crate::rotation::RotationReport;

/// POSTs the report's JSON ([`RotationReport::to_json`]) to a URL with
/// `Content-Type: application/json`, and fails on anything but a 2xx answer.
///
/// The URL is `https://`, or `http://` to this machine (`localhost`, `127.0.0.0/8`, `::1`):
/// the report names tables, columns and key versions, and is not sent unencrypted across a
/// network unless [`new_allowing_plain_http`](Self::new_allowing_plain_http) says so. The
/// server's certificate is checked against the Mozilla roots, or against
/// [`trusted_roots`](Self::trusted_roots) (a private CA).
///
/// Redirects are not followed (a webhook that moved is a configuration to fix, and a redirect
/// must not carry the `Authorization` header elsewhere). Extra headers carry credentials; their
/// values never appear in `Debug` output or in errors, and neither does the path of the URL
/// (webhook URLs often embed a token): both show `https://host:port/…`.
///
/// ```
/// use std::time::Duration;
/// use encrypted_field::notify::WebhookNotifier;
///
/// let webhook = WebhookNotifier::new("https://hooks.example.com/encrypted-field")?
///     .header("Authorization", "Bearer 9c1f0e7d")?
///     .timeout(Duration::from_secs(5));
/// assert_eq!(format!("{webhook:?}"),
///     r#"WebhookNotifier { url: "https://hooks.example.com:443/…", headers: ["Authorization"], roots: Mozilla, timeout: 5s }"#);
/// // Rotation::new(&registry).notifier(webhook).run(&mut db, &ring)?;
/// # Ok::<(), encrypted_field::notify::WebhookError>(())
/// ```
#[derive(Clone)]
pub struct WebhookNotifier {
    /// The whole URL, which may hold a token: only ever given to the client.
    url: String,
    /// `scheme://host:port/…`, for messages.
    shown: String,
    /// Whether the URL is plain `http://` to another machine.
    cleartext_remote: bool,
    /// Names as given, and values.
    headers: Vec<(String, Zeroizing<String>)>,
    timeout: Duration,
    /// The CA certificates trusted in place of the Mozilla roots, if any.
    roots: Option<TrustedRoots>,
}

/// Why a webhook could not be configured or did not accept the report. No variant holds a header
/// value or the path of the URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The URL cannot be used: not a URL, not `http`/`https`, no host, or credentials in it.
    #[error("not a usable webhook URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// A header name or value cannot be sent.
    #[error("webhook header `{name}`: {reason}")]
    InvalidHeader {
        /// The header's name (never its value).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The URL is plain `http://` to another machine, and that was not allowed.
    #[error(
        "webhook {url}: plain http:// to another machine would send the report unencrypted; \
         use https://"
    )]
    CleartextUrl {
        /// The URL, shown as `http://host:port/…`.
        url: String,
    },
    /// A header (a credential) would travel unencrypted to another machine.
    #[error(
        "webhook {url}: the `{name}` header would be sent in clear text over http:// to another \
         machine; use https://"
    )]
    CleartextHeader {
        /// The URL, shown as `http://host:port/…`.
        url: String,
        /// The header's name.
        name: String,
    },
    /// The server answered with a status other than 2xx.
    #[error("webhook {url}: the server answered {status}{}", reason_phrase(*status))]
    Status {
        /// The URL, shown as `https://host:port/…`.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The request did not complete: the server is unreachable, TLS failed, or it timed out.
    #[error("webhook {url}: {reason}")]
    Request {
        /// The URL, shown as `https://host:port/…`.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

fn reason_phrase(status: u16) -> String {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .map(|reason| format!(" {reason}"))
        .unwrap_or_default()
}

/// Headers the notifier sets itself.
const RESERVED_HEADERS: [&str; 4] = [
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
];

impl WebhookNotifier {
    /// A notifier posting to `url`, with [`DEFAULT_TIMEOUT`]: `https://`, or `http://` to this
    /// machine. Plain `http://` to another machine is [`WebhookError::CleartextUrl`].
    ///
    /// ```
    /// use encrypted_field::notify::{WebhookError, WebhookNotifier};
    ///
    /// assert!(WebhookNotifier::new("http://127.0.0.1:8080/hook").is_ok());
    /// let err = WebhookNotifier::new("http://hooks.example.com/hook").unwrap_err();
    /// assert!(matches!(err, WebhookError::CleartextUrl { .. }));
    /// ```
    pub fn new(url: &str) -> Result<Self, WebhookError> {
        let webhook = Self::new_allowing_plain_http(url)?;
        if webhook.cleartext_remote {
            return Err(WebhookError::CleartextUrl { url: webhook.shown });
        }
        Ok(webhook)
    }

    /// Like [`new`](Self::new), but also accepts plain `http://` to another machine: the
    /// operator's explicit choice (`ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP=1` in the CLI) for a
    /// receiver on a network they trust. Headers are still refused over it.
    ///
    /// ```
    /// use encrypted_field::notify::WebhookNotifier;
    ///
    /// let webhook = WebhookNotifier::new_allowing_plain_http("http://alerts.lan/rotation")?;
    /// assert!(webhook.header("Authorization", "Bearer t0ken").is_err());
    /// # Ok::<(), encrypted_field::notify::WebhookError>(())
    /// ```
    pub fn new_allowing_plain_http(url: &str) -> Result<Self, WebhookError> {
        let invalid = |reason: &str| WebhookError::InvalidUrl {
            reason: reason.to_owned(),
        };
        if !url.contains("://") {
            return Err(invalid("it has no scheme (expected https://host/path)"));
        }
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e: ureq::http::uri::InvalidUri| WebhookError::InvalidUrl {
                reason: format!("{e} (expected https://host/path)"),
            })?;
        let scheme = match uri.scheme_str() {
            Some("https") => "https",
            Some("http") => "http",
            Some(_) => return Err(invalid("the scheme must be http:// or https://")),
            None => return Err(invalid("it has no scheme (expected https://host/path)")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("it has no host (expected https://host/path)"))?;
        if authority.as_str().contains('@') {
            return Err(invalid(
                "it holds credentials (user:password@); send them in an Authorization header instead",
            ));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(invalid("it has no host (expected https://host/path)"));
        }
        let port = authority
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        Ok(Self {
            url: url.trim().to_owned(),
            shown: format!("{scheme}://{host}:{port}/…"),
            cleartext_remote: scheme == "http" && !is_loopback(host),
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            roots: None,
        })
    }

    /// Adds a header to every request, e.g. `Authorization: Bearer …`. Its value is treated as a
    /// secret: it is refused over plain `http://` to another machine, and never shown.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Result<Self, WebhookError> {
        let value = Zeroizing::new(value.into());
        let invalid = |reason| WebhookError::InvalidHeader {
            name: name.to_owned(),
            reason,
        };
        let header_name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| invalid("not a valid header name"))?;
        if RESERVED_HEADERS.contains(&header_name.as_str()) {
            return Err(invalid("set by the notifier itself"));
        }
        HeaderValue::from_str(&value).map_err(|_| {
            invalid("its value holds characters a header cannot carry (such as a line break)")
        })?;
        if self.cleartext_remote {
            return Err(WebhookError::CleartextHeader {
                url: self.shown.clone(),
                name: name.to_owned(),
            });
        }
        self.headers.push((name.trim().to_owned(), value));
        Ok(self)
    }

    /// How long the whole request may take (connecting included) before it fails.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts these CA certificates for the server's certificate, in place of the Mozilla roots.
    pub fn trusted_roots(mut self, roots: TrustedRoots) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Posts the report and waits for the answer.
    pub fn send(&self, report: &RotationReport) -> Result<(), WebhookError> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(roots) = &self.roots {
            let certificates: Vec<ureq::tls::Certificate<'static>> = roots
                .der()
                .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
                .collect();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certificates));
        }
        let config = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("encrypted-field/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let mut request = agent.post(&self.url).content_type("application/json");
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request
            .send(report.to_json())
            .map_err(|error| WebhookError::Request {
                url: self.shown.clone(),
                reason: self.describe(&error),
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(WebhookError::Status {
                url: self.shown.clone(),
                status: status.as_u16(),
            })
        }
    }

    /// The client's error in words, with the URL (should the client ever quote it) shortened.
    fn describe(&self, error: &ureq::Error) -> String {
        let text = match error {
            ureq::Error::Timeout(_) => {
                format!(
                    "no answer within {}",
                    humantime::format_duration(self.timeout)
                )
            }
            ureq::Error::ConnectionFailed => "cannot connect to the server".to_owned(),
            ureq::Error::HostNotFound => "the host name does not resolve".to_owned(),
            other => other.to_string(),
        };
        text.replace(&self.url, &self.shown)
    }
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("WebhookNotifier")
            .field("url", &self.shown)
            .field("headers", &names)
            .field("roots", &super::roots::shown(self.roots.as_ref()))
            .field(
                "timeout",
                &format_args!("{}", humantime::format_duration(self.timeout)),
            )
            .finish()
    }
}

impl Notifier for WebhookNotifier {
    fn name(&self) -> &str {
        "webhook"
    }

    fn notify(&self, report: &RotationReport) -> Result<(), String> {
        self.send(report).map_err(|e| e.to_string())
    }
}
