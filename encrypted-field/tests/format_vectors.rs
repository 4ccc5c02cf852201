//! Known-answer tests: the envelope and blind-index vectors of `vectors/format_v1.txt` (computed by
//! an independent implementation), the primitives' published vectors in `vectors/primitives.txt`,
//! and the plaintext encodings of the typed values in `vectors/plaintext_v1.txt` (computed with
//! Python's datetime, uuid and decimal modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _, block_padding::NoPadding};
use base64::Engine as _;
use encrypted_field::{BlindIndexKey, Error, KeyRing, KeyVersion, MasterKey, Plaintext, RowKey};
use hmac::Mac as _;
use support::vectors::{Vector, parse};

const FORMAT_V1: &str = include_str!("vectors/format_v1.txt");
const PRIMITIVES: &str = include_str!("vectors/primitives.txt");
const PLAINTEXT_V1: &str = include_str!("vectors/plaintext_v1.txt");

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
    assert_eq!(of_kind(&format, "envelope_row").count(), 6);
    assert_eq!(of_kind(&format, "blind_index").count(), 3);
    assert_eq!(of_kind(&format, "blind_index_versioned").count(), 3);
    assert_eq!(parse(PRIMITIVES).len(), 5);
    let plaintext = parse(PLAINTEXT_V1);
    for (kind, count) in [
        ("date", 6),
        ("date_time", 5),
        ("utc_date_time", 5),
        ("uuid", 3),
        ("decimal", 8),
        ("rejected", 28),
    ] {
        assert_eq!(of_kind(&plaintext, kind).count(), count, "{kind}");
    }
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

/// The column context and row key of a row-bound vector.
fn row_of(v: &Vector) -> (String, RowKey) {
    let column = String::from_utf8(v.bytes("column_context")).expect("contexts are UTF-8");
    let key = String::from_utf8(v.bytes("row_key")).expect("row keys are UTF-8");
    (column, RowKey::from(key))
}

#[test]
fn row_bound_vectors_seal_to_the_exact_envelope_and_open_for_their_row_only() {
    for v in of_kind(&parse(FORMAT_V1), "envelope_row") {
        let (column, row) = row_of(v);
        let ring = ring_for(v);
        let iv: [u8; 16] = v.bytes("iv").try_into().expect("16-byte iv");
        let sealed = ring.seal_for_row_with_iv(&v.bytes("plaintext"), &column, &row, &iv);
        assert_eq!(
            hex::encode(&sealed),
            v.text("envelope"),
            "vector `{}`",
            v.name
        );
        let envelope = v.bytes("envelope");
        assert_eq!(
            ring.decrypt_for_row(&envelope, &column, &row).ok(),
            Some(v.bytes("plaintext")),
            "vector `{}`",
            v.name
        );
        let other = RowKey::from(format!("{}0", row.as_str()));
        assert!(
            matches!(
                ring.decrypt_for_row(&envelope, &column, &other),
                Err(Error::RowAuthentication { .. })
            ),
            "vector `{}` must not open for another row",
            v.name
        );
        assert!(
            matches!(
                ring.decrypt_with_context(&envelope, &column),
                Err(Error::Authentication { .. })
            ),
            "vector `{}` must not open as a plain value of its column",
            v.name
        );
    }
}

#[test]
fn row_keys_of_rust_types_are_the_canonical_bytes_of_the_vectors() {
    let vectors = parse(FORMAT_V1);
    let key_of = |name: &str| {
        let v = of_kind(&vectors, "envelope_row")
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("vector `{name}`"));
        String::from_utf8(v.bytes("row_key")).unwrap()
    };
    assert_eq!(
        RowKey::from(7_i32).as_str(),
        key_of("ssn bound to integer row 7")
    );
    assert_eq!(
        RowKey::from(-42_i64).as_str(),
        key_of("negative integer key")
    );
    assert_eq!(RowKey::from(i64::MAX).as_str(), key_of("largest i64 key"));
    assert_eq!(
        RowKey::from("clé-ü").as_str(),
        key_of("text key, non-ASCII")
    );
    let uuid = uuid::Uuid::parse_str("F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6").unwrap();
    assert_eq!(RowKey::from(uuid).as_str(), key_of("uuid key"));
}

#[test]
fn row_bound_contexts_are_the_documented_encoding() {
    for v in of_kind(&parse(FORMAT_V1), "envelope_row") {
        let (column, row) = row_of(v);
        let mut expected = vec![0x01];
        expected.extend_from_slice(&(column.len() as u32).to_be_bytes());
        expected.extend_from_slice(column.as_bytes());
        expected.extend_from_slice(&(row.as_str().len() as u32).to_be_bytes());
        expected.extend_from_slice(row.as_str().as_bytes());
        assert_eq!(v.bytes("context"), expected, "vector `{}`", v.name);
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
fn versioned_blind_indexes_match_the_vectors() {
    for v in of_kind(&parse(FORMAT_V1), "blind_index_versioned") {
        let version: u32 = v.text("blind_index_version").parse().expect("a number");
        let ring = KeyRing::builder()
            .key(1, MasterKey::from_bytes([0xee; 32]))
            .blind_index_key_version(
                version,
                BlindIndexKey::new(key32(v.bytes("blind_index_key"))),
            )
            .build()
            .expect("valid ring");
        let value = String::from_utf8(v.bytes("value")).expect("vector values are text");
        let stored = ring
            .blind_index(&context_of(v), &value, encrypted_field::normalize::exact)
            .unwrap();
        assert_eq!(
            hex::encode(&stored),
            v.text("stored"),
            "vector `{}`",
            v.name
        );
        assert_eq!(
            encrypted_field::blind_index::stored_index_version(&stored),
            Some(KeyVersion::new(version)),
            "vector `{}`",
            v.name
        );
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

/// `value` encodes to the vector's plaintext and decodes from it; `None` (a value the type cannot
/// hold, e.g. a leap second in `time`) must be refused.
fn check_plaintext<T>(v: &Vector, value: Option<T>)
where
    T: Plaintext + PartialEq + std::fmt::Debug,
{
    let bytes = v.bytes("plaintext");
    let read = T::from_plaintext(bytes.clone());
    match value {
        Some(value) => {
            assert_eq!(
                value.to_plaintext().as_ref(),
                &bytes[..],
                "vector `{}`",
                v.name
            );
            assert_eq!(read.ok(), Some(value), "vector `{}`", v.name);
        }
        None => assert!(
            matches!(read, Err(Error::InvalidPlaintext { .. })),
            "vector `{}` is outside {}, so it must be refused",
            v.name,
            std::any::type_name::<T>()
        ),
    }
}

fn number<N: std::str::FromStr>(v: &Vector, field: &str) -> N {
    v.text(field)
        .parse()
        .unwrap_or_else(|_| panic!("vector `{}`: `{field}` is a number", v.name))
}

fn chrono_date_time(v: &Vector) -> chrono::NaiveDateTime {
    let (second, nano) = match number::<u32>(v, "second") {
        60 => (59, number::<u32>(v, "nanosecond") + 1_000_000_000),
        second => (second, number(v, "nanosecond")),
    };
    chrono::NaiveDate::from_ymd_opt(number(v, "year"), number(v, "month"), number(v, "day"))
        .and_then(|d| d.and_hms_nano_opt(number(v, "hour"), number(v, "minute"), second, nano))
        .expect("every vector is a chrono value")
}

fn time_date(v: &Vector) -> Option<time::Date> {
    let month = time::Month::try_from(number::<u8>(v, "month")).ok()?;
    time::Date::from_calendar_date(number(v, "year"), month, number(v, "day")).ok()
}

fn time_date_time(v: &Vector) -> Option<time::PrimitiveDateTime> {
    let time = time::Time::from_hms_nano(
        number(v, "hour"),
        number(v, "minute"),
        number(v, "second"),
        number(v, "nanosecond"),
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(time_date(v)?, time))
}

#[test]
fn dates_match_the_vectors_in_chrono_and_time() {
    for v in of_kind(&parse(PLAINTEXT_V1), "date") {
        let date = chrono::NaiveDate::from_ymd_opt(
            number(v, "year"),
            number(v, "month"),
            number(v, "day"),
        );
        check_plaintext(v, Some(date.expect("every vector is a chrono date")));
        check_plaintext(v, time_date(v));
    }
}

#[test]
fn date_times_match_the_vectors_in_chrono_and_time() {
    for v in of_kind(&parse(PLAINTEXT_V1), "date_time") {
        check_plaintext(v, Some(chrono_date_time(v)));
        check_plaintext(v, time_date_time(v));
    }
}

#[test]
fn utc_date_times_match_the_vectors_in_chrono_and_time() {
    for v in of_kind(&parse(PLAINTEXT_V1), "utc_date_time") {
        check_plaintext(v, Some(chrono_date_time(v).and_utc()));
        check_plaintext(
            v,
            time_date_time(v).map(time::PrimitiveDateTime::assume_utc),
        );
    }
}

#[test]
fn uuids_match_the_vectors() {
    for v in of_kind(&parse(PLAINTEXT_V1), "uuid") {
        let bytes: [u8; 16] = v.bytes("bytes").try_into().expect("16 bytes");
        check_plaintext(v, Some(uuid::Uuid::from_bytes(bytes)));
    }
}

#[test]
fn decimals_match_the_vectors_and_keep_their_scale() {
    for v in of_kind(&parse(PLAINTEXT_V1), "decimal") {
        let (mantissa, scale) = (number::<i128>(v, "mantissa"), number::<u32>(v, "scale"));
        let value = rust_decimal::Decimal::try_from_i128_with_scale(mantissa, scale)
            .expect("every vector is a Decimal");
        check_plaintext(v, Some(value));
        let read = rust_decimal::Decimal::from_plaintext(v.bytes("plaintext")).unwrap();
        assert_eq!((read.mantissa(), read.scale()), (mantissa, scale));
    }
}

#[test]
fn every_rejected_vector_is_refused_by_every_type_of_its_kind() {
    fn refused<T: Plaintext>(v: &Vector) {
        assert!(
            matches!(
                T::from_plaintext(v.bytes("plaintext")),
                Err(Error::InvalidPlaintext { .. })
            ),
            "`{}` must be refused by {}",
            v.name,
            std::any::type_name::<T>()
        );
    }
    for v in of_kind(&parse(PLAINTEXT_V1), "rejected") {
        match v.text("type") {
            "date" => {
                refused::<chrono::NaiveDate>(v);
                refused::<time::Date>(v);
            }
            "date_time" => {
                refused::<chrono::NaiveDateTime>(v);
                refused::<time::PrimitiveDateTime>(v);
            }
            "utc_date_time" => {
                refused::<chrono::DateTime<chrono::Utc>>(v);
                refused::<time::OffsetDateTime>(v);
            }
            "uuid" => refused::<uuid::Uuid>(v),
            "decimal" => refused::<rust_decimal::Decimal>(v),
            other => panic!("vector `{}`: unknown type `{other}`", v.name),
        }
    }
}
