//! [`Plaintext`]: the Rust types a decrypted value can be read into, and how each is turned into
//! the bytes that get encrypted.

use std::borrow::Cow;

use crate::error::{Error, Result};

#[cfg(any(feature = "chrono", feature = "time"))]
mod calendar;
#[cfg(feature = "chrono")]
mod chrono;
#[cfg(feature = "rust_decimal")]
mod decimal;
#[cfg(feature = "time")]
mod time;
#[cfg(feature = "uuid")]
mod uuid;

/// A type that can be encrypted: it turns itself into bytes, and back.
///
/// Implemented for `String`, `Vec<u8>`, the integer types and `bool`, and behind features of the
/// same names for `chrono`'s `NaiveDate`, `NaiveDateTime` and `DateTime<Utc>`, `time`'s `Date`,
/// `PrimitiveDateTime` and `OffsetDateTime`, `uuid::Uuid` and `rust_decimal::Decimal`. The byte
/// form is part of the stored format (FORMAT.md, "Plaintext encodings"), so it never changes:
/// strings are UTF-8, byte vectors are themselves, integers are their decimal text (so that a
/// column can move between `String` and an integer type), `bool` is `true`/`false`, dates are
/// ISO 8601 text (`2024-02-29`, `2024-02-29T13:45:07.250000000`, with `Z` for a UTC instant; a
/// `chrono` value and the `time` value of the same date or instant are the same bytes), a UUID
/// is its lowercase hyphenated text and a decimal its plain text with its scale. Dates, UUIDs and
/// decimals read back only the exact bytes they write.
///
/// ```
/// use encrypted_field::Plaintext;
/// assert_eq!(42_i64.to_plaintext().as_ref(), b"42");
/// assert_eq!(i64::from_plaintext(b"42".to_vec())?, 42);
/// assert!(i64::from_plaintext(b"forty-two".to_vec()).is_err());
/// # Ok::<(), encrypted_field::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be encrypted: it does not implement `encrypted_field::Plaintext`",
    label = "not a plaintext type",
    note = "plaintext types are `String`, `Vec<u8>`, the integer types, `bool`, dates, UUIDs and decimals (features `chrono`, `time`, `uuid`, `rust_decimal`), and types that implement `Plaintext`"
)]
pub trait Plaintext: Sized {
    /// The bytes that are encrypted.
    fn to_plaintext(&self) -> Cow<'_, [u8]>;
    /// Reads decrypted bytes back; fails with [`Error::InvalidPlaintext`] when they do not form a
    /// value of this type.
    fn from_plaintext(bytes: Vec<u8>) -> Result<Self>;
}

impl Plaintext for Vec<u8> {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        Ok(bytes)
    }
}

impl Plaintext for String {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        string_from_plaintext(bytes)
    }
}

impl Plaintext for bool {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(if *self { b"true" } else { b"false" })
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        match bytes.as_slice() {
            b"true" => Ok(true),
            b"false" => Ok(false),
            _ => Err(Error::InvalidPlaintext {
                expected: "bool (`true` or `false`)",
            }),
        }
    }
}

macro_rules! integer_plaintext {
    ($($ty:ty),*) => {$(
        impl Plaintext for $ty {
            fn to_plaintext(&self) -> Cow<'_, [u8]> {
                Cow::Owned(self.to_string().into_bytes())
            }

            fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
                std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .ok_or(Error::InvalidPlaintext { expected: concat!("decimal ", stringify!($ty)) })
            }
        }
    )*};
}

integer_plaintext!(i16, i32, i64, u16, u32, u64);

/// `value` if `bytes` are exactly its encoding, else [`Error::InvalidPlaintext`]: the types whose
/// text has a single canonical form (dates, UUIDs, decimals) read back only that form, so that
/// one value is one byte string, forever.
#[cfg(any(
    feature = "chrono",
    feature = "time",
    feature = "uuid",
    feature = "rust_decimal"
))]
fn canonical<T: Plaintext>(value: Option<T>, bytes: &[u8], expected: &'static str) -> Result<T> {
    match value {
        Some(value) if value.to_plaintext().as_ref() == bytes => Ok(value),
        _ => Err(Error::InvalidPlaintext { expected }),
    }
}

/// The plaintext as a `String`, or [`Error::InvalidPlaintext`] (the bytes wiped) when it is not
/// UTF-8.
pub(crate) fn string_from_plaintext(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        // The plaintext is secret: wipe it before dropping the error.
        let mut bytes = e.into_bytes();
        zeroize::Zeroize::zeroize(&mut bytes);
        Error::InvalidPlaintext {
            expected: "UTF-8 string",
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_reject_invalid_utf8() {
        assert_eq!(
            String::from_plaintext("Zoë".as_bytes().to_vec()).unwrap(),
            "Zoë"
        );
        assert!(matches!(
            String::from_plaintext(vec![0xff]),
            Err(Error::InvalidPlaintext { .. })
        ));
    }

    #[test]
    fn integers_round_trip_at_their_limits() {
        for v in [i64::MIN, -1, 0, i64::MAX] {
            assert_eq!(
                i64::from_plaintext(v.to_plaintext().into_owned()).unwrap(),
                v
            );
        }
        assert!(u16::from_plaintext(b"70000".to_vec()).is_err());
    }

    #[test]
    fn bools_round_trip() {
        assert!(bool::from_plaintext(true.to_plaintext().into_owned()).unwrap());
        assert!(bool::from_plaintext(b"yes".to_vec()).is_err());
    }
}
