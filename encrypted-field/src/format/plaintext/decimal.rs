//! `rust_decimal::Decimal` as a plaintext (feature `rust_decimal`): plain decimal text that keeps
//! the scale (`1.50` stays `1.50`), written from the mantissa and scale by this crate, not by
//! `Decimal`'s `Display`, so that the bytes cannot change with the dependency.

use std::borrow::Cow;

use ::rust_decimal::Decimal;

use super::{Plaintext, canonical};
use crate::error::Result;

/// At most 28 fractional digits and a 96-bit mantissa (29 digits): `Decimal`'s own limits.
const MAX_SCALE: usize = 28;
const MAX_DIGITS: usize = 29;

impl Plaintext for Decimal {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        // `mantissa` of a negative zero is 0: written `0`, with its scale.
        let mantissa = self.mantissa();
        let scale = self.scale() as usize;
        let mut digits = mantissa.unsigned_abs().to_string();
        if digits.len() <= scale {
            digits.insert_str(0, &"0".repeat(scale + 1 - digits.len()));
        }
        let mut text = String::with_capacity(digits.len() + 2);
        if mantissa < 0 {
            text.push('-');
        }
        let (integer, fraction) = digits.split_at(digits.len() - scale);
        text.push_str(integer);
        if scale > 0 {
            text.push('.');
            text.push_str(fraction);
        }
        Cow::Owned(text.into_bytes())
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        canonical(parse(&bytes), &bytes, "decimal text (-?digits[.digits])")
    }
}

/// `-?[0-9]+(\.[0-9]+)?` within `Decimal`'s limits; leading zeros and `-0` are left for
/// `canonical` to reject.
fn parse(bytes: &[u8]) -> Option<Decimal> {
    let (negative, unsigned) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    let (integer, fraction) = match unsigned.iter().position(|b| *b == b'.') {
        Some(dot) => (&unsigned[..dot], Some(&unsigned[dot + 1..])),
        None => (unsigned, None),
    };
    let fraction = match fraction {
        Some([]) => return None,
        Some(fraction) => fraction,
        None => &[],
    };
    if integer.is_empty()
        || fraction.len() > MAX_SCALE
        || integer.len() + fraction.len() > MAX_DIGITS + 1
    {
        return None;
    }
    let magnitude = integer
        .iter()
        .chain(fraction)
        .try_fold(0_i128, |value, b| {
            b.is_ascii_digit()
                .then(|| value * 10 + i128::from(b - b'0'))
        })?;
    let mantissa = if negative { -magnitude } else { magnitude };
    // At most 30 digits fit an i128; `Decimal` checks its own 96-bit limit.
    Decimal::try_from_i128_with_scale(mantissa, fraction.len() as u32).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(mantissa: i128, scale: u32, text: &str) {
        let value = Decimal::from_i128_with_scale(mantissa, scale);
        assert_eq!(value.to_plaintext().as_ref(), text.as_bytes());
        let read = Decimal::from_plaintext(text.into()).unwrap();
        assert_eq!((read.mantissa(), read.scale()), (mantissa, scale));
    }

    #[test]
    fn decimals_keep_their_scale() {
        round_trip(150, 2, "1.50");
        round_trip(-5, 3, "-0.005");
        round_trip(0, 0, "0");
        round_trip(0, 2, "0.00");
        round_trip(42, 0, "42");
        round_trip(Decimal::MAX.mantissa(), 0, "79228162514264337593543950335");
        round_trip(
            Decimal::MIN.mantissa(),
            28,
            "-7.9228162514264337593543950335",
        );
    }

    #[test]
    fn negative_zero_is_written_as_zero() {
        let mut negative_zero = Decimal::new(0, 1);
        negative_zero.set_sign_negative(true);
        assert!(negative_zero.is_sign_negative());
        assert_eq!(negative_zero.to_plaintext().as_ref(), b"0.0");
    }

    #[test]
    fn other_forms_and_out_of_range_values_are_rejected() {
        for bad in [
            "",
            "-",
            ".5",
            "1.",
            "+1",
            "01",
            "-0",
            "-0.00",
            "1e3",
            "1,5",
            " 1",
            "1.5 ",
            "79228162514264337593543950336",
            "0.00000000000000000000000000001",
            "99999999999999999999999999999999999999999",
        ] {
            assert!(Decimal::from_plaintext(bad.into()).is_err(), "{bad}");
        }
    }
}
