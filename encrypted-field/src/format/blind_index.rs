//! Blind indexes: a keyed, deterministic digest of a value, stored beside its ciphertext so that
//! equality lookups (`WHERE phone_bidx = ?`) work without decrypting.
//!
//! `index = HMAC-SHA256(HKDF(bidx_master, info = "encrypted-field v1 blind-index " || context, L = 32), normalized value)`
//!
//! Each column (`context`) gets its own derived key, so equal values in two columns do not match.
//! A blind index leaks equality: rows with the same normalized value have the same index.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use hkdf::Hkdf;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Result;
use crate::keys::master_key::MasterKey;

pub use crate::format::blind_index_layout::{
    BLIND_INDEX_LEN, BLIND_INDEX_MAGIC, PREFIXED_BLIND_INDEX_LEN, stored_index,
    stored_index_version,
};

/// The HKDF `info` prefix of a column's blind-index key; the context follows it.
pub const BLIND_INDEX_INFO_PREFIX: &[u8] = b"encrypted-field v1 blind-index ";

/// The secret from which every column's blind-index key is derived. It must never be an
/// encryption key; [`KeyRingBuilder::build`](crate::keys::KeyRingBuilder::build) refuses that.
///
/// ```
/// use encrypted_field::{BlindIndexKey, MasterKey, normalize};
/// let key = BlindIndexKey::new(MasterKey::generate());
/// let a = key.compute("phone_requests.phone_number", normalize::digits("+1 (555) 0100").as_bytes());
/// let b = key.compute("phone_requests.phone_number", normalize::digits("1-555-0100").as_bytes());
/// let other_column = key.compute("customers.phone", normalize::digits("1-555-0100").as_bytes());
/// assert_eq!(a, b);
/// assert_ne!(a, other_column);
/// ```
#[derive(Clone)]
pub struct BlindIndexKey {
    master: MasterKey,
    /// Each column's derived key, derived on its first use; clones share it.
    columns: Arc<RwLock<HashMap<Box<str>, ColumnKey>>>,
}

/// A column's derived blind-index key, zeroized on drop.
type ColumnKey = Arc<Zeroizing<[u8; 32]>>;

/// Beyond this many columns a key is derived per call instead of kept: an application has a
/// handful of indexed columns, and a caller passing ever new contexts must not grow memory.
const MAX_CACHED_COLUMNS: usize = 1024;

impl fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndexKey(<redacted>)")
    }
}

impl BlindIndexKey {
    /// Wraps 32 secret bytes.
    pub fn new(key: MasterKey) -> Self {
        Self {
            master: key,
            columns: Arc::default(),
        }
    }

    /// Parses standard base64 text, like [`MasterKey::from_base64`].
    pub fn from_base64(text: &str, origin: &str) -> Result<Self> {
        MasterKey::from_base64(text, origin).map(Self::new)
    }

    /// The secret, for key backups. Never log it.
    pub fn master_key(&self) -> &MasterKey {
        &self.master
    }

    /// The blind index of an already normalized value in the column named by `context`. The
    /// column's key is derived (HKDF) on the first call for that column and kept.
    pub fn compute(&self, context: &str, normalized: &[u8]) -> [u8; BLIND_INDEX_LEN] {
        let column_key = self.column_key(context);
        #[allow(clippy::expect_used)]
        let mut mac =
            <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(column_key.as_slice())
                .expect("invariant: HMAC accepts keys of any length");
        mac.update(normalized);
        mac.finalize().into_bytes().into()
    }

    /// The key of the column `context`, from the cache or derived (and cached) now. A poisoned
    /// lock still holds whole entries (each is inserted in one step), so it is used as it is.
    fn column_key(&self, context: &str) -> ColumnKey {
        let cached = self
            .columns
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(context)
            .cloned();
        if let Some(key) = cached {
            return key;
        }
        let derived = Arc::new(self.derive(context));
        let mut columns = self.columns.write().unwrap_or_else(PoisonError::into_inner);
        if columns.len() < MAX_CACHED_COLUMNS {
            // Another thread may have derived it meanwhile: the same bytes either way.
            columns.insert(context.into(), Arc::clone(&derived));
        }
        derived
    }

    fn derive(&self, context: &str) -> Zeroizing<[u8; 32]> {
        #[cfg(test)]
        derivations::count();
        let hkdf = Hkdf::<Sha256>::new(None, self.master.expose_bytes());
        let mut column_key = Zeroizing::new([0u8; 32]);
        #[allow(clippy::expect_used)]
        hkdf.expand_multi_info(
            &[BLIND_INDEX_INFO_PREFIX, context.as_bytes()],
            column_key.as_mut(),
        )
        .expect("invariant: HKDF-SHA256 can expand to 32 bytes");
        column_key
    }

    pub(crate) fn is_same_secret_as(&self, key: &MasterKey) -> bool {
        self.master == *key
    }
}

/// A normalizer: what makes two spellings of one value give one blind index.
pub type Normalizer = for<'a> fn(&'a str) -> Cow<'a, str>;

/// Normalizers: what makes two spellings of one value give one blind index. A normalizer is any
/// `fn(&str) -> Cow<str>`.
pub mod normalize {
    use super::Cow;

    /// The value as it is.
    ///
    /// ```
    /// assert_eq!(encrypted_field::normalize::exact(" A "), " A ");
    /// ```
    pub fn exact(value: &str) -> Cow<'_, str> {
        Cow::Borrowed(value)
    }

    /// Only the ASCII digits: for phone numbers.
    ///
    /// ```
    /// assert_eq!(encrypted_field::normalize::digits("+1 (555) 010-0"), "15550100");
    /// ```
    pub fn digits(value: &str) -> Cow<'_, str> {
        if value.bytes().all(|b| b.is_ascii_digit()) {
            Cow::Borrowed(value)
        } else {
            Cow::Owned(value.chars().filter(char::is_ascii_digit).collect())
        }
    }

    /// Trimmed and lowercased: for e-mail addresses and user names.
    ///
    /// ```
    /// assert_eq!(encrypted_field::normalize::lowercase("  Ada@Example.ORG "), "ada@example.org");
    /// ```
    pub fn lowercase(value: &str) -> Cow<'_, str> {
        let trimmed = value.trim();
        if trimmed.chars().any(char::is_uppercase) {
            Cow::Owned(trimmed.to_lowercase())
        } else {
            Cow::Borrowed(trimmed)
        }
    }
}

/// How many column keys this thread derived, for the test that they are derived once.
#[cfg(test)]
mod derivations {
    use std::cell::Cell;

    thread_local!(static DERIVED: Cell<usize> = const { Cell::new(0) });

    pub(super) fn count() {
        DERIVED.with(|d| d.set(d.get() + 1));
    }

    pub(super) fn so_far() -> usize {
        DERIVED.with(Cell::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_column_key_is_derived_once_and_shared_by_clones() {
        let key = BlindIndexKey::new(MasterKey::from_bytes([3; 32]));
        let before = derivations::so_far();
        let first = key.compute("t.c", b"v");
        for _ in 0..10 {
            assert_eq!(key.compute("t.c", b"v"), first);
        }
        key.compute("t.d", b"v");
        key.clone().compute("t.d", b"w");
        assert_eq!(
            derivations::so_far(),
            before + 2,
            "one derivation per column"
        );
    }

    #[test]
    fn index_is_deterministic_per_key_and_column() {
        let key = BlindIndexKey::new(MasterKey::from_bytes([1; 32]));
        assert_eq!(key.compute("t.c", b"v"), key.compute("t.c", b"v"));
        assert_ne!(key.compute("t.c", b"v"), key.compute("t.d", b"v"));
        let other = BlindIndexKey::new(MasterKey::from_bytes([2; 32]));
        assert_ne!(key.compute("t.c", b"v"), other.compute("t.c", b"v"));
    }

    #[test]
    fn columns_past_the_cache_bound_still_get_their_own_key() {
        let key = BlindIndexKey::new(MasterKey::from_bytes([4; 32]));
        for n in 0..MAX_CACHED_COLUMNS + 2 {
            key.compute(&format!("t.c{n}"), b"v");
        }
        let uncached = key.compute("t.late", b"v");
        let fresh = BlindIndexKey::new(MasterKey::from_bytes([4; 32]));
        assert_eq!(uncached, fresh.compute("t.late", b"v"));
        assert_ne!(uncached, fresh.compute("t.c0", b"v"));
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", BlindIndexKey::new(MasterKey::generate())),
            "BlindIndexKey(<redacted>)"
        );
    }
}
