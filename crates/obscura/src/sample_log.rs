//! A generated nginx access log, for the import's test and benchmark: a site's page views from
//! [`TrafficGenerator`], the assets each page loads, a crawler's visits, redirects, missing
//! pages and form posts, in time order; with the figures a correct import must show.

use std::collections::HashSet;
use std::io::Write;
use std::net::IpAddr;

use obscura_model::{EventKind, RawHit};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration, OffsetDateTime};

use crate::traffic::TrafficGenerator;

/// A crawler, as nginx logs it.
const CRAWLER: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
/// Files a page loads besides itself.
const ASSETS: [&str; 4] = ["/assets/app.css", "/assets/app.js?v=42", "/img/logo.svg", "/favicon.ico"];

/// What a correct import of the log shows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Lines written.
    pub lines: u64,
    /// People's page views.
    pub page_views: u64,
    /// Distinct visitors, counted per day (an address and a browser on one day).
    pub visitors: u64,
    /// The crawler's page views.
    pub crawler_views: u64,
    /// Lines that are no page views: assets, redirects, missing pages, posts.
    pub no_page_views: u64,
    /// People's page views per path, most viewed first.
    pub top_pages: Vec<(String, u64)>,
}

/// Writes about `lines` lines (a little more, to finish the last page's assets) of `days` whole
/// days before `today` for `site` to `out`; the same for the same seed.
pub fn write(
    out: &mut impl Write,
    site: &str,
    today: Date,
    days: u32,
    lines: u64,
    seed: u64,
) -> std::io::Result<Expected> {
    let mut traffic = TrafficGenerator::new(site, seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut expected = Expected::default();
    let mut visitors: HashSet<(Date, IpAddr, String)> = HashSet::new();
    let mut pages: std::collections::HashMap<String, u64> = Default::default();
    // About 5 lines per visitor: 2.2 pages and their assets.
    let per_day = (lines / 5 / u64::from(days.max(1))).max(1) as usize;
    let mut line = String::with_capacity(512);
    for back in (1..=days).rev() {
        let day = today - Duration::days(i64::from(back));
        let count = traffic.visitors_for(day, per_day);
        for hit in traffic.day(day, count, None).into_iter().filter(|h| h.kind == EventKind::Pageview) {
            if expected.lines >= lines {
                break;
            }
            let path = path_of(&hit.url, site);
            write_line(&mut line, &hit, &path, "GET", 200, hit.referrer.as_deref(), &hit.headers.user_agent);
            out.write_all(line.as_bytes())?;
            expected.lines += 1;
            expected.page_views += 1;
            *pages.entry(path.split('?').next().unwrap_or_default().to_owned()).or_default() += 1;
            visitors.insert((day, hit.ip, hit.headers.user_agent.clone()));
            let page_url = format!("https://{site}{path}");
            for asset in ASSETS {
                if !rng.random_bool(0.45) {
                    continue;
                }
                let status = if rng.random_bool(0.5) { 200 } else { 304 };
                write_line(&mut line, &hit, asset, "GET", status, Some(&page_url), &hit.headers.user_agent);
                out.write_all(line.as_bytes())?;
                expected.lines += 1;
                expected.no_page_views += 1;
            }
            let (method, target, status) = match rng.random_range(0..100) {
                0..3 => ("GET", "/old-pricing", 301),
                3..5 => ("GET", "/no-such-page", 404),
                5..7 => ("POST", "/signup", 200),
                7..15 => ("GET", "/blog", 200),
                _ => continue,
            };
            if status == 200 && method == "GET" {
                write_line(&mut line, &hit, target, method, status, None, CRAWLER);
                expected.crawler_views += 1;
            } else {
                write_line(&mut line, &hit, target, method, status, Some(&page_url), &hit.headers.user_agent);
                expected.no_page_views += 1;
            }
            out.write_all(line.as_bytes())?;
            expected.lines += 1;
        }
    }
    expected.visitors = visitors.len() as u64;
    expected.top_pages = pages.into_iter().collect();
    expected.top_pages.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(expected)
}

/// The path and query of a generated URL.
fn path_of(url: &str, site: &str) -> String {
    url.strip_prefix(&format!("https://{site}")).unwrap_or(url).to_owned()
}

/// A time as web servers log it, in UTC: `10/Oct/2026:13:55:36 +0000`.
pub fn log_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        [usize::from(u8::from(at.month())) - 1];
    format!("{:02}/{month}/{}:{:02}:{:02}:{:02} +0000", at.day(), at.year(), at.hour(), at.minute(), at.second())
}

/// One line of nginx's `combined` format, in UTC.
fn write_line(
    line: &mut String,
    hit: &RawHit,
    target: &str,
    method: &str,
    status: u16,
    referrer: Option<&str>,
    user_agent: &str,
) {
    use std::fmt::Write;
    line.clear();
    let _ = writeln!(
        line,
        "{} - - [{}] \"{method} {target} HTTP/1.1\" {status} {} \"{}\" \"{user_agent}\"",
        hit.ip,
        log_time(hit.received_at),
        512 + target.len() * 7,
        referrer.unwrap_or("-"),
    );
}
