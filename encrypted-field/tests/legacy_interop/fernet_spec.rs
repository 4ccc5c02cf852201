//! The Fernet specification's test vectors (`fixtures/legacy/fernet-spec/`, copied from PyPI's
//! `cryptography_vectors`; source and licence in its README).

use encrypted_field::Error;
use encrypted_field::legacy::LegacyFormat;
use encrypted_field::legacy::fernet::{self, FernetKey};
use serde_json::Value;

use crate::fixtures::{read_json, str_field};
use crate::peers;

/// `invalid.json` entries whose only fault is their timestamp. The reader enforces no TTL, on
/// purpose: a migration must read tokens however old they are (the Django module itself calls
/// `Fernet.decrypt` without a TTL), and a token written by a host whose clock ran ahead is still
/// the user's data. The tokens themselves are sound (their HMAC verifies), so instead of being
/// rejected they must decrypt, here to the empty plaintext, as Python's `Fernet(key).decrypt(token)`
/// without a TTL decrypts them.
const TIMESTAMP_ONLY: &[&str] = &["expired TTL", "far-future TS (unacceptable clock skew)"];

fn vectors(file: &str) -> Vec<Value> {
    read_json(&format!("fernet-spec/{file}"))
        .as_array()
        .unwrap()
        .clone()
}

fn key(vector: &Value) -> FernetKey {
    FernetKey::from_base64(str_field(vector, "secret"), "fernet-spec").unwrap()
}

/// Seconds since the Unix epoch of an RFC 3339 time such as `1985-10-26T01:20:00-07:00`.
fn unix_seconds(rfc3339: &str) -> u64 {
    let number = |range: std::ops::Range<usize>| rfc3339[range].parse::<i64>().unwrap();
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let (hour, minute, second) = (number(11..13), number(14..16), number(17..19));
    let sign = if &rfc3339[19..20] == "-" { -1 } else { 1 };
    let offset = sign * (number(20..22) * 3600 + number(23..25) * 60);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second - offset).unwrap()
}

#[test]
fn rfc3339_times_convert_to_unix_seconds() {
    assert_eq!(unix_seconds("1970-01-01T00:00:00+00:00"), 0);
    assert_eq!(unix_seconds("1985-10-26T01:20:00-07:00"), 499_162_800);
}

#[test]
fn generate_vectors_are_reproduced_from_their_parts_and_decrypt_to_their_source() {
    let vectors = vectors("generate.json");
    assert!(!vectors.is_empty());
    for vector in &vectors {
        let iv: Vec<u8> = vector["iv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| u8::try_from(b.as_u64().unwrap()).unwrap())
            .collect();
        let key_bytes = peers::fernet_key_bytes(str_field(vector, "secret"));
        let timestamp = unix_seconds(str_field(vector, "now"));
        let src = str_field(vector, "src").as_bytes();
        let token = str_field(vector, "token");
        assert_eq!(
            peers::fernet_token(&key_bytes, timestamp, iv.try_into().unwrap(), src),
            token
        );
        assert_eq!(
            fernet::decrypt(&key(vector), token.as_bytes()).unwrap(),
            src
        );
    }
}

#[test]
fn verify_vectors_decrypt_to_their_source() {
    let vectors = vectors("verify.json");
    assert!(!vectors.is_empty());
    for vector in &vectors {
        let plaintext =
            fernet::decrypt(&key(vector), str_field(vector, "token").as_bytes()).unwrap();
        assert_eq!(plaintext, str_field(vector, "src").as_bytes());
    }
}

#[test]
fn invalid_vectors_are_rejected_except_those_whose_only_fault_is_the_timestamp() {
    let vectors = vectors("invalid.json");
    let mut rejected = 0;
    for vector in &vectors {
        let desc = str_field(vector, "desc");
        let result = fernet::decrypt(&key(vector), str_field(vector, "token").as_bytes());
        if TIMESTAMP_ONLY.contains(&desc) {
            assert_eq!(
                result.unwrap(),
                b"",
                "{desc}: no TTL is enforced, so this sound token must read"
            );
        } else {
            assert!(
                matches!(
                    result,
                    Err(Error::Legacy {
                        format: LegacyFormat::Fernet,
                        ..
                    })
                ),
                "{desc}: expected a Fernet error, got {result:?}"
            );
            rejected += 1;
        }
    }
    assert_eq!(
        rejected,
        vectors.len() - TIMESTAMP_ONLY.len(),
        "every timestamp-only case is in the file"
    );
    assert!(
        rejected >= 6,
        "incorrect mac, too short, invalid base64, block size, padding, IV"
    );
}
