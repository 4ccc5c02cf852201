//! `hex(iv):hex(ciphertext)` values written by Node's `crypto`, as the Node backend stores them.
//!
//! The format is unauthenticated, so what is asserted is exactly what it can promise: the right key
//! reads every value byte for byte; a wrong key or an altered value is either a padding error or
//! bytes that differ from the plaintext, never the plaintext, and sometimes (about one time in
//! 256) garbage with no error at all, which is why it is only ever read to migrate into format v1.

use encrypted_field::legacy::node_cbc::{self, decrypt};
use encrypted_field::legacy::{LegacyFormat, LegacyKey, read};
use encrypted_field::{Error, MasterKey};

use crate::fixtures;
use crate::peers;

fn key() -> MasterKey {
    MasterKey::from_base64(&fixtures::node_cbc().key, "node_cbc.json").unwrap()
}

fn is_node_cbc_error<T>(result: &Result<T, Error>) -> bool {
    matches!(
        result,
        Err(Error::Legacy {
            format: LegacyFormat::NodeCbc,
            ..
        })
    )
}

#[test]
fn every_node_value_reads_back_to_its_plaintext_byte_for_byte() {
    let fixture = fixtures::node_cbc();
    let key = LegacyKey::from_base64(LegacyFormat::NodeCbc, &fixture.key, "node_cbc.json").unwrap();
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
fn the_key_file_as_openssl_writes_it_reads_every_node_value() {
    let fixture = fixtures::node_cbc();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enc_key.txt");
    std::fs::write(&path, format!("{}\n", fixture.key)).unwrap();
    let key = LegacyKey::from_file(LegacyFormat::NodeCbc, &path).unwrap();
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
fn values_in_upper_case_hex_or_surrounded_by_white_space_read_back() {
    let case = fixtures::node_cbc().case("ssn").clone();
    let upper = case.stored.to_ascii_uppercase();
    assert_eq!(decrypt(&key(), &upper).unwrap(), case.plaintext);
    let padded = [b" ".as_slice(), &case.stored, b"\n"].concat();
    assert_eq!(decrypt(&key(), &padded).unwrap(), case.plaintext);
}

#[test]
fn a_wrong_key_never_reads_back_the_plaintext() {
    let fixture = fixtures::node_cbc();
    for seed in 0..64u8 {
        let wrong = MasterKey::from_bytes([seed; 32]);
        for case in &fixture.cases {
            let result = decrypt(&wrong, &case.stored);
            assert!(
                is_node_cbc_error(&result)
                    || result.as_ref().is_ok_and(|bytes| *bytes != case.plaintext),
                "{} under key {seed}: {result:?}",
                case.name
            );
        }
    }
}

#[test]
fn a_wrong_key_can_decrypt_to_garbage_without_any_error() {
    // Nothing authenticates the value: with a wrong key the last block decrypts to random bytes,
    // which end in valid PKCS#7 padding about one time in 256. Among 4096 wrong keys (a fixed
    // sequence, so the test is deterministic for the committed fixture) some must "succeed".
    let case = fixtures::node_cbc().case("ssn").clone();
    let garbage = (0..4096u32)
        .map(|n| {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            MasterKey::from_bytes(bytes)
        })
        .find_map(|wrong| decrypt(&wrong, &case.stored).ok())
        .expect("some wrong key yields valid padding");
    assert_ne!(garbage, case.plaintext);
}

#[test]
fn flipping_a_bit_of_the_iv_flips_the_same_bit_of_the_first_block_without_error() {
    // CBC is malleable: this is why the format is read only to migrate away from it.
    let key = key();
    let case = fixtures::node_cbc().case("17_bytes").clone();
    let (iv_hex, ciphertext_hex) = std::str::from_utf8(&case.stored)
        .unwrap()
        .split_once(':')
        .unwrap();
    let iv = hex::decode(iv_hex).unwrap();
    for bit in 0..128 {
        let mut flipped_iv = iv.clone();
        flipped_iv[bit / 8] ^= 1 << (bit % 8);
        let value = format!("{}:{ciphertext_hex}", hex::encode(&flipped_iv));
        let mut expected = case.plaintext.clone();
        expected[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            decrypt(&key, value.as_bytes()).unwrap(),
            expected,
            "bit {bit}"
        );
    }
}

#[test]
fn flipping_a_bit_of_the_last_block_fails_the_padding_or_changes_the_plaintext() {
    let key = key();
    for case in &fixtures::node_cbc().cases {
        let (iv_hex, ciphertext_hex) = std::str::from_utf8(&case.stored)
            .unwrap()
            .split_once(':')
            .unwrap();
        let ciphertext = hex::decode(ciphertext_hex).unwrap();
        for bit in (ciphertext.len() - 16) * 8..ciphertext.len() * 8 {
            let mut flipped = ciphertext.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let result = decrypt(
                &key,
                format!("{iv_hex}:{}", hex::encode(flipped)).as_bytes(),
            );
            assert!(
                is_node_cbc_error(&result)
                    || result.as_ref().is_ok_and(|bytes| *bytes != case.plaintext),
                "{} bit {bit}: {result:?}",
                case.name
            );
        }
    }
}

#[test]
fn values_without_the_hex_iv_colon_hex_ciphertext_shape_are_rejected() {
    let key = key();
    let iv = "000102030405060708090a0b0c0d0e0f";
    let block = "00112233445566778899aabbccddeeff";
    let malformed = [
        String::new(),
        "+1 555 0100".to_owned(),
        format!("{iv}{block}"),             // no colon
        format!("{iv}:"),                   // no ciphertext
        format!("{}:{block}", &iv[..30]),   // a 15-byte IV
        format!("{iv}0:{block}"),           // an odd number of IV digits
        format!("{iv}:{}", &block[..30]),   // not a whole block
        format!("{iv}:{block}00"),          // a block and a byte
        format!("{iv}:{block}:{block}"),    // two colons
        format!("{iv}:{}zz", &block[..30]), // not hex
        format!("+{}:{block}", &iv[1..]),   // a sign, which u8::from_str_radix accepts
        format!("{iv}:+{}", &block[1..]),   // a sign in the ciphertext
        format!("{iv}:{}é", &block[..30]),  // a multi-byte character
    ];
    for value in &malformed {
        assert!(
            !node_cbc::looks_like_value(value.as_bytes()),
            "{value:?} looks like a value"
        );
        assert!(
            is_node_cbc_error(&decrypt(&key, value.as_bytes())),
            "{value:?} was read"
        );
    }
    assert!(
        is_node_cbc_error(&decrypt(&key, &[0xff, 0xfe, b':'])),
        "bytes that are not UTF-8 were read"
    );
}

#[test]
fn a_value_written_by_the_test_writer_with_any_iv_reads_back() {
    let fixture = fixtures::node_cbc();
    let key_bytes = peers::node_key_bytes(&fixture.key);
    for case in &fixture.cases {
        let value = peers::node_cbc_value(&key_bytes, [0xa5; 16], &case.plaintext);
        assert_eq!(
            decrypt(&key(), value.as_bytes()).unwrap(),
            case.plaintext,
            "{}",
            case.name
        );
    }
}

#[test]
fn errors_name_the_format_but_never_the_key_or_the_plaintext() {
    let fixture = fixtures::node_cbc();
    let message = decrypt(&key(), b"000102030405060708090a0b0c0d0e0f")
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("legacy node-cbc value: "), "{message}");
    assert!(!message.contains(&fixture.key), "{message}");
}
