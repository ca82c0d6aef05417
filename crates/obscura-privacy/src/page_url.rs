//! Page URL normalisation: turns the URL a tracker reports into the few parts we keep.
//!
//! A page URL carries more than the page: query strings hold session ids, search terms and
//! e-mail addresses, fragments hold tokens, userinfo holds credentials. We keep only the host,
//! the scrubbed path and the campaign parameters that analytics needs (UTM and `ref`/`source`);
//! everything else is dropped before it can reach storage. Equivalent spellings of one page
//! (`www.`, upper-case host, trailing slash) are folded together so they count as one page.

use url::Url;

use crate::clean::Clean;
use crate::scrub::{scrub_label, scrub_url_part};

/// Longest page URL accepted, in bytes. Real URLs are far shorter; longer ones are abuse.
pub const MAX_URL_BYTES: usize = 4096;

/// The parts of a page URL that are stored, all scrubbed.
#[derive(Debug, Clone, PartialEq)]
pub struct PageUrl {
    /// Lower-case host without a leading `www.` and without the port.
    pub host: Clean,
    /// Percent-decoded, scrubbed path; no trailing slash except for the root `/`.
    pub path: Clean,
    /// The `utm_source` query parameter, scrubbed; `None` when absent or blank.
    pub utm_source: Option<Clean>,
    /// The `utm_medium` query parameter, scrubbed; `None` when absent or blank.
    pub utm_medium: Option<Clean>,
    /// The `utm_campaign` query parameter, scrubbed; `None` when absent or blank.
    pub utm_campaign: Option<Clean>,
    /// The `utm_term` query parameter, scrubbed; `None` when absent or blank.
    pub utm_term: Option<Clean>,
    /// The `utm_content` query parameter, scrubbed; `None` when absent or blank.
    pub utm_content: Option<Clean>,
    /// The `ref` query parameter, or `source` when there is no `ref`.
    pub ref_param: Option<Clean>,
}

impl PageUrl {
    /// True if any UTM parameter is set, i.e. the visit came from a tagged campaign link.
    pub fn has_utm(&self) -> bool {
        [&self.utm_source, &self.utm_medium, &self.utm_campaign, &self.utm_term, &self.utm_content]
            .iter()
            .any(|p| p.is_some())
    }
}

/// Why a page URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Holds a scrubbed, shortened form of the input: errors end up in logs.
    #[error("url is not an absolute http(s) URL: {0}")]
    NotHttp(String),
    /// The URL is longer than the limit it holds, in bytes ([`MAX_URL_BYTES`]).
    #[error("url is longer than {0} bytes")]
    TooLong(usize),
}

/// The query parameters that name where a visit came from, by default; the first one present
/// wins. Operators can set their own list (`[url] source_params`).
pub const DEFAULT_SOURCE_PARAMS: [&str; 2] = ["ref", "source"];

/// Normalises a page URL; see the module documentation for what is kept.
pub fn normalize_page(url: &str) -> Result<PageUrl, UrlError> {
    normalize_page_keeping(url, &DEFAULT_SOURCE_PARAMS)
}

/// Like [`normalize_page`], with the operator's list of source parameters (`ref`, `source`,
/// `via`, …): the first of them present in the query becomes the visit's source. Every other
/// parameter except the `utm_*` ones is dropped.
pub fn normalize_page_keeping<S: AsRef<str>>(url: &str, source_params: &[S]) -> Result<PageUrl, UrlError> {
    if url.len() > MAX_URL_BYTES {
        return Err(UrlError::TooLong(MAX_URL_BYTES));
    }
    let not_http = || UrlError::NotHttp(scrub_label(url).into_string());
    let parsed = Url::parse(url).map_err(|_| not_http())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(not_http());
    }
    // Userinfo (`user:pass@`) and the fragment are never read, so they are dropped here.
    let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(not_http)?;

    let mut page = PageUrl {
        host: scrub_label(&normalize_host(host)),
        path: normalize_path(parsed.path()),
        utm_source: None,
        utm_medium: None,
        utm_campaign: None,
        utm_term: None,
        utm_content: None,
        ref_param: None,
    };
    // The source value found so far and its rank in `source_params`.
    let mut source: Option<(usize, Clean)> = None;
    // `query_pairs` decodes form encoding (`+` is a space); scrub_url_part then decodes any
    // further percent-encoding layer. The first occurrence of a parameter wins.
    for (key, value) in parsed.query_pairs() {
        let slot = match &*key {
            "utm_source" => &mut page.utm_source,
            "utm_medium" => &mut page.utm_medium,
            "utm_campaign" => &mut page.utm_campaign,
            "utm_term" => &mut page.utm_term,
            "utm_content" => &mut page.utm_content,
            other => {
                let Some(rank) = source_params.iter().position(|p| p.as_ref() == other) else { continue };
                if source.as_ref().is_none_or(|(r, _)| rank < *r)
                    && let Some(v) = query_value(&value)
                {
                    source = Some((rank, v));
                }
                continue;
            }
        };
        if slot.is_none() {
            *slot = query_value(&value);
        }
    }
    page.ref_param = source.map(|(_, v)| v);
    Ok(page)
}

/// A property value as stored: a URL (an outbound link, say) keeps only its host and scrubbed
/// path — its query and fragment may hold tokens or search terms; anything else is scrubbed text.
pub fn scrub_property_value(value: &str) -> Clean {
    let looks_like_url = value.starts_with("http://") || value.starts_with("https://");
    match normalize_page(value) {
        Ok(page) if looks_like_url => Clean::wrap(format!("{}{}", page.host, page.path)),
        _ => crate::scrub::scrub_text(value),
    }
}

/// A page path from elsewhere (an imported aggregate's page) as a tracked page's path is
/// kept: identifier segments replaced by placeholders, scrubbed, no trailing slash.
pub fn scrub_page_path(raw: &str) -> Clean {
    normalize_path(raw.split(['?', '#']).next().unwrap_or_default())
}

/// Lower-cases a host, drops a trailing dot and a leading `www.`. Shared with the referrer
/// classifier so that page and referrer hosts compare equal.
pub(crate) fn normalize_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    host.strip_prefix("www.").unwrap_or(&host).to_owned()
}

/// Replaces identifier segments with placeholders, scrubs the path and drops trailing slashes,
/// so `/blog/` and `/blog` are one page, and `/user/8812/orders` and `/user/9120/orders` too.
fn normalize_path(raw: &str) -> Clean {
    let grouped: Vec<String> = raw
        .split('/')
        .map(|segment| {
            let decoded = crate::scrub::normalize::percent_decode(segment);
            identifier_placeholder(&decoded).map_or_else(|| segment.to_owned(), str::to_owned)
        })
        .collect();
    let scrubbed = scrub_url_part(&grouped.join("/")).into_string();
    let trimmed = scrubbed.trim_end_matches('/');
    if trimmed.is_empty() {
        Clean::wrap("/".to_owned())
    } else {
        // A substring of scrubbed text is still scrubbed.
        Clean::wrap(trimmed.to_owned())
    }
}

/// The placeholder for a path segment that identifies one thing rather than naming a page:
/// a long number (`:id`; four-digit years are names), a UUID (`:uuid`), a hex hash (`:hash`),
/// an e-mail address (`:email`), or a random token of mixed case and digits (`:token`).
fn identifier_placeholder(segment: &str) -> Option<&'static str> {
    let len = segment.chars().count();
    let all = |f: fn(&u8) -> bool| !segment.is_empty() && segment.as_bytes().iter().all(f);
    let count = |f: fn(&u8) -> bool| segment.as_bytes().iter().filter(|b| f(b)).count();
    let year = segment.parse::<u32>().is_ok_and(|y| (1900..=2099).contains(&y)) && len == 4;
    if all(u8::is_ascii_digit) && len >= 4 && !year {
        return Some(":id");
    }
    let hex_groups: Vec<usize> = segment.split('-').map(str::len).collect();
    let hexish = segment.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if hexish && hex_groups == [8, 4, 4, 4, 12] {
        return Some(":uuid");
    }
    if all(u8::is_ascii_hexdigit) && len >= 16 && count(u8::is_ascii_digit) > 0 {
        return Some(":hash");
    }
    if segment.contains('@') && segment.contains('.') {
        return Some(":email");
    }
    let token_chars = all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
    let mixed = count(u8::is_ascii_uppercase) > 0 && count(u8::is_ascii_lowercase) > 0 && count(u8::is_ascii_digit) > 0;
    if token_chars && len >= 16 && mixed {
        return Some(":token");
    }
    None
}

/// Scrubs a decoded query value; blank values count as absent.
fn query_value(value: &str) -> Option<Clean> {
    let scrubbed = scrub_url_part(value).into_string();
    let trimmed = scrubbed.trim();
    (!trimmed.is_empty()).then(|| Clean::wrap(trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(url: &str) -> PageUrl {
        normalize_page(url).expect("valid page url")
    }

    fn opt(value: &Option<Clean>) -> Option<&str> {
        value.as_ref().map(Clean::as_str)
    }

    #[test]
    fn normalize_page_lowercases_host_and_strips_www() {
        let p = page("https://WWW.Example.COM/About");
        assert_eq!(p.host.as_str(), "example.com");
        assert_eq!(p.path.as_str(), "/About");
        assert_eq!(page("http://example.com:8080/").host.as_str(), "example.com");
    }

    #[test]
    fn normalize_page_trims_trailing_slash() {
        assert_eq!(page("https://example.com").path.as_str(), "/");
        assert_eq!(page("https://example.com/").path.as_str(), "/");
        assert_eq!(page("https://example.com/blog/post/").path.as_str(), "/blog/post");
        assert_eq!(page("https://example.com//").path.as_str(), "/");
    }

    #[test]
    fn normalize_page_drops_query_and_fragment() {
        let p = page("https://example.com/search?q=secret&session=abc#token=xyz");
        assert_eq!(p.path.as_str(), "/search");
        assert!(!p.has_utm());
        assert_eq!(p.ref_param, None);
    }

    #[test]
    fn normalize_page_keeps_utm_parameters() {
        let p = page(
            "https://example.com/?utm_source=news&utm_medium=email&utm_campaign=spring+sale\
             &utm_term=shoes&utm_content=banner%20a&x=1",
        );
        assert_eq!(opt(&p.utm_source), Some("news"));
        assert_eq!(opt(&p.utm_medium), Some("email"));
        assert_eq!(opt(&p.utm_campaign), Some("spring sale"));
        assert_eq!(opt(&p.utm_term), Some("shoes"));
        assert_eq!(opt(&p.utm_content), Some("banner a"));
        assert!(p.has_utm());
    }

    #[test]
    fn normalize_page_blank_utm_is_none() {
        let p = page("https://example.com/?utm_source=&utm_medium=%20%20&utm_campaign=+");
        assert_eq!(p.utm_source, None);
        assert_eq!(p.utm_medium, None);
        assert_eq!(p.utm_campaign, None);
        assert!(!p.has_utm());
    }

    #[test]
    fn normalize_page_prefers_ref_over_source() {
        assert_eq!(opt(&page("https://example.com/?source=hn&ref=ph").ref_param), Some("ph"));
        assert_eq!(opt(&page("https://example.com/?source=hn").ref_param), Some("hn"));
        assert_eq!(opt(&page("https://example.com/?ref=&source=hn").ref_param), Some("hn"));
    }

    #[test]
    fn normalize_page_scrubs_path_and_values() {
        let p = page("https://example.com/user/jane%40example.com/?utm_term=%2B1+415+555+0132");
        assert_eq!(p.path.as_str(), "/user/:email");
        assert_eq!(opt(&p.utm_term), Some("[phone]"));
        let p = page("https://example.com/?utm_source=jane@example.com");
        assert_eq!(opt(&p.utm_source), Some("[email]"));
    }

    #[test]
    fn normalize_page_keeps_the_configured_source_params_only() {
        let url = "https://a.com/?via=newsletter&source=hn&q=secret&session=abc";
        assert_eq!(opt(&page(url).ref_param), Some("hn"));
        let p = normalize_page_keeping(url, &["via", "ref"]).unwrap();
        assert_eq!(opt(&p.ref_param), Some("newsletter"));
        let p = normalize_page_keeping(url, &["ref"]).unwrap();
        assert_eq!(p.ref_param, None);
        assert_eq!(p.path.as_str(), "/");
    }

    #[test]
    fn normalize_page_groups_identifier_segments() {
        let path = |url: &str| page(url).path.into_string();
        assert_eq!(path("https://a.com/user/88123/orders"), "/user/:id/orders");
        assert_eq!(path("https://a.com/blog/2026/11/post-1"), "/blog/2026/11/post-1");
        assert_eq!(path("https://a.com/o/550e8400-e29b-41d4-a716-446655440000"), "/o/:uuid");
        assert_eq!(path("https://a.com/c/3f9a1c27d4e5b6a7c8d9e0f1"), "/c/:hash");
        assert_eq!(path("https://a.com/u/jane%40example.com/x"), "/u/:email/x");
        assert_eq!(path("https://a.com/reset/aZ3kP9qLm2Xv8RtY7w"), "/reset/:token");
        assert_eq!(path("https://a.com/docs/getting-started-v2"), "/docs/getting-started-v2");
        assert_eq!(path("https://a.com/page/2"), "/page/2");
    }

    #[test]
    fn normalize_page_ignores_userinfo() {
        let p = page("https://jane:hunter2@example.com/a");
        assert_eq!(p.host.as_str(), "example.com");
        assert_eq!(p.path.as_str(), "/a");
    }

    #[test]
    fn normalize_page_rejects_non_http() {
        for url in ["ftp://example.com/", "not a url", "/relative/path", "mailto:jane@example.com"] {
            assert!(matches!(normalize_page(url), Err(UrlError::NotHttp(_))), "{url}");
        }
    }

    #[test]
    fn normalize_page_error_does_not_echo_pii() {
        let Err(UrlError::NotHttp(shown)) = normalize_page("mailto:jane@example.com") else {
            panic!("expected NotHttp");
        };
        assert_eq!(shown, "mailto:[email]");
    }

    #[test]
    fn normalize_page_rejects_long_urls() {
        let url = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert!(matches!(normalize_page(&url), Err(UrlError::TooLong(MAX_URL_BYTES))));
    }

    #[test]
    fn property_urls_keep_host_and_path_only() {
        assert_eq!(
            super::scrub_property_value("https://example.org/reset?token=s3cr3t#x").as_str(),
            "example.org/reset"
        );
        assert_eq!(super::scrub_property_value("pro").as_str(), "pro");
        assert_eq!(super::scrub_property_value("mail jane@example.com").as_str(), "mail [email]");
    }
}
