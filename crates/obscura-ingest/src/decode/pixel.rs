//! The pixel tag (`GET /p.gif?site=…&url=…`): a page view from a page without JavaScript, say in
//! a `<noscript>` or an e-mail-free static page. Parameters: `site` (the site's domain), `url`
//! (the page; the HTTP layer puts the `Referer` header here when it is missing), `referrer` or
//! `r` (where the visitor came from), and `name` for a custom event instead of a page view.
//! Unknown parameters are ignored; the same limits as the event format hold.

use obscura_model::EventKind;

use super::native::Decoded;
use super::{RequestContext, bad, site_domain};
use crate::error::IngestError;

const MAX_URL: usize = 4096;
const MAX_NAME: usize = 200;

/// Decodes the query string of a pixel request.
pub fn decode(query: &[u8], ctx: &RequestContext) -> Result<Decoded, IngestError> {
    let (mut site, mut url, mut referrer, mut name) = (None, None, None, None);
    for (key, value) in url::form_urlencoded::parse(query) {
        let slot = match key.as_ref() {
            "site" => &mut site,
            "url" => &mut url,
            "referrer" | "r" => &mut referrer,
            "name" => &mut name,
            _ => continue,
        };
        slot.get_or_insert(value.into_owned());
    }
    let site = site_domain(site.ok_or_else(|| bad("missing parameter `site` (the site's domain)"))?)?;
    let url = url.filter(|u| !u.trim().is_empty()).ok_or_else(|| bad("missing parameter `url` (the page)"))?;
    if url.len() > MAX_URL || referrer.as_ref().is_some_and(|r| r.len() > MAX_URL) {
        return Err(bad(format!("parameters `url` and `referrer` must be at most {MAX_URL} bytes")));
    }
    let name = name.filter(|n| !n.trim().is_empty());
    if name.as_ref().is_some_and(|n| n.len() > MAX_NAME) {
        return Err(bad(format!("parameter `name` must be at most {MAX_NAME} bytes")));
    }
    let kind = if name.is_some() { EventKind::Custom } else { EventKind::Pageview };
    Ok(Decoded {
        site_domain: site,
        signals: None,
        hit: obscura_model::RawHit { name, referrer: referrer.filter(|r| !r.is_empty()), ..ctx.hit(kind, url) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_decodes_a_page_view_and_an_event_from_the_query() {
        let ctx = super::super::test_context();
        let page =
            decode(b"site=a.b&url=https%3A%2F%2Fa.b%2Fpricing&r=https%3A%2F%2Fnews.example%2F&x=1", &ctx).unwrap();
        assert_eq!((page.site_domain.as_str(), page.hit.kind), ("a.b", EventKind::Pageview));
        assert_eq!(
            (page.hit.url.as_str(), page.hit.referrer.as_deref()),
            ("https://a.b/pricing", Some("https://news.example/"))
        );
        let event = decode(b"site=a.b&url=https://a.b/&name=Newsletter+opened", &ctx).unwrap();
        assert_eq!((event.hit.kind, event.hit.name.as_deref()), (EventKind::Custom, Some("Newsletter opened")));
    }

    #[test]
    fn pixel_rejects_bad_input_with_reasons() {
        let ctx = super::super::test_context();
        let long = format!("site=a.b&url=https://a.b/{}", "x".repeat(5000));
        for (query, expected) in [
            ("url=https://a.b/", "missing parameter `site`"),
            ("site=a.b", "missing parameter `url`"),
            (long.as_str(), "at most 4096 bytes"),
        ] {
            let err = decode(query.as_bytes(), &ctx).err().expect("must be rejected").to_string();
            assert!(err.contains(expected), "{err:?} should mention {expected:?}");
        }
    }
}
