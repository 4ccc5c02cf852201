//! [`WrappedKeyFile`]: the JSON document of `enc_key_vN.wrapped` and `bidx_key_vN.wrapped`.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{KeyWrapFailure, KeyWrappers, Wrapped};
use crate::error::{BadKeyReason, Error, Result};
use crate::keys::master_key::MasterKey;
use crate::keys::secret_file::{Existing, check_key_file, write_secret_file};
use crate::keys::version::KeyVersion;

/// The suffix of a wrapped key file's name: `enc_key_v3.wrapped`.
pub const WRAPPED_SUFFIX: &str = ".wrapped";

/// The HKDF `info` prefix of a wrapped key's binding tag; the purpose and the version follow it
/// (`encryption v3`, `blind-index v2`).
const BINDING_INFO: &str = "encrypted-field v1 wrapped-key binding ";

/// What a wrapped key is for. Its file's binding tag names it with the version, so a wrapped
/// encryption key does not load as a blind-index key (nor the other way round), nor as another
/// version, whatever the provider binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// An encryption key version (`enc_key_vN.wrapped`).
    Encryption,
    /// A blind-index key version (`bidx_key_vN.wrapped`).
    BlindIndex,
}

impl KeyPurpose {
    fn label(self) -> &'static str {
        match self {
            Self::Encryption => "encryption",
            Self::BlindIndex => "blind-index",
        }
    }
}

impl fmt::Display for KeyPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// `HKDF-SHA256(key, info = BINDING_INFO || purpose || " v" || version)`, 32 bytes: derived
/// from the key itself, so only who holds the key can make it, and it says nothing of the key.
fn binding_tag(key: &MasterKey, purpose: KeyPurpose, version: KeyVersion) -> [u8; 32] {
    let info = format!("{BINDING_INFO}{} v{}", purpose.label(), version.get());
    let mut tag = [0u8; 32];
    // 32 bytes is always a valid HKDF-SHA256 length (at most 255 × 32), so this cannot fail; a
    // failure would leave zeros, which never match a tag made by `wrap`.
    let _ = Hkdf::<Sha256>::new(None, key.expose_bytes()).expand(info.as_bytes(), &mut tag);
    tag
}

/// A wrapped key version as it is stored: which provider and key-encryption key wrapped it, with
/// which algorithm, the wrapped bytes (standard base64), when, and a binding tag (standard
/// base64) that ties the key to its purpose and version. It holds no plaintext key.
///
/// ```json
/// {
///   "provider": "aws-kms",
///   "key_uri": "aws-kms://alias/encrypted-field",
///   "algorithm": "SYMMETRIC_DEFAULT",
///   "wrapped": "AQIDAHh…",
///   "created": "2026-12-02T01:00:00Z",
///   "binding": "q2V5IGJpbmRpbmcg…"
/// }
/// ```
///
/// `Debug` shows everything but the wrapped bytes and the tag.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKeyFile {
    /// The provider's name ([`KeyWrapper::provider`](super::KeyWrapper::provider)).
    pub provider: String,
    /// The key-encryption key's URI (`aws-kms://…`, `pkcs11:…`).
    pub key_uri: String,
    /// The wrapping algorithm the provider used.
    pub algorithm: String,
    /// The wrapped key, standard base64.
    pub wrapped: String,
    /// When it was wrapped (RFC 3339, UTC).
    pub created: String,
    /// `HKDF-SHA256(key, "encrypted-field v1 wrapped-key binding " || purpose || " v" ||
    /// version)`, standard base64: checked in constant time after each unwrap, so a file copied
    /// or renamed to another version or kind of key is refused.
    pub binding: String,
}

impl fmt::Debug for WrappedKeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKeyFile")
            .field("provider", &self.provider)
            .field("key_uri", &self.key_uri)
            .field("algorithm", &self.algorithm)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl WrappedKeyFile {
    /// Wraps `key` (the master key of `version`, for `purpose`) with the key-encryption key
    /// `key_uri`, through its provider among `wrappers`. `origin` names the file or backup, for
    /// errors.
    pub fn wrap(
        wrappers: &KeyWrappers,
        key_uri: &str,
        purpose: KeyPurpose,
        version: KeyVersion,
        key: &MasterKey,
        origin: &str,
    ) -> Result<Self> {
        let fail = |provider: &str, source| KeyWrapFailure {
            action: "wrapping",
            origin: origin.to_owned(),
            version,
            provider: provider.to_owned(),
            key_uri: key_uri.to_owned(),
            attempts: 1,
            source,
        };
        let wrapper = wrappers
            .for_uri(key_uri)
            .map_err(|e| fail(super::scheme_of(key_uri).unwrap_or("(none)"), e))?;
        let wrapped = wrapper
            .wrap(key_uri, version, key)
            .map_err(|e| fail(wrapper.provider(), e))?;
        Ok(Self {
            provider: wrapper.provider().to_owned(),
            key_uri: key_uri.to_owned(),
            algorithm: wrapped.algorithm().to_owned(),
            wrapped: STANDARD.encode(wrapped.bytes()),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            binding: STANDARD.encode(binding_tag(key, purpose, version)),
        })
    }

    /// Whether `key`, unwrapped from this file, is bound to `purpose` and `version` (compared in
    /// constant time).
    pub(crate) fn is_bound_to(
        &self,
        key: &MasterKey,
        purpose: KeyPurpose,
        version: KeyVersion,
    ) -> bool {
        let Ok(stored) = STANDARD.decode(self.binding.trim()) else {
            return false;
        };
        bool::from(stored.as_slice().ct_eq(&binding_tag(key, purpose, version)))
    }

    /// The wrapped bytes and algorithm, as the provider gave them.
    pub(crate) fn wrapped_bytes(&self, origin: &str) -> Result<Wrapped> {
        let bytes = STANDARD
            .decode(self.wrapped.trim())
            .map_err(|_| bad(origin, "its `wrapped` field is not standard base64"))?;
        Ok(Wrapped::new(self.algorithm.clone(), bytes))
    }

    /// Parses the JSON text of a wrapped key file; `origin` names it in errors (the text is never
    /// shown).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let file: Self = serde_json::from_str(text).map_err(|e| {
            bad(
                origin,
                &format!(
                    "not a wrapped key file (expected JSON with provider, key_uri, algorithm, \
                     wrapped, created, binding; line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if file.provider.is_empty() || file.key_uri.is_empty() {
            return Err(bad(origin, "its `provider` or `key_uri` is empty"));
        }
        if super::scheme_of(&file.key_uri) != Some(file.provider.as_str()) {
            return Err(bad(
                origin,
                &format!(
                    "its key_uri `{}` is not a URI of its provider `{}`",
                    file.key_uri, file.provider
                ),
            ));
        }
        Ok(file)
    }

    /// Reads a wrapped key file, refusing one that group or others can write (they could swap in
    /// another wrapped key, as they could a plain one).
    pub fn read(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        check_key_file(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| Error::BadKey {
            origin: origin.clone(),
            reason: BadKeyReason::Unreadable(e.to_string()),
        })?;
        Self::parse(&text, &origin)
    }

    /// The JSON text, pretty-printed, with a final newline.
    pub fn to_json(&self) -> String {
        // A struct of strings always serializes.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Writes the file at `path` (mode 0600), never replacing an existing file nor following a
    /// link.
    pub fn write_new(&self, path: &Path) -> Result<()> {
        write_secret_file(path, self.to_json().as_bytes(), Existing::Keep)
    }
}

fn bad(origin: &str, why: &str) -> Error {
    Error::BadKey {
        origin: origin.to_owned(),
        reason: BadKeyReason::Unreadable(why.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WrappedKeyFile {
        WrappedKeyFile {
            provider: "aws-kms".into(),
            key_uri: "aws-kms://alias/app".into(),
            algorithm: "SYMMETRIC_DEFAULT".into(),
            wrapped: STANDARD.encode([5u8; 48]),
            created: "2026-12-02T01:00:00Z".into(),
            binding: STANDARD.encode([6u8; 32]),
        }
    }

    #[test]
    fn the_document_round_trips_and_debug_hides_the_bytes() {
        let file = sample();
        assert_eq!(WrappedKeyFile::parse(&file.to_json(), "t").unwrap(), file);
        assert!(!format!("{file:?}").contains(&file.wrapped));
    }

    #[test]
    fn a_uri_of_another_provider_is_refused() {
        let mut file = sample();
        file.key_uri = "pkcs11:token=a;object=b".into();
        let err = WrappedKeyFile::parse(&file.to_json(), "enc_key_v2.wrapped").unwrap_err();
        assert!(err.to_string().contains("enc_key_v2.wrapped"), "{err}");
    }

    #[test]
    fn a_plain_key_in_a_wrapped_file_is_refused_without_echo() {
        let key = MasterKey::generate().to_base64();
        let err = WrappedKeyFile::parse(&key, "enc_key_v2.wrapped").unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("not a wrapped key file"), "{shown}");
        assert!(!shown.contains(&key[..8]), "{shown}");
    }
}
