//! Visit-frequency buckets the tracker sends instead of any identifier.
//!
//! The browser keeps only its last visit day and a capped visit count; it reports buckets, so the
//! server learns "returning, 2–7 days since last visit, 4–9 visits" and nothing that singles out a
//! person.

/// Days since the previous visit, bucketed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DaysSinceLast {
    /// `0`: the previous visit was earlier the same day.
    SameDay,
    /// `1`: the previous visit was the day before.
    One,
    /// `2-7` days.
    TwoToSeven,
    /// `8-30` days.
    EightToThirty,
    /// `31+`: more than thirty days.
    MoreThanThirty,
}

impl DaysSinceLast {
    /// Every bucket, shortest gap first.
    pub const ALL: [DaysSinceLast; 5] =
        [Self::SameDay, Self::One, Self::TwoToSeven, Self::EightToThirty, Self::MoreThanThirty];

    /// The bucket's name in the ingest API and in storage: `0`, `1`, `2-7`, `8-30` or `31+`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SameDay => "0",
            Self::One => "1",
            Self::TwoToSeven => "2-7",
            Self::EightToThirty => "8-30",
            Self::MoreThanThirty => "31+",
        }
    }

    /// The bucket named `s` (as [`as_str`](Self::as_str) writes it); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

/// Visits so far (including this one), bucketed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VisitCount {
    /// `1`: the first visit.
    First,
    /// `2-3` visits.
    TwoToThree,
    /// `4-9` visits.
    FourToNine,
    /// `10+`: ten visits or more.
    TenOrMore,
}

impl VisitCount {
    /// Every bucket, fewest visits first.
    pub const ALL: [VisitCount; 4] = [Self::First, Self::TwoToThree, Self::FourToNine, Self::TenOrMore];

    /// The bucket's name in the ingest API and in storage: `1`, `2-3`, `4-9` or `10+`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::First => "1",
            Self::TwoToThree => "2-3",
            Self::FourToNine => "4-9",
            Self::TenOrMore => "10+",
        }
    }

    /// The bucket named `s` (as [`as_str`](Self::as_str) writes it); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_buckets_round_trip() {
        for b in DaysSinceLast::ALL {
            assert_eq!(DaysSinceLast::parse(b.as_str()), Some(b));
        }
        for b in VisitCount::ALL {
            assert_eq!(VisitCount::parse(b.as_str()), Some(b));
        }
        assert_eq!(VisitCount::parse("7"), None);
    }
}
