//! Whether a key file of a keys directory loads, for `keys list`: a plain file read, a wrapped
//! one unwrapped once by its provider (no retries). The key is dropped (zeroized) at once.

use crate::error::Result;
use crate::keys::dir::{KeyFile, KeysDir};
use crate::keys::master_key::MasterKey;
use crate::keys::wrap::{KeyPurpose, RetryPolicy, WrappedKeyFile};

/// Loads `file` (a key of `purpose`) once to check it: the outcome, and for a wrapped file the
/// URI of the key-encryption key that wraps it.
pub(crate) fn check_key_file(
    dir: &KeysDir,
    file: &KeyFile,
    purpose: KeyPurpose,
) -> (Result<()>, Option<String>) {
    if !file.is_wrapped() {
        return (MasterKey::from_file(&file.path).map(drop), None);
    }
    match WrappedKeyFile::read(&file.path) {
        Ok(wrapped) => {
            let once = dir.wrappers().retry(RetryPolicy {
                attempts: 1,
                first_backoff: std::time::Duration::ZERO,
            });
            let checked = wrapped
                .unwrap(
                    &once,
                    purpose,
                    file.version,
                    &file.path.display().to_string(),
                )
                .map(drop);
            (checked, Some(wrapped.key_uri))
        }
        Err(error) => (Err(error), None),
    }
}
