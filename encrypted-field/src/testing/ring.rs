//! Key rings for tests, in one line.

use crate::format::blind_index::BlindIndexKey;
use crate::keys::global::{global, install};
use crate::keys::master_key::MasterKey;
use crate::keys::ring::KeyRing;

/// A key ring for a test: version 1, active, with a fresh random key, and a fresh random blind-index
/// key. Two calls give two unrelated rings.
///
/// ```
/// use encrypted_field::testing;
///
/// let ring = testing::ring();
/// let stored = ring.encrypt_with_context(b"078-05-1120", "customers._ssn");
/// assert_eq!(ring.decrypt_with_context(&stored, "customers._ssn")?, b"078-05-1120");
/// assert!(ring.blind_index_key().is_some());
/// assert!(testing::ring().decrypt_with_context(&stored, "customers._ssn").is_err());
/// # Ok::<(), encrypted_field::Error>(())
/// ```
///
/// # Panics
///
/// Never: a ring of one freshly generated key is always valid.
pub fn ring() -> KeyRing {
    let built = KeyRing::builder()
        .key(1, MasterKey::generate())
        .blind_index_key(blind_index_key())
        .origin("encrypted_field::testing::ring")
        .build();
    match built {
        Ok(ring) => ring,
        Err(e) => panic!("a ring of one generated key is valid: {e}"),
    }
}

/// A fresh random blind-index key, for a test that builds its own ring or computes indexes.
///
/// ```
/// let key = encrypted_field::testing::blind_index_key();
/// assert_eq!(key.compute("customers.phone", b"5550100").len(), 32);
/// ```
pub fn blind_index_key() -> BlindIndexKey {
    BlindIndexKey::new(MasterKey::generate())
}

/// The process-wide key ring of a test binary: installs a [`ring`] the first time it is called
/// (unless a ring is installed already, or loaded from the environment), and returns the ring
/// in use, so every test of the binary can call it first, in any order, from any thread.
/// `Encrypted<T, C>` columns and derived models then read and write with it.
///
/// ```
/// let ring = encrypted_field::testing::install_ring();
/// let stored = encrypted_field::encrypt("078-05-1120")?;
/// assert_eq!(ring.decrypt(&stored)?, b"078-05-1120");
/// assert!(std::sync::Arc::ptr_eq(&ring, &encrypted_field::testing::install_ring()));
/// # Ok::<(), encrypted_field::Error>(())
/// ```
///
/// # Panics
///
/// When no ring was installed and loading one from the environment fails (a key variable is
/// set but invalid): the test's environment is broken.
pub fn install_ring() -> std::sync::Arc<KeyRing> {
    // Already installed (by this function on another thread, or by the test): keep that one.
    let _ = install(ring());
    match global() {
        Ok(ring) => ring,
        Err(e) => panic!("the process-wide ring: {e}"),
    }
}
