//! Properties of format v1 that must hold for every input: round trips of every size, and the
//! rejection of every single-bit flip and every truncation, of wrong contexts and of wrong keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use encrypted_field::{Error, KeyRing, KeyVersion, MasterKey};
use proptest::prelude::*;

fn ring() -> KeyRing {
    KeyRing::builder()
        .key(1, MasterKey::from_bytes([0x11; 32]))
        .build()
        .unwrap()
}

#[test]
fn round_trips_at_every_boundary_size() {
    let ring = ring();
    for len in [0, 1, 15, 16, 17, 31, 32, 33, 4096] {
        let plaintext: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let sealed = ring.encrypt_with_context(&plaintext, "t.c");
        assert_eq!(
            ring.decrypt_with_context(&sealed, "t.c").unwrap(),
            plaintext,
            "{len} bytes"
        );
    }
}

#[test]
fn round_trips_non_utf8_bytes() {
    let ring = ring();
    let plaintext = [0xff, 0xfe, 0x00, 0xc3, 0x28];
    assert_eq!(ring.decrypt(&ring.encrypt(&plaintext)).unwrap(), plaintext);
}

#[test]
fn equal_plaintexts_give_different_envelopes() {
    let ring = ring();
    assert_ne!(ring.encrypt(b"same"), ring.encrypt(b"same"));
}

#[test]
fn every_single_bit_flip_of_a_sample_envelope_is_rejected() {
    let ring = ring();
    let sealed = ring.encrypt_with_context(b"078-05-1120", "customers._ssn");
    for byte in 0..sealed.len() {
        for bit in 0..8 {
            let mut tampered = sealed.clone();
            tampered[byte] ^= 1 << bit;
            let result = ring.decrypt_with_context(&tampered, "customers._ssn");
            assert!(
                result.is_err(),
                "flip of bit {bit} in byte {byte} was accepted"
            );
        }
    }
}

#[test]
fn every_truncation_of_a_sample_envelope_is_rejected() {
    let ring = ring();
    let sealed = ring.encrypt_with_context(b"+1 555 0100", "phone_requests.phone_number");
    for len in 0..sealed.len() {
        let result = ring.decrypt_with_context(&sealed[..len], "phone_requests.phone_number");
        assert!(result.is_err(), "truncation to {len} bytes was accepted");
    }
}

#[test]
fn a_value_sealed_for_context_a_fails_under_context_b() {
    let ring = ring();
    let sealed = ring.encrypt_with_context(b"078-05-1120", "customers._ssn");
    let err = ring
        .decrypt_with_context(&sealed, "customers._phone")
        .unwrap_err();
    assert!(
        matches!(err, Error::Authentication { ref context } if context == "customers._phone"),
        "{err}"
    );
    assert!(
        ring.decrypt(&sealed).is_err(),
        "an empty context must not open a bound value"
    );
}

#[test]
fn a_value_of_an_unknown_version_names_the_version() {
    let v9 = KeyRing::builder()
        .key(9, MasterKey::generate())
        .build()
        .unwrap()
        .encrypt(b"x");
    assert!(
        matches!(ring().decrypt(&v9), Err(Error::UnknownKeyVersion(v)) if v == KeyVersion::new(9))
    );
}

proptest! {
    #[test]
    fn any_plaintext_and_context_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..600), context in "[a-z_]{0,20}(\\.[a-z_]{1,20})?") {
        let ring = ring();
        let sealed = ring.encrypt_with_context(&plaintext, &context);
        prop_assert_eq!(sealed.len(), encrypted_field::envelope::sealed_len(plaintext.len()));
        prop_assert_eq!(ring.decrypt_with_context(&sealed, &context).unwrap(), plaintext);
    }

    #[test]
    fn any_bit_flip_of_any_envelope_is_rejected(plaintext in proptest::collection::vec(any::<u8>(), 0..100), position in any::<proptest::sample::Index>(), bit in 0u8..8) {
        let ring = ring();
        let mut sealed = ring.encrypt_with_context(&plaintext, "t.c");
        let at = position.index(sealed.len());
        sealed[at] ^= 1 << bit;
        prop_assert!(ring.decrypt_with_context(&sealed, "t.c").is_err());
    }

    #[test]
    fn any_truncation_or_extension_is_rejected(plaintext in proptest::collection::vec(any::<u8>(), 0..100), cut in any::<proptest::sample::Index>(), extra in proptest::collection::vec(any::<u8>(), 1..40)) {
        let ring = ring();
        let sealed = ring.encrypt_with_context(&plaintext, "t.c");
        let len = cut.index(sealed.len());
        prop_assert!(ring.decrypt_with_context(&sealed[..len], "t.c").is_err());
        let mut extended = sealed.clone();
        extended.extend_from_slice(&extra);
        prop_assert!(ring.decrypt_with_context(&extended, "t.c").is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_open(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assert!(ring().decrypt_with_context(&bytes, "t.c").is_err());
        prop_assert!(ring().decrypt_base64(&String::from_utf8_lossy(&bytes), "t.c").is_err());
    }
}
