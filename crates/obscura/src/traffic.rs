//! Realistic generated traffic, for the demo and the benchmarks.
//!
//! Visitors arrive through the day (more in the afternoon, fewer at weekends), come from search,
//! social, other sites or directly, read one to several pages, spend time on them, sometimes sign
//! up or follow an outbound link. The hits are decoded `RawHit`s, so they take the same
//! enrich → desensitize path as real traffic.

use std::net::{IpAddr, Ipv4Addr};

use obscura_model::raw::RawHeaders;
use obscura_model::{DaysSinceLast, EventKind, Metric, PropValue, RawHit, RawMeasure, VisitCount};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration, OffsetDateTime, Weekday};

const PAGES: [(&str, u32); 12] = [
    ("/", 30),
    ("/pricing", 12),
    ("/blog", 10),
    ("/blog/privacy-first-analytics", 9),
    ("/blog/web-vitals-explained", 7),
    ("/docs", 8),
    ("/docs/getting-started", 7),
    ("/docs/api", 4),
    ("/about", 4),
    ("/signup", 5),
    ("/changelog", 3),
    ("/contact", 2),
];

const REFERRERS: [(Option<&str>, u32); 10] = [
    (None, 35),
    (Some("https://www.google.com/"), 28),
    (Some("https://duckduckgo.com/"), 6),
    (Some("https://www.bing.com/"), 4),
    (Some("https://news.ycombinator.com/item?id=1"), 6),
    (Some("https://t.co/abc"), 5),
    (Some("https://www.reddit.com/r/selfhosted/"), 6),
    (Some("https://github.com/"), 5),
    (Some("https://lobste.rs/"), 3),
    (Some("https://example-blog.net/post"), 2),
];

const USER_AGENTS: [(&str, u32); 8] = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        30,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        14,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        16,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        10,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        8,
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 8),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 7),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        7,
    ),
];

/// First octets of widely used public IPv4 space, so geo lookups find real countries.
pub(crate) const FIRST_OCTETS: [u8; 24] =
    [1, 2, 5, 24, 31, 37, 41, 46, 62, 77, 78, 81, 82, 84, 88, 91, 101, 103, 112, 151, 176, 185, 195, 217];

fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut n = rng.random_range(0..total);
    for (item, w) in items {
        if n < *w {
            return *item;
        }
        n -= w;
    }
    items[0].0
}

/// Generated traffic for one site, the same for the same seed.
pub struct TrafficGenerator {
    rng: StdRng,
    /// The site the hits are for.
    pub site_domain: String,
    /// Whether page views also send speed beacons (web vitals and CDN timings).
    speed: bool,
}

/// CDN providers the generated pages load from, with their protocol and typical time to first
/// byte in ms.
const CDN_PROVIDERS: [(&str, &str, f64); 3] = [("jsDelivr", "h2", 45.0), ("cdnjs", "h3", 35.0), ("Google", "h3", 28.0)];

/// A bug of the demo: its type, message, and the application's function and file.
type Bug = (&'static str, &'static str, &'static str, &'static str);

/// The demo's bugs, and how often each happens.
const BUGS: [(Bug, u32); 4] = [
    (("TypeError", "Cannot read properties of undefined (reading 'price')", "addToCart", "cart"), 6),
    (("NetworkError", "Failed to fetch /api/stock/1842", "refreshStock", "stock"), 3),
    (("ChunkLoadError", "Loading chunk 7 failed", "loadCheckout", "router"), 2),
    (("RangeError", "Maximum call stack size exceeded", "renderTree", "menu"), 1),
];

impl TrafficGenerator {
    /// An error report of one of a few bugs, on `page_url`, as a browser SDK would send it.
    pub fn error_report(&mut self, page_url: &str) -> obscura_model::raw_error::RawError {
        use obscura_model::raw_error::{RawError, RawException, RawFrame};
        let (kind, message, function, file) = pick(&mut self.rng, &BUGS);
        let line = self.rng.random_range(10..400);
        let frame = |function: &str, file: String, line: u32, in_app: bool| RawFrame {
            function: Some(function.to_owned()),
            filename: Some(file),
            line: Some(line),
            in_app: Some(in_app),
            ..RawFrame::default()
        };
        let origin = format!("https://{}", self.site_domain);
        RawError {
            level: Some("error".into()),
            platform: Some("javascript".into()),
            release: Some(format!("shop@1.{}.0", 3 + line % 2)),
            environment: Some("production".into()),
            url: Some(page_url.to_owned()),
            exceptions: vec![RawException {
                kind: Some(kind.to_owned()),
                value: Some(message.to_owned()),
                frames: vec![
                    frame("dispatch", format!("{origin}/js/vendor.4f1c9a2b.js"), 1, false),
                    frame(function, format!("{origin}/js/{file}.js"), line, true),
                ],
                ..RawException::default()
            }],
            ..RawError::default()
        }
    }

    /// A generator for `site_domain`, seeded with `seed`.
    pub fn new(site_domain: &str, seed: u64) -> Self {
        TrafficGenerator { rng: StdRng::seed_from_u64(seed), site_domain: site_domain.to_owned(), speed: false }
    }

    /// Makes most page views also send a speed beacon, as with the tracker's performance part.
    pub fn with_speed(mut self) -> Self {
        self.speed = true;
        self
    }

    /// Typical visitors for `day`, around `base` on weekdays.
    pub fn visitors_for(&mut self, day: Date, base: usize) -> usize {
        let weekend = matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday);
        let factor = if weekend { 0.65 } else { 1.0 } * self.rng.random_range(0.85..1.15);
        (base as f64 * factor) as usize
    }

    /// The hits of `visitors` visitors on `day`, in time order, none after `until`.
    pub fn day(&mut self, day: Date, visitors: usize, until: Option<OffsetDateTime>) -> Vec<RawHit> {
        let mut hits = Vec::with_capacity(visitors * 5);
        let start = day.midnight().assume_utc();
        for _ in 0..visitors {
            // Diurnal curve: two overlapping bumps, peak mid-afternoon UTC.
            let hour = (self.rng.random_range(0.0..24.0_f64) + self.rng.random_range(0.0..24.0_f64)) / 2.0 + 2.5;
            let at = start + Duration::seconds_f64((hour % 24.0) * 3600.0);
            self.visit(at, &mut hits);
        }
        hits.retain(|h| h.received_at.date() == day && until.is_none_or(|u| h.received_at <= u));
        hits.sort_by_key(|h| h.received_at);
        hits
    }

    fn visit(&mut self, mut at: OffsetDateTime, hits: &mut Vec<RawHit>) {
        let rng = &mut self.rng;
        let ip = IpAddr::V4(Ipv4Addr::new(
            FIRST_OCTETS[rng.random_range(0..FIRST_OCTETS.len())],
            rng.random(),
            rng.random(),
            rng.random_range(1..255),
        ));
        let ua = pick(rng, &USER_AGENTS);
        let mobile = ua.contains("Mobile");
        let screen = if mobile {
            rng.random_range(360..430)
        } else {
            *[1280, 1366, 1440, 1536, 1920, 2560].get(rng.random_range(0..6)).unwrap_or(&1920)
        };
        let referrer = pick(rng, &REFERRERS).map(str::to_owned);
        let campaign = rng.random_bool(0.06);
        let returning = rng.random_bool(0.35);
        let (days_since_last, visit_count) = if returning {
            (Some(DaysSinceLast::ALL[rng.random_range(1..5)]), Some(VisitCount::ALL[rng.random_range(1..4)]))
        } else {
            (None, Some(VisitCount::First))
        };
        let pages = 1 + (rng.random_range(0.0..1.0_f64).powi(2) * 6.0) as usize;
        let headers = RawHeaders { user_agent: ua.to_owned(), ..Default::default() };
        let base = |kind: EventKind, url: String, at: OffsetDateTime| RawHit {
            received_at: at,
            site: 0,
            ip,
            headers: headers.clone(),
            kind,
            name: None,
            url,
            referrer: None,
            props: Vec::new(),
            screen_width: Some(screen),
            engaged_ms: None,
            returning: Some(returning),
            days_since_last,
            visit_count,
            measures: Vec::new(),
            app_device: None,
        };
        for i in 0..pages {
            let path = pick(rng, &PAGES);
            let mut url = format!("https://{}{}", self.site_domain, path);
            if i == 0 && campaign {
                url.push_str("?utm_source=newsletter&utm_medium=email&utm_campaign=launch");
            }
            let mut hit = base(EventKind::Pageview, url.clone(), at);
            if i == 0 {
                hit.referrer = referrer.clone();
            }
            hits.push(hit);
            let dwell = rng.random_range(5_000..150_000u32);
            if self.speed && rng.random_bool(0.6) {
                let mut beacon = base(EventKind::Measure, url.clone(), at + Duration::milliseconds(i64::from(dwell)));
                beacon.measures = speed_beacon(rng, mobile, path);
                hits.push(beacon);
            }
            if rng.random_bool(0.7) {
                let mut e = base(EventKind::Engagement, url.clone(), at + Duration::milliseconds(i64::from(dwell)));
                e.engaged_ms = Some(dwell);
                hits.push(e);
            }
            if path == "/signup" && rng.random_bool(0.4) {
                let mut e = base(EventKind::Custom, url.clone(), at + Duration::milliseconds(i64::from(dwell / 2)));
                e.name = Some("signup".into());
                let plan = ["free", "pro", "team"][rng.random_range(0..3)];
                e.props = vec![("plan".into(), PropValue::Text(plan.into()))];
                hits.push(e);
            }
            if rng.random_bool(0.03) {
                let mut e = base(EventKind::Custom, url, at + Duration::milliseconds(i64::from(dwell)));
                e.name = Some("Outbound Link: Click".into());
                e.props = vec![("url".into(), PropValue::Text("https://github.com/obscura".into()))];
                hits.push(e);
            }
            at += Duration::milliseconds(i64::from(dwell) + 500);
        }
    }
}

/// A log-normal value around `median`.
fn lognormal(rng: &mut StdRng, median: f64, sigma: f64) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    median * (sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()).exp()
}

/// The measurements of one page load: web vitals (slower on phones and on the blog's big
/// pictures) and two CDN providers' timings.
fn speed_beacon(rng: &mut StdRng, mobile: bool, path: &str) -> Vec<RawMeasure> {
    let slow = if mobile { 1.6 } else { 1.0 } * if path.starts_with("/blog") { 1.4 } else { 1.0 };
    let lcp = lognormal(rng, 1_500.0 * slow, 0.5).min(60_000.0);
    let vital = |metric, value: f64| RawMeasure { metric, value: value.round(), labels: vec![] };
    let mut out = vec![
        vital(Metric::Ttfb, lognormal(rng, 250.0, 0.5).min(lcp)),
        vital(Metric::Fcp, lcp * rng.random_range(0.5..0.9)),
        RawMeasure { metric: Metric::Lcp, value: lcp.round(), labels: vec![("element", "main>img.hero".to_owned())] },
        RawMeasure {
            metric: Metric::Cls,
            value: (rng.random::<f64>().powi(4) * 0.4 * 1e4).round() / 1e4,
            labels: vec![],
        },
        vital(Metric::Load, lcp * rng.random_range(1.1..1.6)),
    ];
    if rng.random_bool(0.5) {
        out.push(vital(Metric::Inp, lognormal(rng, 90.0 * slow, 0.6).min(5_000.0)));
    }
    for _ in 0..2 {
        let (provider, protocol, ttfb) = CDN_PROVIDERS[rng.random_range(0..CDN_PROVIDERS.len())];
        let labels = vec![("provider", provider.to_owned()), ("protocol", protocol.to_owned())];
        let cdn = |metric, value: f64| RawMeasure { metric, value: value.round(), labels: labels.clone() };
        let resources = f64::from(rng.random_range(1..6u8));
        out.push(cdn(Metric::CdnResources, resources));
        out.push(cdn(Metric::CdnTtfb, lognormal(rng, ttfb * slow, 0.5).min(30_000.0)));
        out.push(cdn(Metric::CdnDownload, lognormal(rng, 6.0 * slow, 0.7).min(30_000.0)));
        if rng.random_bool(0.3) {
            out.push(cdn(Metric::CdnCacheHits, 1.0));
        }
    }
    out
}
