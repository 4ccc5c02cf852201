//! Unwrapping at ring load: each wrapped version once, with bounded retries while its provider
//! is unreachable, and the `ENCRYPTED_FIELD_ALLOW_PARTIAL_RING` setting.

use std::path::Path;

use super::{KeyPurpose, KeyWrappers, WrapError, WrapErrorKind, WrappedKeyFile};
use crate::error::{Error, Result};
use crate::keys::master_key::MasterKey;
use crate::keys::ring::KeyRingBuilder;
use crate::keys::version::KeyVersion;

/// Set to `1` or `true`, a ring loads without the versions whose provider failed (each one is
/// logged), as long as the active version loads; unset or `0`/`false`, such a ring load fails.
pub(crate) const PARTIAL_RING_VAR: &str = "ENCRYPTED_FIELD_ALLOW_PARTIAL_RING";

/// Whether [`PARTIAL_RING_VAR`] allows a partial ring; any other value is an error naming it.
pub(crate) fn allow_partial_from_env() -> Result<bool> {
    let Some(value) = std::env::var_os(PARTIAL_RING_VAR) else {
        return Ok(false);
    };
    match value.to_str().map(str::trim) {
        Some("1" | "true" | "yes") => Ok(true),
        Some("" | "0" | "false" | "no") => Ok(false),
        _ => Err(Error::BadKey {
            origin: PARTIAL_RING_VAR.to_owned(),
            reason: crate::error::BadKeyReason::Unreadable(
                "expected 1 or true (allow) or 0 or false (refuse)".to_owned(),
            ),
        }),
    }
}

impl WrappedKeyFile {
    /// Unwraps the key of `version` (for `purpose`) through its provider among `wrappers`,
    /// asking again with backoff while the provider is unreachable (as `wrappers`' retry policy
    /// says), and checks the file's binding tag: a key of another version or purpose is refused.
    /// `origin` names the file, for errors.
    pub fn unwrap(
        &self,
        wrappers: &KeyWrappers,
        purpose: KeyPurpose,
        version: KeyVersion,
        origin: &str,
    ) -> Result<MasterKey> {
        let fail = |attempts, source| super::KeyWrapFailure {
            action: "unwrapping",
            origin: origin.to_owned(),
            version,
            provider: self.provider.clone(),
            key_uri: self.key_uri.clone(),
            attempts,
            source,
        };
        let wrapper = wrappers
            .for_provider(&self.provider)
            .map_err(|e| fail(1, e))?;
        let wrapped = self.wrapped_bytes(origin)?;
        let policy = wrappers.retry_policy();
        let mut backoff = policy.first_backoff;
        let mut attempt = 1;
        loop {
            match wrapper.unwrap(&self.key_uri, version, &wrapped) {
                Ok(key) if self.is_bound_to(&key, purpose, version) => return Ok(key),
                Ok(_) => {
                    return Err(fail(
                        attempt,
                        WrapError::new(
                            WrapErrorKind::WrongKey,
                            format!(
                                "the unwrapped key is not bound to {purpose} key {version}: the \
                                 file was copied or renamed from another version or kind of key, \
                                 or altered"
                            ),
                        ),
                    )
                    .into());
                }
                Err(e) if e.kind() == WrapErrorKind::Unreachable && attempt < policy.attempts => {
                    tracing::warn!(
                        "unwrapping key {version} ({origin}) with {} key {}: {e}; attempt {attempt} \
                         of {}, trying again in {} ms",
                        self.provider,
                        self.key_uri,
                        policy.attempts,
                        backoff.as_millis()
                    );
                    std::thread::sleep(backoff);
                    backoff = backoff.saturating_mul(2);
                    attempt += 1;
                }
                Err(e) => return Err(fail(attempt, e).into()),
            }
        }
    }
}

/// How a ring load unwraps the wrapped versions of a keys directory.
pub(crate) struct Unwrapping {
    wrappers: KeyWrappers,
    allow_partial: bool,
    /// The version that will be active: never left out of a partial ring.
    active: Option<KeyVersion>,
}

impl Unwrapping {
    /// For a load through `wrappers` whose active version will be `active`; a partial ring as
    /// `allow_partial` says, else as `ENCRYPTED_FIELD_ALLOW_PARTIAL_RING` does (read only when
    /// `any_wrapped`).
    pub(crate) fn new(
        wrappers: KeyWrappers,
        allow_partial: Option<bool>,
        any_wrapped: bool,
        active: Option<KeyVersion>,
    ) -> Result<Self> {
        let allow_partial = match allow_partial {
            Some(allow) => allow,
            None if any_wrapped => allow_partial_from_env()?,
            None => false,
        };
        Ok(Self {
            wrappers,
            allow_partial,
            active,
        })
    }

    /// `builder` with the key of the wrapped key file `path` (version `version`), unwrapped, or
    /// (in a partial ring, for a version that is not the active one) without it, logged.
    pub(crate) fn add(
        &self,
        builder: KeyRingBuilder,
        version: KeyVersion,
        path: &Path,
    ) -> Result<KeyRingBuilder> {
        let origin = path.display().to_string();
        let wrapped = WrappedKeyFile::read(path)?;
        match wrapped.unwrap(&self.wrappers, KeyPurpose::Encryption, version, &origin) {
            Ok(key) => Ok(builder.key(version, key).wrapped_form(version, wrapped)),
            Err(error @ Error::KeyWrapping(_))
                if self.allow_partial && Some(version) != self.active =>
            {
                tracing::error!(
                    "key {version} is missing from the ring: {error}; {PARTIAL_RING_VAR} is set, \
                     so the ring loads without it (values of {version} cannot be read until it \
                     loads)"
                );
                Ok(builder)
            }
            Err(error) => Err(error),
        }
    }
}
