//! Unwrapping at ring load: each wrapped version once, with bounded retries while its provider
//! is unreachable, and the `ENCRYPTED_FIELD_ALLOW_PARTIAL_RING` setting.

use super::{KeyWrappers, WrapErrorKind, WrappedKeyFile};
use crate::error::{Error, Result};
use crate::keys::master_key::MasterKey;
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
    /// Unwraps the key of `version` through its provider among `wrappers`, asking again with
    /// backoff while the provider is unreachable (as `wrappers`' retry policy says). `origin`
    /// names the file, for errors.
    pub fn unwrap(
        &self,
        wrappers: &KeyWrappers,
        version: KeyVersion,
        origin: &str,
    ) -> Result<MasterKey> {
        let fail = |attempts, source| Error::KeyWrapping {
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
                Ok(key) => return Ok(key),
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
                Err(e) => return Err(fail(attempt, e)),
            }
        }
    }
}
