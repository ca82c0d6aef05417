//! [`Day`]: a calendar day (UTC) with its `YYYY-MM-DD` name — the unit of partitions, keys and
//! retention, and the form URLs, paths and the policy page use.

use std::fmt;
use std::str::FromStr;

use time::Date;

/// A UTC calendar day, written and parsed as `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub Date);

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
    }
}

/// Text that is not a `YYYY-MM-DD` day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a date (YYYY-MM-DD)")]
pub struct NotADay(pub String);

impl FromStr for Day {
    type Err = NotADay;

    fn from_str(text: &str) -> Result<Self, NotADay> {
        Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
            .map(Day)
            .map_err(|_| NotADay(text.to_owned()))
    }
}

impl From<Date> for Day {
    fn from(date: Date) -> Self {
        Day(date)
    }
}

/// `YYYY-MM-DD` of `day`.
pub fn format_day(day: Date) -> String {
    Day(day).to_string()
}

/// The UTC day of a time in milliseconds since the epoch (`Date::MIN` outside the calendar).
pub fn day_of_ms(ms: i64) -> Date {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_or(Date::MIN, |t| t.date())
}

/// A `YYYY-MM-DD` day; `None` for anything else.
pub fn parse_day(text: &str) -> Option<Date> {
    text.parse::<Day>().ok().map(|d| d.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn day_of_ms_is_the_utc_day_and_min_outside_the_calendar() {
        assert_eq!(day_of_ms(1_772_323_200_000), date!(2026 - 03 - 01));
        assert_eq!(day_of_ms(1_772_323_200_000 - 1), date!(2026 - 02 - 28));
        assert_eq!(day_of_ms(i64::MAX), Date::MIN);
    }

    #[test]
    fn day_names_round_trip() {
        assert_eq!(Day(date!(2026 - 03 - 07)).to_string(), "2026-03-07");
        assert_eq!("2026-03-07".parse::<Day>(), Ok(Day(date!(2026 - 03 - 07))));
        assert_eq!(format_day(date!(0999 - 12 - 31)), "0999-12-31");
        assert_eq!(parse_day("2026-03-07"), Some(date!(2026 - 03 - 07)));
        for bad in ["2026-3-7", "2026-02-30", "", "07.03.2026", "2026-03-07T00"] {
            assert_eq!(bad.parse::<Day>(), Err(NotADay(bad.to_owned())), "{bad}");
        }
    }
}
