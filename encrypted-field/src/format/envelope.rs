//! Format v1: the self-describing byte string every encrypted value is stored as.
//!
//! ```text
//! "EF" | 0x01 | key_version: u32 BE | iv: 16 bytes | AES-256-CBC(PKCS#7) ciphertext | tag: 32 bytes
//! tag = HMAC-SHA256(mac_key, every byte before the tag || u32 BE len(context) || context)
//! ```
//!
//! `FORMAT.md` at the repository root specifies it byte by byte, with known-answer vectors.

use aes::Aes256;
use aes::cipher::{
    BlockDecryptMut as _, BlockEncryptMut as _, InnerIvInit as _, block_padding::Pkcs7,
};
use hkdf::Hkdf;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, MalformedReason, Result};
use crate::keys::master_key::MasterKey;
use crate::keys::version::KeyVersion;

use crate::format::layout::BLOCK_LEN;
pub use crate::format::layout::{FORMAT_V1, HEADER_LEN, IV_LEN, MAGIC, MIN_LEN, TAG_LEN};

/// HKDF `info` of the AES-256-CBC key.
pub const ENC_KEY_INFO: &[u8] = b"encrypted-field v1 aes-256-cbc";
/// HKDF `info` of the HMAC-SHA256 key.
pub const MAC_KEY_INFO: &[u8] = b"encrypted-field v1 hmac-sha256";

type HmacSha256 = Hmac<Sha256>;

/// The length of the envelope that holds a plaintext of `plaintext_len` bytes.
///
/// ```
/// assert_eq!(encrypted_field::envelope::sealed_len(0), 71);
/// assert_eq!(encrypted_field::envelope::sealed_len(16), 87);
/// ```
pub const fn sealed_len(plaintext_len: usize) -> usize {
    HEADER_LEN + IV_LEN + (plaintext_len / BLOCK_LEN + 1) * BLOCK_LEN + TAG_LEN
}

/// The parts of an envelope, borrowed from its bytes; parsing checks only the layout, not the tag.
///
/// ```
/// use encrypted_field::{envelope::Envelope, KeyRing, KeyVersion, MasterKey};
/// let ring = KeyRing::builder().key(7, MasterKey::generate()).build()?;
/// let sealed = ring.encrypt(b"hello");
/// assert_eq!(Envelope::parse(&sealed)?.key_version(), KeyVersion::new(7));
/// assert!(Envelope::parse(b"hello").is_err());
/// # Ok::<(), encrypted_field::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    version: KeyVersion,
    authenticated: &'a [u8],
    iv: &'a [u8],
    ciphertext: &'a [u8],
    tag: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Splits `bytes` into header, IV, ciphertext and tag, checking the marker, the format byte
    /// and the lengths.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let malformed = |reason| Err(Error::Malformed(reason));
        if bytes.len() < HEADER_LEN || bytes[..2] != MAGIC {
            return if bytes.starts_with(&MAGIC[..bytes.len().min(2)]) && bytes.len() < HEADER_LEN {
                malformed(MalformedReason::TooShort { len: bytes.len() })
            } else {
                malformed(MalformedReason::NotAnEnvelope)
            };
        }
        if bytes[2] != FORMAT_V1 {
            return malformed(MalformedReason::UnsupportedFormat(bytes[2]));
        }
        if bytes.len() < MIN_LEN {
            return malformed(MalformedReason::TooShort { len: bytes.len() });
        }
        let (authenticated, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let (header, body) = authenticated.split_at(HEADER_LEN);
        let (iv, ciphertext) = body.split_at(IV_LEN);
        if ciphertext.len() % BLOCK_LEN != 0 {
            return malformed(MalformedReason::BadLength { len: bytes.len() });
        }
        let version = KeyVersion::new(u32::from_be_bytes([
            header[3], header[4], header[5], header[6],
        ]));
        Ok(Self {
            version,
            authenticated,
            iv,
            ciphertext,
            tag,
        })
    }

    /// The key version the value was encrypted with.
    pub fn key_version(&self) -> KeyVersion {
        self.version
    }
}

/// Whether `bytes` have the layout of a v1 envelope (marker, format byte, lengths). Says nothing
/// about whether the tag is valid.
///
/// ```
/// use encrypted_field::envelope::is_envelope;
/// assert!(!is_envelope(b"+1 555 0100"));
/// ```
pub fn is_envelope(bytes: &[u8]) -> bool {
    Envelope::parse(bytes).is_ok()
}

/// The derived keys of one key version, ready to use: the AES key schedule and the HMAC state with
/// its pads already absorbed are computed once, when the ring is built, not per value.
#[derive(Clone)]
pub(crate) struct SealingKeys {
    cipher: Aes256,
    mac: HmacSha256,
}

impl std::fmt::Debug for SealingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKeys(<redacted>)")
    }
}

impl SealingKeys {
    /// Derives `enc_key` and `mac_key` from the master key with HKDF-SHA256 (empty salt).
    pub(crate) fn derive(master: &MasterKey) -> Self {
        let hkdf = Hkdf::<Sha256>::new(None, master.expose_bytes());
        let mut enc_key = Zeroizing::new([0u8; 32]);
        let mut mac_key = Zeroizing::new([0u8; 32]);
        #[allow(clippy::expect_used)]
        {
            hkdf.expand(ENC_KEY_INFO, enc_key.as_mut())
                .expect("invariant: HKDF-SHA256 can expand to 32 bytes");
            hkdf.expand(MAC_KEY_INFO, mac_key.as_mut())
                .expect("invariant: HKDF-SHA256 can expand to 32 bytes");
        }
        use aes::cipher::KeyInit as _;
        let cipher = Aes256::new(enc_key.as_ref().into());
        #[allow(clippy::expect_used)]
        let mac = <HmacSha256 as hmac::digest::KeyInit>::new_from_slice(mac_key.as_ref())
            .expect("invariant: HMAC accepts keys of any length");
        Self { cipher, mac }
    }

    /// Encrypts `plaintext` under this key with the given IV and context.
    pub(crate) fn seal(
        &self,
        version: KeyVersion,
        iv: &[u8; IV_LEN],
        context: &[u8],
        plaintext: &[u8],
    ) -> Vec<u8> {
        let total = sealed_len(plaintext.len());
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_V1);
        out.extend_from_slice(&version.get().to_be_bytes());
        out.extend_from_slice(iv);
        let body_start = out.len();
        out.extend_from_slice(plaintext);
        out.resize(total - TAG_LEN, 0);
        let encryptor = cbc::Encryptor::<&Aes256>::inner_iv_init(&self.cipher, iv.into());
        #[allow(clippy::expect_used)]
        encryptor
            .encrypt_padded_mut::<Pkcs7>(&mut out[body_start..], plaintext.len())
            .expect(
                "invariant: the buffer is sized by sealed_len, which leaves room for the padding",
            );
        let tag = self.tag(&out, context);
        out.extend_from_slice(&tag);
        out
    }

    /// Verifies the tag (constant time) and only then decrypts and unpads.
    pub(crate) fn open(&self, envelope: &Envelope<'_>, context: &[u8]) -> Result<Vec<u8>> {
        let auth_failed = || Error::Authentication {
            context: String::from_utf8_lossy(context).into_owned(),
        };
        self.mac_state(envelope.authenticated, context)
            .verify_slice(envelope.tag)
            .map_err(|_| auth_failed())?;
        let mut buf = envelope.ciphertext.to_vec();
        let iv: &[u8; IV_LEN] = envelope.iv.try_into().map_err(|_| auth_failed())?;
        let decryptor = cbc::Decryptor::<&Aes256>::inner_iv_init(&self.cipher, iv.into());
        // With a valid tag the padding can only be wrong if the writer was broken; report it as
        // the same opaque failure.
        let len = decryptor
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| auth_failed())?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    fn mac_state(&self, authenticated: &[u8], context: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(authenticated);
        // A context longer than 4 GiB cannot be a column name; saturating keeps this total.
        let len = u32::try_from(context.len()).unwrap_or(u32::MAX);
        mac.update(&len.to_be_bytes());
        mac.update(context);
        mac
    }

    fn tag(&self, authenticated: &[u8], context: &[u8]) -> [u8; TAG_LEN] {
        self.mac_state(authenticated, context)
            .finalize()
            .into_bytes()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SealingKeys {
        SealingKeys::derive(&MasterKey::from_bytes([0x42; 32]))
    }

    #[test]
    fn sealed_len_matches_seal_output() {
        for len in [0, 1, 15, 16, 17, 4096] {
            let sealed = keys().seal(KeyVersion::new(1), &[0; 16], b"", &vec![0xab; len]);
            assert_eq!(sealed.len(), sealed_len(len), "plaintext of {len} bytes");
        }
    }

    #[test]
    fn header_carries_marker_format_and_version() {
        let sealed = keys().seal(KeyVersion::new(0x0102_0304), &[0; 16], b"", b"x");
        assert_eq!(&sealed[..HEADER_LEN], b"EF\x01\x01\x02\x03\x04");
    }

    #[test]
    fn open_returns_the_plaintext() {
        let k = keys();
        let sealed = k.seal(KeyVersion::new(1), &[3; 16], b"t.c", b"secret");
        let env = Envelope::parse(&sealed).map_err(|e| e.to_string());
        assert_eq!(
            env.and_then(|e| k.open(&e, b"t.c").map_err(|e| e.to_string())),
            Ok(b"secret".to_vec())
        );
    }

    #[test]
    fn parse_rejects_a_wrong_format_byte() {
        let mut sealed = keys().seal(KeyVersion::new(1), &[0; 16], b"", b"x");
        sealed[2] = 2;
        assert!(matches!(
            Envelope::parse(&sealed),
            Err(Error::Malformed(MalformedReason::UnsupportedFormat(2)))
        ));
    }

    #[test]
    fn parse_rejects_ragged_ciphertext() {
        let mut sealed = keys().seal(KeyVersion::new(1), &[0; 16], b"", b"x");
        sealed.push(0);
        assert!(matches!(
            Envelope::parse(&sealed),
            Err(Error::Malformed(MalformedReason::BadLength { .. }))
        ));
    }

    #[test]
    fn parse_rejects_plaintext_as_not_an_envelope() {
        assert!(matches!(
            Envelope::parse(
                b"+1 555 0100 is a phone number, not an envelope, whatever its length is"
            ),
            Err(Error::Malformed(MalformedReason::NotAnEnvelope))
        ));
    }
}
