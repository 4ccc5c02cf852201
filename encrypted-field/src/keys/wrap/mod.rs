//! Keys wrapped by a key-encryption key (KEK) that never leaves a KMS or an HSM.
//!
//! A key version may be stored as `enc_key_vN.wrapped` (or `bidx_key_vN.wrapped` for a
//! blind-index key) instead of `enc_key_vN`: a small JSON document,
//! [`WrappedKeyFile`], that names the provider, the KEK's URI and the algorithm, and holds the
//! wrapped bytes, never the plaintext key. Loading the ring unwraps each such version once, through
//! its provider, and keeps the master key in memory as a plain key file would (zeroized on drop);
//! sealing and opening values never call the provider. Plain and wrapped versions may be mixed
//! in one directory. Format v1 does not change.
//!
//! The providers are [`KeyWrapper`]s, found by the scheme of the key URI:
//! - `aws-kms://<key id, ARN or alias>`: AWS KMS (feature `aws-kms`), [`AwsKmsWrapper`];
//! - `pkcs11:token=…;object=…` (RFC 7512): a PKCS#11 HSM (feature `pkcs11`),
//!   [`Pkcs11Wrapper`];
//! - anything else: a provider of your own, added with [`register_key_wrapper`] (for every ring
//!   loaded from the environment and for the command-line tool embedded in your binary) or with
//!   [`KeysDir::with_wrappers`](crate::keys::KeysDir::with_wrappers) for one directory.
//!
//! # Adding a provider
//!
//! Implement [`KeyWrapper`]: `wrap` turns 32 key bytes into opaque bytes and names the algorithm,
//! `unwrap` turns them back. Bind the key version (passed to both) into the wrapping when the
//! provider can (an encryption context, associated data), so a wrapped key cannot be moved to
//! another version. Report failures as a [`WrapError`] of the right [`WrapErrorKind`]: only
//! [`Unreachable`](WrapErrorKind::Unreachable) is retried, and no error may carry key bytes.
//!
//! ```
//! use std::sync::Arc;
//! use encrypted_field::{KeyVersion, MasterKey};
//! use encrypted_field::keys::KeysDir;
//! use encrypted_field::keys::wrap::{KeyWrapper, KeyWrappers, WrapError, WrapErrorKind, Wrapped};
//!
//! /// A toy provider: XOR with a KEK held in memory. (Only to show the trait; a real one calls
//! /// a KMS or an HSM, and the KEK never enters the process.)
//! #[derive(Debug)]
//! struct Toy([u8; 32]);
//!
//! impl KeyWrapper for Toy {
//!     fn provider(&self) -> &str {
//!         "toy"
//!     }
//!     fn wrap(&self, uri: &str, version: KeyVersion, key: &MasterKey) -> Result<Wrapped, WrapError> {
//!         let mut bytes: Vec<u8> = key.expose_bytes().iter().zip(self.0).map(|(k, x)| k ^ x).collect();
//!         bytes.push(version.get() as u8); // binds the version
//!         Ok(Wrapped::new("toy-xor", bytes))
//!     }
//!     fn unwrap(&self, uri: &str, version: KeyVersion, wrapped: &Wrapped) -> Result<MasterKey, WrapError> {
//!         let (body, bound) = wrapped.bytes().split_at(32.min(wrapped.bytes().len()));
//!         if wrapped.algorithm() != "toy-xor" || bound != [version.get() as u8] {
//!             return Err(WrapError::new(WrapErrorKind::WrongKey, "not wrapped for this version"));
//!         }
//!         let mut key = [0u8; 32];
//!         key.iter_mut().zip(body.iter().zip(self.0)).for_each(|(k, (b, x))| *k = b ^ x);
//!         Ok(MasterKey::from_bytes(key))
//!     }
//! }
//!
//! let tmp = tempfile::tempdir()?;
//! let keys = KeysDir::new(tmp.path()).with_wrappers(KeyWrappers::empty().with(Arc::new(Toy([7; 32]))));
//! keys.add(true)?;                              // v1: a plain key file
//! let v2 = keys.add_wrapped("toy:kek-1", true)?; // v2: enc_key_v2.wrapped, never plain on disk
//! assert!(tmp.path().join("enc_key_v2.wrapped").exists());
//! let ring = keys.load(None)?;
//! assert_eq!(ring.active_version(), v2);
//! assert_eq!(ring.wrapped_form(v2).map(|w| w.key_uri.as_str()), Some("toy:kek-1"));
//! assert_eq!(ring.decrypt(&ring.encrypt(b"secret"))?, b"secret");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::keys::master_key::MasterKey;
use crate::keys::version::KeyVersion;

#[cfg(feature = "aws-kms")]
mod aws_kms;
mod error;
mod file;
mod keys_dir;
mod load;
#[cfg(feature = "pkcs11")]
mod pkcs11;

#[cfg(feature = "aws-kms")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-kms")))]
pub use aws_kms::AwsKmsWrapper;
pub use error::{KeyWrapFailure, WrapError, WrapErrorKind};
pub use file::{KeyPurpose, WRAPPED_SUFFIX, WrappedKeyFile};
pub use keys_dir::Rewrapped;
pub(crate) use load::Unwrapping;
#[cfg(feature = "pkcs11")]
#[cfg_attr(docsrs, doc(cfg(feature = "pkcs11")))]
pub use pkcs11::{Pkcs11Algorithm, Pkcs11Uri, Pkcs11Wrapper};

/// A provider of key-encryption keys: a KMS, an HSM, a vault. It wraps and unwraps 32-byte
/// master keys with the key its URI names; the KEK itself stays with the provider.
///
/// See the [module documentation](self) for how to write one.
pub trait KeyWrapper: Send + Sync + fmt::Debug {
    /// The provider's name, written into each wrapped key file, and the scheme of the key URIs
    /// it answers (`aws-kms` for `aws-kms://…`, `pkcs11` for `pkcs11:…`).
    fn provider(&self) -> &str;

    /// Wraps `key`, the master key of `version`, with the KEK named by `key_uri`.
    fn wrap(
        &self,
        key_uri: &str,
        version: KeyVersion,
        key: &MasterKey,
    ) -> Result<Wrapped, WrapError>;

    /// Unwraps what [`wrap`](Self::wrap) returned for `version` with the KEK named by `key_uri`.
    fn unwrap(
        &self,
        key_uri: &str,
        version: KeyVersion,
        wrapped: &Wrapped,
    ) -> Result<MasterKey, WrapError>;
}

/// A wrapped key: the provider's algorithm name and the opaque bytes it returned. `Debug` shows
/// the algorithm and the length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Wrapped {
    algorithm: String,
    bytes: Vec<u8>,
}

impl Wrapped {
    /// Wrapped `bytes`, made with `algorithm` (e.g. `CKM_AES_KEY_WRAP_PAD`, `SYMMETRIC_DEFAULT`).
    pub fn new(algorithm: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            algorithm: algorithm.into(),
            bytes,
        }
    }

    /// The algorithm the provider used.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The wrapped bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wrapped")
            .field("algorithm", &self.algorithm)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The scheme of a key URI: `aws-kms` for `aws-kms://alias/x`, `pkcs11` for `pkcs11:token=…`.
pub(crate) fn scheme_of(key_uri: &str) -> Option<&str> {
    let (scheme, _) = key_uri.split_once(':')?;
    let valid = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// How often, and how patiently, an unreachable provider is asked again during a ring load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The wait after the first failed attempt; each later wait doubles it.
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, waiting 0.25 s, 0.5 s and 1 s in between (1.75 s in all).
    fn default() -> Self {
        Self {
            attempts: 4,
            first_backoff: Duration::from_millis(250),
        }
    }
}

/// The providers a ring load may use, by scheme, and the retry policy for unreachable ones.
///
/// [`standard`](Self::standard) holds what [`register_key_wrapper`] added and the built-in
/// providers of the enabled features (`aws-kms`, `pkcs11`), configured from the environment.
#[derive(Clone, Default)]
pub struct KeyWrappers {
    providers: Vec<Arc<dyn KeyWrapper>>,
    retry: RetryPolicy,
}

impl fmt::Debug for KeyWrappers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyWrappers")
            .field(
                "providers",
                &self
                    .providers
                    .iter()
                    .map(|p| p.provider())
                    .collect::<Vec<_>>(),
            )
            .field("retry", &self.retry)
            .finish()
    }
}

/// Providers added with [`register_key_wrapper`].
static REGISTERED: RwLock<Vec<Arc<dyn KeyWrapper>>> = RwLock::new(Vec::new());

/// Adds `provider` to every [`KeyWrappers::standard`] made after this call (so to every ring the
/// environment or a keys directory loads, and to the command-line tool embedded in your binary).
/// A provider registered later for the same name wins over earlier ones and the built-in ones.
pub fn register_key_wrapper(provider: Arc<dyn KeyWrapper>) {
    REGISTERED
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(0, provider);
}

impl KeyWrappers {
    /// No provider at all (add some with [`with`](Self::with)).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The registered providers, then the built-in ones of the enabled features.
    pub fn standard() -> Self {
        #[allow(unused_mut)]
        let mut providers = REGISTERED
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        #[cfg(feature = "aws-kms")]
        providers.push(Arc::new(AwsKmsWrapper::from_env()));
        #[cfg(feature = "pkcs11")]
        providers.push(Arc::new(Pkcs11Wrapper::from_env()));
        Self {
            providers,
            retry: RetryPolicy::default(),
        }
    }

    /// These providers and `provider`, which wins over any of the same name.
    #[must_use]
    pub fn with(mut self, provider: Arc<dyn KeyWrapper>) -> Self {
        self.providers.insert(0, provider);
        self
    }

    /// These providers with another retry policy for unreachable ones.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The provider of `key_uri`'s scheme.
    pub fn for_uri(&self, key_uri: &str) -> Result<&dyn KeyWrapper, WrapError> {
        let scheme = scheme_of(key_uri).ok_or_else(|| {
            WrapError::new(
                WrapErrorKind::BadUri,
                "a key URI starts with its provider's scheme, e.g. aws-kms://alias/app or \
                 pkcs11:token=…;object=…",
            )
        })?;
        self.for_provider(scheme)
    }

    /// The provider named `name` (as a wrapped key file records it).
    pub fn for_provider(&self, name: &str) -> Result<&dyn KeyWrapper, WrapError> {
        self.providers
            .iter()
            .find(|p| p.provider() == name)
            .map(|p| &**p)
            .ok_or_else(|| {
                WrapError::new(
                    WrapErrorKind::Unavailable,
                    format!(
                        "no `{name}` provider in this build (built in: {}; others are added with \
                         encrypted_field::keys::wrap::register_key_wrapper)",
                        built_in_note()
                    ),
                )
            })
    }
}

fn built_in_note() -> &'static str {
    match (cfg!(feature = "aws-kms"), cfg!(feature = "pkcs11")) {
        (true, true) => "aws-kms and pkcs11",
        (true, false) => "aws-kms; pkcs11 needs the `pkcs11` feature",
        (false, true) => "pkcs11; aws-kms needs the `aws-kms` feature",
        (false, false) => "none: enable the `aws-kms` or `pkcs11` feature",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_read_from_the_uri() {
        assert_eq!(scheme_of("aws-kms://alias/app"), Some("aws-kms"));
        assert_eq!(scheme_of("pkcs11:token=t;object=o"), Some("pkcs11"));
        assert_eq!(scheme_of("alias/app"), None);
        assert_eq!(scheme_of(":x"), None);
        assert_eq!(scheme_of("1x:y"), None);
    }

    #[test]
    fn an_unknown_provider_is_named_with_what_the_build_has() {
        let err = KeyWrappers::empty()
            .for_uri("vault-transit://k")
            .unwrap_err();
        assert_eq!(err.kind(), WrapErrorKind::Unavailable);
        assert!(err.to_string().contains("`vault-transit`"), "{err}");
        let err = KeyWrappers::empty().for_uri("no scheme").unwrap_err();
        assert_eq!(err.kind(), WrapErrorKind::BadUri);
    }

    #[test]
    fn wrapped_debug_shows_no_bytes() {
        let shown = format!("{:?}", Wrapped::new("x", vec![0xAB; 40]));
        assert!(!shown.contains("171") && !shown.contains("ab"), "{shown}");
        assert!(shown.contains("len: 40"), "{shown}");
    }
}

#[cfg(test)]
mod keys_dir_tests;
