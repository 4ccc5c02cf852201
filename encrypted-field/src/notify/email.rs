//! [`EmailNotifier`]: the report sent by SMTP (feature `email`), as the Django module's
//! `EncryptionKeyRotationNotifier` mailed it from `EMAIL_FROM_ALERTS` to `EMAIL_SECURITY`.
//!
//! [`lettre`] 0.11 with `default-features = false` and only `builder`, `smtp-transport` and
//! rustls (the `ring` provider, the Mozilla roots of `webpki-roots`): no connection pool, no
//! OpenSSL, no async runtime, and the same rustls as the `webhook` feature.

use std::fmt;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Message, SmtpTransport, Transport};
use zeroize::Zeroizing;

use super::{DEFAULT_TIMEOUT, Notifier, TrustedRoots, headline, is_loopback};
use crate::rotation::RotationReport;

/// How the connection to the SMTP server is protected, from the URL's scheme, its `tls`
/// parameter and whether the host is this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmtpSecurity {
    /// Unencrypted: `smtp://host` when the host is this machine (`localhost`, `127.0.0.0/8`,
    /// `::1`), or `smtp://host?tls=none`, the operator's explicit choice for a relay on a network
    /// they trust. Credentials are refused unless the host is this machine.
    Plain,
    /// STARTTLS, and nothing is sent if the server does not offer it or its certificate does not
    /// check out: `smtp://host` to another machine, or `smtp://host:587?tls=required` anywhere.
    StartTls,
    /// `smtps://host[:465]`: TLS from the first byte.
    Tls,
}

/// Mails the report: a subject that says the status and the count that matters (see
/// [`headline`]), and a plain-text body with the report as text and as JSON.
///
/// The SMTP URL is `smtp://host:port` (STARTTLS, required, unless the host is this machine:
/// then plain), `smtp://host:port?tls=required` (STARTTLS even on this machine),
/// `smtp://host:port?tls=none` (plain, on purpose) or `smtps://host:port` (TLS), optionally with
/// `user:password@` (percent-encoded) and a path naming the client in `EHLO`
/// (`smtps://mail.example.com/app.example.com`). The password is never shown: `Debug` and errors
/// name the server as `smtps://host:port`. The default port is 465 for `smtps://`, 587 with
/// `tls=required`, and 25 otherwise.
///
/// ```
/// use encrypted_field::notify::{EmailNotifier, SmtpSecurity};
///
/// let email = EmailNotifier::new(
///     "smtps://alerts%40example.com:s3cret@mail.example.com",
///     "Alerts <alerts@example.com>",
///     "security@example.com, ops@example.com",
/// )?;
/// assert_eq!(email.security(), SmtpSecurity::Tls);
/// let shown = format!("{email:?}");
/// assert!(shown.contains("smtps://mail.example.com:465") && !shown.contains("s3cret"));
/// // Rotation::new(&registry).notifier(email).run(&mut db, &ring)?;
/// # Ok::<(), encrypted_field::notify::EmailError>(())
/// ```
#[derive(Clone)]
pub struct EmailNotifier {
    server: SmtpServer,
    from: Mailbox,
    to: Vec<Mailbox>,
    timeout: Duration,
}

#[derive(Clone)]
struct SmtpServer {
    security: SmtpSecurity,
    host: String,
    port: u16,
    hello: Option<String>,
    credentials: Option<(String, Zeroizing<String>)>,
    /// `scheme://host:port`, for messages.
    shown: String,
    /// The CA certificates trusted in place of the Mozilla roots, if any.
    roots: Option<TrustedRoots>,
}

/// Why an e-mail notifier could not be configured or the report could not be sent. No variant
/// holds a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// The SMTP URL cannot be used.
    #[error("not a usable SMTP URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// A sender or recipient address cannot be parsed.
    #[error("{role} address `{address}`: {reason}")]
    InvalidAddress {
        /// `from` or `to`.
        role: &'static str,
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Credentials would travel unencrypted to another machine.
    #[error(
        "SMTP server {server}: the credentials would be sent in clear text; use smtps://, or \
         smtp:// without tls=none (STARTTLS)"
    )]
    CleartextCredentials {
        /// The server, shown as `smtp://host:port`.
        server: String,
    },
    /// The message could not be put together.
    #[error("composing the report e-mail: {reason}")]
    Message {
        /// What went wrong.
        reason: String,
    },
    /// The server could not be reached, refused the message, or did not answer in time.
    #[error("sending the report e-mail through {server}: {reason}")]
    Send {
        /// The server, shown as `smtps://host:port`.
        server: String,
        /// What went wrong.
        reason: String,
    },
}

impl EmailNotifier {
    /// A notifier sending through `smtp_url` from `from` to `to` (one address or several,
    /// comma-separated; `Name <address>` is allowed in both), with [`DEFAULT_TIMEOUT`].
    pub fn new(smtp_url: &str, from: &str, to: &str) -> Result<Self, EmailError> {
        let server = SmtpServer::parse(smtp_url)?;
        let from = match parse_mailboxes("from", from)?.as_slice() {
            [one] => one.clone(),
            _ => {
                return Err(EmailError::InvalidAddress {
                    role: "from",
                    address: from.trim().to_owned(),
                    reason: "give exactly one sender".to_owned(),
                });
            }
        };
        let to = parse_mailboxes("to", to)?;
        Ok(Self {
            server,
            from,
            to,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sets the SMTP credentials (instead of those in the URL). They are refused on a plain
    /// `smtp://` connection to another machine.
    pub fn credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, EmailError> {
        self.server.credentials = Some((username.into(), Zeroizing::new(password.into())));
        self.server.check_credentials()?;
        Ok(self)
    }

    /// How long connecting and each SMTP command may take before sending fails.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts these CA certificates for the server's certificate (STARTTLS or TLS), in place of
    /// the Mozilla roots.
    pub fn trusted_roots(mut self, roots: TrustedRoots) -> Self {
        self.server.roots = Some(roots);
        self
    }

    /// How the connection is protected.
    pub fn security(&self) -> SmtpSecurity {
        self.server.security
    }

    /// The subject of the report e-mail: `[encrypted-field] ` and the [`headline`].
    pub fn subject(report: &RotationReport) -> String {
        format!("[encrypted-field] {}", headline(report))
    }

    /// The plain-text body of the report e-mail: the report as text, then as JSON.
    pub fn body(report: &RotationReport) -> String {
        format!(
            "{report}\nThe report as JSON:\n\n{}\n\n-- \nSent by encrypted-field {}.\n",
            report.to_json(),
            env!("CARGO_PKG_VERSION"),
        )
    }

    /// Sends the report e-mail and waits for the server to accept it.
    pub fn send(&self, report: &RotationReport) -> Result<(), EmailError> {
        let message = self.message(report)?;
        self.server
            .transport(self.timeout)?
            .send(&message)
            .map(|_| ())
            .map_err(|e| EmailError::Send {
                server: self.server.shown.clone(),
                reason: e.to_string(),
            })
    }

    fn message(&self, report: &RotationReport) -> Result<Message, EmailError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(Self::subject(report))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .body(Self::body(report))
            .map_err(|e| EmailError::Message {
                reason: e.to_string(),
            })
    }
}

fn parse_mailboxes(role: &'static str, text: &str) -> Result<Vec<Mailbox>, EmailError> {
    let invalid = |reason: &str| EmailError::InvalidAddress {
        role,
        address: text.trim().to_owned(),
        reason: reason.to_owned(),
    };
    if text.trim().is_empty() {
        return Err(invalid("it is empty"));
    }
    let mailboxes: Mailboxes = text.trim().parse().map_err(|_| {
        invalid("not an e-mail address (expected user@example.com or Name <user@example.com>, comma-separated)")
    })?;
    let mailboxes: Vec<Mailbox> = mailboxes.into_iter().collect();
    if mailboxes.is_empty() {
        return Err(invalid("it holds no address"));
    }
    Ok(mailboxes)
}

impl SmtpServer {
    fn parse(text: &str) -> Result<Self, EmailError> {
        let invalid = |reason: String| EmailError::InvalidUrl { reason };
        let url = url::Url::parse(text.trim()).map_err(|e| invalid(e.to_string()))?;
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match &*key {
                "tls" => tls = Some(value.into_owned()),
                other => {
                    return Err(invalid(format!(
                        "unknown parameter `{other}` (only tls=required or tls=none is known)"
                    )));
                }
            }
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => {
                return Err(invalid(
                    "it has no host (expected smtps://host:port)".to_owned(),
                ));
            }
        };
        let local = is_loopback(&host);
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) if local => SmtpSecurity::Plain,
            ("smtp", None | Some("required")) => SmtpSecurity::StartTls,
            ("smtp", Some("none")) => SmtpSecurity::Plain,
            ("smtps", None | Some("required")) => SmtpSecurity::Tls,
            ("smtp" | "smtps", Some(other)) => {
                return Err(invalid(format!(
                    "tls={other} is not supported (tls=required for STARTTLS, tls=none for no \
                     encryption, or smtps:// for TLS)"
                )));
            }
            (scheme, _) => {
                return Err(invalid(format!(
                    "unknown scheme `{scheme}` (use smtp://host:port for STARTTLS, or \
                     smtps://host:port for TLS)"
                )));
            }
        };
        // 587 (submission) when STARTTLS is asked for by name, else the port of the scheme.
        let port = url.port().unwrap_or(match (security, tls.as_deref()) {
            (SmtpSecurity::Tls, _) => 465,
            (_, Some("required")) => 587,
            _ => 25,
        });
        let hello = Some(url.path().trim_matches('/'))
            .filter(|path| !path.is_empty())
            .map(str::to_owned);
        let decode = |part: &str, what: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|text| text.into_owned())
                .map_err(|_| invalid(format!("its {what} is not valid percent-encoded UTF-8")))
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) => Some((
                decode(user, "user name")?,
                Zeroizing::new(decode(password, "password")?),
            )),
            (_, None) => {
                return Err(invalid(
                    "it names a user but no password (expected user:password@host)".to_owned(),
                ));
            }
        };
        let shown_host = match url.host() {
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            _ => host.clone(),
        };
        let server = Self {
            security,
            shown: format!("{}://{shown_host}:{port}", url.scheme()),
            host,
            port,
            hello,
            credentials,
            roots: None,
        };
        server.check_credentials()?;
        Ok(server)
    }

    fn check_credentials(&self) -> Result<(), EmailError> {
        if self.credentials.is_some()
            && self.security == SmtpSecurity::Plain
            && !is_loopback(&self.host)
        {
            return Err(EmailError::CleartextCredentials {
                server: self.shown.clone(),
            });
        }
        Ok(())
    }

    fn transport(&self, timeout: Duration) -> Result<SmtpTransport, EmailError> {
        let tls = match self.security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(self.tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(self.tls_parameters()?),
        };
        // "dangerous" only in that the builder starts without TLS: `tls` sets it.
        let mut builder = SmtpTransport::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some(hello) = &self.hello {
            builder = builder.hello_name(ClientId::Domain(hello.clone()));
        }
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
        }
        Ok(builder.build())
    }

    /// The server's name to check its certificate against, and the roots it must chain to.
    fn tls_parameters(&self) -> Result<TlsParameters, EmailError> {
        let tls_failed = |e: lettre::transport::smtp::Error| EmailError::Send {
            server: self.shown.clone(),
            reason: format!("setting up TLS: {e}"),
        };
        let mut parameters = TlsParameters::builder(self.host.clone());
        if let Some(roots) = &self.roots {
            parameters = parameters.certificate_store(CertificateStore::None);
            for der in roots.der() {
                parameters = parameters
                    .add_root_certificate(Certificate::from_der(der.to_vec()).map_err(tls_failed)?);
            }
        }
        parameters.build_rustls().map_err(tls_failed)
    }
}

impl fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let to: Vec<String> = self.to.iter().map(ToString::to_string).collect();
        f.debug_struct("EmailNotifier")
            .field("server", &self.server.shown)
            .field("security", &self.server.security)
            .field("roots", &super::roots::shown(self.server.roots.as_ref()))
            .field(
                "user",
                &self.server.credentials.as_ref().map(|(user, _)| user),
            )
            .field("from", &self.from.to_string())
            .field("to", &to)
            .field(
                "timeout",
                &format_args!("{}", humantime::format_duration(self.timeout)),
            )
            .finish()
    }
}

impl Notifier for EmailNotifier {
    fn name(&self) -> &str {
        "email"
    }

    fn notify(&self, report: &RotationReport) -> Result<(), String> {
        self.send(report).map_err(|e| e.to_string())
    }
}
