//! Fernet tokens, read for migration: what the Django module's `EncryptionService` stored.
//!
//! Token (url-safe base64): `0x80 | timestamp: u64 BE | iv: 16 | AES-128-CBC(PKCS#7) | HMAC-SHA256: 32`.
//! Key (url-safe base64 of 32 bytes): signing key = first 16 bytes, encryption key = last 16.
//! The HMAC is checked in constant time before the padding is looked at. The timestamp (TTL) is
//! not enforced: migration must read old tokens.

use std::fmt;

use aes::Aes128;
use aes::cipher::{BlockDecryptMut as _, KeyIvInit as _, block_padding::Pkcs7};
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};
use crate::format::legacy::kind::LegacyFormat;

const VERSION: u8 = 0x80;
const HEADER_LEN: usize = 1 + 8 + 16;
const TAG_LEN: usize = 32;
/// The shortest token: header, one block, tag.
const MIN_LEN: usize = HEADER_LEN + 16 + TAG_LEN;

/// Url-safe base64 that accepts tokens and keys with or without padding.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A Fernet key: 16 bytes signing key, 16 bytes encryption key. Zeroized on drop, `Debug` redacted.
///
/// ```
/// use encrypted_field::legacy::fernet::FernetKey;
/// let key = FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=", "DB_ENCRYPTION_KEY")?;
/// assert_eq!(format!("{key:?}"), "FernetKey(<redacted>)");
/// # Ok::<(), encrypted_field::Error>(())
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct FernetKey([u8; 32]);

impl fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FernetKey(<redacted>)")
    }
}

impl FernetKey {
    /// Parses the url-safe base64 text of a Fernet key (as `Fernet.generate_key()` makes it;
    /// standard base64 and missing padding are accepted too). Surrounding white space is ignored.
    /// `origin` names where the text came from (e.g. `DB_ENCRYPTION_KEY`), for the error, which
    /// never contains the text itself.
    ///
    /// ```
    /// use encrypted_field::legacy::fernet::FernetKey;
    /// use encrypted_field::{BadKeyReason, Error};
    /// match FernetKey::from_base64("c2hvcnQ=", "DB_ENCRYPTION_KEY") {
    ///     Err(Error::BadKey { origin, reason }) => {
    ///         assert_eq!(origin, "DB_ENCRYPTION_KEY");
    ///         assert_eq!(reason, BadKeyReason::WrongLength { found: 5 });
    ///     }
    ///     other => panic!("expected a bad key, got {other:?}"),
    /// }
    /// ```
    pub fn from_base64(text: &str, origin: &str) -> Result<Self> {
        crate::keys::master_key::parse_key_text(text, origin, |t| {
            URL_SAFE_LENIENT
                .decode(t)
                .or_else(|_| general_purpose::STANDARD.decode(t))
                .ok()
        })
        .map(Self)
    }

    /// The 32 key bytes (signing key, then encryption key). Handle with care.
    pub(crate) fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn signing_key(&self) -> &[u8] {
        &self.0[..16]
    }

    fn encryption_key(&self) -> &[u8] {
        &self.0[16..]
    }
}

fn invalid(reason: &'static str) -> Error {
    Error::Legacy {
        format: LegacyFormat::Fernet,
        reason,
    }
}

/// Whether `value` looks like a Fernet token: url-safe base64 starting with the 0x80 version byte
/// and a timestamp before 2106 (`gAAAAA`). Surrounding white space is ignored, as [`decrypt`]
/// ignores it. Says nothing about whether it authenticates.
///
/// ```
/// use encrypted_field::legacy::fernet::looks_like_token;
/// assert!(looks_like_token(b"gAAAAABnXyZ3"));
/// assert!(!looks_like_token(b"RUYBAAAAAQ"));
/// ```
pub fn looks_like_token(value: &[u8]) -> bool {
    let token = value.trim_ascii();
    token.starts_with(b"gAAAAA")
        && token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
}

/// Decrypts a Fernet token (its url-safe base64 text, as stored) with `key`.
///
/// The HMAC is verified, in constant time, before anything is decrypted: a wrong key, a tampered
/// or truncated token is an [`Error::Legacy`], never garbage. The timestamp is not checked against
/// any TTL, so tokens of every age are read.
///
/// ```
/// use encrypted_field::legacy::fernet::{decrypt, FernetKey};
/// // The Fernet specification's `verify.json` vector.
/// let key = FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=", "DB_ENCRYPTION_KEY")?;
/// let token = b"gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
/// assert_eq!(decrypt(&key, token)?, b"hello");
/// let other = FernetKey::from_base64(&"A".repeat(43), "another key")?;
/// assert!(decrypt(&other, token).is_err());
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub fn decrypt(key: &FernetKey, token: &[u8]) -> Result<Vec<u8>> {
    let raw = URL_SAFE_LENIENT
        .decode(token.trim_ascii())
        .map_err(|_| invalid("the token is not url-safe base64"))?;
    if raw.len() < MIN_LEN {
        return Err(invalid("the token is too short; it may be truncated"));
    }
    if raw[0] != VERSION {
        return Err(invalid(
            "the token does not start with the Fernet version byte 0x80",
        ));
    }
    let (signed, tag) = raw.split_at(raw.len() - TAG_LEN);
    let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(key.signing_key())
        .map_err(|_| invalid("the signing key has an invalid length"))?;
    mac.update(signed);
    mac.verify_slice(tag).map_err(|_| {
        invalid("the HMAC does not verify: wrong key, or the token was tampered with")
    })?;
    let (iv, ciphertext) = signed[9..].split_at(16);
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(invalid(
            "the ciphertext is not a whole number of AES blocks",
        ));
    }
    let decryptor = cbc::Decryptor::<Aes128>::new_from_slices(key.encryption_key(), iv)
        .map_err(|_| invalid("the encryption key or IV has an invalid length"))?;
    let mut buf = ciphertext.to_vec();
    let len = decryptor
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .map_err(|_| invalid("the padding is invalid"))?
        .len();
    buf.truncate(len);
    Ok(buf)
}
