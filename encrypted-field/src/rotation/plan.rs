//! What to do with one stored value: the only part that differs between rotation, migration,
//! reindexing and verification. The scan that feeds values in and writes results back is shared
//! (`scan.rs`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::codec::{self, open};
use crate::error::MalformedReason;
use crate::format::envelope::Envelope;
use crate::format::legacy::{self, LegacyKey, StoredForm};
pub(crate) use crate::format::row_context::Binding;
use crate::format::stored::{Storage, envelope_bytes};
use crate::keys::iv_pool::IvPool;
use crate::keys::ring::KeyRing;
use crate::keys::version::KeyVersion;
use crate::model::BlindIndexSpec;
use crate::rotation::error::Error;
use crate::rotation::plausibility::LegacyChecks;

/// The decision for one stored value.
#[derive(Debug)]
pub(crate) enum Plan {
    /// Leave it: it already is what the pass produces (e.g. it uses the active key).
    Keep,
    /// Replace it with `value` (the envelope, or its base64 for a TEXT column) and, when given, its
    /// blind-index column with `blind_index` (as that column stores it), in the same write.
    Rewrite {
        /// The new stored value.
        value: Vec<u8>,
        /// The new stored blind index, if the pass sets it.
        blind_index: Option<Vec<u8>>,
    },
    /// It cannot be read; leave it untouched and report why.
    Fail(Error),
}

/// A per-value decision, given the column's storage and context.
pub(crate) trait ValueAction {
    /// Decides what to do with one non-NULL stored value.
    fn plan(&self, storage: Storage, context: Binding<'_>, stored: &[u8]) -> Plan;

    /// Whether one failed value stops the scan before its batch is written: a migration from a
    /// format that nothing authenticates must not write what it cannot prove it read correctly.
    fn stops_at_failure(&self) -> bool {
        false
    }

    /// Whether each rewrite keeps the bytes it replaces in the legacy-values table, in the same
    /// transaction, so that it can be undone.
    fn keeps_replaced_bytes(&self) -> bool {
        false
    }

    /// This action as one that threads can share, when it can be: a writing pass then plans each
    /// batch on a second thread while the previous one is written (`pipeline.rs`). `None` (the
    /// default) keeps planning on the scan's thread.
    fn shared(&self) -> Option<&(dyn ValueAction + Sync)> {
        None
    }

    /// Decides for a value of a column that keeps the blind index `index`, given the index
    /// stored beside the value (`None` when NULL). By default as [`plan`](Self::plan): the index
    /// is left alone.
    fn plan_indexed(
        &self,
        storage: Storage,
        context: Binding<'_>,
        stored: &[u8],
        _index: &BlindIndexSpec,
        _stored_index: Option<&[u8]>,
    ) -> Plan {
        self.plan(storage, context, stored)
    }
}

/// Seals a plaintext just read with the active key, with its blind index when `index` is given
/// (wiping the plaintext afterwards), or fails the value. The IV comes from `ivs` when given (a
/// pool of operating-system randomness drawn in bulk), else from a system call of its own.
fn reseal(
    ring: &KeyRing,
    storage: Storage,
    context: Binding<'_>,
    plaintext: Result<Zeroizing<Vec<u8>>, Error>,
    index: Option<&BlindIndexSpec>,
    ivs: Option<&Mutex<IvPool>>,
) -> Plan {
    let plaintext = match plaintext {
        Ok(plaintext) => plaintext,
        Err(error) => return Plan::Fail(error),
    };
    let sealed = index
        .map(|index| index.stored_value(ring, context.column_context(), &plaintext))
        .transpose()
        .and_then(|blind_index| {
            // A poisoned pool (a panic elsewhere while it was held) is not used again: each IV
            // then comes from a draw of its own.
            let value = match ivs.map(Mutex::lock) {
                Some(Ok(mut pool)) => {
                    codec::seal_from_pool(ring, storage, context, &plaintext, &mut pool)?
                }
                _ => codec::seal(ring, storage, context, &plaintext)?,
            };
            Ok((value, blind_index))
        });
    match sealed {
        Ok((value, blind_index)) => Plan::Rewrite { value, blind_index },
        Err(error) => Plan::Fail(error.into()),
    }
}

/// Rotation: every value not on the ring's active version is opened and sealed again with it.
/// The IVs of the new envelopes are drawn from the operating system [`IvPool::IVS_PER_DRAW`] at a
/// time (one system call instead of one per value), each used once.
pub(crate) struct Reencrypt<'a> {
    pub ring: &'a KeyRing,
    ivs: Mutex<IvPool>,
}

impl<'a> Reencrypt<'a> {
    /// Rotation to `ring`'s active version, with an empty IV pool.
    pub(crate) fn new(ring: &'a KeyRing) -> Self {
        Self {
            ring,
            ivs: Mutex::new(IvPool::new()),
        }
    }
}

impl ValueAction for Reencrypt<'_> {
    fn plan(&self, storage: Storage, context: Binding<'_>, stored: &[u8]) -> Plan {
        let envelope = match envelope_bytes(storage, stored) {
            Ok(bytes) => bytes,
            Err(error) => return Plan::Fail(error.into()),
        };
        match Envelope::parse(&envelope) {
            Ok(parsed) if parsed.key_version() == self.ring.active_version() => return Plan::Keep,
            Ok(_) => {}
            Err(error) => return Plan::Fail(error.into()),
        }
        reseal(
            self.ring,
            storage,
            context,
            self.ring
                .open_bound(&envelope, context)
                .map(Zeroizing::new)
                .map_err(Error::from),
            None,
            Some(&self.ivs),
        )
    }

    /// The ring is shared read-only and the IV pool behind a lock: planning may run beside the
    /// writes.
    fn shared(&self) -> Option<&(dyn ValueAction + Sync)> {
        Some(self)
    }
}

/// Migration: legacy values are read with the legacy key and sealed with the active key; values
/// that already are envelopes are kept (rotation handles their version). With `checks`, a
/// plaintext that fails them fails its value, and a failed value stops the scan before its batch
/// is written; the replaced legacy bytes are kept either way.
pub(crate) struct Migrate<'a> {
    pub ring: &'a KeyRing,
    pub legacy_key: &'a LegacyKey,
    pub checks: Option<&'a LegacyChecks>,
}

impl Migrate<'_> {
    /// The plaintext of a legacy value, checked; `None` for a value already in format v1.
    fn read(&self, storage: Storage, stored: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        match legacy::classify(self.legacy_key.format(), stored)? {
            StoredForm::Envelope if storage == Storage::Binary => Ok(None),
            StoredForm::EnvelopeBase64 if storage == Storage::Text => Ok(None),
            StoredForm::Envelope | StoredForm::EnvelopeBase64 => {
                Err(crate::error::Error::Malformed(MalformedReason::NotAnEnvelope).into())
            }
            StoredForm::Legacy => {
                let plaintext = Zeroizing::new(legacy::read(self.legacy_key, stored)?);
                if let Some(checks) = self.checks {
                    checks.check(&plaintext).map_err(Error::Implausible)?;
                }
                Ok(Some(plaintext))
            }
        }
    }
}

impl Migrate<'_> {
    /// Seals a legacy value that passes its checks (with its blind index when `index` is given);
    /// keeps an envelope.
    fn migrate(
        &self,
        storage: Storage,
        context: Binding<'_>,
        stored: &[u8],
        index: Option<&BlindIndexSpec>,
    ) -> Plan {
        match self.read(storage, stored) {
            Ok(None) => Plan::Keep,
            Ok(Some(plaintext)) => reseal(self.ring, storage, context, Ok(plaintext), index, None),
            Err(error) => Plan::Fail(error),
        }
    }
}

/// The preflight of a migration: every legacy value is read and checked as [`Migrate`] would,
/// and nothing is sealed or written.
pub(crate) struct Preflight<'a>(pub Migrate<'a>);

impl ValueAction for Preflight<'_> {
    fn plan(&self, storage: Storage, _context: Binding<'_>, stored: &[u8]) -> Plan {
        match self.0.read(storage, stored) {
            Ok(_) => Plan::Keep,
            Err(error) => Plan::Fail(error),
        }
    }
}

impl ValueAction for Migrate<'_> {
    fn plan(&self, storage: Storage, context: Binding<'_>, stored: &[u8]) -> Plan {
        self.migrate(storage, context, stored, None)
    }

    /// The blind index of a migrated value is written in the same compare-and-swap as the value.
    fn plan_indexed(
        &self,
        storage: Storage,
        context: Binding<'_>,
        stored: &[u8],
        index: &BlindIndexSpec,
        _stored_index: Option<&[u8]>,
    ) -> Plan {
        self.migrate(storage, context, stored, Some(index))
    }

    fn stops_at_failure(&self) -> bool {
        self.checks.is_some()
    }

    fn keeps_replaced_bytes(&self) -> bool {
        true
    }
}

/// Reindexing: every value is opened and its blind index computed; an index that is NULL, empty
/// or different is rewritten, with the value itself written back unchanged (the compare-and-swap
/// on the value lets an application's concurrent write win). Columns without a blind index are
/// kept as they are.
pub(crate) struct Reindex<'a> {
    pub ring: &'a KeyRing,
}

impl ValueAction for Reindex<'_> {
    fn plan(&self, _storage: Storage, _context: Binding<'_>, _stored: &[u8]) -> Plan {
        Plan::Keep
    }

    fn plan_indexed(
        &self,
        storage: Storage,
        context: Binding<'_>,
        stored: &[u8],
        index: &BlindIndexSpec,
        stored_index: Option<&[u8]>,
    ) -> Plan {
        let computed = open(self.ring, storage, context, stored).and_then(|(_, plaintext)| {
            index.stored_value(self.ring, context.column_context(), &plaintext)
        });
        match computed {
            Ok(computed) if stored_index == Some(computed.as_slice()) => Plan::Keep,
            Ok(computed) => Plan::Rewrite {
                value: stored.to_vec(),
                blind_index: Some(computed),
            },
            Err(error) => Plan::Fail(error.into()),
        }
    }
}

/// Verification: every value must open, and where the ring has a blind-index key, the blind index
/// stored beside it must be the value's; nothing is written. Counts the values per key version
/// and the stale blind indexes.
pub(crate) struct Open<'a> {
    pub ring: &'a KeyRing,
    pub counts: RefCell<BTreeMap<String, u64>>,
    /// Values that open but whose blind index does not match (also failed by their plan).
    pub stale_blind_indexes: Cell<u64>,
}

impl<'a> Open<'a> {
    pub(crate) fn new(ring: &'a KeyRing) -> Self {
        Self {
            ring,
            counts: RefCell::new(BTreeMap::new()),
            stale_blind_indexes: Cell::new(0),
        }
    }

    /// Opens the value and counts its version.
    fn open_and_count(
        &self,
        storage: Storage,
        context: Binding<'_>,
        stored: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let (version, plaintext) = open(self.ring, storage, context, stored)?;
        *self
            .counts
            .borrow_mut()
            .entry(version.to_string())
            .or_default() += 1;
        Ok(plaintext)
    }
}

impl ValueAction for Open<'_> {
    fn plan(&self, storage: Storage, context: Binding<'_>, stored: &[u8]) -> Plan {
        match self.open_and_count(storage, context, stored) {
            Ok(_) => Plan::Keep,
            Err(error) => Plan::Fail(error),
        }
    }

    /// Without a blind-index key the index cannot be checked: the value is only opened (the
    /// verification says which index columns went unchecked).
    fn plan_indexed(
        &self,
        storage: Storage,
        context: Binding<'_>,
        stored: &[u8],
        index: &BlindIndexSpec,
        stored_index: Option<&[u8]>,
    ) -> Plan {
        let plaintext = match self.open_and_count(storage, context, stored) {
            Ok(plaintext) => plaintext,
            Err(error) => return Plan::Fail(error),
        };
        if self.ring.blind_index_key().is_none() {
            return Plan::Keep;
        }
        let stale = match index.stored_value(self.ring, context.column_context(), &plaintext) {
            Ok(computed) if stored_index == Some(computed.as_slice()) => return Plan::Keep,
            Ok(_) => match (
                stored_index_version_of(index, stored_index),
                self.ring.active_blind_index_version(),
            ) {
                (Some(version), Some(active)) if version != active => {
                    Error::BlindIndexOnOtherVersion {
                        blind_index: index.column().to_owned(),
                        version,
                        active,
                    }
                }
                _ => Error::BlindIndexMismatch {
                    blind_index: index.column().to_owned(),
                },
            },
            // A plaintext no index can be computed of (not UTF-8) has no matching index either.
            Err(error) => error.into(),
        };
        self.stale_blind_indexes
            .set(self.stale_blind_indexes.get() + 1);
        Plan::Fail(stale)
    }
}

/// The blind-index key version a stored index of `index` names, if it is a blind index at all.
fn stored_index_version_of(index: &BlindIndexSpec, stored: Option<&[u8]>) -> Option<KeyVersion> {
    let bytes = crate::format::stored::blind_index_bytes(index.storage(), stored?)?;
    crate::format::blind_index::stored_index_version(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::stored_version;
    use crate::format::stored::stored_envelope;
    use crate::keys::master_key::MasterKey;
    use crate::keys::version::KeyVersion;

    fn rings() -> (KeyRing, KeyRing) {
        let v1 = MasterKey::from_bytes([1; 32]);
        let old = KeyRing::builder().key(1, v1.clone()).build().unwrap();
        let new = KeyRing::builder()
            .key(1, v1)
            .key(2, MasterKey::from_bytes([2; 32]))
            .build()
            .unwrap();
        (old, new)
    }

    #[test]
    fn reencrypt_keeps_values_on_the_active_version() {
        let (_, new) = rings();
        let current = new.encrypt_with_context(b"x", "t.c");
        assert!(matches!(
            Reencrypt::new(&new).plan(Storage::Binary, "t.c".into(), &current),
            Plan::Keep
        ));
    }

    #[test]
    fn reencrypt_rewrites_old_values_to_the_active_version_with_the_same_plaintext() {
        let (old, new) = rings();
        let stored = stored_envelope(
            Storage::Text,
            old.encrypt_with_context(b"078-05-1120", "t.c"),
        );
        let Plan::Rewrite {
            value: rewritten,
            blind_index: None,
        } = (Reencrypt::new(&new)).plan(Storage::Text, "t.c".into(), &stored)
        else {
            panic!("expected a rewrite");
        };
        assert_eq!(
            stored_version(Storage::Text, &rewritten).unwrap(),
            KeyVersion::new(2)
        );
        let bytes = envelope_bytes(Storage::Text, &rewritten).unwrap();
        assert_eq!(
            new.decrypt_with_context(&bytes, "t.c").unwrap(),
            b"078-05-1120"
        );
    }

    #[test]
    fn reencrypt_draws_its_ivs_in_bulk_and_never_repeats_one() {
        use crate::keys::iv_pool::IvPool;
        use crate::keys::os_random::os_draws;
        let (old, new) = rings();
        let action = Reencrypt::new(&new);
        let stored = old.encrypt_with_context(b"x", "t.c");
        let before = os_draws::so_far();
        let values = IvPool::IVS_PER_DRAW + 1;
        let ivs: std::collections::HashSet<Vec<u8>> = (0..values)
            .map(|_| {
                let Plan::Rewrite { value, .. } =
                    action.plan(Storage::Binary, "t.c".into(), &stored)
                else {
                    panic!("expected a rewrite");
                };
                let start = crate::format::envelope::HEADER_LEN;
                value[start..start + crate::format::envelope::IV_LEN].to_vec()
            })
            .collect();
        assert_eq!(ivs.len(), values, "an IV was used twice");
        assert_eq!(os_draws::so_far() - before, 2, "one draw per pool of IVs");
    }

    #[test]
    fn reencrypt_fails_a_tampered_value() {
        let (old, new) = rings();
        let mut stored = old.encrypt_with_context(b"x", "t.c");
        let last = stored.len() - 1;
        stored[last] ^= 1;
        assert!(matches!(
            Reencrypt::new(&new).plan(Storage::Binary, "t.c".into(), &stored),
            Plan::Fail(Error::Crypto(crate::error::Error::Authentication { .. }))
        ));
    }

    #[test]
    fn migrate_seals_plaintext_and_keeps_envelopes() {
        let (_, new) = rings();
        let action = Migrate {
            ring: &new,
            legacy_key: &LegacyKey::None,
            checks: None,
        };
        let Plan::Rewrite {
            value: sealed,
            blind_index: None,
        } = action.plan(Storage::Binary, "t.c".into(), b"+1 555 0100")
        else {
            panic!("expected a rewrite")
        };
        assert_eq!(
            new.decrypt_with_context(&sealed, "t.c").unwrap(),
            b"+1 555 0100"
        );
        assert!(matches!(
            action.plan(Storage::Binary, "t.c".into(), &sealed),
            Plan::Keep
        ));
    }
}
