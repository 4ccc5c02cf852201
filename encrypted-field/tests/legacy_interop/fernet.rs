//! Fernet tokens written by Python `cryptography`, as the Django module stores them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use encrypted_field::Error;
use encrypted_field::legacy::fernet::{self, FernetKey};
use encrypted_field::legacy::{LegacyFormat, LegacyKey, read};

use crate::fixtures::{self, Case};

fn key() -> FernetKey {
    FernetKey::from_base64(&fixtures::fernet().key, "fernet.json").unwrap()
}

/// A value the reader must refuse: an error of the Fernet reader, never plaintext.
fn assert_rejected(key: &FernetKey, token: &[u8], what: &str) {
    match fernet::decrypt(key, token) {
        Err(Error::Legacy {
            format: LegacyFormat::Fernet,
            ..
        }) => {}
        other => panic!("{what}: expected a Fernet error, got {other:?}"),
    }
}

/// Every bit of the raw token flipped in turn (every 8th bit, rotating, for large tokens).
fn bit_flips(case: &Case) -> impl Iterator<Item = (usize, Vec<u8>)> {
    let raw = URL_SAFE.decode(&case.stored).unwrap();
    let bits = raw.len() * 8;
    let step = if raw.len() > 256 { 9 } else { 1 };
    (0..bits).step_by(step).map(move |bit| {
        let mut flipped = raw.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        (bit, URL_SAFE.encode(flipped).into_bytes())
    })
}

#[test]
fn every_python_token_reads_back_to_its_plaintext_byte_for_byte() {
    let fixture = fixtures::fernet();
    let key = LegacyKey::from_base64(LegacyFormat::Fernet, &fixture.key, "fernet.json").unwrap();
    for case in &fixture.cases {
        assert_eq!(
            read(&key, &case.stored).unwrap(),
            case.plaintext,
            "{}",
            case.name
        );
    }
}

#[test]
fn every_python_token_of_text_reads_back_as_the_same_string() {
    let key = key();
    for case in fixtures::fernet()
        .cases
        .iter()
        .filter(|case| std::str::from_utf8(&case.plaintext).is_ok())
    {
        let text = String::from_utf8(fernet::decrypt(&key, &case.stored).unwrap()).unwrap();
        assert_eq!(text.as_bytes(), case.plaintext, "{}", case.name);
    }
}

#[test]
fn flipping_any_bit_of_a_token_is_rejected() {
    let key = key();
    for case in &fixtures::fernet().cases {
        for (bit, token) in bit_flips(case) {
            assert_rejected(
                &key,
                &token,
                &format!("{} with bit {bit} flipped", case.name),
            );
        }
    }
}

#[test]
fn every_truncation_of_a_token_is_rejected() {
    let key = key();
    let case = fixtures::fernet().case("17_bytes").clone();
    let raw = URL_SAFE.decode(&case.stored).unwrap();
    for len in 0..raw.len() {
        let token = URL_SAFE.encode(&raw[..len]);
        assert_rejected(
            &key,
            token.as_bytes(),
            &format!("raw token cut to {len} bytes"),
        );
    }
    // Cutting only `=` padding loses nothing (see `a_token_without_its_base64_padding_reads_back`).
    let unpadded_len = case.stored.iter().rposition(|&b| b != b'=').unwrap() + 1;
    for len in 0..unpadded_len {
        assert_rejected(
            &key,
            &case.stored[..len],
            &format!("token text cut to {len} characters"),
        );
    }
}

#[test]
fn a_token_with_bytes_appended_is_rejected() {
    let key = key();
    let case = fixtures::fernet().case("ssn").clone();
    let mut raw = URL_SAFE.decode(&case.stored).unwrap();
    raw.extend_from_slice(&[0; 16]);
    assert_rejected(
        &key,
        URL_SAFE.encode(&raw).as_bytes(),
        "16 zero bytes appended",
    );
}

#[test]
fn a_token_under_another_key_is_rejected() {
    let other = FernetKey::from_base64(&URL_SAFE.encode([0x5a; 32]), "another key").unwrap();
    for case in &fixtures::fernet().cases {
        assert_rejected(&other, &case.stored, &case.name);
    }
}

#[test]
fn a_token_with_the_signing_and_encryption_halves_of_the_key_swapped_is_rejected() {
    let key_bytes = crate::peers::fernet_key_bytes(&fixtures::fernet().key);
    let swapped = [&key_bytes[16..], &key_bytes[..16]].concat();
    let swapped = FernetKey::from_base64(&URL_SAFE.encode(swapped), "swapped key").unwrap();
    assert_rejected(
        &swapped,
        &fixtures::fernet().case("ssn").stored,
        "swapped key halves",
    );
}

#[test]
fn a_token_surrounded_by_white_space_reads_back() {
    let case = fixtures::fernet().case("ssn").clone();
    let padded = [b" ".as_slice(), &case.stored, b"\n"].concat();
    assert_eq!(fernet::decrypt(&key(), &padded).unwrap(), case.plaintext);
    assert!(fernet::looks_like_token(&padded));
}

#[test]
fn a_token_without_its_base64_padding_reads_back() {
    let case = fixtures::fernet().case("ssn").clone();
    let unpadded = case
        .stored
        .strip_suffix(b"==")
        .expect("this token has two padding characters");
    assert_eq!(fernet::decrypt(&key(), unpadded).unwrap(), case.plaintext);
}

#[test]
fn a_token_in_the_standard_base64_alphabet_is_rejected() {
    let key = key();
    let case = fixtures::fernet()
        .cases
        .into_iter()
        .find(|c| c.stored.iter().any(|b| matches!(b, b'-' | b'_')));
    let case = case.expect("some fixture token has a - or _");
    let standard: Vec<u8> = case
        .stored
        .iter()
        .map(|b| match b {
            b'-' => b'+',
            b'_' => b'/',
            other => *other,
        })
        .collect();
    assert_rejected(&key, &standard, "token in the standard alphabet");
}

#[test]
fn errors_name_the_format_but_never_the_key_or_the_plaintext() {
    let fixture = fixtures::fernet();
    let case = fixture.case("ssn");
    let mut raw = URL_SAFE.decode(&case.stored).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let message = fernet::decrypt(&key(), URL_SAFE.encode(raw).as_bytes())
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("legacy fernet value: "), "{message}");
    assert!(message.contains("HMAC"), "{message}");
    assert!(
        !message.contains(&fixture.key) && !message.contains("078-05-1120"),
        "{message}"
    );
}
