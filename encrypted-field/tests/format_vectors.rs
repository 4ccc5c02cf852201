//! Known-answer tests: the envelope and blind-index vectors of `vectors/format_v1.txt` (computed by
//! an independent implementation) and the primitives' published vectors in `vectors/primitives.txt`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _, block_padding::NoPadding};
use base64::Engine as _;
use encrypted_field::{BlindIndexKey, KeyRing, KeyVersion, MasterKey};
use hmac::Mac as _;
use support::vectors::{Vector, parse};

const FORMAT_V1: &str = include_str!("vectors/format_v1.txt");
const PRIMITIVES: &str = include_str!("vectors/primitives.txt");

fn of_kind<'a>(vectors: &'a [Vector], kind: &'a str) -> impl Iterator<Item = &'a Vector> + 'a {
    vectors.iter().filter(move |v| v.kind == kind)
}

fn key32(bytes: Vec<u8>) -> MasterKey {
    MasterKey::from_bytes(bytes.try_into().expect("vector keys are 32 bytes"))
}

fn ring_for(v: &Vector) -> KeyRing {
    let version: u32 = v
        .text("key_version")
        .parse()
        .expect("key_version is a number");
    KeyRing::builder()
        .key(version, key32(v.bytes("master_key")))
        .build()
        .expect("valid ring")
}

fn context_of(v: &Vector) -> String {
    String::from_utf8(v.bytes("context")).expect("contexts are UTF-8")
}

#[test]
fn every_vector_file_has_vectors() {
    let format = parse(FORMAT_V1);
    assert_eq!(of_kind(&format, "envelope").count(), 6);
    assert_eq!(of_kind(&format, "blind_index").count(), 3);
    assert_eq!(parse(PRIMITIVES).len(), 5);
}

#[test]
fn sealing_with_the_vector_iv_gives_the_exact_envelope() {
    for v in of_kind(&parse(FORMAT_V1), "envelope") {
        let iv: [u8; 16] = v.bytes("iv").try_into().expect("16-byte iv");
        let sealed = ring_for(v).seal_with_iv(&v.bytes("plaintext"), &context_of(v), &iv);
        assert_eq!(
            hex::encode(&sealed),
            v.text("envelope"),
            "vector `{}`",
            v.name
        );
    }
}

#[test]
fn every_vector_envelope_opens_to_its_plaintext() {
    for v in of_kind(&parse(FORMAT_V1), "envelope") {
        let opened = ring_for(v).decrypt_with_context(&v.bytes("envelope"), &context_of(v));
        assert_eq!(
            opened.ok(),
            Some(v.bytes("plaintext")),
            "vector `{}`",
            v.name
        );
    }
}

#[test]
fn every_vector_base64_form_opens_and_matches() {
    for v in of_kind(&parse(FORMAT_V1), "envelope") {
        let expected = base64::engine::general_purpose::STANDARD.encode(v.bytes("envelope"));
        assert_eq!(expected, v.text("envelope_base64"), "vector `{}`", v.name);
        let opened = ring_for(v).decrypt_base64(v.text("envelope_base64"), &context_of(v));
        assert_eq!(
            opened.ok(),
            Some(v.bytes("plaintext")),
            "vector `{}`",
            v.name
        );
    }
}

#[test]
fn every_vector_envelope_names_its_key_version() {
    for v in of_kind(&parse(FORMAT_V1), "envelope") {
        let version: u32 = v.text("key_version").parse().expect("number");
        assert_eq!(
            ring_for(v).version_of(&v.bytes("envelope")).ok(),
            Some(KeyVersion::new(version))
        );
    }
}

#[test]
fn blind_indexes_match_the_vectors() {
    for v in of_kind(&parse(FORMAT_V1), "blind_index") {
        let key = BlindIndexKey::new(key32(v.bytes("blind_index_key")));
        let index = key.compute(&context_of(v), &v.bytes("value"));
        assert_eq!(hex::encode(index), v.text("index"), "vector `{}`", v.name);
    }
}

#[test]
fn aes_256_cbc_matches_nist_sp_800_38a() {
    for v in of_kind(&parse(PRIMITIVES), "aes256cbc") {
        let mut buf = v.bytes("plaintext");
        let len = buf.len();
        let encryptor =
            cbc::Encryptor::<aes::Aes256>::new_from_slices(&v.bytes("key"), &v.bytes("iv"))
                .expect("sizes");
        let out = encryptor
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .expect("whole blocks");
        assert_eq!(
            hex::encode(out),
            v.text("ciphertext"),
            "vector `{}`",
            v.name
        );
    }
}

#[test]
fn hmac_sha256_matches_rfc_4231() {
    for v in of_kind(&parse(PRIMITIVES), "hmac_sha256") {
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(&v.bytes("key")).expect("any length");
        mac.update(&v.bytes("data"));
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            v.text("mac"),
            "vector `{}`",
            v.name
        );
    }
}

#[test]
fn hkdf_sha256_matches_rfc_5869() {
    for v in of_kind(&parse(PRIMITIVES), "hkdf_sha256") {
        let salt = v.bytes("salt");
        let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(
            (!salt.is_empty()).then_some(&salt[..]),
            &v.bytes("ikm"),
        );
        let mut okm = vec![0u8; v.bytes("okm").len()];
        hkdf.expand(&v.bytes("info"), &mut okm)
            .expect("length within limit");
        assert_eq!(hex::encode(okm), v.text("okm"), "vector `{}`", v.name);
    }
}
