//! `time`'s `Date`, `PrimitiveDateTime` and `OffsetDateTime` as plaintexts (feature `time`), in the
//! text form of [`calendar`](super::calendar): the same bytes as `chrono`'s types for the same
//! value.

use std::borrow::Cow;

use ::time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::calendar::{
    self, CivilDate, ClockTime, EXPECTED_DATE, EXPECTED_DATE_TIME, EXPECTED_UTC, Zone,
};
use super::{Plaintext, canonical};
use crate::error::Result;

fn civil_date(date: Date) -> CivilDate {
    CivilDate {
        year: date.year(),
        month: date.month().into(),
        day: date.day(),
    }
}

fn clock_time(time: Time) -> ClockTime {
    ClockTime {
        hour: time.hour(),
        minute: time.minute(),
        second: time.second(),
        nanosecond: time.nanosecond(),
    }
}

fn date(date: CivilDate) -> Option<Date> {
    let month = Month::try_from(date.month).ok()?;
    Date::from_calendar_date(date.year, month, date.day).ok()
}

/// `time` has no leap seconds: second 60 is rejected here.
fn date_time((civil, clock): (CivilDate, ClockTime)) -> Option<PrimitiveDateTime> {
    let time =
        Time::from_hms_nano(clock.hour, clock.minute, clock.second, clock.nanosecond).ok()?;
    Some(PrimitiveDateTime::new(date(civil)?, time))
}

impl Plaintext for Date {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        Cow::Owned(calendar::encode_date(civil_date(*self)))
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        canonical(
            calendar::decode_date(&bytes).and_then(date),
            &bytes,
            EXPECTED_DATE,
        )
    }
}

impl Plaintext for PrimitiveDateTime {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        Cow::Owned(calendar::encode_date_time(
            civil_date(self.date()),
            clock_time(self.time()),
            Zone::Local,
        ))
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        let value = calendar::decode_date_time(&bytes, Zone::Local).and_then(date_time);
        canonical(value, &bytes, EXPECTED_DATE_TIME)
    }
}

/// The instant in UTC: the offset is not stored, so a value read back is at offset zero (and
/// equal, as `OffsetDateTime` compares instants, to the value written).
impl Plaintext for OffsetDateTime {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        // From the Unix time rather than `to_offset(UTC)`, which panics when the UTC form of a
        // value at the edge of `time`'s range falls outside it.
        let (date, time) = calendar::utc_from_unix_nanos(self.unix_timestamp_nanos());
        Cow::Owned(calendar::encode_date_time(date, time, Zone::Utc))
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        let value = calendar::decode_date_time(&bytes, Zone::Utc)
            .and_then(date_time)
            .map(PrimitiveDateTime::assume_utc);
        canonical(value, &bytes, EXPECTED_UTC)
    }
}

#[cfg(test)]
mod tests {
    use ::time::UtcOffset;

    use super::*;

    fn ymd(year: i32, month: u8, day: u8) -> Date {
        Date::from_calendar_date(year, Month::try_from(month).unwrap(), day).unwrap()
    }

    fn round_trip<T: Plaintext + PartialEq + std::fmt::Debug>(value: T, text: &str) {
        assert_eq!(value.to_plaintext().as_ref(), text.as_bytes());
        assert_eq!(T::from_plaintext(text.as_bytes().to_vec()).unwrap(), value);
    }

    #[test]
    fn dates_round_trip_across_the_whole_range() {
        round_trip(ymd(2024, 2, 29), "2024-02-29");
        round_trip(Date::MIN, "-9999-01-01");
        round_trip(Date::MAX, "9999-12-31");
        assert!(Date::from_plaintext(b"+10000-01-01".to_vec()).is_err());
    }

    #[test]
    fn offset_date_times_are_stored_in_utc() {
        let time = Time::from_hms_nano(13, 45, 7, 250_000_000).unwrap();
        let local = PrimitiveDateTime::new(ymd(2024, 2, 29), time);
        round_trip(local, "2024-02-29T13:45:07.250000000");
        let at_plus_two = local.assume_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(
            at_plus_two.to_plaintext().as_ref(),
            b"2024-02-29T11:45:07.250000000Z"
        );
        let read = OffsetDateTime::from_plaintext(at_plus_two.to_plaintext().into_owned()).unwrap();
        assert_eq!(read, at_plus_two);
        assert_eq!(read.offset(), UtcOffset::UTC);
    }

    #[test]
    fn an_instant_beyond_the_range_in_utc_encodes_without_panic() {
        let last = PrimitiveDateTime::new(Date::MAX, Time::from_hms(23, 0, 0).unwrap())
            .assume_offset(UtcOffset::from_hms(-2, 0, 0).unwrap());
        assert_eq!(
            last.to_plaintext().as_ref(),
            b"+10000-01-01T01:00:00.000000000Z"
        );
        assert!(OffsetDateTime::from_plaintext(last.to_plaintext().into_owned()).is_err());
    }

    #[test]
    fn leap_seconds_and_other_forms_are_rejected() {
        for bad in [
            &b"2016-12-31T23:59:60.000000000"[..],
            b"2016-12-31T23:59:59.000000000Z",
            b"2016-12-31T23:59:59",
            b"2016-12-31T24:00:00.000000000",
        ] {
            assert!(
                PrimitiveDateTime::from_plaintext(bad.to_vec()).is_err(),
                "{bad:?}"
            );
        }
        assert!(
            OffsetDateTime::from_plaintext(b"2016-12-31T23:59:60.000000000Z".to_vec()).is_err()
        );
    }
}
