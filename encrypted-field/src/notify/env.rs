//! The notifiers the CLI uses, configured from environment variables.
//!
//! | Variable | Meaning |
//! |---|---|
//! | `ENCRYPTED_FIELD_WEBHOOK_URL` | POST the JSON report here (feature `webhook`) |
//! | `ENCRYPTED_FIELD_WEBHOOK_AUTHORIZATION` | value of the webhook's `Authorization` header |
//! | `ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP` | `1` to allow a plain `http://` webhook URL to another machine (refused otherwise) |
//! | `ENCRYPTED_FIELD_SMTP_URL` | mail the report through this server (feature `email`): `smtp://host:port` (STARTTLS, required unless the host is this machine), `smtp://host:port?tls=none` (no encryption, on purpose), `smtps://user:password@host:port` (TLS) |
//! | `ENCRYPTED_FIELD_SMTP_USERNAME`, `ENCRYPTED_FIELD_SMTP_PASSWORD` | SMTP credentials, instead of those in the URL |
//! | `ENCRYPTED_FIELD_EMAIL_FROM` (else `EMAIL_FROM_ALERTS`) | the sender |
//! | `ENCRYPTED_FIELD_EMAIL_TO` (else `EMAIL_SECURITY`) | the recipients, comma-separated |
//! | `ENCRYPTED_FIELD_NOTIFY_TIMEOUT` | how long each may take, e.g. `30s` (default 10s) |
//! | `ENCRYPTED_FIELD_NOTIFY_CA_FILE` | a PEM file of CA certificates the webhook's and the SMTP server's certificates must chain to, in place of the Mozilla roots (a private CA) |
//!
//! An empty variable counts as unset. `EMAIL_FROM_ALERTS` and `EMAIL_SECURITY` are the Django
//! module's settings: they are only read when `ENCRYPTED_FIELD_SMTP_URL` is set, so an
//! application that sets them for other mail does not turn e-mail notifications on by accident.
//! A half-done configuration (an SMTP URL without a recipient, a recipient without an SMTP URL, a
//! user without a password) is an error, not a silently missing notification.

use std::ffi::OsString;
use std::time::Duration;

#[cfg(any(feature = "webhook", feature = "email"))]
use super::TrustedRoots;
use super::{DEFAULT_TIMEOUT, LogNotifier, Notifier};

/// The webhook URL.
pub const WEBHOOK_URL: &str = "ENCRYPTED_FIELD_WEBHOOK_URL";
/// The value of the webhook's `Authorization` header.
pub const WEBHOOK_AUTHORIZATION: &str = "ENCRYPTED_FIELD_WEBHOOK_AUTHORIZATION";
/// `1` (or `true`, `yes`) to allow a plain `http://` webhook URL to another machine.
pub const WEBHOOK_ALLOW_HTTP: &str = "ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP";
/// A PEM file of CA certificates the notifiers trust in place of the Mozilla roots.
pub const NOTIFY_CA_FILE: &str = "ENCRYPTED_FIELD_NOTIFY_CA_FILE";
/// The SMTP server's URL.
pub const SMTP_URL: &str = "ENCRYPTED_FIELD_SMTP_URL";
/// The SMTP user name (instead of the one in the URL).
pub const SMTP_USERNAME: &str = "ENCRYPTED_FIELD_SMTP_USERNAME";
/// The SMTP password (instead of the one in the URL).
pub const SMTP_PASSWORD: &str = "ENCRYPTED_FIELD_SMTP_PASSWORD";
/// The sender.
pub const EMAIL_FROM: &str = "ENCRYPTED_FIELD_EMAIL_FROM";
/// The sender when [`EMAIL_FROM`] is unset: the Django module's setting.
pub const EMAIL_FROM_FALLBACK: &str = "EMAIL_FROM_ALERTS";
/// The recipients, comma-separated.
pub const EMAIL_TO: &str = "ENCRYPTED_FIELD_EMAIL_TO";
/// The recipients when [`EMAIL_TO`] is unset: the Django module's setting.
pub const EMAIL_TO_FALLBACK: &str = "EMAIL_SECURITY";
/// How long each notifier may take (`30s`, `2m`, or a number of seconds).
pub const NOTIFY_TIMEOUT: &str = "ENCRYPTED_FIELD_NOTIFY_TIMEOUT";

/// Why the notifiers could not be configured from the environment. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable's value cannot be used.
    #[error("{variable}: {reason}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// What is wrong with its value (the value itself is shown only when it is no secret).
        reason: String,
    },
    /// A variable is set that needs another one.
    #[error("{set} is set, but {missing} is not: set it too, or unset {set}")]
    Incomplete {
        /// The variable that is set.
        set: &'static str,
        /// What is missing, e.g. `ENCRYPTED_FIELD_EMAIL_TO (or EMAIL_SECURITY)`.
        missing: String,
    },
    /// A variable is set for a notifier this build does not have.
    #[error("{variable} is set, but this build of encrypted-field lacks the `{feature}` feature")]
    FeatureDisabled {
        /// The variable.
        variable: &'static str,
        /// The missing cargo feature.
        feature: &'static str,
    },
}

/// The log notifier, plus a webhook and an e-mail notifier when their variables (see the
/// [module docs](self)) are set in this process's environment.
///
/// ```
/// let notifiers = encrypted_field::notify::notifiers_from_env()?;
/// assert_eq!(notifiers[0].name(), "log");
/// # Ok::<(), encrypted_field::notify::ConfigError>(())
/// ```
pub fn notifiers_from_env() -> Result<Vec<Box<dyn Notifier>>, ConfigError> {
    notifiers_from_lookup(|name| std::env::var_os(name))
}

/// [`notifiers_from_env`] with the variables read through `get` (a map in tests, or a
/// configuration file's values).
///
/// ```
/// # #[cfg(feature = "email")] { // without it, the error names the missing feature instead
/// use std::collections::HashMap;
/// use std::ffi::OsString;
/// use encrypted_field::notify::{ConfigError, notifiers_from_lookup};
///
/// let vars = HashMap::from([("ENCRYPTED_FIELD_EMAIL_TO", "security@example.com")]);
/// let err = notifiers_from_lookup(|name| vars.get(name).map(OsString::from)).unwrap_err();
/// assert!(matches!(err, ConfigError::Incomplete { missing, .. } if missing == "ENCRYPTED_FIELD_SMTP_URL"));
/// # }
/// ```
pub fn notifiers_from_lookup(
    get: impl Fn(&str) -> Option<OsString>,
) -> Result<Vec<Box<dyn Notifier>>, ConfigError> {
    let vars = Vars { get: &get };
    let timeout = vars.timeout()?;
    let roots = roots(&vars)?;
    let mut notifiers: Vec<Box<dyn Notifier>> = vec![Box::new(LogNotifier)];
    if let Some(webhook) = webhook(&vars, timeout, roots.as_ref())? {
        notifiers.push(webhook);
    }
    if let Some(email) = email(&vars, timeout, roots.as_ref())? {
        notifiers.push(email);
    }
    if notifiers.len() == 1 && roots.is_some() {
        return Err(ConfigError::Incomplete {
            set: NOTIFY_CA_FILE,
            missing: format!("{WEBHOOK_URL} or {SMTP_URL}"),
        });
    }
    Ok(notifiers)
}

/// The variables, read through a lookup function.
struct Vars<'a> {
    get: &'a dyn Fn(&str) -> Option<OsString>,
}

impl Vars<'_> {
    /// The value of `name`, trimmed; `None` when unset or empty.
    fn get(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        let Some(value) = (self.get)(name) else {
            return Ok(None);
        };
        let value = value.into_string().map_err(|_| ConfigError::Invalid {
            variable: name,
            reason: "its value is not valid UTF-8".to_owned(),
        })?;
        let value = value.trim();
        Ok((!value.is_empty()).then(|| value.to_owned()))
    }

    /// `name`'s value, or `fallback`'s, with the name it came from.
    #[cfg(feature = "email")]
    fn get_or(
        &self,
        name: &'static str,
        fallback: &'static str,
    ) -> Result<Option<(&'static str, String)>, ConfigError> {
        Ok(match self.get(name)? {
            Some(value) => Some((name, value)),
            None => self.get(fallback)?.map(|value| (fallback, value)),
        })
    }

    /// Whether `name` says yes (`1`, `true`, `yes`) or no (`0`, `false`, `no`, or unset).
    #[cfg(feature = "webhook")]
    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.get(name)?.map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("0" | "false" | "no") => Ok(false),
            Some("1" | "true" | "yes") => Ok(true),
            Some(other) => Err(ConfigError::Invalid {
                variable: name,
                reason: format!("`{other}` is neither 1 (yes) nor 0 (no)"),
            }),
        }
    }

    fn timeout(&self) -> Result<Duration, ConfigError> {
        let Some(text) = self.get(NOTIFY_TIMEOUT)? else {
            return Ok(DEFAULT_TIMEOUT);
        };
        let timeout = match text.parse::<u64>() {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) => humantime::parse_duration(&text).map_err(|e| ConfigError::Invalid {
                variable: NOTIFY_TIMEOUT,
                reason: format!("`{text}` is not a duration such as 30s or 2m ({e})"),
            })?,
        };
        if timeout.is_zero() {
            return Err(ConfigError::Invalid {
                variable: NOTIFY_TIMEOUT,
                reason: "a notification needs more than no time at all".to_owned(),
            });
        }
        Ok(timeout)
    }
}

/// Where no notifier can use them: the CA file is then refused, as any variable of a missing
/// feature is.
#[cfg(not(any(feature = "webhook", feature = "email")))]
type TrustedRoots = std::convert::Infallible;

/// The CA certificates of [`NOTIFY_CA_FILE`], if it is set.
#[cfg(any(feature = "webhook", feature = "email"))]
fn roots(vars: &Vars<'_>) -> Result<Option<TrustedRoots>, ConfigError> {
    let Some(path) = vars.get(NOTIFY_CA_FILE)? else {
        return Ok(None);
    };
    TrustedRoots::from_pem_file(&path)
        .map(Some)
        .map_err(|e| ConfigError::Invalid {
            variable: NOTIFY_CA_FILE,
            reason: e.to_string(),
        })
}

#[cfg(not(any(feature = "webhook", feature = "email")))]
fn roots(vars: &Vars<'_>) -> Result<Option<TrustedRoots>, ConfigError> {
    match first_set(vars, &[NOTIFY_CA_FILE])? {
        Some(variable) => Err(ConfigError::FeatureDisabled {
            variable,
            feature: "webhook",
        }),
        None => Ok(None),
    }
}

/// Names `set`, the first variable in `names` that is set, if any.
fn first_set(vars: &Vars<'_>, names: &[&'static str]) -> Result<Option<&'static str>, ConfigError> {
    for name in names {
        if vars.get(name)?.is_some() {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

#[cfg(feature = "webhook")]
fn webhook(
    vars: &Vars<'_>,
    timeout: Duration,
    roots: Option<&TrustedRoots>,
) -> Result<Option<Box<dyn Notifier>>, ConfigError> {
    use super::{WebhookError, WebhookNotifier};

    let Some(url) = vars.get(WEBHOOK_URL)? else {
        return match first_set(vars, &[WEBHOOK_AUTHORIZATION, WEBHOOK_ALLOW_HTTP])? {
            Some(set) => Err(ConfigError::Incomplete {
                set,
                missing: WEBHOOK_URL.to_owned(),
            }),
            None => Ok(None),
        };
    };
    let invalid = |variable| {
        move |e: super::WebhookError| ConfigError::Invalid {
            variable,
            reason: e.to_string(),
        }
    };
    let webhook = if vars.flag(WEBHOOK_ALLOW_HTTP)? {
        WebhookNotifier::new_allowing_plain_http(&url)
    } else {
        WebhookNotifier::new(&url)
    };
    let mut webhook = match webhook {
        Err(e @ WebhookError::CleartextUrl { .. }) => {
            return Err(ConfigError::Invalid {
                variable: WEBHOOK_URL,
                reason: format!("{e}, or set {WEBHOOK_ALLOW_HTTP}=1 to send it unencrypted anyway"),
            });
        }
        other => other.map_err(invalid(WEBHOOK_URL))?.timeout(timeout),
    };
    if let Some(roots) = roots {
        webhook = webhook.trusted_roots(roots.clone());
    }
    if let Some(authorization) = vars.get(WEBHOOK_AUTHORIZATION)? {
        webhook = webhook
            .header("Authorization", authorization)
            .map_err(invalid(WEBHOOK_AUTHORIZATION))?;
    }
    Ok(Some(Box::new(webhook)))
}

#[cfg(not(feature = "webhook"))]
fn webhook(
    vars: &Vars<'_>,
    _: Duration,
    _: Option<&TrustedRoots>,
) -> Result<Option<Box<dyn Notifier>>, ConfigError> {
    match first_set(
        vars,
        &[WEBHOOK_URL, WEBHOOK_AUTHORIZATION, WEBHOOK_ALLOW_HTTP],
    )? {
        Some(variable) => Err(ConfigError::FeatureDisabled {
            variable,
            feature: "webhook",
        }),
        None => Ok(None),
    }
}

/// The variables that only make sense with [`SMTP_URL`].
const EMAIL_ONLY: [&str; 4] = [EMAIL_FROM, EMAIL_TO, SMTP_USERNAME, SMTP_PASSWORD];

#[cfg(feature = "email")]
fn email(
    vars: &Vars<'_>,
    timeout: Duration,
    roots: Option<&TrustedRoots>,
) -> Result<Option<Box<dyn Notifier>>, ConfigError> {
    use super::{EmailError, EmailNotifier};

    let Some(url) = vars.get(SMTP_URL)? else {
        return match first_set(vars, &EMAIL_ONLY)? {
            Some(set) => Err(ConfigError::Incomplete {
                set,
                missing: SMTP_URL.to_owned(),
            }),
            None => Ok(None),
        };
    };
    let missing = |name, fallback| ConfigError::Incomplete {
        set: SMTP_URL,
        missing: format!("{name} (or {fallback})"),
    };
    let (from_var, from) = vars
        .get_or(EMAIL_FROM, EMAIL_FROM_FALLBACK)?
        .ok_or_else(|| missing(EMAIL_FROM, EMAIL_FROM_FALLBACK))?;
    let (to_var, to) = vars
        .get_or(EMAIL_TO, EMAIL_TO_FALLBACK)?
        .ok_or_else(|| missing(EMAIL_TO, EMAIL_TO_FALLBACK))?;
    let invalid = |e: EmailError| ConfigError::Invalid {
        variable: match &e {
            EmailError::InvalidAddress { role: "from", .. } => from_var,
            EmailError::InvalidAddress { .. } => to_var,
            _ => SMTP_URL,
        },
        reason: e.to_string(),
    };
    let mut email = EmailNotifier::new(&url, &from, &to)
        .map_err(invalid)?
        .timeout(timeout);
    if let Some(roots) = roots {
        email = email.trusted_roots(roots.clone());
    }
    match (vars.get(SMTP_USERNAME)?, vars.get(SMTP_PASSWORD)?) {
        (Some(user), Some(password)) => {
            email = email.credentials(user, password).map_err(invalid)?;
        }
        (None, None) => {}
        (Some(_), None) => {
            return Err(ConfigError::Incomplete {
                set: SMTP_USERNAME,
                missing: SMTP_PASSWORD.to_owned(),
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Incomplete {
                set: SMTP_PASSWORD,
                missing: SMTP_USERNAME.to_owned(),
            });
        }
    }
    Ok(Some(Box::new(email)))
}

#[cfg(not(feature = "email"))]
fn email(
    vars: &Vars<'_>,
    _: Duration,
    _: Option<&TrustedRoots>,
) -> Result<Option<Box<dyn Notifier>>, ConfigError> {
    let mut names = vec![SMTP_URL];
    names.extend(EMAIL_ONLY);
    match first_set(vars, &names)? {
        Some(variable) => Err(ConfigError::FeatureDisabled {
            variable,
            feature: "email",
        }),
        None => Ok(None),
    }
}
