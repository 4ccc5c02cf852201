//! [`KeyRing`]: numbered key versions, one of them active, plus optional blind-index key versions.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{BadKeyReason, Error, MalformedReason, Result};
use crate::format::blind_index::BlindIndexKey;
use crate::format::context::check_context;
use crate::format::envelope::{Envelope, IV_LEN, SealingKeys};
use crate::format::row_context::Binding;
use crate::format::row_key::RowKey;
use crate::format::stored::{decode_base64, encode_base64};
use crate::keys::blind_index_keys::BlindIndexKeys;
#[cfg(feature = "_database")]
use crate::keys::iv_pool::IvPool;
use crate::keys::master_key::MasterKey;
use crate::keys::version::KeyVersion;

/// One loaded key version: the master key (kept for backups and key-file management) and the
/// subkeys derived from it once.
#[derive(Clone)]
struct LoadedKey {
    master: MasterKey,
    sealing: SealingKeys,
}

/// Numbered key versions and the active one. New values are sealed with the active version; every
/// version in the ring can open values. Rings are plain values: an application may keep several.
///
/// `Debug` lists versions only, never key bytes.
///
/// ```
/// use encrypted_field::{KeyRing, KeyVersion, MasterKey};
///
/// let (v1, v2) = (MasterKey::generate(), MasterKey::generate());
/// let old = KeyRing::builder().key(1, v1.clone()).build()?;
/// let written_long_ago = old.encrypt_with_context(b"+1 555 0100", "phone_requests.phone_number");
///
/// let ring = KeyRing::builder().key(1, v1).key(2, v2).active(2).build()?;
/// assert_eq!(ring.active_version(), KeyVersion::new(2));
/// assert_eq!(ring.decrypt_with_context(&written_long_ago, "phone_requests.phone_number")?, b"+1 555 0100");
/// let fresh = ring.encrypt(b"new value");
/// assert_eq!(ring.version_of(&fresh)?, KeyVersion::new(2));
/// # Ok::<(), encrypted_field::Error>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    keys: BTreeMap<KeyVersion, LoadedKey>,
    active: KeyVersion,
    blind_index: Option<BlindIndexKeys>,
    /// How the versions stored wrapped are stored (for key backups and listings).
    #[cfg(feature = "key-wrapping")]
    wrapped: BTreeMap<KeyVersion, crate::keys::wrap::WrappedKeyFile>,
    /// Likewise for the blind-index versions stored wrapped (`bidx_key_vN.wrapped`).
    #[cfg(feature = "key-wrapping")]
    wrapped_blind_index: BTreeMap<KeyVersion, crate::keys::wrap::WrappedKeyFile>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .field(
                "blind_index_versions",
                &self.blind_index_versions().collect::<Vec<_>>(),
            )
            .field("active_blind_index", &self.active_blind_index_version())
            .finish()
    }
}

impl KeyRing {
    /// Starts a ring in code.
    pub fn builder() -> KeyRingBuilder {
        KeyRingBuilder::default()
    }

    /// The version new values are sealed with.
    pub fn active_version(&self) -> KeyVersion {
        self.active
    }

    /// Every version in the ring, in ascending order.
    pub fn versions(&self) -> impl Iterator<Item = KeyVersion> + '_ {
        self.keys.keys().copied()
    }

    /// Whether the ring holds this version.
    pub fn contains(&self, version: KeyVersion) -> bool {
        self.keys.contains_key(&version)
    }

    /// The master key of a version (for key backups). Never log it.
    pub fn master_key(&self, version: KeyVersion) -> Option<&MasterKey> {
        self.keys.get(&version).map(|k| &k.master)
    }

    /// How `version` is stored when it is stored wrapped by a KMS or an HSM (provider, key
    /// URI, algorithm, wrapped bytes): key backups keep this form, and `keys list` and `status`
    /// show the key-encryption key. `None` for a version loaded from a plain key.
    #[cfg(feature = "key-wrapping")]
    #[cfg_attr(docsrs, doc(cfg(feature = "key-wrapping")))]
    pub fn wrapped_form(&self, version: KeyVersion) -> Option<&crate::keys::wrap::WrappedKeyFile> {
        self.wrapped.get(&version)
    }

    /// How blind-index `version` is stored when it is stored wrapped (`bidx_key_vN.wrapped`):
    /// key backups keep this form instead of the key.
    #[cfg(feature = "key-wrapping")]
    #[cfg_attr(docsrs, doc(cfg(feature = "key-wrapping")))]
    pub fn blind_index_wrapped_form(
        &self,
        version: KeyVersion,
    ) -> Option<&crate::keys::wrap::WrappedKeyFile> {
        self.wrapped_blind_index.get(&version)
    }

    /// This ring, recording that blind-index `version` (loaded) is stored wrapped as `file`.
    #[cfg(feature = "key-wrapping")]
    pub(crate) fn with_blind_index_wrapped_form(
        mut self,
        version: KeyVersion,
        file: crate::keys::wrap::WrappedKeyFile,
    ) -> Self {
        if self.blind_index_key_of(version).is_some() {
            self.wrapped_blind_index.insert(version, file);
        }
        self
    }

    /// The active blind-index key (the one new indexes are computed with), if any is configured.
    pub fn blind_index_key(&self) -> Option<&BlindIndexKey> {
        self.blind_index.as_ref().map(BlindIndexKeys::active_key)
    }

    /// The blind-index key of `version`, if it is loaded.
    pub fn blind_index_key_of(&self, version: KeyVersion) -> Option<&BlindIndexKey> {
        self.blind_index.as_ref()?.key(version)
    }

    /// The version of the active blind-index key, if any is configured.
    pub fn active_blind_index_version(&self) -> Option<KeyVersion> {
        self.blind_index
            .as_ref()
            .map(BlindIndexKeys::active_version)
    }

    /// Every loaded blind-index key version, in ascending order.
    pub fn blind_index_versions(&self) -> impl Iterator<Item = KeyVersion> + '_ {
        self.blind_index.iter().flat_map(BlindIndexKeys::versions)
    }

    /// A copy of this ring with `key` as blind-index version 1 (replacing a version 1). Refused if
    /// it equals an encryption key or another blind-index version.
    pub fn with_blind_index_key(&self, key: BlindIndexKey) -> Result<Self> {
        self.with_blind_index_key_version(KeyVersion::new(1), key)
    }

    /// A copy of this ring with `key` as blind-index `version` (replacing one of that number);
    /// the highest loaded version becomes active (pin another with
    /// [`with_active_blind_index`](Self::with_active_blind_index)). Refused if the key equals an
    /// encryption key or another blind-index version.
    pub fn with_blind_index_key_version(
        &self,
        version: impl Into<KeyVersion>,
        key: BlindIndexKey,
    ) -> Result<Self> {
        let version = version.into();
        let keys = match &self.blind_index {
            Some(keys) => keys.with_key(version, key)?,
            None => BlindIndexKeys::new([(version, key)].into(), None)?,
        };
        keys.check_distinct_from(self.keys.values().map(|k| &k.master))?;
        Ok(Self {
            blind_index: Some(keys),
            ..self.clone()
        })
    }

    /// A copy of this ring with every blind-index key version of `other` and its active one (in
    /// place of this ring's): for a ring rebuilt with new encryption keys. Refused if one equals an
    /// encryption key of this ring.
    pub fn with_blind_index_keys_of(&self, other: &KeyRing) -> Result<Self> {
        if let Some(keys) = &other.blind_index {
            keys.check_distinct_from(self.keys.values().map(|k| &k.master))?;
        }
        Ok(Self {
            blind_index: other.blind_index.clone(),
            #[cfg(feature = "key-wrapping")]
            wrapped_blind_index: other.wrapped_blind_index.clone(),
            ..self.clone()
        })
    }

    /// A copy of this ring whose new blind indexes are computed with blind-index `version`
    /// (which must be loaded). Lookups still match every loaded version.
    ///
    /// ```
    /// use encrypted_field::{BlindIndexKey, KeyRing, KeyVersion, MasterKey};
    /// let ring = KeyRing::builder()
    ///     .key(1, MasterKey::generate())
    ///     .blind_index_key(BlindIndexKey::new(MasterKey::generate()))
    ///     .blind_index_key_version(2, BlindIndexKey::new(MasterKey::generate()))
    ///     .build()?;
    /// assert_eq!(ring.active_blind_index_version(), Some(KeyVersion::new(2)));
    /// let pinned = ring.with_active_blind_index(KeyVersion::new(1))?;
    /// assert_eq!(pinned.active_blind_index_version(), Some(KeyVersion::new(1)));
    /// assert!(ring.with_active_blind_index(KeyVersion::new(3)).is_err());
    /// # Ok::<(), encrypted_field::Error>(())
    /// ```
    pub fn with_active_blind_index(&self, version: KeyVersion) -> Result<Self> {
        let keys = self.blind_index.as_ref().ok_or(Error::NoBlindIndexKey)?;
        Ok(Self {
            blind_index: Some(keys.with_active(version)?),
            ..self.clone()
        })
    }

    /// The blind index of `value` in the column named by `context`, after `normalize`
    /// (see [`normalize`](crate::normalize)), computed with the active blind-index version, as a
    /// binary column stores it (`FORMAT.md`): 32 bytes for version 1, 38 with its version prefix
    /// for the others. Fails with [`Error::NoBlindIndexKey`] when the ring has no blind-index key.
    pub fn blind_index(
        &self,
        context: &str,
        value: &str,
        normalize: crate::format::blind_index::Normalizer,
    ) -> Result<Vec<u8>> {
        let keys = self.blind_index.as_ref().ok_or(Error::NoBlindIndexKey)?;
        Ok(keys.stored_active(context, normalize(value).as_bytes()))
    }

    /// The blind index of `value` under every loaded blind-index version, the active one first:
    /// what a lookup matches while indexes move from one version to another
    /// (`phone_bidx.eq_any(candidates)`). Fails with [`Error::NoBlindIndexKey`] when the ring has
    /// no blind-index key.
    ///
    /// ```
    /// use encrypted_field::{BlindIndexKey, KeyRing, MasterKey, normalize};
    /// let (v1, v2) = (MasterKey::generate(), MasterKey::generate());
    /// let old = KeyRing::builder()
    ///     .key(1, MasterKey::generate())
    ///     .blind_index_key(BlindIndexKey::new(v1.clone()))
    ///     .build()?;
    /// let stored_long_ago = old.blind_index("t.phone", "+1 555 0100", normalize::digits)?;
    ///
    /// let ring = old.with_blind_index_key_version(2, BlindIndexKey::new(v2))?;
    /// let candidates = ring.blind_indexes_any("t.phone", "15550100", normalize::digits)?;
    /// assert_eq!(candidates.len(), 2);
    /// assert_eq!(candidates[0], ring.blind_index("t.phone", "15550100", normalize::digits)?);
    /// assert!(candidates.contains(&stored_long_ago));
    /// # Ok::<(), encrypted_field::Error>(())
    /// ```
    pub fn blind_indexes_any(
        &self,
        context: &str,
        value: &str,
        normalize: crate::format::blind_index::Normalizer,
    ) -> Result<Vec<Vec<u8>>> {
        let keys = self.blind_index.as_ref().ok_or(Error::NoBlindIndexKey)?;
        Ok(keys.stored_any(context, normalize(value).as_bytes()))
    }

    /// A copy of this ring with another active version.
    pub fn with_active(&self, version: KeyVersion) -> Result<Self> {
        if !self.contains(version) {
            return Err(Error::BadKey {
                origin: "key ring".to_owned(),
                reason: BadKeyReason::ActiveVersionMissing(version),
            });
        }
        Ok(Self {
            active: version,
            ..self.clone()
        })
    }

    /// Seals `plaintext` with the active key and no context.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        self.encrypt_with_context(plaintext, "")
    }

    /// Seals `plaintext` with the active key, binding `context` (the column identity,
    /// `table.column`) into the tag. The IV comes from the operating system's generator.
    ///
    /// # Panics
    ///
    /// If the operating system's generator fails, or `context` holds a control character (see
    /// [`try_encrypt_with_context`](Self::try_encrypt_with_context), which returns both as errors).
    pub fn encrypt_with_context(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        match self.try_encrypt_with_context(plaintext, context) {
            Ok(sealed) => sealed,
            Err(error @ Error::InvalidContext { .. }) => {
                // The context is the caller's own constant: a control character in it is a bug.
                #[allow(clippy::panic)]
                {
                    panic!("{error}")
                }
            }
            Err(error) => crate::keys::os_random::os_generator_failed(&error),
        }
    }

    /// Like [`encrypt_with_context`](Self::encrypt_with_context), with the operating system
    /// generator's failure as [`Error::Randomness`] instead of a panic.
    ///
    /// ```
    /// use encrypted_field::{KeyRing, MasterKey};
    /// let ring = KeyRing::builder().key(1, MasterKey::generate()).build()?;
    /// let sealed = ring.try_encrypt_with_context(b"x", "t.c")?;
    /// assert_eq!(ring.decrypt_with_context(&sealed, "t.c")?, b"x");
    /// # Ok::<(), encrypted_field::Error>(())
    /// ```
    pub fn try_encrypt_with_context(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>> {
        self.seal_bound(plaintext, Binding::column(context))
    }

    /// Seals `plaintext` with the active key, bound to the column `context` *and* the row whose
    /// primary key is `row` (`FORMAT.md`, "Row-bound contexts"): the value opens only with
    /// [`decrypt_for_row`](Self::decrypt_for_row) for the same column and row, so a value copied
    /// into another row fails to decrypt.
    ///
    /// ```
    /// use encrypted_field::{Error, KeyRing, MasterKey, RowKey};
    /// let ring = KeyRing::builder().key(1, MasterKey::generate()).build()?;
    /// let sealed = ring.try_encrypt_for_row(b"078-05-1120", "customers._ssn", &RowKey::from(7))?;
    /// assert_eq!(ring.decrypt_for_row(&sealed, "customers._ssn", &RowKey::from(7))?, b"078-05-1120");
    /// let copied = ring.decrypt_for_row(&sealed, "customers._ssn", &RowKey::from(8)).unwrap_err();
    /// assert!(matches!(copied, Error::RowAuthentication { .. }));
    /// assert!(ring.decrypt_with_context(&sealed, "customers._ssn").is_err()); // not a plain value
    /// # Ok::<(), encrypted_field::Error>(())
    /// ```
    pub fn try_encrypt_for_row(
        &self,
        plaintext: &[u8],
        context: &str,
        row: &RowKey,
    ) -> Result<Vec<u8>> {
        self.seal_bound(plaintext, Binding::row(context, row))
    }

    /// Opens a value sealed with [`try_encrypt_for_row`](Self::try_encrypt_for_row) for the column
    /// `context` and the row `row`; a value of another row (or column) is
    /// [`Error::RowAuthentication`], naming both.
    pub fn decrypt_for_row(&self, envelope: &[u8], context: &str, row: &RowKey) -> Result<Vec<u8>> {
        self.open_bound(envelope, Binding::row(context, row))
    }

    /// Seals under `binding`, with an IV from the operating system.
    pub(crate) fn seal_bound(&self, plaintext: &[u8], binding: Binding<'_>) -> Result<Vec<u8>> {
        check_context(binding.column_context())?;
        let mut iv = [0u8; IV_LEN];
        crate::keys::os_random::fill_from_os(&mut iv)?;
        Ok(self.seal_with(plaintext, binding, &iv))
    }

    /// Seals under `binding` with the next IV of `ivs`: the same as
    /// [`seal_bound`](Self::seal_bound) (fresh operating-system randomness, never reused), drawn
    /// many IVs per system call for passes that seal many values.
    #[cfg(feature = "_database")]
    pub(crate) fn seal_bound_from_pool(
        &self,
        plaintext: &[u8],
        binding: Binding<'_>,
        ivs: &mut IvPool,
    ) -> Result<Vec<u8>> {
        check_context(binding.column_context())?;
        let iv = ivs.take()?;
        Ok(self.seal_with(plaintext, binding, &iv))
    }

    /// Opens under `binding`, checking the tag in constant time before anything else.
    pub(crate) fn open_bound(&self, envelope: &[u8], binding: Binding<'_>) -> Result<Vec<u8>> {
        check_context(binding.column_context())?;
        let parsed = Envelope::parse(envelope)?;
        let key = self
            .keys
            .get(&parsed.key_version())
            .ok_or(Error::UnknownKeyVersion(parsed.key_version()))?;
        key.sealing
            .open(&parsed, &binding.encoded())
            .map_err(|error| match error {
                Error::Authentication { .. } => binding.authentication_failed(),
                error => error,
            })
    }

    /// Seals with a caller-chosen IV (feature `internals`): only for the format's known-answer
    /// tests. A reused IV leaks equality of plaintext prefixes.
    #[cfg(feature = "internals")]
    #[cfg_attr(docsrs, doc(cfg(feature = "internals")))]
    pub fn seal_with_iv(&self, plaintext: &[u8], context: &str, iv: &[u8; IV_LEN]) -> Vec<u8> {
        self.seal_with(plaintext, Binding::column(context), iv)
    }

    /// Seals for a row with a caller-chosen IV (feature `internals`): only for the format's
    /// known-answer tests. A reused IV leaks equality of plaintext prefixes.
    #[cfg(feature = "internals")]
    #[cfg_attr(docsrs, doc(cfg(feature = "internals")))]
    pub fn seal_for_row_with_iv(
        &self,
        plaintext: &[u8],
        context: &str,
        row: &RowKey,
        iv: &[u8; IV_LEN],
    ) -> Vec<u8> {
        self.seal_with(plaintext, Binding::row(context, row), iv)
    }

    fn seal_with(&self, plaintext: &[u8], binding: Binding<'_>, iv: &[u8; IV_LEN]) -> Vec<u8> {
        self.active_key()
            .sealing
            .seal(self.active, iv, &binding.encoded(), plaintext)
    }

    /// Opens a value sealed with no context.
    pub fn decrypt(&self, envelope: &[u8]) -> Result<Vec<u8>> {
        self.decrypt_with_context(envelope, "")
    }

    /// Opens a value, checking its tag against `context` in constant time before anything else.
    pub fn decrypt_with_context(&self, envelope: &[u8], context: &str) -> Result<Vec<u8>> {
        self.open_bound(envelope, Binding::column(context))
    }

    /// Seals and encodes as standard base64, the form stored in TEXT columns.
    ///
    /// # Panics
    ///
    /// As [`encrypt_with_context`](Self::encrypt_with_context) does.
    pub fn encrypt_to_base64(&self, plaintext: &[u8], context: &str) -> String {
        encode_base64(&self.encrypt_with_context(plaintext, context))
    }

    /// Decodes standard base64 (from a TEXT column) and opens the value.
    pub fn decrypt_base64(&self, text: &str, context: &str) -> Result<Vec<u8>> {
        let bytes =
            decode_base64(text.as_bytes()).ok_or(Error::Malformed(MalformedReason::NotBase64))?;
        self.decrypt_with_context(&bytes, context)
    }

    /// The key version an envelope was sealed with, without decrypting it.
    pub fn version_of(&self, envelope: &[u8]) -> Result<KeyVersion> {
        Envelope::parse(envelope).map(|e| e.key_version())
    }

    fn active_key(&self) -> &LoadedKey {
        // `build` refuses a ring whose active version is missing, and the fields are private.
        #[allow(clippy::expect_used)]
        self.keys
            .get(&self.active)
            .expect("invariant: the active version is always in the ring")
    }
}

/// The first two versions holding the same key bytes, compared in constant time. Every pair is
/// compared (a ring holds a handful of versions), so the time taken says nothing about the keys.
fn same_key_twice(keys: &BTreeMap<KeyVersion, MasterKey>) -> Option<(KeyVersion, KeyVersion)> {
    let mut found = None;
    for (i, (a, key_a)) in keys.iter().enumerate() {
        for (b, key_b) in keys.iter().skip(i + 1) {
            if key_a == key_b && found.is_none() {
                found = Some((*a, *b));
            }
        }
    }
    found
}

/// Builds a [`KeyRing`] in code. The active version defaults to the highest one.
///
/// ```
/// use encrypted_field::{KeyRing, MasterKey};
/// let err = KeyRing::builder().key(1, MasterKey::generate()).active(2).build().unwrap_err();
/// assert!(err.to_string().contains("no key with that version"));
/// ```
#[derive(Debug, Default)]
pub struct KeyRingBuilder {
    keys: BTreeMap<KeyVersion, MasterKey>,
    duplicate: Option<KeyVersion>,
    active: Option<KeyVersion>,
    blind_index: BTreeMap<KeyVersion, BlindIndexKey>,
    active_blind_index: Option<KeyVersion>,
    origin: Option<String>,
    #[cfg(feature = "key-wrapping")]
    wrapped: BTreeMap<KeyVersion, crate::keys::wrap::WrappedKeyFile>,
    #[cfg(feature = "key-wrapping")]
    wrapped_blind_index: BTreeMap<KeyVersion, crate::keys::wrap::WrappedKeyFile>,
}

impl KeyRingBuilder {
    /// Adds a key version.
    pub fn key(mut self, version: impl Into<KeyVersion>, key: MasterKey) -> Self {
        let version = version.into();
        if self.keys.insert(version, key).is_some() {
            self.duplicate.get_or_insert(version);
        }
        self
    }

    /// Records that `version` (added with [`key`](Self::key)) is stored wrapped, as `file`:
    /// see [`KeyRing::wrapped_form`].
    #[cfg(feature = "key-wrapping")]
    #[cfg_attr(docsrs, doc(cfg(feature = "key-wrapping")))]
    pub fn wrapped_form(
        mut self,
        version: impl Into<KeyVersion>,
        file: crate::keys::wrap::WrappedKeyFile,
    ) -> Self {
        self.wrapped.insert(version.into(), file);
        self
    }

    /// Records that blind-index `version` (added with
    /// [`blind_index_key_version`](Self::blind_index_key_version)) is stored wrapped, as `file`:
    /// see [`KeyRing::blind_index_wrapped_form`].
    #[cfg(feature = "key-wrapping")]
    #[cfg_attr(docsrs, doc(cfg(feature = "key-wrapping")))]
    pub fn blind_index_wrapped_form(
        mut self,
        version: impl Into<KeyVersion>,
        file: crate::keys::wrap::WrappedKeyFile,
    ) -> Self {
        self.wrapped_blind_index.insert(version.into(), file);
        self
    }

    /// Chooses the active version (default: the highest).
    pub fn active(mut self, version: impl Into<KeyVersion>) -> Self {
        self.active = Some(version.into());
        self
    }

    /// Sets blind-index key version 1 (what `DB_BLIND_INDEX_KEY` holds).
    pub fn blind_index_key(self, key: BlindIndexKey) -> Self {
        self.blind_index_key_version(1, key)
    }

    /// Adds a blind-index key version (the highest is active unless
    /// [`active_blind_index`](Self::active_blind_index) picks another).
    pub fn blind_index_key_version(
        mut self,
        version: impl Into<KeyVersion>,
        key: BlindIndexKey,
    ) -> Self {
        let version = version.into();
        if self.blind_index.insert(version, key).is_some() {
            self.duplicate.get_or_insert(version);
        }
        self
    }

    /// Chooses the active blind-index version (default: the highest).
    pub fn active_blind_index(mut self, version: impl Into<KeyVersion>) -> Self {
        self.active_blind_index = Some(version.into());
        self
    }

    /// Names where the keys came from, for error messages (default `key ring`).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Checks the ring (at least one key, the active version present, no duplicate version, no
    /// key under two versions, a blind-index key distinct from every encryption key) and derives
    /// every subkey once.
    ///
    /// ```
    /// use encrypted_field::{BadKeyReason, Error, KeyRing, MasterKey};
    /// let key = MasterKey::generate();
    /// let err = KeyRing::builder().key(1, key.clone()).key(2, key).build().unwrap_err();
    /// assert!(matches!(err, Error::BadKey { reason: BadKeyReason::SameKeyTwice(..), .. }));
    /// ```
    pub fn build(self) -> Result<KeyRing> {
        let origin = self.origin.unwrap_or_else(|| "key ring".to_owned());
        let bad = |reason| Error::BadKey {
            origin: origin.clone(),
            reason,
        };
        if let Some(version) = self.duplicate {
            return Err(bad(BadKeyReason::DuplicateVersion(version)));
        }
        let highest = self
            .keys
            .keys()
            .next_back()
            .copied()
            .ok_or_else(|| bad(BadKeyReason::NoKeys))?;
        let active = self.active.unwrap_or(highest);
        if !self.keys.contains_key(&active) {
            return Err(bad(BadKeyReason::ActiveVersionMissing(active)));
        }
        if let Some((a, b)) = same_key_twice(&self.keys) {
            return Err(bad(BadKeyReason::SameKeyTwice(a, b)));
        }
        #[cfg(feature = "key-wrapping")]
        let wrapped_blind_index = {
            let mut wrapped = self.wrapped_blind_index;
            wrapped.retain(|version, _| self.blind_index.contains_key(version));
            wrapped
        };
        let blind_index = if self.blind_index.is_empty() {
            None
        } else {
            let keys = BlindIndexKeys::new(self.blind_index, self.active_blind_index)?;
            keys.check_distinct_from(self.keys.values())?;
            Some(keys)
        };
        #[cfg(feature = "key-wrapping")]
        let wrapped = {
            let mut wrapped = self.wrapped;
            wrapped.retain(|version, _| self.keys.contains_key(version));
            wrapped
        };
        let keys = self
            .keys
            .into_iter()
            .map(|(version, master)| {
                let sealing = SealingKeys::derive(&master);
                (version, LoadedKey { master, sealing })
            })
            .collect();
        Ok(KeyRing {
            keys,
            active,
            blind_index,
            #[cfg(feature = "key-wrapping")]
            wrapped,
            #[cfg(feature = "key-wrapping")]
            wrapped_blind_index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(versions: &[u32], active: u32) -> KeyRing {
        let mut b = KeyRing::builder();
        for &v in versions {
            b = b.key(v, MasterKey::from_bytes([v as u8; 32]));
        }
        b.active(active).build().unwrap()
    }

    #[test]
    fn ring_with_v1_and_v2_reads_v1_and_writes_v2() {
        let old = ring(&[1], 1).encrypt(b"old");
        let both = ring(&[1, 2], 2);
        assert_eq!(both.decrypt(&old).unwrap(), b"old");
        assert_eq!(
            both.version_of(&both.encrypt(b"new")).unwrap(),
            KeyVersion::new(2)
        );
    }

    #[test]
    fn unknown_version_is_named() {
        let v2 = ring(&[2], 2).encrypt(b"x");
        assert!(
            matches!(ring(&[1], 1).decrypt(&v2), Err(Error::UnknownKeyVersion(v)) if v == KeyVersion::new(2))
        );
    }

    #[test]
    fn same_version_number_with_another_key_fails_authentication() {
        let other = KeyRing::builder()
            .key(1, MasterKey::from_bytes([9; 32]))
            .build()
            .unwrap();
        let sealed = ring(&[1], 1).encrypt(b"x");
        assert!(matches!(
            other.decrypt(&sealed),
            Err(Error::Authentication { .. })
        ));
    }

    #[test]
    fn duplicate_version_is_refused() {
        let err = KeyRing::builder()
            .key(1, MasterKey::generate())
            .key(1, MasterKey::generate())
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            Error::BadKey {
                reason: BadKeyReason::DuplicateVersion(_),
                ..
            }
        ));
    }

    #[test]
    fn the_same_key_under_two_versions_is_refused_naming_both() {
        let key = MasterKey::generate();
        let err = KeyRing::builder()
            .origin("/run/secrets")
            .key(1, MasterKey::generate())
            .key(2, key.clone())
            .key(3, key.clone())
            .build()
            .unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("/run/secrets") && shown.contains("v2") && shown.contains("v3"),
            "{shown}"
        );
        assert!(!shown.contains(&key.to_base64()[..8]), "{shown}");
        assert!(!format!("{err:?}").contains(&key.to_base64()[..8]));
    }

    #[test]
    fn every_iv_comes_from_the_operating_system() {
        let r = ring(&[1], 1);
        let before = crate::keys::os_random::os_draws::so_far();
        let (a, b) = (r.encrypt(b"same"), r.encrypt_to_base64(b"same", ""));
        assert_eq!(crate::keys::os_random::os_draws::so_far(), before + 2);
        assert_ne!(encode_base64(&a), b, "two IVs");
    }

    #[test]
    fn a_ring_rebuilt_with_new_encryption_keys_keeps_every_blind_index_version() {
        let old = ring(&[1], 1)
            .with_blind_index_key(BlindIndexKey::new(MasterKey::from_bytes([7; 32])))
            .unwrap()
            .with_blind_index_key_version(2, BlindIndexKey::new(MasterKey::from_bytes([8; 32])))
            .unwrap()
            .with_active_blind_index(KeyVersion::new(1))
            .unwrap();
        let rebuilt = ring(&[1, 2], 2).with_blind_index_keys_of(&old).unwrap();
        assert_eq!(rebuilt.blind_index_versions().count(), 2);
        assert_eq!(
            rebuilt.active_blind_index_version(),
            Some(KeyVersion::new(1))
        );
        let normalize = crate::format::blind_index::normalize::exact;
        assert_eq!(
            rebuilt.blind_index("t.c", "v", normalize).unwrap(),
            old.blind_index("t.c", "v", normalize).unwrap()
        );
        let clash = ring(&[7], 7).with_blind_index_keys_of(&old);
        assert!(matches!(
            clash,
            Err(Error::BadKey {
                reason: BadKeyReason::SameAsEncryptionKey,
                ..
            })
        ));
    }

    #[test]
    fn empty_ring_is_refused() {
        assert!(matches!(
            KeyRing::builder().build(),
            Err(Error::BadKey {
                reason: BadKeyReason::NoKeys,
                ..
            })
        ));
    }

    #[test]
    fn debug_shows_versions_but_no_key_bytes() {
        let text = format!("{:?}", ring(&[1, 2], 1));
        assert!(
            text.contains("versions") && !text.contains("[1, 1"),
            "{text}"
        );
    }

    #[test]
    fn base64_round_trip_for_text_columns() {
        let r = ring(&[1], 1);
        let text = r.encrypt_to_base64(b"v", "t.c");
        assert!(text.starts_with("RUYB"));
        assert_eq!(r.decrypt_base64(&text, "t.c").unwrap(), b"v");
        assert!(matches!(
            r.decrypt_base64("***", "t.c"),
            Err(Error::Malformed(MalformedReason::NotBase64))
        ));
    }
}
