//! Protocol decoders. Each turns one protocol's request body into [`obscura_model::RawHit`]s;
//! nothing after decoding knows which protocol a hit came from.

pub mod access_log;
pub mod app;
pub mod batch;
pub mod native;
pub mod pixel;
pub mod plausible;
pub mod sentry;
pub mod umami;
pub mod vitals;

use std::net::IpAddr;

use obscura_model::raw::RawHeaders;
use time::OffsetDateTime;

/// What every decoder gets besides the body: when, from where, with which headers.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// When the server received the request; used as the event's time (client clocks are not trusted).
    pub received_at: OffsetDateTime,
    /// The client's address (after trusted-proxy resolution); used in memory only, never stored.
    pub ip: IpAddr,
    /// The User-Agent and UA Client Hints headers that enrichment reads.
    pub headers: RawHeaders,
    /// `Sec-GPC: 1` or `DNT: 1` was sent.
    pub opted_out: bool,
    /// The JA4 fingerprint of the request's TLS connection, when this server terminated it
    /// (P5: compared with the browser the User-Agent claims); in memory only.
    pub ja4: Option<String>,
}

impl RequestContext {
    /// A hit of `kind` on `url` received in this request, every optional field empty for the
    /// decoder to fill in; its `site` is 0 until the caller resolves the site's domain.
    pub fn hit(&self, kind: obscura_model::EventKind, url: String) -> obscura_model::RawHit {
        obscura_model::RawHit {
            received_at: self.received_at,
            site: 0,
            ip: self.ip,
            headers: self.headers.clone(),
            kind,
            name: None,
            url,
            referrer: None,
            props: Vec::new(),
            screen_width: None,
            engaged_ms: None,
            returning: None,
            days_since_last: None,
            visit_count: None,
            measures: Vec::new(),
            app_device: None,
        }
    }
}

/// A 400 with `msg`, saying what is wrong with the body.
pub(crate) fn bad(msg: impl Into<String>) -> crate::error::IngestError {
    crate::error::IngestError::BadRequest(msg.into())
}

/// The `site` field of a body that requires one: 1 to 253 characters.
pub(crate) fn site_domain(site: String) -> Result<String, crate::error::IngestError> {
    if site.trim().is_empty() || site.len() > 253 {
        return Err(bad("field `site` must have 1 to 253 characters"));
    }
    Ok(site)
}

/// An optional text field of at most `max` bytes: `None` when absent or blank, a 400 naming the
/// field when longer.
pub(crate) fn optional_label(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, crate::error::IngestError> {
    match value {
        Some(v) if v.len() > max => Err(bad(format!("field `{field}` is longer than {max} bytes"))),
        Some(v) if v.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// A request context for decoder tests: noon on 2026-01-01, from 198.51.100.1, no headers.
#[cfg(test)]
pub(crate) fn test_context() -> RequestContext {
    RequestContext {
        received_at: time::macros::datetime!(2026-01-01 12:00 UTC),
        ip: std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 1)),
        headers: Default::default(),
        opted_out: false,
        ja4: None,
    }
}
