//! The privacy boundary: [`RawHit`] in, [`Event`] out.
//!
//! This is the only place an `Event` is made. It consumes the raw hit, so the IP and the raw
//! text go no further; every text field passes the scrubber; the visitor is a salted hash.
//! Names from the reference databases (country, province, network operator) are data, not
//! input, and are kept as they are; names a User-Agent parser captured are request input and
//! lose strong personal data but keep model codes such as `SM-G991B`.

use obscura_model::{Event, EventKind, RawHit, RawMeasure, ScreenClass};
use obscura_privacy::page_url::{PageUrl, scrub_property_value};
use obscura_privacy::referrer::{self, Source};
use obscura_privacy::scrub::{Field, Scrubber, reference_label, scrub_label, scrub_user_agent_label};
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
    let reference = |s: Option<String>| s.filter(|s| !s.is_empty()).map(|s| reference_label(&s));
    let user_agent = |s: Option<String>| s.filter(|s| !s.is_empty()).map(|s| scrub_user_agent_label(&s));
    let utm_source = page.utm_source.or(page.ref_param);
    Event {
        ts_ms: obscura_model::unix_ms(raw.received_at),
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
        props: raw
            .props
            .iter()
            .map(|(k, v)| (scrub_label(k), scrub_property_value(&v.to_text())))
            .collect::<Vec<(Clean, Clean)>>(),
        continent: found.geo.continent,
        country: reference(found.geo.country),
        province: reference(found.geo.province),
        network: reference(found.network),
        browser: user_agent(found.device.browser),
        browser_version: user_agent(found.device.browser_version),
        os: user_agent(found.device.os),
        os_version: user_agent(found.device.os_version),
        device_type: found.device.device_type.as_str(),
        device_brand: user_agent(found.device.brand),
        device_model: user_agent(found.device.model),
        screen: raw.screen_width.filter(|w| *w > 0).map(ScreenClass::from_width),
        returning: raw.returning,
        days_since_last: raw.days_since_last,
        visit_count: raw.visit_count,
        engaged_ms: raw.engaged_ms,
        measure: None,
    }
}

/// The events of a speed beacon: one per measurement, each a copy of the page's desensitized
/// event `base` with the measurement and its labels (scrubbed like event properties). Only the
/// first keeps the time since the visit's previous event, so visit durations count it once.
pub fn measurements(base: Event, measures: Vec<RawMeasure>) -> Vec<Event> {
    let mut events = Vec::with_capacity(measures.len());
    for (i, m) in measures.into_iter().enumerate() {
        let mut event = base.clone();
        if i > 0 {
            event.visit_gap_ms = 0;
        }
        event.props = m.labels.iter().map(|(k, v)| (scrub_label(k), scrub_property_value(v))).collect();
        event.measure = Some((m.metric, m.value));
        events.push(event);
    }
    events
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

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use obscura_enrich::{Device, Geo};
    use obscura_privacy::page_url::normalize_page;
    use obscura_privacy::salt::SaltRing;
    use time::OffsetDateTime;

    use super::*;

    fn event_with(found: Enrichment) -> Event {
        let now = OffsetDateTime::now_utc();
        let ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
        let raw = crate::synthetic::raw_pageview(1, now, ip, "test", "https://shop.example/");
        let page = normalize_page(&raw.url).expect("valid page URL");
        let mut salts = SaltRing::new();
        salts.ensure_today(now);
        let visitor = salts.visitor_hash(now, 1, ip, "test");
        desensitize(raw, page, found, visitor)
    }

    fn text(value: &Option<Clean>) -> &str {
        value.as_ref().map_or("", Clean::as_str)
    }

    #[test]
    fn hardening_reference_data_not_scrubbed_operator_and_device_model() {
        let found = Enrichment {
            geo: Geo { continent: Some("EU"), country: Some("DE".into()), province: Some("Baden-Württemberg".into()) },
            network: Some("5GNET INTERNET".into()),
            device: Device {
                browser: Some("Samsung Internet".into()),
                browser_version: Some("23".into()),
                os: Some("Android".into()),
                os_version: Some("13".into()),
                brand: Some("Samsung".into()),
                model: Some("SM-G991B".into()),
                ..Device::default()
            },
        };
        let event = event_with(found);
        assert_eq!(text(&event.network), "5GNET INTERNET");
        assert_eq!(text(&event.province), "Baden-Württemberg");
        assert_eq!(text(&event.device_model), "SM-G991B");
        assert_eq!(text(&event.device_brand), "Samsung");
        assert_eq!(text(&event.browser), "Samsung Internet");
    }

    #[test]
    fn hardening_reference_data_not_scrubbed_model_codes_but_user_agent_pii_is() {
        for model in ["SM-A515F", "CPH2211", "Redmi Note 9 Pro", "Pixel 7a", "2201117TG", "5GNET"] {
            let found = Enrichment {
                device: Device { model: Some(model.into()), ..Device::default() },
                ..Enrichment::default()
            };
            assert_eq!(text(&event_with(found).device_model), model);
        }
        // The model text comes from a request header: strong personal data is still removed.
        let found = Enrichment {
            device: Device { model: Some("jane@example.com 4111 1111 1111 1111".into()), ..Device::default() },
            ..Enrichment::default()
        };
        assert_eq!(text(&event_with(found).device_model), "[email] [card]");
        // Reference values are bounded and lose control characters all the same.
        let found =
            Enrichment { network: Some(format!("ACME\u{0}\u{85} NET {}", "x".repeat(200))), ..Enrichment::default() };
        let network = event_with(found).network.expect("network kept");
        assert!(network.as_str().starts_with("ACME NET xxx"), "{network:?}");
        assert_eq!(network.as_str().chars().count(), obscura_privacy::scrub::MAX_LABEL_CHARS);
    }
}
