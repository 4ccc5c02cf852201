//! The stored bytes of a blind index and the blind-index key version they name (`FORMAT.md`,
//! "Blind-index key versions"): version 1 is the bare 32-byte index, as every index written before
//! versions existed; versions 2 and higher are `"BI" || u32_be(version) || index`, 38 bytes.

use crate::keys::version::KeyVersion;

/// The length of a blind index, in bytes.
pub const BLIND_INDEX_LEN: usize = 32;

/// The first two bytes of a prefixed (version 2 or higher) blind index: `BI`.
pub const BLIND_INDEX_MAGIC: [u8; 2] = *b"BI";

/// The length of a prefixed blind index: the magic, the version and the index.
pub const PREFIXED_BLIND_INDEX_LEN: usize = BLIND_INDEX_MAGIC.len() + 4 + BLIND_INDEX_LEN;

/// The version every bare (unprefixed) index has.
const BARE: KeyVersion = KeyVersion::new(1);

/// The bytes a binary column stores for `index`, computed with blind-index key `version`: the
/// bare index for version 1, the prefixed one for any other.
///
/// ```
/// use encrypted_field::KeyVersion;
/// use encrypted_field::blind_index::{stored_index, stored_index_version};
/// let index = [7u8; 32];
/// assert_eq!(stored_index(KeyVersion::new(1), &index), index);
/// let v2 = stored_index(KeyVersion::new(2), &index);
/// assert_eq!(&v2[..6], b"BI\0\0\0\x02");
/// assert_eq!(stored_index_version(&v2), Some(KeyVersion::new(2)));
/// ```
pub fn stored_index(version: KeyVersion, index: &[u8; BLIND_INDEX_LEN]) -> Vec<u8> {
    if version == BARE {
        return index.to_vec();
    }
    let mut stored = Vec::with_capacity(PREFIXED_BLIND_INDEX_LEN);
    stored.extend_from_slice(&BLIND_INDEX_MAGIC);
    stored.extend_from_slice(&version.get().to_be_bytes());
    stored.extend_from_slice(index);
    stored
}

/// The blind-index key version of the bytes a binary column stores: version 1 for 32 bytes, the
/// prefix's version for 38 bytes starting with `BI` (but never 0 or 1, which are not written
/// prefixed); `None` for anything else (not a blind index).
pub fn stored_index_version(stored: &[u8]) -> Option<KeyVersion> {
    match stored.len() {
        BLIND_INDEX_LEN => Some(BARE),
        PREFIXED_BLIND_INDEX_LEN if stored.starts_with(&BLIND_INDEX_MAGIC) => {
            let number = stored.get(2..6)?.try_into().ok().map(u32::from_be_bytes)?;
            (number > 1).then_some(KeyVersion::new(number))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_one_is_bare_and_others_are_prefixed() {
        let index = [0xab; BLIND_INDEX_LEN];
        assert_eq!(stored_index(KeyVersion::new(1), &index), index);
        let v9 = stored_index(KeyVersion::new(9), &index);
        assert_eq!(v9.len(), PREFIXED_BLIND_INDEX_LEN);
        assert_eq!(&v9[..6], b"BI\0\0\0\x09");
        assert_eq!(&v9[6..], index);
    }

    #[test]
    fn the_version_is_read_back_from_either_form() {
        let index = [1; BLIND_INDEX_LEN];
        for number in [1, 2, 300, u32::MAX] {
            let version = KeyVersion::new(number);
            assert_eq!(
                stored_index_version(&stored_index(version, &index)),
                Some(version)
            );
        }
    }

    #[test]
    fn other_lengths_and_prefixed_versions_below_two_are_not_indexes() {
        assert_eq!(stored_index_version(b""), None);
        assert_eq!(stored_index_version(&[0; 31]), None);
        assert_eq!(stored_index_version(&[0; 38]), None, "no magic");
        let mut one = b"BI\0\0\0\x01".to_vec();
        one.extend_from_slice(&[0; BLIND_INDEX_LEN]);
        assert_eq!(stored_index_version(&one), None);
        one[5] = 0;
        assert_eq!(stored_index_version(&one), None);
    }
}
