//! The decoded hit, before the privacy boundary. Holds the IP and raw text: never stored.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::event::EventKind;
use crate::frequency::{DaysSinceLast, VisitCount};
use crate::measure::Metric;

/// A scalar custom-event property value as it arrived.
#[derive(Clone, Debug, PartialEq)]
pub enum PropValue {
    /// A string.
    Text(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

impl PropValue {
    /// The value as text, for scrubbing and storage.
    pub fn to_text(&self) -> String {
        match self {
            PropValue::Text(s) => s.clone(),
            PropValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            PropValue::Number(n) => n.to_string(),
            PropValue::Bool(b) => b.to_string(),
        }
    }
}

/// Raw request headers that enrichment reads (User-Agent and UA Client Hints).
#[derive(Clone, Debug, Default)]
pub struct RawHeaders {
    /// The `User-Agent` header; empty when absent.
    pub user_agent: String,
    /// The `Sec-CH-UA` header: browser brands and major versions.
    pub ch_ua: Option<String>,
    /// The `Sec-CH-UA-Mobile` header (`?1` on mobile devices).
    pub ch_ua_mobile: Option<String>,
    /// The `Sec-CH-UA-Platform` header: the operating system.
    pub ch_ua_platform: Option<String>,
    /// The `Sec-CH-UA-Model` header: the device model.
    pub ch_ua_model: Option<String>,
    /// The `Sec-CH-UA-Platform-Version` header: the operating system's version.
    pub ch_ua_platform_version: Option<String>,
}

/// One hit from any protocol, as decoded. Contains personal data (the IP, raw URLs and text).
#[derive(Clone, Debug)]
pub struct RawHit {
    /// When the server received it: the event's time (clients' clocks are not trusted).
    pub received_at: OffsetDateTime,
    /// The site's id; 0 until the caller has resolved the site's domain.
    pub site: u32,
    /// The client's address, used in memory only for geo, network operator and the visitor hash.
    pub ip: IpAddr,
    /// The request headers enrichment reads.
    pub headers: RawHeaders,
    /// What the hit records.
    pub kind: EventKind,
    /// Custom event name (kind `Custom`).
    pub name: Option<String>,
    /// The page URL as sent, query and fragment included: may hold personal data.
    pub url: String,
    /// The referrer URL as sent; `None` when absent, empty or not collected.
    pub referrer: Option<String>,
    /// Custom-event properties as sent, as (key, value) pairs.
    pub props: Vec<(String, PropValue)>,
    /// The screen width in pixels as sent; `None` when absent or not collected.
    pub screen_width: Option<u32>,
    /// Engaged time on the page in milliseconds (at most a day); required for engagement hits.
    pub engaged_ms: Option<u32>,
    /// The tracker's report that the browser has visited the site before.
    pub returning: Option<bool>,
    /// Days since the browser's previous visit, bucketed by the tracker.
    pub days_since_last: Option<DaysSinceLast>,
    /// Visits so far by this browser, bucketed by the tracker.
    pub visit_count: Option<VisitCount>,
    /// The measurements a speed beacon carries (kind `Measure`); empty for other kinds.
    pub measures: Vec<RawMeasure>,
    /// What an application reported of its device, in place of what a User-Agent tells.
    pub app_device: Option<AppDevice>,
}

/// The device an application runs on, as its SDK reports it (text as sent: scrubbed later).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppDevice {
    /// The application's version, e.g. `2.3.1`.
    pub app_version: Option<String>,
    /// Operating system name, e.g. `macOS`, `Windows`, `Linux`.
    pub os: Option<String>,
    /// Operating system version.
    pub os_version: Option<String>,
    /// Device model, e.g. `MacBookPro18,3`.
    pub model: Option<String>,
    /// `desktop`, `mobile` or `tablet`.
    pub device_type: Option<String>,
}

/// One measurement as decoded, with its labels (provider, protocol, span name, …) as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct RawMeasure {
    /// What it measures.
    pub metric: Metric,
    /// Its value, already checked with [`Metric::accepts`].
    pub value: f64,
    /// Labels as (key, value) text: keys are fixed by the decoder, values may be input.
    pub labels: Vec<(&'static str, String)>,
}
