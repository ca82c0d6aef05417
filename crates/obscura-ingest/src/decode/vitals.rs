//! The speed beacon (`POST /api/vitals`): one per page, sent by the tracker's performance part
//! when the page is hidden. Documented in `docs/performance.md`.
//!
//! Rules for bad input: a body that is not the documented JSON, an unknown field or metric, or
//! more than [`MAX_CDN_ENTRIES`] CDN entries is refused with 400 and a message naming it. A
//! value that is negative or beyond its metric's range (timings over ten minutes) is a
//! measuring fault of one browser, not a broken client: that measurement is dropped and
//! counted, the rest of the beacon is kept.

use std::collections::BTreeMap;

use obscura_model::measure::Metric;
use obscura_model::{EventKind, RawHit, RawMeasure};
use serde::Deserialize;

use super::{RequestContext, bad};
use crate::error::IngestError;

const MAX_URL: usize = 4096;
/// The most CDN hosts one beacon may describe.
pub const MAX_CDN_ENTRIES: usize = 50;
const MAX_LABEL: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    site: String,
    url: String,
    #[serde(default)]
    automated: bool,
    nav: Option<String>,
    connection: Option<String>,
    #[serde(default)]
    vitals: BTreeMap<String, f64>,
    lcp_element: Option<String>,
    #[serde(default)]
    cdn: Vec<CdnEntry>,
}

/// What the page saw of one host's resources: counts, and mean timings over the resources
/// whose timings the host exposes (`Timing-Allow-Origin`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CdnEntry {
    host: String,
    protocol: Option<String>,
    resources: f64,
    #[serde(default)]
    cache_hits: f64,
    #[serde(default)]
    failures: f64,
    #[serde(default)]
    timing_hidden: f64,
    dns: Option<f64>,
    connect: Option<f64>,
    tls: Option<f64>,
    ttfb: Option<f64>,
    download: Option<f64>,
    bytes: Option<f64>,
    #[serde(default)]
    server_timing: Vec<String>,
}

/// A decoded speed beacon.
pub struct Decoded {
    /// The `site` field: the domain to resolve to a site id.
    pub site_domain: String,
    /// Whether the page reported an automated browser (webdriver, headless).
    pub automated: bool,
    /// The hit, kind [`EventKind::Measure`], its measurements in `measures`. CDN measurements
    /// carry the resource `host` label (and the `server_timing` names joined by commas) until
    /// enrichment names the provider.
    pub hit: RawHit,
    /// Measurements dropped because their values were out of range.
    pub dropped: u64,
}

fn label(field: &str, value: Option<String>) -> Result<Option<String>, IngestError> {
    super::optional_label(field, value, MAX_LABEL)
}

/// Decodes one beacon. `site` in the returned hit is 0 until the caller resolves the domain.
pub fn decode(body: &[u8], ctx: &RequestContext) -> Result<Decoded, IngestError> {
    let body: Body = serde_json::from_slice(body).map_err(|e| bad(format!("invalid speed beacon: {e}")))?;
    let site = super::site_domain(body.site)?;
    if body.url.len() > MAX_URL {
        return Err(bad(format!("field `url` is longer than {MAX_URL} bytes")));
    }
    if body.cdn.len() > MAX_CDN_ENTRIES {
        return Err(bad(format!("at most {MAX_CDN_ENTRIES} entries in `cdn`")));
    }
    let mut measures = Vec::new();
    let mut dropped = 0;
    let mut keep = |metric: Metric, value: f64, labels: Vec<(&'static str, String)>| {
        if metric.accepts(value) {
            measures.push(RawMeasure { metric, value, labels });
        } else {
            dropped += 1;
        }
    };
    let mut page_labels = Vec::new();
    if let Some(nav) = label("nav", body.nav)? {
        page_labels.push(("navigation", nav));
    }
    if let Some(connection) = label("connection", body.connection)? {
        page_labels.push(("connection", connection));
    }
    let lcp_element = label("lcp_element", body.lcp_element)?;
    for (name, value) in body.vitals {
        let metric = Metric::parse(&name)
            .filter(|m| Metric::VITALS.contains(m))
            .ok_or_else(|| bad(format!("unknown vital {name:?} in `vitals`; known: ttfb, fcp, lcp, inp, cls, load")))?;
        let mut labels = page_labels.clone();
        if let (Metric::Lcp, Some(element)) = (metric, &lcp_element) {
            labels.push(("element", element.clone()));
        }
        keep(metric, value, labels);
    }
    for entry in body.cdn {
        if entry.host.is_empty() || entry.host.len() > 253 {
            return Err(bad("a `cdn` entry's `host` must have 1 to 253 characters"));
        }
        let mut labels = vec![("host", entry.host.to_ascii_lowercase())];
        if let Some(protocol) = label("protocol", entry.protocol)? {
            labels.push(("protocol", protocol));
        }
        if !entry.server_timing.is_empty() {
            let names = entry.server_timing.iter().take(20).map(|n| n.as_str()).collect::<Vec<_>>().join(",");
            labels.push(("server_timing", names.chars().take(MAX_LABEL).collect()));
        }
        let counts = [
            (Metric::CdnResources, Some(entry.resources)),
            (Metric::CdnCacheHits, Some(entry.cache_hits)),
            (Metric::CdnFailures, Some(entry.failures)),
            (Metric::CdnTimingHidden, Some(entry.timing_hidden)),
            (Metric::CdnDns, entry.dns),
            (Metric::CdnConnect, entry.connect),
            (Metric::CdnTls, entry.tls),
            (Metric::CdnTtfb, entry.ttfb),
            (Metric::CdnDownload, entry.download),
            (Metric::CdnBytes, entry.bytes),
        ];
        for (metric, value) in counts {
            // Zero counts say nothing a sum needs; timings of 0 are real (a reused connection).
            match value {
                Some(v) if metric.unit() == obscura_model::Unit::Count && v == 0.0 => {}
                Some(v) => keep(metric, v, labels.clone()),
                None => {}
            }
        }
    }
    Ok(Decoded {
        site_domain: site,
        automated: body.automated,
        hit: RawHit { measures, ..ctx.hit(EventKind::Measure, body.url) },
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        super::super::test_context()
    }

    fn metrics(d: &Decoded) -> Vec<(&'static str, f64)> {
        d.hit.measures.iter().map(|m| (m.metric.name(), m.value)).collect()
    }

    #[test]
    fn vitals_beacon_decodes_vitals_and_cdn_entries_with_their_labels() {
        let body = br#"{"site":"example.com","url":"https://example.com/a","nav":"navigate","connection":"4g",
            "vitals":{"lcp":1200.5,"cls":0.02,"ttfb":80},"lcp_element":"main>img.hero",
            "cdn":[{"host":"CDN.jsdelivr.net","protocol":"h2","resources":3,"cache_hits":1,"timing_hidden":0,
                    "dns":0,"connect":12,"tls":9,"ttfb":30,"download":4,"bytes":4096}]}"#;
        let d = decode(body, &ctx()).unwrap();
        assert_eq!(d.site_domain, "example.com");
        assert_eq!(d.hit.kind, EventKind::Measure);
        assert_eq!(
            metrics(&d),
            [
                ("cls", 0.02),
                ("lcp", 1200.5),
                ("ttfb", 80.0),
                ("cdn.resources", 3.0),
                ("cdn.cache_hits", 1.0),
                ("cdn.dns", 0.0),
                ("cdn.connect", 12.0),
                ("cdn.tls", 9.0),
                ("cdn.ttfb", 30.0),
                ("cdn.download", 4.0),
                ("cdn.bytes", 4096.0),
            ]
        );
        let lcp = &d.hit.measures[1];
        assert!(lcp.labels.contains(&("element", "main>img.hero".into())));
        assert!(lcp.labels.contains(&("navigation", "navigate".into())));
        let cdn = &d.hit.measures[3];
        assert_eq!(cdn.labels, [("host", "cdn.jsdelivr.net".into()), ("protocol", "h2".into())]);
        assert_eq!(d.dropped, 0);
    }

    #[test]
    fn vitals_out_of_range_values_are_dropped_and_counted_the_rest_kept() {
        let body = br#"{"site":"a.b","url":"https://a.b/","vitals":{"lcp":-5,"fcp":600001,"inp":48,"cls":1000}}"#;
        let d = decode(body, &ctx()).unwrap();
        assert_eq!(metrics(&d), [("inp", 48.0)]);
        assert_eq!(d.dropped, 3);
    }

    #[test]
    fn vitals_bad_beacons_are_refused_with_reasons() {
        let many = format!(
            r#"{{"site":"a.b","url":"https://a.b/","cdn":[{}]}}"#,
            vec![r#"{"host":"x.net","resources":1}"#; MAX_CDN_ENTRIES + 1].join(",")
        );
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{not json".to_vec(), "invalid speed beacon"),
            (br#"{"url":"https://a.b/"}"#.to_vec(), "missing field `site`"),
            (br#"{"site":"a.b","url":"https://a.b/","vitals":{"fid":3}}"#.to_vec(), "unknown vital \"fid\""),
            (br#"{"site":"a.b","url":"https://a.b/","vitals":{"lcp":NaN}}"#.to_vec(), "invalid speed beacon"),
            (br#"{"site":"a.b","url":"https://a.b/","vitals":{"lcp":"fast"}}"#.to_vec(), "invalid speed beacon"),
            (br#"{"site":"a.b","url":"https://a.b/","extra":1}"#.to_vec(), "unknown field `extra`"),
            (many.into_bytes(), "at most 50 entries"),
            (br#"{"site":"a.b","url":"https://a.b/","cdn":[{"host":"","resources":1}]}"#.to_vec(), "`host`"),
        ];
        for (body, expected) in cases {
            let err = decode(&body, &ctx()).err().expect("must be refused").to_string();
            assert!(err.contains(expected), "{err:?} should mention {expected:?}");
        }
    }
}
