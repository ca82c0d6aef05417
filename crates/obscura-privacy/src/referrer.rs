//! Referrer classification: reduces a `Referer` URL to a host and a traffic source.
//!
//! The full referrer URL is never kept: its path and query can hold search terms, ids and
//! personal data from the other site. We keep only the referring host (scrubbed like all
//! text) and a coarse [`Source`] category, which is what traffic reports need. Navigation
//! within the site itself is not a referral and is reported as no referrer.

use url::Url;

use crate::clean::Clean;
use crate::page_url::normalize_host;
use crate::scrub::scrub_label;

/// Where a visit came from, in the coarse categories the dashboards show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// No referrer (typed URL, bookmark, app, stripped by referrer policy).
    Direct,
    /// A known search engine (Google, Bing, DuckDuckGo, …).
    Search,
    /// A known social network or community.
    Social,
    /// The page URL carried UTM parameters; they win over the referrer.
    Campaign,
    /// Any other external website.
    Other,
}

impl Source {
    /// The stored, lower-case name: `direct`, `search`, `social`, `campaign` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Direct => "direct",
            Source::Search => "search",
            Source::Social => "social",
            Source::Campaign => "campaign",
            Source::Other => "other",
        }
    }

    /// Inverse of [`Source::as_str`] (ASCII case-insensitive).
    pub fn parse(s: &str) -> Option<Source> {
        match s.to_ascii_lowercase().as_str() {
            "direct" => Some(Source::Direct),
            "search" => Some(Source::Search),
            "social" => Some(Source::Social),
            "campaign" => Some(Source::Campaign),
            "other" => Some(Source::Other),
            _ => None,
        }
    }
}

/// The stored result of classifying a referrer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    /// Referring host (lower-case, no `www.`); None for direct and internal traffic.
    pub host: Option<Clean>,
    /// The coarse traffic-source category.
    pub source: Source,
}

/// Search engines. `name.*` matches that name under any top-level domain (`google.de`,
/// `google.co.uk`); other entries match the host and its subdomains.
const SEARCH: &[&str] = &[
    "google.*",
    "bing.com",
    "duckduckgo.com",
    "yahoo.*",
    "baidu.com",
    "yandex.*",
    "ecosia.org",
    "search.brave.com",
    "startpage.com",
    "qwant.com",
    "naver.com",
    "sogou.com",
    "so.com",
    "seznam.cz",
    "ask.com",
    "kagi.com",
];

/// Social networks and communities; same matching rules as [`SEARCH`].
const SOCIAL: &[&str] = &[
    "facebook.com",
    "m.facebook.com",
    "l.facebook.com",
    "lm.facebook.com",
    "instagram.com",
    "t.co",
    "twitter.com",
    "x.com",
    "linkedin.com",
    "lnkd.in",
    "reddit.com",
    "old.reddit.com",
    "news.ycombinator.com",
    "pinterest.*",
    "tiktok.com",
    "youtube.com",
    "weibo.com",
    "vk.com",
    "mastodon.social",
    "bsky.app",
    "threads.net",
    "quora.com",
    "zhihu.com",
    "douban.com",
    "t.me",
    "discord.com",
    "whatsapp.com",
    "wechat.com",
];

/// Second-level labels under which country domains register names (`google.co.uk`).
const SECOND_LEVEL: &[&str] = &["co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go"];

/// Classifies a visit by its referrer.
///
/// `page_host` is the host of the visited page (normalised like [`crate::page_url::PageUrl`]
/// hosts are); a referrer on that host or a subdomain of it is internal navigation and counts
/// as no referrer. `has_utm` says whether the page URL carried UTM parameters, which makes the
/// visit a campaign visit whatever the referrer.
pub fn classify(referrer: Option<&str>, page_host: &str, has_utm: bool) -> Referral {
    let page_host = normalize_host(page_host);
    let host = referrer.and_then(referrer_host).filter(|host| !is_same_site(host, &page_host));
    let source = if has_utm {
        Source::Campaign
    } else {
        match &host {
            None => Source::Direct,
            Some(h) if matches_any(h, SEARCH) => Source::Search,
            Some(h) if matches_any(h, SOCIAL) => Source::Social,
            Some(_) => Source::Other,
        }
    };
    Referral { host: host.map(|h| scrub_label(&h)), source }
}

/// The normalised host of an http(s) referrer; None for anything else (empty, `android-app:`,
/// unparsable).
fn referrer_host(referrer: &str) -> Option<String> {
    let referrer = referrer.trim();
    if referrer.is_empty() {
        return None;
    }
    let url = Url::parse(referrer).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = normalize_host(url.host_str()?);
    (!host.is_empty()).then_some(host)
}

/// True if `host` is `site` or one of its subdomains.
fn is_subdomain_or_same(host: &str, site: &str) -> bool {
    host == site || host.strip_suffix(site).is_some_and(|rest| rest.ends_with('.'))
}

fn is_same_site(host: &str, page_host: &str) -> bool {
    !page_host.is_empty() && is_subdomain_or_same(host, page_host)
}

fn matches_any(host: &str, entries: &[&str]) -> bool {
    entries.iter().any(|entry| matches_entry(host, entry))
}

fn matches_entry(host: &str, entry: &str) -> bool {
    let Some(name) = entry.strip_suffix(".*") else {
        return is_subdomain_or_same(host, entry);
    };
    // `name.*`: some label equals `name` and what follows it is a top-level domain, either
    // generic (`google.com`) or a country one, possibly under a second level (`google.co.uk`).
    let labels: Vec<&str> = host.split('.').collect();
    labels.iter().enumerate().any(|(i, label)| *label == name && is_public_suffix(&labels[i + 1..]))
}

fn is_public_suffix(labels: &[&str]) -> bool {
    match labels {
        [tld] => is_tld(tld),
        [second, country] => SECOND_LEVEL.contains(second) && country.len() == 2 && is_tld(country),
        _ => false,
    }
}

fn is_tld(label: &str) -> bool {
    label.len() >= 2 && label.bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source_of(referrer: &str) -> Source {
        classify(Some(referrer), "example.com", false).source
    }

    fn host_of(referral: &Referral) -> Option<&str> {
        referral.host.as_ref().map(Clean::as_str)
    }

    #[test]
    fn classify_without_referrer_is_direct() {
        let r = classify(None, "example.com", false);
        assert_eq!(r, Referral { host: None, source: Source::Direct });
        assert_eq!(classify(Some(""), "example.com", false).source, Source::Direct);
        assert_eq!(classify(Some("   "), "example.com", false).source, Source::Direct);
    }

    #[test]
    fn classify_non_http_referrer_is_direct() {
        for referrer in ["android-app://com.google.android.gm/", "not a url", "file:///tmp/x"] {
            let r = classify(Some(referrer), "example.com", false);
            assert_eq!(r.source, Source::Direct, "{referrer}");
            assert_eq!(r.host, None);
        }
    }

    #[test]
    fn classify_internal_navigation_is_direct() {
        for referrer in ["https://example.com/about", "https://www.Example.com/", "http://docs.example.com/x"] {
            let r = classify(Some(referrer), "www.example.com", false);
            assert_eq!(r, Referral { host: None, source: Source::Direct }, "{referrer}");
        }
        // A lookalike domain is not a subdomain.
        assert_eq!(source_of("https://notexample.com/"), Source::Other);
    }

    #[test]
    fn classify_search_engines() {
        for referrer in [
            "https://www.google.com/",
            "https://www.google.de/search?q=shoes",
            "https://google.co.uk/",
            "https://www.bing.com/search?q=x",
            "https://cn.bing.com/",
            "https://duckduckgo.com/",
            "https://search.yahoo.com/",
            "https://yandex.ru/",
            "https://search.brave.com/search?q=x",
            "https://kagi.com/",
        ] {
            assert_eq!(source_of(referrer), Source::Search, "{referrer}");
        }
        let r = classify(Some("https://www.google.co.uk/search?q=jane"), "example.com", false);
        assert_eq!(host_of(&r), Some("google.co.uk"));
    }

    #[test]
    fn classify_social_networks() {
        for referrer in [
            "https://t.co/abc",
            "https://l.facebook.com/l.php?u=x",
            "https://old.reddit.com/r/rust/",
            "https://news.ycombinator.com/item?id=1",
            "https://uk.pinterest.com/",
            "https://pinterest.co.uk/",
            "https://m.youtube.com/watch?v=x",
            "https://bsky.app/profile/x",
        ] {
            assert_eq!(source_of(referrer), Source::Social, "{referrer}");
        }
    }

    #[test]
    fn classify_lookalikes_are_other() {
        for referrer in [
            "https://google.evil.com/",
            "https://notgoogle.com/",
            "https://evilbing.com/",
            "https://brave.com/",
            "https://blog.example.org/post",
        ] {
            assert_eq!(source_of(referrer), Source::Other, "{referrer}");
        }
    }

    #[test]
    fn classify_utm_is_campaign() {
        let r = classify(Some("https://www.google.com/"), "example.com", true);
        assert_eq!(r.source, Source::Campaign);
        assert_eq!(host_of(&r), Some("google.com"));
        let r = classify(None, "example.com", true);
        assert_eq!(r, Referral { host: None, source: Source::Campaign });
        let r = classify(Some("https://example.com/a"), "example.com", true);
        assert_eq!(r, Referral { host: None, source: Source::Campaign });
    }

    #[test]
    fn classify_keeps_only_the_host() {
        let referrer = "https://user:pw@Blog.Other.org:8443/p?email=jane@x.com#f";
        let r = classify(Some(referrer), "example.com", false);
        assert_eq!(host_of(&r), Some("blog.other.org"));
        assert_eq!(r.source, Source::Other);
    }

    #[test]
    fn source_round_trips_through_str() {
        for source in [Source::Direct, Source::Search, Source::Social, Source::Campaign, Source::Other] {
            assert_eq!(Source::parse(source.as_str()), Some(source));
        }
        assert_eq!(Source::parse("SEARCH"), Some(Source::Search));
        assert_eq!(Source::parse("email"), None);
    }
}
