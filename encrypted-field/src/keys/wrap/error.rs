//! [`WrapError`]: what a key-encryption-key provider says when it cannot wrap or unwrap a key.

use std::fmt;

use crate::keys::version::KeyVersion;

/// What kind of failure a [`KeyWrapper`](super::KeyWrapper) met: each kind gets its own message
/// for the operator, and only [`Unreachable`](Self::Unreachable) is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WrapErrorKind {
    /// The provider could not be reached (connection refused, timeout, a 5xx, throttling, an
    /// HSM that is not present): the ring load retries with backoff before giving up.
    Unreachable,
    /// The key-encryption key named by the URI does not exist (a deleted KMS key, an unknown
    /// alias, no such object on the token).
    KeyNotFound,
    /// The key-encryption key exists but may not be used now (a disabled KMS key, one pending
    /// deletion).
    KeyDisabled,
    /// The wrapped bytes do not unwrap with this key-encryption key: another key wrapped them,
    /// they were altered, or they belong to another key version.
    WrongKey,
    /// The provider refused the caller: bad credentials, a wrong PIN, a missing permission.
    AccessDenied,
    /// The provider's client cannot be set up: a PKCS#11 module that does not load, no AWS
    /// region, no token with the URI's label.
    Unavailable,
    /// The key URI is not one this provider understands.
    BadUri,
    /// Anything else the provider reported.
    Other,
}

impl fmt::Display for WrapErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unreachable => "the provider is unreachable",
            Self::KeyNotFound => "the key-encryption key does not exist",
            Self::KeyDisabled => "the key-encryption key is disabled",
            Self::WrongKey => {
                "the wrapped key does not unwrap with this key-encryption key (wrapped by another \
                 key, altered, or moved from another key version)"
            }
            Self::AccessDenied => "access denied",
            Self::Unavailable => "the provider cannot be used",
            Self::BadUri => "bad key URI",
            Self::Other => "the provider failed",
        })
    }
}

/// A failure of a [`KeyWrapper`](super::KeyWrapper): a [kind](WrapErrorKind) and the provider's
/// own words.
///
/// It never holds key material, plain or wrapped: a provider builds the detail from its error
/// codes and messages only (a KMS error text, a PKCS#11 return value), never from the bytes it
/// was given.
///
/// ```
/// use encrypted_field::keys::wrap::{WrapError, WrapErrorKind};
/// let err = WrapError::new(WrapErrorKind::KeyDisabled, "DisabledException: key is disabled");
/// assert_eq!(err.kind(), WrapErrorKind::KeyDisabled);
/// assert_eq!(
///     err.to_string(),
///     "the key-encryption key is disabled (DisabledException: key is disabled)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapError {
    kind: WrapErrorKind,
    detail: String,
}

impl WrapError {
    /// An error of `kind`, with the provider's `detail` (never key material).
    pub fn new(kind: WrapErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> WrapErrorKind {
        self.kind
    }

    /// The provider's own words.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for WrapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{} ({})", self.kind, self.detail)
        }
    }
}

impl std::error::Error for WrapError {}

/// A key version that could not be wrapped or unwrapped: what
/// [`Error::KeyWrapping`](crate::Error::KeyWrapping) holds.
///
/// ```
/// use encrypted_field::KeyVersion;
/// use encrypted_field::keys::wrap::{KeyWrapFailure, WrapError, WrapErrorKind};
/// let failure = KeyWrapFailure {
///     action: "unwrapping",
///     origin: "/run/secrets/enc_key_v2.wrapped".into(),
///     version: KeyVersion::new(2),
///     provider: "aws-kms".into(),
///     key_uri: "aws-kms://alias/app".into(),
///     attempts: 4,
///     source: WrapError::new(WrapErrorKind::Unreachable, "connection refused"),
/// };
/// assert_eq!(
///     failure.to_string(),
///     "unwrapping key v2 (/run/secrets/enc_key_v2.wrapped) with aws-kms key aws-kms://alias/app: \
///      the provider is unreachable (connection refused) (after 4 attempts)"
/// );
/// ```
#[derive(Debug)]
pub struct KeyWrapFailure {
    /// `wrapping`, `unwrapping` or `checking`.
    pub action: &'static str,
    /// The wrapped key file (or backup) it is about.
    pub origin: String,
    /// The key version.
    pub version: KeyVersion,
    /// The provider's name, e.g. `aws-kms`.
    pub provider: String,
    /// The key-encryption key's URI.
    pub key_uri: String,
    /// How many times the provider was asked.
    pub attempts: u32,
    /// The provider's reason.
    pub source: WrapError,
}

impl fmt::Display for KeyWrapFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} key {} ({}) with {} key {}: {}",
            self.action, self.version, self.origin, self.provider, self.key_uri, self.source
        )?;
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for KeyWrapFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
