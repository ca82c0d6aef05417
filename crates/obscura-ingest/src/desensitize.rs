//! The privacy boundary: [`RawHit`] in, [`Event`] out.
//!
//! This is the only place an `Event` is made. It consumes the raw hit, so the IP and the raw
//! text go no further; every text field passes the scrubber; the visitor is a salted hash.

use obscura_model::{Event, EventKind, RawHit, ScreenClass};
use obscura_privacy::page_url::{PageUrl, scrub_property_value};
use obscura_privacy::referrer::{self, Source};
use obscura_privacy::scrub::{Field, Scrubber, scrub_label};
use obscura_privacy::{Clean, VisitorHash};

use crate::enricher::Enrichment;

/// Builds the stored event. Visit fields are filled in by [`crate::visits`].
pub fn desensitize(raw: RawHit, page: PageUrl, found: Enrichment, visitor: VisitorHash) -> Event {
    let has_utm = page.utm_source.is_some() || page.utm_medium.is_some() || page.utm_campaign.is_some();
    let referral = match raw.kind {
        // Referrers only mean something on pageviews.
        EventKind::Pageview => referrer::classify(raw.referrer.as_deref(), page.host.as_str(), has_utm),
        _ => referrer::Referral { host: None, source: Source::Direct },
    };
    let label = |s: Option<String>| s.filter(|s| !s.is_empty()).map(|s| scrub_label(&s));
    let utm_source = page.utm_source.or(page.ref_param);
    Event {
        ts_ms: (raw.received_at.unix_timestamp_nanos() / 1_000_000) as i64,
        site: raw.site,
        kind: raw.kind,
        visitor,
        visit: 0,
        visit_seq: 0,
        visit_gap_ms: 0,
        path: page.path,
        prev_path: None,
        referrer_host: referral.host,
        source: referral.source.as_str(),
        utm_source,
        utm_medium: page.utm_medium,
        utm_campaign: page.utm_campaign,
        name: raw.name.as_deref().map(scrub_label),
        props: raw.props.iter().map(|(k, v)| (scrub_label(k), scrub_property_value(&v.to_text()))).collect::<Vec<(Clean, Clean)>>(),
        continent: found.geo.continent,
        country: label(found.geo.country),
        province: label(found.geo.province),
        network: label(found.network),
        browser: label(found.device.browser),
        browser_version: label(found.device.browser_version),
        os: label(found.device.os),
        os_version: label(found.device.os_version),
        device_type: found.device.device_type.as_str(),
        device_brand: label(found.device.brand),
        device_model: label(found.device.model),
        screen: raw.screen_width.filter(|w| *w > 0).map(ScreenClass::from_width),
        returning: raw.returning,
        days_since_last: raw.days_since_last,
        visit_count: raw.visit_count,
        engaged_ms: raw.engaged_ms,
    }
}

/// Applies a site's configured scrub rules (see `[[scrub.rules]]`) to every free-text field;
/// the built-in rules have already run.
pub fn apply_site_rules(event: &mut Event, rules: &Scrubber) {
    let url = |v: &mut Option<Clean>| {
        if let Some(text) = v {
            *text = rules.apply(text, Field::Url);
        }
    };
    event.path = rules.apply(&event.path, Field::Url);
    url(&mut event.utm_source);
    url(&mut event.utm_medium);
    url(&mut event.utm_campaign);
    if let Some(host) = &event.referrer_host {
        event.referrer_host = Some(rules.apply(host, Field::Referrer));
    }
    if let Some(name) = &event.name {
        event.name = Some(rules.apply(name, Field::EventName));
    }
    for (key, value) in &mut event.props {
        *key = rules.apply(key, Field::Property);
        *value = rules.apply(value, Field::Property);
    }
}
