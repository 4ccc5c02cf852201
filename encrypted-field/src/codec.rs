//! The one codec of the stored form: seal a plaintext into what its column stores, open what a
//! column stores, and the blind index as its column stores it. `Encrypted<T, C>` (the Diesel
//! types), the derive's generated accessors (through `__private::codec`) and rotation all seal
//! and open through these functions, so a value written by one is read by the others.
//!
//! Errors are not yet named after the column: callers wrap them with
//! [`Error::in_column`](crate::Error::in_column) where the column is known.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::blind_index::Normalizer;
use crate::format::envelope::Envelope;
use crate::format::row_context::Binding;
use crate::format::stored::{Storage, envelope_bytes, stored_blind_index, stored_envelope};
#[cfg(feature = "_database")]
use crate::keys::iv_pool::IvPool;
use crate::keys::ring::KeyRing;
use crate::keys::version::KeyVersion;

/// Seals `plaintext` with `ring`'s active key, bound to `context` (a column, or a column and a
/// row), as a column of `storage`
/// stores it (the envelope, or its standard base64).
pub(crate) fn seal<'a>(
    ring: &KeyRing,
    storage: Storage,
    context: impl Into<Binding<'a>>,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    ring.seal_bound(plaintext, context.into())
        .map(|envelope| stored_envelope(storage, envelope))
}

/// Like [`seal`], with the IV taken from `ivs` (operating-system randomness drawn in bulk, each IV
/// used once) instead of a system call of its own.
#[cfg(feature = "_database")]
pub(crate) fn seal_from_pool<'a>(
    ring: &KeyRing,
    storage: Storage,
    context: impl Into<Binding<'a>>,
    plaintext: &[u8],
    ivs: &mut IvPool,
) -> Result<Vec<u8>> {
    ring.seal_bound_from_pool(plaintext, context.into(), ivs)
        .map(|envelope| stored_envelope(storage, envelope))
}

/// Opens what a column of `storage` stores, bound to `context`: the key version it was sealed
/// with and its plaintext (wiped on drop).
pub(crate) fn open<'a>(
    ring: &KeyRing,
    storage: Storage,
    context: impl Into<Binding<'a>>,
    stored: &[u8],
) -> Result<(KeyVersion, Zeroizing<Vec<u8>>)> {
    let bytes = envelope_bytes(storage, stored)?;
    let version = Envelope::parse(&bytes)?.key_version();
    let plaintext = Zeroizing::new(ring.open_bound(&bytes, context.into())?);
    Ok((version, plaintext))
}

/// The key version of a stored value, read from its header without decrypting it.
#[cfg(feature = "_database")]
pub(crate) fn stored_version(storage: Storage, stored: &[u8]) -> Result<KeyVersion> {
    let bytes = envelope_bytes(storage, stored)?;
    Envelope::parse(&bytes).map(|e| e.key_version())
}

/// What a blind-index column of `storage` stores for `plaintext` in the column named by
/// `context`: the bytes of its index under the active blind-index version (32, or 38 with a
/// version prefix) or their lowercase hex digits, after `normalize`. The
/// derive's setters and the migration and reindex passes all call this, so an index written by
/// one is the index the others compute. Fails when the plaintext is not UTF-8 (a blind index is
/// computed over text) or the ring has no blind-index key.
pub(crate) fn blind_index(
    ring: &KeyRing,
    storage: Storage,
    context: &str,
    plaintext: &[u8],
    normalize: Normalizer,
) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(plaintext).map_err(|_| Error::InvalidPlaintext {
        expected: "UTF-8 text (a blind index is computed over text)",
    })?;
    let index = ring.blind_index(context, text, normalize)?;
    Ok(stored_blind_index(storage, index))
}

/// What a blind-index column of `storage` may store for `plaintext` while indexes move between
/// blind-index versions: [`blind_index`] under every loaded version, the active one first.
pub(crate) fn blind_indexes_any(
    ring: &KeyRing,
    storage: Storage,
    context: &str,
    plaintext: &[u8],
    normalize: Normalizer,
) -> Result<Vec<Vec<u8>>> {
    let text = std::str::from_utf8(plaintext).map_err(|_| Error::InvalidPlaintext {
        expected: "UTF-8 text (a blind index is computed over text)",
    })?;
    Ok(ring
        .blind_indexes_any(context, text, normalize)?
        .into_iter()
        .map(|index| stored_blind_index(storage, index))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::blind_index::{BlindIndexKey, normalize};
    use crate::keys::master_key::MasterKey;

    fn ring() -> KeyRing {
        KeyRing::builder()
            .key(1, MasterKey::from_bytes([1; 32]))
            .key(2, MasterKey::from_bytes([3; 32]))
            .blind_index_key(BlindIndexKey::new(MasterKey::from_bytes([2; 32])))
            .build()
            .unwrap()
    }

    #[test]
    fn what_is_sealed_for_either_storage_opens_under_its_context_only() {
        let ring = ring();
        for storage in [Storage::Binary, Storage::Text] {
            let stored = seal(&ring, storage, "t.c", b"+1 555 0100").unwrap();
            assert!(!stored.windows(4).any(|w| w == b"0100"));
            let (version, plaintext) = open(&ring, storage, "t.c", &stored).unwrap();
            assert_eq!(
                (version.get(), plaintext.as_slice()),
                (2, &b"+1 555 0100"[..])
            );
            assert!(matches!(
                open(&ring, storage, "t.d", &stored),
                Err(Error::Authentication { .. })
            ));
        }
    }

    #[test]
    fn the_text_blind_index_is_the_lowercase_hex_of_the_binary_one() {
        let ring = ring();
        let binary = blind_index(&ring, Storage::Binary, "t.c", b"v", normalize::exact).unwrap();
        let text = blind_index(&ring, Storage::Text, "t.c", b"v", normalize::exact).unwrap();
        assert_eq!(text, hex::encode(binary).into_bytes());
        assert!(matches!(
            blind_index(&ring, Storage::Binary, "t.c", &[0xff], normalize::exact),
            Err(Error::InvalidPlaintext { .. })
        ));
    }
}
