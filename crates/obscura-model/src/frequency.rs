//! Visit-frequency buckets the tracker sends instead of any identifier.
//!
//! The browser keeps only its last visit day and a capped visit count; it reports buckets, so the
//! server learns "returning, 2–7 days since last visit, 4–9 visits" and nothing that singles out a
//! person.

/// Days since the previous visit, bucketed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DaysSinceLast {
    SameDay,
    One,
    TwoToSeven,
    EightToThirty,
    MoreThanThirty,
}

impl DaysSinceLast {
    pub const ALL: [DaysSinceLast; 5] =
        [Self::SameDay, Self::One, Self::TwoToSeven, Self::EightToThirty, Self::MoreThanThirty];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SameDay => "0",
            Self::One => "1",
            Self::TwoToSeven => "2-7",
            Self::EightToThirty => "8-30",
            Self::MoreThanThirty => "31+",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

/// Visits so far (including this one), bucketed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VisitCount {
    First,
    TwoToThree,
    FourToNine,
    TenOrMore,
}

impl VisitCount {
    pub const ALL: [VisitCount; 4] = [Self::First, Self::TwoToThree, Self::FourToNine, Self::TenOrMore];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::First => "1",
            Self::TwoToThree => "2-3",
            Self::FourToNine => "4-9",
            Self::TenOrMore => "10+",
        }
    }

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
