//! Synthetic events for tests, benchmarks and storage contract suites: a minimal pageview built
//! through the real privacy boundary ([`crate::desensitize::desensitize`]), so the `Event` is
//! exactly what ingest would store for it.

use obscura_model::raw::RawHeaders;
use obscura_model::{Event, EventKind, RawHit};
use obscura_privacy::SaltRing;
use std::net::IpAddr;

use time::OffsetDateTime;

/// A pageview hit as a decoder makes it: `url` at `at`, from `ip` with `user_agent`, nothing
/// else sent.
pub fn raw_pageview(site: u32, at: OffsetDateTime, ip: IpAddr, user_agent: &str, url: &str) -> RawHit {
    let headers = RawHeaders { user_agent: user_agent.to_owned(), ..Default::default() };
    let ctx = crate::decode::RequestContext { received_at: at, ip, headers, opted_out: false, ja4: None };
    RawHit { site, ..ctx.hit(EventKind::Pageview, url.to_owned()) }
}

/// A pageview of `https://site{site}.example{path}` at `at` by visitor number `visitor` (its
/// User-Agent is `agent {visitor}`, its address 10.0.0.1), hashed under a fixed salt of `at`'s
/// day: the same visitor number on the same site and day gives the same visitor hash.
pub fn pageview(site: u32, visitor: u64, at: OffsetDateTime, path: &str) -> Event {
    let ip = [10, 0, 0, 1].into();
    let url = format!("https://site{site}.example{path}");
    let raw = raw_pageview(site, at, ip, &format!("agent {visitor}"), &url);
    let hash = SaltRing::restore([(at.date(), [7; 32])], at).visitor_hash(at, site, ip, &raw.headers.user_agent);
    let page = obscura_privacy::page_url::normalize_page_keeping::<&str>(&raw.url, &[]).expect("a valid URL");
    crate::desensitize::desensitize(raw, page, Default::default(), hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_pageviews_hash_one_visitor_alike_and_carry_no_address() {
        let at = time::macros::datetime!(2026-03-01 12:00 UTC);
        let a = pageview(1, 7, at, "/a");
        let b = pageview(1, 7, at + time::Duration::minutes(5), "/b");
        let other = pageview(1, 8, at, "/a");
        assert_eq!(a.visitor, b.visitor);
        assert_ne!(a.visitor, other.visitor);
        assert_eq!((a.site, a.kind, a.ts_ms), (1, EventKind::Pageview, obscura_model::unix_ms(at)));
        assert_eq!(a.path.as_str(), "/a");
        assert!(!format!("{a:?}").contains("10.0.0.1"));
    }
}
