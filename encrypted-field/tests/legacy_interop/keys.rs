//! Legacy keys that cannot be used are `BadKey` errors that name where they came from, and never
//! show the key text.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use encrypted_field::legacy::{LegacyFormat, LegacyKey};
use encrypted_field::{BadKeyReason, Error};

use crate::fixtures;

const KEYED: [LegacyFormat; 2] = [LegacyFormat::Fernet, LegacyFormat::NodeCbc];

/// The reason of a `BadKey` error, after checking that it names `origin` and not `text`.
fn bad_key_reason(format: LegacyFormat, text: &str, origin: &str) -> BadKeyReason {
    match LegacyKey::from_base64(format, text, origin) {
        Err(error @ Error::BadKey { .. }) => {
            let message = error.to_string();
            assert!(message.contains(origin), "{format}: {message}");
            assert!(
                text.trim().is_empty() || !message.contains(text.trim()),
                "{format}: {message}"
            );
            let Error::BadKey {
                origin: named,
                reason,
            } = error
            else {
                unreachable!()
            };
            assert_eq!(named, origin);
            reason
        }
        other => panic!("{format} key {text:?}: expected BadKey, got {other:?}"),
    }
}

#[test]
fn keys_of_the_wrong_length_are_bad_keys_naming_their_origin() {
    for format in KEYED {
        for len in [0_usize, 16, 31, 33, 64] {
            let text = if format == LegacyFormat::Fernet {
                URL_SAFE.encode(vec![0x3c; len])
            } else {
                STANDARD.encode(vec![0x3c; len])
            };
            let expected = if len == 0 {
                BadKeyReason::Empty
            } else {
                BadKeyReason::WrongLength { found: len }
            };
            assert_eq!(
                bad_key_reason(format, &text, "DB_ENCRYPTION_KEY"),
                expected,
                "{format}, {len} bytes"
            );
        }
    }
}

#[test]
fn keys_that_are_not_base64_are_bad_keys_naming_their_origin() {
    for format in KEYED {
        for text in [
            "not a key!",
            "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%=",
            "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=!",
        ] {
            assert_eq!(
                bad_key_reason(format, text, "/run/secrets/enc_key"),
                BadKeyReason::NotBase64,
                "{format}: {text}"
            );
        }
    }
}

#[test]
fn a_fernet_key_in_the_url_safe_alphabet_is_not_a_node_key() {
    // The Node backend's key is standard base64 (`openssl rand -base64 32`), never url-safe.
    let fernet_key = URL_SAFE.encode([0xfb; 32]);
    assert!(fernet_key.contains(['-', '_']), "{fernet_key}");
    assert_eq!(
        bad_key_reason(LegacyFormat::NodeCbc, &fernet_key, "enc_key.txt"),
        BadKeyReason::UrlSafeBase64
    );
}

#[test]
fn fernet_keys_are_read_padded_unpadded_and_in_the_standard_alphabet() {
    let bytes = [0xfb; 32]; // encodes with `-`/`_` (url-safe) or `+`/`/` (standard)
    for text in [
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
        STANDARD.encode(bytes),
        format!("{}\n", URL_SAFE.encode(bytes)),
    ] {
        let key = LegacyKey::from_base64(LegacyFormat::Fernet, &text, "t").unwrap();
        assert_eq!(key.format(), LegacyFormat::Fernet, "{text}");
    }
}

#[test]
fn plaintext_needs_no_key_and_ignores_any_text() {
    assert_eq!(
        LegacyKey::from_base64(LegacyFormat::Plaintext, "anything", "t")
            .unwrap()
            .format(),
        LegacyFormat::Plaintext
    );
}

#[test]
fn an_unreadable_key_file_is_a_bad_key_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enc_key_missing.txt");
    for format in KEYED {
        match LegacyKey::from_file(format, &path) {
            Err(Error::BadKey {
                origin,
                reason: BadKeyReason::Unreadable(_),
            }) => assert_eq!(origin, path.display().to_string()),
            other => panic!("{format}: expected an unreadable key, got {other:?}"),
        }
    }
}

#[test]
fn a_key_file_of_the_wrong_length_is_a_bad_key_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enc_key.txt");
    std::fs::write(&path, format!("{}\n", STANDARD.encode([9; 24]))).unwrap();
    for format in KEYED {
        match LegacyKey::from_file(format, &path) {
            Err(Error::BadKey { origin, reason }) => {
                assert_eq!(origin, path.display().to_string());
                assert_eq!(reason, BadKeyReason::WrongLength { found: 24 });
            }
            other => panic!("{format}: expected a bad key, got {other:?}"),
        }
    }
}

#[test]
fn legacy_keys_never_show_their_bytes_in_debug() {
    let fernet = fixtures::fernet().key;
    let node = fixtures::node_cbc().key;
    for (format, text) in [
        (LegacyFormat::Fernet, &fernet),
        (LegacyFormat::NodeCbc, &node),
    ] {
        let debug = format!("{:?}", LegacyKey::from_base64(format, text, "t").unwrap());
        assert!(
            debug.contains("<redacted>") && !debug.contains(text.as_str()),
            "{debug}"
        );
    }
}
