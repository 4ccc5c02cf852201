//! `classify` never takes a format-v1 envelope (binary or base64) for a legacy value, nor a Fernet
//! token or a `node-cbc` value for an envelope or for each other.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use encrypted_field::legacy::{LegacyFormat, LegacyKey, StoredForm, classify, read};
use encrypted_field::{Error, KeyRing, MasterKey};
use proptest::prelude::*;

use crate::fixtures;
use crate::peers;

const FORMATS: [LegacyFormat; 3] = [
    LegacyFormat::Plaintext,
    LegacyFormat::Fernet,
    LegacyFormat::NodeCbc,
];

fn ring() -> KeyRing {
    KeyRing::builder()
        .key(1, MasterKey::from_bytes([1; 32]))
        .key(7, MasterKey::from_bytes([7; 32]))
        .build()
        .unwrap()
}

fn is_legacy_error(result: &Result<StoredForm, Error>, format: LegacyFormat) -> bool {
    matches!(result, Err(Error::Legacy { format: f, .. }) if *f == format)
}

/// What every format must say of a Fernet token: legacy for Fernet and plaintext, not node-cbc.
fn assert_fernet_token(token: &[u8]) {
    assert_eq!(
        classify(LegacyFormat::Fernet, token).unwrap(),
        StoredForm::Legacy
    );
    assert_eq!(
        classify(LegacyFormat::Plaintext, token).unwrap(),
        StoredForm::Legacy
    );
    assert!(is_legacy_error(
        &classify(LegacyFormat::NodeCbc, token),
        LegacyFormat::NodeCbc
    ));
}

/// What every format must say of a node-cbc value: legacy for node-cbc and plaintext, not Fernet.
fn assert_node_cbc_value(value: &[u8]) {
    assert_eq!(
        classify(LegacyFormat::NodeCbc, value).unwrap(),
        StoredForm::Legacy
    );
    assert_eq!(
        classify(LegacyFormat::Plaintext, value).unwrap(),
        StoredForm::Legacy
    );
    assert!(is_legacy_error(
        &classify(LegacyFormat::Fernet, value),
        LegacyFormat::Fernet
    ));
}

#[test]
fn every_python_token_is_a_fernet_value_and_nothing_else() {
    for case in &fixtures::fernet().cases {
        assert_fernet_token(&case.stored);
    }
}

#[test]
fn every_fernet_spec_token_that_decodes_is_a_fernet_value() {
    for file in ["generate.json", "verify.json"] {
        for vector in fixtures::read_json(&format!("fernet-spec/{file}"))
            .as_array()
            .unwrap()
        {
            assert_fernet_token(fixtures::str_field(vector, "token").as_bytes());
        }
    }
}

#[test]
fn every_node_value_is_a_node_cbc_value_and_nothing_else() {
    for case in &fixtures::node_cbc().cases {
        assert_node_cbc_value(&case.stored);
    }
}

#[test]
fn envelopes_of_every_fixture_plaintext_are_envelopes_under_every_format() {
    let ring = ring();
    let plaintexts = fixtures::fernet()
        .cases
        .into_iter()
        .chain(fixtures::node_cbc().cases)
        .map(|case| case.plaintext);
    for plaintext in plaintexts {
        let sealed = ring.encrypt_with_context(&plaintext, "customers._ssn");
        let text = STANDARD.encode(&sealed);
        for format in FORMATS {
            assert_eq!(classify(format, &sealed).unwrap(), StoredForm::Envelope);
            assert_eq!(
                classify(format, text.as_bytes()).unwrap(),
                StoredForm::EnvelopeBase64
            );
        }
    }
}

#[test]
fn a_truncated_envelope_is_malformed_not_plaintext() {
    let sealed = ring().encrypt(b"078-05-1120");
    for len in 3..sealed.len() {
        for format in FORMATS {
            let result = classify(format, &sealed[..len]);
            assert!(
                matches!(result, Err(Error::Malformed(_))),
                "binary cut to {len} under {format}: {result:?}"
            );
            let text = STANDARD.encode(&sealed[..len]);
            let result = classify(format, text.as_bytes());
            assert!(
                matches!(result, Err(Error::Malformed(_))),
                "base64 cut to {len} under {format}: {result:?}"
            );
        }
    }
}

#[test]
fn base64_envelope_surrounded_by_white_space_is_an_envelope() {
    let text = format!(" {}\n", STANDARD.encode(ring().encrypt(b"x")));
    for format in FORMATS {
        assert_eq!(
            classify(format, text.as_bytes()).unwrap(),
            StoredForm::EnvelopeBase64
        );
    }
}

#[test]
fn plaintext_that_merely_starts_like_an_envelope_marker_is_plaintext() {
    for value in [
        b"EF".as_slice(),
        b"EFG 123",
        b"EF\x02 future",
        b"RUY",
        b"RUYB is a word here",
        b"RUYC",
    ] {
        assert_eq!(
            classify(LegacyFormat::Plaintext, value).unwrap(),
            StoredForm::Legacy,
            "{value:?}"
        );
    }
}

#[test]
fn a_value_of_neither_shape_is_a_legacy_error_naming_what_was_expected() {
    let fernet = classify(LegacyFormat::Fernet, b"+1 555 0100")
        .unwrap_err()
        .to_string();
    assert!(
        fernet.contains("Fernet token") && fernet.contains("format-v1 envelope"),
        "{fernet}"
    );
    let node = classify(LegacyFormat::NodeCbc, b"+1 555 0100")
        .unwrap_err()
        .to_string();
    assert!(
        node.contains("hex(iv):hex(ciphertext)") && node.contains("format-v1 envelope"),
        "{node}"
    );
}

proptest! {
    #[test]
    fn envelopes_of_random_plaintexts_are_envelopes_under_every_format(
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        context in "[a-z_]{0,12}(\\.[a-z_]{1,12})?",
    ) {
        let ring = ring();
        let sealed = ring.encrypt_with_context(&plaintext, &context);
        let text = STANDARD.encode(&sealed);
        for format in FORMATS {
            prop_assert_eq!(classify(format, &sealed).unwrap(), StoredForm::Envelope);
            prop_assert_eq!(classify(format, text.as_bytes()).unwrap(), StoredForm::EnvelopeBase64);
        }
    }

    #[test]
    fn fernet_tokens_of_random_plaintexts_are_fernet_values_and_read_back(
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        key in any::<[u8; 32]>(),
        iv in any::<[u8; 16]>(),
        timestamp in 0..u64::from(u32::MAX),
    ) {
        let token = peers::fernet_token(&key, timestamp, iv, &plaintext);
        assert_fernet_token(token.as_bytes());
        let key_text = URL_SAFE.encode(key);
        let legacy = LegacyKey::from_base64(LegacyFormat::Fernet, &key_text, "proptest").unwrap();
        prop_assert_eq!(read(&legacy, token.as_bytes()).unwrap(), plaintext);
    }

    #[test]
    fn node_values_of_random_plaintexts_are_node_cbc_values_and_read_back(
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        key in any::<[u8; 32]>(),
        iv in any::<[u8; 16]>(),
    ) {
        let value = peers::node_cbc_value(&key, iv, &plaintext);
        assert_node_cbc_value(value.as_bytes());
        let key_text = STANDARD.encode(key);
        let legacy = LegacyKey::from_base64(LegacyFormat::NodeCbc, &key_text, "proptest").unwrap();
        prop_assert_eq!(read(&legacy, value.as_bytes()).unwrap(), plaintext);
    }

    #[test]
    fn printable_text_is_plaintext_and_never_an_envelope(text in "[ -~]{0,80}") {
        prop_assume!(!text.starts_with("RUYB"));
        let form = classify(LegacyFormat::Plaintext, text.as_bytes()).unwrap();
        prop_assert_eq!(form, StoredForm::Legacy);
    }
}
