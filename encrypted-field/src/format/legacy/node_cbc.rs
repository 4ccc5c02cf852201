//! `hex(iv):hex(ciphertext)`, AES-256-CBC with PKCS#7, read for migration: what the Node backend
//! stored. The key is the same 32 bytes, base64, that `openssl rand -base64 32` wrote into
//! `enc_key.txt`, so it parses as a [`MasterKey`].
//!
//! This format has no authentication: a value altered in the database decrypts to garbage or fails
//! its padding. That is why it is only read, once, to migrate into format v1.

use aes::Aes256;
use aes::cipher::{BlockDecryptMut as _, KeyIvInit as _, block_padding::Pkcs7};

use crate::error::{Error, Result};
use crate::format::legacy::kind::LegacyFormat;
use crate::keys::master_key::MasterKey;

fn invalid(reason: &'static str) -> Error {
    Error::Legacy {
        format: LegacyFormat::NodeCbc,
        reason,
    }
}

/// Splits `hex(iv):hex(ct)` into its bytes, if `value` has that shape.
fn split(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (iv, ct) = text.split_once(':')?;
    let iv = hex_decode(iv)?;
    let ct = hex_decode(ct)?;
    (iv.len() == 16 && !ct.is_empty() && ct.len() % 16 == 0).then_some((iv, ct))
}

/// Decodes hex digits (either case). Anything else, including the sign `u8::from_str_radix` would
/// accept (`+f`), is not hex.
fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// Whether `value` has the `hex(iv):hex(ciphertext)` shape (32 hex digits, a colon, whole blocks).
///
/// ```
/// use encrypted_field::legacy::node_cbc::looks_like_value;
/// assert!(looks_like_value(b"000102030405060708090a0b0c0d0e0f:00112233445566778899aabbccddeeff"));
/// assert!(!looks_like_value(b"+1 555 0100"));
/// ```
pub fn looks_like_value(value: &[u8]) -> bool {
    split(value).is_some()
}

/// Decrypts a `hex(iv):hex(ciphertext)` value with the Node backend's key.
///
/// The format is unauthenticated: a wrong key or an altered value usually fails the padding check
/// (an [`Error::Legacy`]), but about one time in 256 it decrypts, without error, to garbage.
///
/// ```
/// use encrypted_field::MasterKey;
/// use encrypted_field::legacy::node_cbc::decrypt;
/// // The contents of the Node backend's enc_key.txt, as `openssl rand -base64 32` wrote it.
/// let key = MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "enc_key.txt")?;
/// let stored = b"000102030405060708090a0b0c0d0e0f:23217496ad08cac2cd6dbec2f7599f58";
/// assert_eq!(decrypt(&key, stored)?, b"+1 555 0100");
/// assert!(decrypt(&key, b"+1 555 0100").is_err());
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn decrypt(key: &MasterKey, value: &[u8]) -> Result<Vec<u8>> {
    let (iv, mut buf) = split(value).ok_or(invalid(
        "expected hex(iv):hex(ciphertext) with a 16-byte IV and whole AES blocks",
    ))?;
    let decryptor = cbc::Decryptor::<Aes256>::new_from_slices(key.expose_bytes(), &iv)
        .map_err(|_| invalid("the IV has an invalid length"))?;
    let len = decryptor
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .map_err(|_| invalid("the padding is invalid: wrong key, or the value was altered"))?
        .len();
    buf.truncate(len);
    Ok(buf)
}
