//! The text form of dates and date-times (FORMAT.md, "Plaintext encodings"), written once for the
//! `chrono` and `time` features, so that a value of either crate encodes to the same bytes as the
//! same value of the other.

/// A date of the proleptic Gregorian calendar, year 0 being 1 BC (as both crates count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CivilDate {
    pub(crate) year: i32,
    /// 1 to 12.
    pub(crate) month: u8,
    /// 1 to 31.
    pub(crate) day: u8,
}

/// A time of day; `second` is 60 only for a leap second (which `chrono` can hold and `time`
/// cannot); `nanosecond` is below 10⁹.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClockTime {
    pub(crate) hour: u8,
    pub(crate) minute: u8,
    pub(crate) second: u8,
    pub(crate) nanosecond: u32,
}

/// Whether a date-time carries the `Z` of a UTC instant, or is a local (naive) date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// `NaiveDateTime`, `PrimitiveDateTime`: no suffix.
    Local,
    /// `DateTime<Utc>`, `OffsetDateTime` (normalised to UTC): the suffix `Z`.
    Utc,
}

/// What a date reader expects, for [`Error::InvalidPlaintext`](crate::Error::InvalidPlaintext).
pub(crate) const EXPECTED_DATE: &str = "ISO 8601 date (YYYY-MM-DD)";
/// What a naive date-time reader expects.
pub(crate) const EXPECTED_DATE_TIME: &str = "ISO 8601 date-time (YYYY-MM-DDTHH:MM:SS.nnnnnnnnn)";
/// What a UTC date-time reader expects.
pub(crate) const EXPECTED_UTC: &str = "RFC 3339 UTC date-time (YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ)";

/// `YYYY-MM-DD`; a year outside 0..=9999 gets a sign and at least four digits (`-0001`,
/// `+10000`).
pub(crate) fn encode_date(date: CivilDate) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    write_date(&mut out, date);
    out
}

fn write_date(out: &mut Vec<u8>, date: CivilDate) {
    let year = date.year;
    let digits = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:04}", year.unsigned_abs())
    } else {
        format!("+{year:04}")
    };
    out.extend_from_slice(digits.as_bytes());
    out.extend_from_slice(format!("-{:02}-{:02}", date.month, date.day).as_bytes());
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn`, always nine fractional digits, then `Z` for a UTC instant.
pub(crate) fn encode_date_time(date: CivilDate, time: ClockTime, zone: Zone) -> Vec<u8> {
    let mut out = Vec::with_capacity(30);
    write_date(&mut out, date);
    out.extend_from_slice(
        format!(
            "T{:02}:{:02}:{:02}.{:09}",
            time.hour, time.minute, time.second, time.nanosecond
        )
        .as_bytes(),
    );
    if zone == Zone::Utc {
        out.push(b'Z');
    }
    out
}

/// Reads what [`encode_date`] writes, and nothing after it. Only the shape is checked here (the
/// month and day ranges are the calendar crate's to check); the caller re-encodes the value and
/// compares, so non-canonical forms (`+0001`, `-0000`) are rejected there.
pub(crate) fn decode_date(bytes: &[u8]) -> Option<CivilDate> {
    let (date, rest) = split_date(bytes)?;
    rest.is_empty().then_some(date)
}

/// Reads what [`encode_date_time`] writes for `zone`.
pub(crate) fn decode_date_time(bytes: &[u8], zone: Zone) -> Option<(CivilDate, ClockTime)> {
    let (date, rest) = split_date(bytes)?;
    let rest = match zone {
        Zone::Local => rest,
        Zone::Utc => rest.strip_suffix(b"Z")?,
    };
    // `THH:MM:SS.nnnnnnnnn`
    let [
        b'T',
        h1,
        h2,
        b':',
        m1,
        m2,
        b':',
        s1,
        s2,
        b'.',
        fraction @ ..,
    ] = rest
    else {
        return None;
    };
    if fraction.len() != 9 {
        return None;
    }
    let time = ClockTime {
        hour: u8::try_from(digits(&[*h1, *h2])?).ok()?,
        minute: u8::try_from(digits(&[*m1, *m2])?).ok()?,
        second: u8::try_from(digits(&[*s1, *s2])?).ok()?,
        nanosecond: u32::try_from(digits(fraction)?).ok()?,
    };
    Some((date, time))
}

/// A date at the start of `bytes`, and what follows it.
fn split_date(bytes: &[u8]) -> Option<(CivilDate, &[u8])> {
    let (negative, unsigned) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    let year_len = unsigned.iter().position(|b| *b == b'-')?;
    // Four to nine digits: every year either crate can hold, and no overflow of an i32.
    if !(4..=9).contains(&year_len) {
        return None;
    }
    let year = i32::try_from(digits(&unsigned[..year_len])?).ok()?;
    let [b'-', mo1, mo2, b'-', d1, d2, rest @ ..] = &unsigned[year_len..] else {
        return None;
    };
    let date = CivilDate {
        year: if negative { -year } else { year },
        month: u8::try_from(digits(&[*mo1, *mo2])?).ok()?,
        day: u8::try_from(digits(&[*d1, *d2])?).ok()?,
    };
    Some((date, rest))
}

/// The value of a run of ASCII digits (at most nine, so it cannot overflow).
fn digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    bytes.iter().try_fold(0_u64, |value, b| {
        b.is_ascii_digit().then(|| value * 10 + u64::from(b - b'0'))
    })
}

/// The civil date and time of day, in UTC, of `nanos` nanoseconds after 1970-01-01T00:00:00Z;
/// never fails, whatever the year (for an `OffsetDateTime` whose UTC form leaves `time`'s range).
#[cfg(feature = "time")]
pub(crate) fn utc_from_unix_nanos(nanos: i128) -> (CivilDate, ClockTime) {
    const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;
    let days = nanos.div_euclid(NANOS_PER_DAY);
    let of_day = nanos.rem_euclid(NANOS_PER_DAY);
    // `of_day` is below 86 400 · 10⁹, so each part fits its type.
    let seconds = (of_day / 1_000_000_000) as u32;
    let time = ClockTime {
        hour: (seconds / 3600) as u8,
        minute: (seconds / 60 % 60) as u8,
        second: (seconds % 60) as u8,
        nanosecond: (of_day % 1_000_000_000) as u32,
    };
    (civil_from_days(days), time)
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date `days` after 1970-01-01.
#[cfg(feature = "time")]
fn civil_from_days(days: i128) -> CivilDate {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i128::from(month <= 2);
    CivilDate {
        // An `OffsetDateTime` is within a day of `time`'s range, far inside an i32.
        year: year as i32,
        month,
        day,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8) -> CivilDate {
        CivilDate { year, month, day }
    }

    #[test]
    fn years_outside_four_digits_get_a_sign() {
        for (year, text) in [
            (0, "0000-01-02"),
            (9999, "9999-01-02"),
            (-1, "-0001-01-02"),
            (10_000, "+10000-01-02"),
            (-262_143, "-262143-01-02"),
        ] {
            assert_eq!(encode_date(date(year, 1, 2)), text.as_bytes());
            assert_eq!(decode_date(text.as_bytes()), Some(date(year, 1, 2)));
        }
    }

    #[test]
    fn date_times_have_nine_fraction_digits_and_utc_ones_a_z() {
        let time = ClockTime {
            hour: 1,
            minute: 2,
            second: 3,
            nanosecond: 4,
        };
        let local = encode_date_time(date(2024, 2, 29), time, Zone::Local);
        assert_eq!(local, b"2024-02-29T01:02:03.000000004");
        let utc = encode_date_time(date(2024, 2, 29), time, Zone::Utc);
        assert_eq!(utc, b"2024-02-29T01:02:03.000000004Z");
        assert_eq!(
            decode_date_time(&utc, Zone::Utc),
            Some((date(2024, 2, 29), time))
        );
        assert_eq!(decode_date_time(&utc, Zone::Local), None);
        assert_eq!(decode_date_time(&local, Zone::Utc), None);
    }

    #[test]
    fn malformed_text_is_rejected_without_panic() {
        for bad in [
            &b""[..],
            b"-",
            b"+",
            b"2024",
            b"2024-1-01",
            b"2024-01-01T",
            b"2024-01-01 00:00:00.000000000",
            b"2024-01-01T00:00:00",
            b"2024-01-01T00:00:00.0000000000",
            b"2024-01-01T0a:00:00.000000000",
            b"9999999999-01-01",
            b"\xff\xfe",
        ] {
            assert_eq!(decode_date(bad), None, "{bad:?}");
            assert_eq!(decode_date_time(bad, Zone::Local), None, "{bad:?}");
            assert_eq!(decode_date_time(bad, Zone::Utc), None, "{bad:?}");
        }
    }

    #[cfg(feature = "time")]
    #[test]
    fn unix_nanos_map_to_the_civil_date() {
        assert_eq!(
            utc_from_unix_nanos(0),
            (
                date(1970, 1, 1),
                ClockTime {
                    hour: 0,
                    minute: 0,
                    second: 0,
                    nanosecond: 0
                }
            )
        );
        // 2000-03-01T00:00:00Z, just after a 400-year leap day, and one nanosecond before it.
        assert_eq!(
            utc_from_unix_nanos(951_868_800_000_000_000).0,
            date(2000, 3, 1)
        );
        assert_eq!(
            utc_from_unix_nanos(951_868_799_999_999_999),
            (
                date(2000, 2, 29),
                ClockTime {
                    hour: 23,
                    minute: 59,
                    second: 59,
                    nanosecond: 999_999_999
                }
            )
        );
        assert_eq!(utc_from_unix_nanos(-1).0, date(1969, 12, 31));
    }
}
