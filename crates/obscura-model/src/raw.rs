//! The decoded hit, before the privacy boundary. Holds the IP and raw text: never stored.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::event::EventKind;
use crate::frequency::{DaysSinceLast, VisitCount};

/// A scalar custom-event property value as it arrived.
#[derive(Clone, Debug, PartialEq)]
pub enum PropValue {
    Text(String),
    Number(f64),
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
    pub user_agent: String,
    pub ch_ua: Option<String>,
    pub ch_ua_mobile: Option<String>,
    pub ch_ua_platform: Option<String>,
    pub ch_ua_model: Option<String>,
    pub ch_ua_platform_version: Option<String>,
}

/// One hit from any protocol, as decoded. Contains personal data (the IP, raw URLs and text).
#[derive(Clone, Debug)]
pub struct RawHit {
    /// When the server received it: the event's time (clients' clocks are not trusted).
    pub received_at: OffsetDateTime,
    pub site: u32,
    /// The client's address, used in memory only for geo, network operator and the visitor hash.
    pub ip: IpAddr,
    pub headers: RawHeaders,
    pub kind: EventKind,
    /// Custom event name (kind `Custom`).
    pub name: Option<String>,
    pub url: String,
    pub referrer: Option<String>,
    pub props: Vec<(String, PropValue)>,
    pub screen_width: Option<u32>,
    pub engaged_ms: Option<u32>,
    pub returning: Option<bool>,
    pub days_since_last: Option<DaysSinceLast>,
    pub visit_count: Option<VisitCount>,
}
