//! The blind-index keys of a ring: numbered versions, one of them active. New indexes are
//! computed with the active version; a lookup during a transition tries every version.

use std::collections::BTreeMap;

use crate::error::{BadKeyReason, Error, Result};
use crate::format::blind_index::{BlindIndexKey, stored_index};
use crate::keys::master_key::MasterKey;
use crate::keys::version::KeyVersion;

/// Where errors about blind-index keys say they came from.
const ORIGIN: &str = "blind-index keys";

/// Loaded blind-index key versions and the active one (at least one version; the active one is
/// among them; no key under two versions).
#[derive(Clone)]
pub(crate) struct BlindIndexKeys {
    keys: BTreeMap<KeyVersion, BlindIndexKey>,
    active: KeyVersion,
}

fn bad(reason: BadKeyReason) -> Error {
    Error::BadKey {
        origin: ORIGIN.to_owned(),
        reason,
    }
}

impl BlindIndexKeys {
    /// Checks and gathers `keys`; the active version is `active`, or the highest.
    pub(crate) fn new(
        keys: BTreeMap<KeyVersion, BlindIndexKey>,
        active: Option<KeyVersion>,
    ) -> Result<Self> {
        let highest = keys
            .keys()
            .next_back()
            .copied()
            .ok_or(bad(BadKeyReason::NoKeys))?;
        let active = active.unwrap_or(highest);
        if !keys.contains_key(&active) {
            return Err(bad(BadKeyReason::ActiveVersionMissing(active)));
        }
        // Every pair is compared (in constant time each), so the time says nothing about keys.
        let mut same = None;
        for (i, (a, key_a)) in keys.iter().enumerate() {
            for (b, key_b) in keys.iter().skip(i + 1) {
                if key_a.is_same_secret_as(key_b.master_key()) && same.is_none() {
                    same = Some((*a, *b));
                }
            }
        }
        if let Some((a, b)) = same {
            return Err(bad(BadKeyReason::SameKeyTwice(a, b)));
        }
        Ok(Self { keys, active })
    }

    /// Refuses a blind-index key that is also one of `encryption_keys`.
    pub(crate) fn check_distinct_from<'a>(
        &self,
        mut encryption_keys: impl Iterator<Item = &'a MasterKey>,
    ) -> Result<()> {
        if encryption_keys.any(|enc| self.keys.values().any(|k| k.is_same_secret_as(enc))) {
            return Err(bad(BadKeyReason::SameAsEncryptionKey));
        }
        Ok(())
    }

    /// The same keys with another active version.
    pub(crate) fn with_active(&self, version: KeyVersion) -> Result<Self> {
        Self::new(self.keys.clone(), Some(version))
    }

    /// The same keys plus `key` as `version` (replacing one of that number), the highest active.
    pub(crate) fn with_key(&self, version: KeyVersion, key: BlindIndexKey) -> Result<Self> {
        let mut keys = self.keys.clone();
        keys.insert(version, key);
        Self::new(keys, None)
    }

    pub(crate) fn active_version(&self) -> KeyVersion {
        self.active
    }

    pub(crate) fn active_key(&self) -> &BlindIndexKey {
        // `new` refuses an active version that is not loaded, and the fields are private.
        #[allow(clippy::expect_used)]
        self.keys
            .get(&self.active)
            .expect("invariant: the active blind-index version is loaded")
    }

    pub(crate) fn key(&self, version: KeyVersion) -> Option<&BlindIndexKey> {
        self.keys.get(&version)
    }

    pub(crate) fn versions(&self) -> impl Iterator<Item = KeyVersion> + '_ {
        self.keys.keys().copied()
    }

    /// The stored (binary) index of `normalized` in `context` under the active version.
    pub(crate) fn stored_active(&self, context: &str, normalized: &[u8]) -> Vec<u8> {
        stored_index(self.active, &self.active_key().compute(context, normalized))
    }

    /// The stored (binary) index under every version: the active one first, then the others from
    /// the highest down.
    pub(crate) fn stored_any(&self, context: &str, normalized: &[u8]) -> Vec<Vec<u8>> {
        let others = self
            .keys
            .iter()
            .rev()
            .filter(|(version, _)| **version != self.active)
            .map(|(version, key)| stored_index(*version, &key.compute(context, normalized)));
        std::iter::once(self.stored_active(context, normalized))
            .chain(others)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> BlindIndexKey {
        BlindIndexKey::new(MasterKey::from_bytes([byte; 32]))
    }

    fn keys(versions: &[u32], active: Option<u32>) -> Result<BlindIndexKeys> {
        BlindIndexKeys::new(
            versions
                .iter()
                .map(|&v| (KeyVersion::new(v), key(v as u8)))
                .collect(),
            active.map(KeyVersion::new),
        )
    }

    #[test]
    fn the_highest_version_is_active_unless_pinned() {
        assert_eq!(keys(&[1, 2], None).unwrap().active_version().get(), 2);
        assert_eq!(keys(&[1, 2], Some(1)).unwrap().active_version().get(), 1);
        assert!(matches!(
            keys(&[1, 2], Some(3)),
            Err(Error::BadKey {
                reason: BadKeyReason::ActiveVersionMissing(_),
                ..
            })
        ));
    }

    #[test]
    fn any_lookup_lists_the_active_version_first() {
        let both = keys(&[1, 2, 3], Some(2)).unwrap();
        let any = both.stored_any("t.c", b"v");
        assert_eq!(any.len(), 3);
        assert_eq!(any[0], both.stored_active("t.c", b"v"));
        assert_eq!(&any[0][..6], b"BI\0\0\0\x02");
        assert_eq!(&any[1][..6], b"BI\0\0\0\x03");
        assert_eq!(any[2], key(1).compute("t.c", b"v"), "version 1 is bare");
    }

    #[test]
    fn one_key_under_two_versions_is_refused() {
        let err = BlindIndexKeys::new(
            [(KeyVersion::new(1), key(5)), (KeyVersion::new(2), key(5))].into(),
            None,
        )
        .err();
        assert!(matches!(
            err,
            Some(Error::BadKey {
                reason: BadKeyReason::SameKeyTwice(..),
                ..
            })
        ));
    }

    #[test]
    fn a_blind_index_key_equal_to_an_encryption_key_is_refused() {
        let bidx = keys(&[1, 2], None).unwrap();
        let enc = [
            MasterKey::from_bytes([9; 32]),
            MasterKey::from_bytes([2; 32]),
        ];
        assert!(bidx.check_distinct_from(enc[..1].iter()).is_ok());
        assert!(bidx.check_distinct_from(enc.iter()).is_err());
    }
}
