//! What `keys wrap`, `keys rewrap` and `status` report about wrapped keys: versions, files and
//! key-encryption-key URIs, never a key or its wrapped bytes.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::output::Report;
use crate::keys::dir::KeysDir;
use crate::keys::wrap::{Rewrapped, WrappedKeyFile};

/// `keys wrap N --with URI`.
#[derive(Debug, Serialize)]
pub(crate) struct WrappedVersion {
    pub(crate) version: u32,
    /// The wrapped key file.
    pub(crate) path: String,
    /// The plain key file, now removed.
    pub(crate) removed: String,
    pub(crate) wrapped_by: String,
}

impl Report for WrappedVersion {
    fn human(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "key v{} wrapped by {}: {} (the plain file {} is removed)",
            self.version, self.wrapped_by, self.path, self.removed
        );
    }
}

/// `keys rewrap --with URI [N…]`.
#[derive(Debug, Serialize)]
pub(crate) struct RewrapReport {
    pub(crate) wrapped_by: String,
    pub(crate) rewrapped: Vec<RewrappedVersion>,
}

/// One version of a [`RewrapReport`].
#[derive(Debug, Serialize)]
pub(crate) struct RewrappedVersion {
    pub(crate) version: u32,
    pub(crate) path: String,
    pub(crate) from: String,
    pub(crate) to: String,
}

impl From<Rewrapped> for RewrappedVersion {
    fn from(done: Rewrapped) -> Self {
        Self {
            version: done.version.get(),
            path: done.path.display().to_string(),
            from: done.from,
            to: done.to,
        }
    }
}

impl Report for RewrapReport {
    fn human(&self, out: &mut String) {
        if self.rewrapped.is_empty() {
            out.push_str(
                "no wrapped key to rewrap (wrap a plain one with `keys wrap N --with URI`)\n",
            );
            return;
        }
        for done in &self.rewrapped {
            let _ = writeln!(
                out,
                "key v{}: {} -> {} ({})",
                done.version, done.from, done.to, done.path
            );
        }
        out.push_str("no value was rewritten: the data keys are the same\n");
    }
}

/// How one key version of the environment's keys directory is stored, for `status`.
#[derive(Debug, Serialize)]
pub(crate) struct KeyStorage {
    pub(crate) version: u32,
    pub(crate) path: String,
    /// The key-encryption key, for a wrapped version; `None` for a plain key file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) wrapped_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) algorithm: Option<String>,
    /// Why the wrapped file could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) problem: Option<String>,
}

/// How each version of `dir` is stored (read from the files only: no key is loaded, no
/// provider is called). Empty when the directory cannot be listed.
pub(crate) fn key_storage(dir: &KeysDir) -> Vec<KeyStorage> {
    dir.list()
        .unwrap_or_default()
        .into_iter()
        .map(|file| {
            let path = file.path.display().to_string();
            if !file.is_wrapped() {
                return KeyStorage {
                    version: file.version.get(),
                    path,
                    wrapped_by: None,
                    algorithm: None,
                    problem: None,
                };
            }
            match WrappedKeyFile::read(&file.path) {
                Ok(wrapped) => KeyStorage {
                    version: file.version.get(),
                    path,
                    wrapped_by: Some(wrapped.key_uri),
                    algorithm: Some(wrapped.algorithm),
                    problem: None,
                },
                Err(error) => KeyStorage {
                    version: file.version.get(),
                    path,
                    wrapped_by: None,
                    algorithm: None,
                    problem: Some(error.to_string()),
                },
            }
        })
        .collect()
}

/// The human lines of [`key_storage`].
pub(crate) fn key_storage_human(storage: &[KeyStorage], out: &mut String) {
    if storage.is_empty() {
        return;
    }
    out.push_str("key storage:\n");
    for key in storage {
        let _ = match (&key.wrapped_by, &key.problem) {
            (Some(kek), _) => writeln!(
                out,
                "  v{:<4} wrapped by {kek} ({}), {}",
                key.version,
                key.algorithm.as_deref().unwrap_or("?"),
                key.path
            ),
            (None, Some(problem)) => writeln!(out, "  v{:<4} unreadable: {problem}", key.version),
            (None, None) => writeln!(out, "  v{:<4} plain key file, {}", key.version, key.path),
        };
    }
}
