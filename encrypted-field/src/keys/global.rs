//! The process-wide key ring: installed once with [`install`], or loaded from the environment on
//! first use. Everything here also exists on [`KeyRing`] for code that keeps its rings explicit.

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::format::plaintext::string_from_plaintext;
use crate::keys::ring::KeyRing;

static GLOBAL: OnceLock<KeyRing> = OnceLock::new();

/// Installs the process-wide key ring. Call it once, at start-up, before the first query; a
/// second call (or a call after the ring was loaded from the environment) is
/// [`Error::AlreadyInstalled`].
///
/// ```
/// use encrypted_field::{KeyRing, MasterKey};
/// encrypted_field::install(KeyRing::builder().key(1, MasterKey::generate()).build()?)?;
/// let again = KeyRing::builder().key(1, MasterKey::generate()).build()?;
/// assert!(matches!(encrypted_field::install(again), Err(encrypted_field::Error::AlreadyInstalled)));
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn install(ring: KeyRing) -> Result<()> {
    GLOBAL.set(ring).map_err(|_| Error::AlreadyInstalled)
}

/// The process-wide key ring, loading it from the environment (see [`KeyRing::from_env`]) on
/// first use. With nothing installed and no key configured, this is [`Error::NoKeyConfigured`]:
/// a key is never generated silently.
pub fn global() -> Result<&'static KeyRing> {
    if let Some(ring) = GLOBAL.get() {
        return Ok(ring);
    }
    let loaded = KeyRing::from_env()?;
    // Another thread may have won the race; either way the stored ring is the one to use.
    Ok(GLOBAL.get_or_init(|| loaded))
}

/// Encrypts a string with the process-wide ring and no context: the Django module's
/// `EncryptionService.encrypt`.
///
/// ```
/// # encrypted_field::install(encrypted_field::KeyRing::builder().key(1, encrypted_field::MasterKey::generate()).build()?)?;
/// let sealed = encrypted_field::encrypt("078-05-1120")?;
/// assert_eq!(encrypted_field::decrypt(&sealed)?, "078-05-1120");
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn encrypt(plaintext: &str) -> Result<Vec<u8>> {
    global()?.try_encrypt_with_context(plaintext.as_bytes(), "")
}

/// Decrypts a value sealed by [`encrypt`] into a string: `EncryptionService.decrypt`.
pub fn decrypt(envelope: &[u8]) -> Result<String> {
    string_from_plaintext(global()?.decrypt(envelope)?)
}

/// Encrypts a string, binding `context` (`table.column`) into the tag.
///
/// ```
/// # encrypted_field::install(encrypted_field::KeyRing::builder().key(1, encrypted_field::MasterKey::generate()).build()?)?;
/// let sealed = encrypted_field::encrypt_with_context("078-05-1120", "customers._ssn")?;
/// assert!(encrypted_field::decrypt_with_context(&sealed, "customers._phone").is_err());
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn encrypt_with_context(plaintext: &str, context: &str) -> Result<Vec<u8>> {
    global()?.try_encrypt_with_context(plaintext.as_bytes(), context)
}

/// Decrypts a value sealed by [`encrypt_with_context`] with the same context.
pub fn decrypt_with_context(envelope: &[u8], context: &str) -> Result<String> {
    string_from_plaintext(global()?.decrypt_with_context(envelope, context)?)
}
