//! `chrono`'s `NaiveDate`, `NaiveDateTime` and `DateTime<Utc>` as plaintexts (feature `chrono`), in
//! the text form of [`calendar`](super::calendar).

use std::borrow::Cow;

use ::chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, NaiveTime, Timelike as _, Utc};

use super::calendar::{
    self, CivilDate, ClockTime, EXPECTED_DATE, EXPECTED_DATE_TIME, EXPECTED_UTC, Zone,
};
use super::{Plaintext, canonical};
use crate::error::Result;

fn civil_date(date: NaiveDate) -> CivilDate {
    CivilDate {
        year: date.year(),
        // chrono keeps the month in 1..=12 and the day in 1..=31.
        month: date.month() as u8,
        day: date.day() as u8,
    }
}

fn clock_time(time: NaiveTime) -> ClockTime {
    // chrono holds a leap second as second 59 with 10⁹ nanoseconds or more: written as second 60.
    let (second, nanosecond) = match time.nanosecond().checked_sub(1_000_000_000) {
        Some(nanosecond) => (60, nanosecond),
        None => (time.second() as u8, time.nanosecond()),
    };
    ClockTime {
        hour: time.hour() as u8,
        minute: time.minute() as u8,
        second,
        nanosecond,
    }
}

fn naive_date(date: CivilDate) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(date.year, date.month.into(), date.day.into())
}

fn naive_date_time((date, time): (CivilDate, ClockTime)) -> Option<NaiveDateTime> {
    let (second, nanosecond) = match time.second {
        60 => (59, time.nanosecond.checked_add(1_000_000_000)?),
        second => (second, time.nanosecond),
    };
    let time = NaiveTime::from_hms_nano_opt(
        time.hour.into(),
        time.minute.into(),
        second.into(),
        nanosecond,
    )?;
    Some(naive_date(date)?.and_time(time))
}

impl Plaintext for NaiveDate {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        Cow::Owned(calendar::encode_date(civil_date(*self)))
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        let value = calendar::decode_date(&bytes).and_then(naive_date);
        canonical(value, &bytes, EXPECTED_DATE)
    }
}

impl Plaintext for NaiveDateTime {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        Cow::Owned(calendar::encode_date_time(
            civil_date(self.date()),
            clock_time(self.time()),
            Zone::Local,
        ))
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        let value = calendar::decode_date_time(&bytes, Zone::Local).and_then(naive_date_time);
        canonical(value, &bytes, EXPECTED_DATE_TIME)
    }
}

impl Plaintext for DateTime<Utc> {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        let utc = self.naive_utc();
        Cow::Owned(calendar::encode_date_time(
            civil_date(utc.date()),
            clock_time(utc.time()),
            Zone::Utc,
        ))
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        let value = calendar::decode_date_time(&bytes, Zone::Utc)
            .and_then(naive_date_time)
            .map(|naive| naive.and_utc());
        canonical(value, &bytes, EXPECTED_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn round_trip<T: Plaintext + PartialEq + std::fmt::Debug>(value: T, text: &str) {
        assert_eq!(value.to_plaintext().as_ref(), text.as_bytes());
        assert_eq!(T::from_plaintext(text.as_bytes().to_vec()).unwrap(), value);
    }

    #[test]
    fn dates_round_trip_across_the_whole_range() {
        round_trip(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(), "2024-02-29");
        round_trip(NaiveDate::MIN, "-262143-01-01");
        round_trip(NaiveDate::MAX, "+262142-12-31");
    }

    #[test]
    fn date_times_keep_every_nanosecond() {
        let value = NaiveDate::from_ymd_opt(1999, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 999_999_999)
            .unwrap();
        round_trip(value, "1999-12-31T23:59:59.999999999");
        round_trip(value.and_utc(), "1999-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn a_leap_second_is_second_sixty() {
        let value = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap();
        round_trip(value, "2016-12-31T23:59:60.500000000");
        // chrono accepts a leap second at the end of any minute, and no second 61.
        assert!(NaiveDateTime::from_plaintext(b"2016-12-31T23:58:60.500000000".to_vec()).is_ok());
        assert!(NaiveDateTime::from_plaintext(b"2016-12-31T23:59:61.000000000".to_vec()).is_err());
    }

    #[test]
    fn other_forms_of_the_same_value_are_rejected() {
        for bad in [
            "2024-2-29",
            "+2024-02-29",
            "-0000-01-01",
            "2023-02-29",
            "2024-02-29T00:00:00",
            "2024-02-29 00:00:00.000000000",
        ] {
            assert!(
                matches!(
                    NaiveDate::from_plaintext(bad.into()),
                    Err(Error::InvalidPlaintext { .. })
                ),
                "{bad}"
            );
            assert!(NaiveDateTime::from_plaintext(bad.into()).is_err(), "{bad}");
        }
        let utc = b"2024-02-29T00:00:00.000000000Z";
        assert!(NaiveDateTime::from_plaintext(utc.to_vec()).is_err());
        assert!(DateTime::<Utc>::from_plaintext(utc[..utc.len() - 1].to_vec()).is_err());
        assert!(
            DateTime::<Utc>::from_plaintext(b"2024-02-29T00:00:00.000000000+00:00".to_vec())
                .is_err()
        );
    }
}
