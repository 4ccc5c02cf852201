//! Test-only writers of the two legacy formats, for property tests over random plaintexts.
//!
//! They are checked against the peers first: `fernet_token` reproduces the Fernet specification's
//! `generate.json` and every Python-written fixture token from its parts byte for byte, and
//! `node_cbc_value` reproduces every Node-written fixture value from its IV. A value they make is
//! therefore one the peer would have made.

use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _, block_padding::Pkcs7};
use aes::{Aes128, Aes256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::fixtures;

/// The 32 bytes of a Fernet key (url-safe base64).
pub(crate) fn fernet_key_bytes(key: &str) -> [u8; 32] {
    URL_SAFE.decode(key).unwrap().try_into().unwrap()
}

/// The 32 bytes of the Node backend's key (standard base64).
pub(crate) fn node_key_bytes(key: &str) -> [u8; 32] {
    STANDARD.decode(key.trim()).unwrap().try_into().unwrap()
}

/// A Fernet token: `0x80 | timestamp | iv | AES-128-CBC | HMAC-SHA256`, url-safe base64 with padding.
pub(crate) fn fernet_token(
    key: &[u8; 32],
    timestamp: u64,
    iv: [u8; 16],
    plaintext: &[u8],
) -> String {
    let (signing_key, encryption_key) = key.split_at(16);
    let mut raw = vec![0x80];
    raw.extend_from_slice(&timestamp.to_be_bytes());
    raw.extend_from_slice(&iv);
    raw.extend(
        cbc::Encryptor::<Aes128>::new_from_slices(encryption_key, &iv)
            .unwrap()
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
    );
    let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(signing_key).unwrap();
    mac.update(&raw);
    raw.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE.encode(raw)
}

/// The timestamp and IV a Fernet token was made with.
pub(crate) fn fernet_parts(token: &[u8]) -> (u64, [u8; 16]) {
    let raw = URL_SAFE.decode(token).unwrap();
    (
        u64::from_be_bytes(raw[1..9].try_into().unwrap()),
        raw[9..25].try_into().unwrap(),
    )
}

/// A Node backend value: `hex(iv):hex(AES-256-CBC ciphertext)`, lowercase as `Buffer#toString('hex')`.
pub(crate) fn node_cbc_value(key: &[u8; 32], iv: [u8; 16], plaintext: &[u8]) -> String {
    let ciphertext = cbc::Encryptor::<Aes256>::new_from_slices(key, &iv)
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    format!("{}:{}", hex::encode(iv), hex::encode(ciphertext))
}

/// The IV of a Node backend value.
pub(crate) fn node_cbc_iv(value: &[u8]) -> [u8; 16] {
    hex::decode(&value[..32]).unwrap().try_into().unwrap()
}

#[test]
fn fernet_writer_reproduces_every_python_token_from_its_parts() {
    let fixture = fixtures::fernet();
    let key = fernet_key_bytes(&fixture.key);
    for case in &fixture.cases {
        let (timestamp, iv) = fernet_parts(&case.stored);
        assert_eq!(
            fernet_token(&key, timestamp, iv, &case.plaintext).as_bytes(),
            case.stored,
            "{}",
            case.name
        );
    }
}

#[test]
fn node_cbc_writer_reproduces_every_node_value_from_its_iv() {
    let fixture = fixtures::node_cbc();
    let key = node_key_bytes(&fixture.key);
    for case in &fixture.cases {
        let iv = node_cbc_iv(&case.stored);
        assert_eq!(
            node_cbc_value(&key, iv, &case.plaintext).as_bytes(),
            case.stored,
            "{}",
            case.name
        );
    }
}
