//! The stored event: the only shape storage accepts.
//!
//! Every text field is [`Clean`] (scrubbed) and there is no field for an IP, a raw header or
//! unscrubbed text — so code that tries to hand those to storage does not compile (P11).

use obscura_privacy::{Clean, VisitorHash};

use crate::frequency::{DaysSinceLast, VisitCount};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Pageview,
    Custom,
    Engagement,
}

impl EventKind {
    pub fn code(self) -> u8 {
        match self {
            EventKind::Pageview => 0,
            EventKind::Custom => 1,
            EventKind::Engagement => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(EventKind::Pageview),
            1 => Some(EventKind::Custom),
            2 => Some(EventKind::Engagement),
            _ => None,
        }
    }
}

/// Screen width classes: the width itself is finer than analytics needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScreenClass {
    Mobile,
    Tablet,
    Laptop,
    Desktop,
}

impl ScreenClass {
    pub fn from_width(width: u32) -> Self {
        match width {
            0..576 => ScreenClass::Mobile,
            576..992 => ScreenClass::Tablet,
            992..1440 => ScreenClass::Laptop,
            _ => ScreenClass::Desktop,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScreenClass::Mobile => "mobile",
            ScreenClass::Tablet => "tablet",
            ScreenClass::Laptop => "laptop",
            ScreenClass::Desktop => "desktop",
        }
    }
}

/// One desensitized event. Built only by the ingest pipeline's desensitize step.
#[derive(Clone, Debug)]
pub struct Event {
    /// Milliseconds since the Unix epoch, UTC.
    pub ts_ms: i64,
    pub site: u32,
    pub kind: EventKind,
    pub visitor: VisitorHash,
    /// Visit id: a visit ends after 30 minutes without activity.
    pub visit: u64,
    /// Position of this pageview within its visit (1 = entry page); 0 for non-pageviews.
    pub visit_seq: u16,
    /// Milliseconds since the previous event of the same visit (0 for its first event): summed
    /// over a visit it is the visit's duration, so durations need no grouping by visit.
    pub visit_gap_ms: u32,
    pub path: Clean,
    /// The previous page of the same visit (behaviour flow).
    pub prev_path: Option<Clean>,
    pub referrer_host: Option<Clean>,
    /// Source category: direct, search, social, campaign, other.
    pub source: &'static str,
    pub utm_source: Option<Clean>,
    pub utm_medium: Option<Clean>,
    pub utm_campaign: Option<Clean>,
    pub name: Option<Clean>,
    pub props: Vec<(Clean, Clean)>,
    pub continent: Option<&'static str>,
    pub country: Option<Clean>,
    pub province: Option<Clean>,
    pub network: Option<Clean>,
    pub browser: Option<Clean>,
    pub browser_version: Option<Clean>,
    pub os: Option<Clean>,
    pub os_version: Option<Clean>,
    pub device_type: &'static str,
    pub device_brand: Option<Clean>,
    pub device_model: Option<Clean>,
    pub screen: Option<ScreenClass>,
    pub returning: Option<bool>,
    pub days_since_last: Option<DaysSinceLast>,
    pub visit_count: Option<VisitCount>,
    pub engaged_ms: Option<u32>,
}
