//! The stored event: the only shape storage accepts.
//!
//! Every text field is [`Clean`] (scrubbed) and there is no field for an IP, a raw header or
//! unscrubbed text — so code that tries to hand those to storage does not compile (P11).

use obscura_privacy::{Clean, VisitorHash};

use crate::frequency::{DaysSinceLast, VisitCount};
use crate::measure::Metric;

/// What an event records; stored as the number given by [`EventKind::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A page was viewed.
    Pageview,
    /// A named custom event (`"event"` in the ingest API), with optional properties.
    Custom,
    /// Engaged time on a page, sent when the page is hidden; carries `engaged_ms`.
    Engagement,
    /// One speed measurement (a web vital, a CDN timing, an application launch or span);
    /// carries `measure`, its labels in `props`.
    Measure,
    /// One error report (a Sentry SDK's event, the tracker's error part): its issue's
    /// fingerprint in `name`, its scrubbed type, message, frames, release and environment in
    /// `props`. Never counted as a visit, pageview or visitor.
    Error,
    /// A page view, custom event or engagement from a client judged automated or suspicious
    /// (P5): kept apart from people's figures, with the same retention; what it was (`was`:
    /// `pageview`, `event` or `engagement`), the verdict and the strongest reason in `props`, the
    /// custom event's name in `name`. Never counted as a visit, pageview or visitor.
    Automated,
}

impl EventKind {
    /// The stable code stored for this kind: 0 pageview, 1 custom event, 2 engagement, 3
    /// measurement, 4 error, 5 automated. People's figures read codes below 4.
    pub fn code(self) -> u8 {
        match self {
            EventKind::Pageview => 0,
            EventKind::Custom => 1,
            EventKind::Engagement => 2,
            EventKind::Measure => 3,
            EventKind::Error => 4,
            EventKind::Automated => 5,
        }
    }

    /// The kind stored as `code`; `None` for an unknown code.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(EventKind::Pageview),
            1 => Some(EventKind::Custom),
            2 => Some(EventKind::Engagement),
            3 => Some(EventKind::Measure),
            4 => Some(EventKind::Error),
            5 => Some(EventKind::Automated),
            _ => None,
        }
    }
}

/// Screen width classes: the width itself is finer than analytics needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScreenClass {
    /// Narrower than 576 pixels.
    Mobile,
    /// 576 to 991 pixels wide.
    Tablet,
    /// 992 to 1439 pixels wide.
    Laptop,
    /// 1440 pixels wide or more.
    Desktop,
}

impl ScreenClass {
    /// The class of a screen `width` in pixels.
    pub fn from_width(width: u32) -> Self {
        match width {
            0..576 => ScreenClass::Mobile,
            576..992 => ScreenClass::Tablet,
            992..1440 => ScreenClass::Laptop,
            _ => ScreenClass::Desktop,
        }
    }

    /// The stored and displayed name: `mobile`, `tablet`, `laptop` or `desktop`.
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
    /// The site's id.
    pub site: u32,
    /// What the event records.
    pub kind: EventKind,
    /// Daily-salted hash of site, IP and User-Agent: identifies a visitor within one UTC day only.
    pub visitor: VisitorHash,
    /// Visit id: a visit ends after 30 minutes without activity.
    pub visit: u64,
    /// Position of this pageview within its visit (1 = entry page); 0 for non-pageviews.
    pub visit_seq: u16,
    /// Milliseconds since the previous event of the same visit (0 for its first event): summed
    /// over a visit it is the visit's duration, so durations need no grouping by visit.
    pub visit_gap_ms: u32,
    /// The page's path, normalised and scrubbed of personal data (no query string or fragment).
    pub path: Clean,
    /// The previous page of the same visit (behaviour flow).
    pub prev_path: Option<Clean>,
    /// The referring site's host; `None` for direct visits, internal navigation and non-pageviews.
    pub referrer_host: Option<Clean>,
    /// Source category: direct, search, social, campaign, other.
    pub source: &'static str,
    /// The page URL's `utm_source`, or else its `ref` (or `source`) query parameter.
    pub utm_source: Option<Clean>,
    /// The page URL's `utm_medium` query parameter.
    pub utm_medium: Option<Clean>,
    /// The page URL's `utm_campaign` query parameter.
    pub utm_campaign: Option<Clean>,
    /// The custom event's name (kind `Custom`); `None` for other kinds.
    pub name: Option<Clean>,
    /// The custom event's properties as scrubbed (key, value) text pairs.
    pub props: Vec<(Clean, Clean)>,
    /// Two-letter continent code (AF, AN, AS, EU, NA, OC or SA); `None` when unknown or not collected.
    pub continent: Option<&'static str>,
    /// ISO 3166-1 alpha-2 country code; `None` when unknown or not collected.
    pub country: Option<Clean>,
    /// First-level subdivision (state, region, province) name; `None` when unknown or not collected.
    pub province: Option<Clean>,
    /// Network operator (owner of the IP's autonomous system); `None` when unknown or not collected.
    pub network: Option<Clean>,
    /// Browser name; `None` when unknown or not collected.
    pub browser: Option<Clean>,
    /// Browser major version; `None` when unknown or not collected.
    pub browser_version: Option<Clean>,
    /// Operating system name; `None` when unknown or not collected.
    pub os: Option<Clean>,
    /// Operating system version (major, or major.minor for macOS and iOS); `None` when unknown.
    pub os_version: Option<Clean>,
    /// Device type: `desktop`, `mobile`, `tablet` or `unknown`.
    pub device_type: &'static str,
    /// Device manufacturer; `None` when unknown or not collected.
    pub device_brand: Option<Clean>,
    /// Device model code, such as `SM-G991B`; `None` when unknown or not collected.
    pub device_model: Option<Clean>,
    /// Screen width class; `None` when not sent or not collected.
    pub screen: Option<ScreenClass>,
    /// Whether the browser had visited the site before (the tracker's report); `None` when not sent.
    pub returning: Option<bool>,
    /// Days since the browser's previous visit, bucketed; `None` when not sent or not collected.
    pub days_since_last: Option<DaysSinceLast>,
    /// Visits so far by this browser, bucketed; `None` when not sent or not collected.
    pub visit_count: Option<VisitCount>,
    /// Engaged time on the page in milliseconds (at most a day), sent with engagement events.
    pub engaged_ms: Option<u32>,
    /// The measurement of a `Measure` event: which metric and its value (checked against
    /// [`Metric::accepts`] before it got here).
    pub measure: Option<(Metric, f64)>,
}
