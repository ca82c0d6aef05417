//! Days by their `YYYY-MM-DD` name: the unit of partitions, keys and retention, and the form
//! URLs, paths and the policy page use.

use time::Date;

/// `YYYY-MM-DD`.
pub fn format_day(day: Date) -> String {
    format!("{:04}-{:02}-{:02}", day.year(), day.month() as u8, day.day())
}

/// A `YYYY-MM-DD` day; `None` for anything else.
pub fn parse_day(text: &str) -> Option<Date> {
    Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn day_names_round_trip() {
        assert_eq!(format_day(date!(2026 - 03 - 07)), "2026-03-07");
        assert_eq!(parse_day("2026-03-07"), Some(date!(2026 - 03 - 07)));
        for bad in ["2026-3-7", "2026-02-30", "", "07.03.2026", "2026-03-07T00"] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }
}
