//! The privacy boundary: [`RawHit`] in, [`Event`] out.
//!
//! This is the only place an `Event` is made (also again, from another installation's export:
//! [`reimported`]). It consumes the raw hit, so the IP and the raw
//! text go no further; every text field passes the scrubber; the visitor is a salted hash.
//! Names from the reference databases (country, province, network operator) are data, not
//! input, and are kept as they are; names a User-Agent parser captured are request input and
//! lose strong personal data but keep model codes such as `SM-G991B`.

use obscura_model::raw_error::{RawError, RawFrame};
use obscura_model::{DaysSinceLast, Event, EventKind, Metric, RawHit, RawMeasure, ScreenClass, VisitCount};
use obscura_privacy::page_url::{PageUrl, scrub_property_value};
use obscura_privacy::referrer::{self, Source};
use obscura_privacy::scrub::{
    Field, Scrubber, digest_label, reference_label, scrub_label, scrub_lines, scrub_text, scrub_url_part,
    scrub_user_agent_label,
};
use obscura_privacy::{Clean, VisitorHash};
use obscura_store::StoredRow;

use crate::enricher::Enrichment;
use crate::grouping::{GroupFrame, GroupInput, fingerprint};

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

/// An event of another installation's full-site export, made again at this boundary: its text
/// comes from a file, so every field passes the scrubber again, names of fixed sets (kind,
/// source, device type, screen, frequency buckets, metric) must be one of theirs, the continent
/// follows from the country, and the visitor and visit numbers are re-keyed by the caller
/// (`visitor`, `visit`: see [`obscura_privacy::Rekey`]). Fails, saying why, on a row that is
/// not an event.
pub fn reimported(row: &StoredRow, visitor: VisitorHash, visit: u64) -> Result<Event, String> {
    let kind = EventKind::from_code(row.kind).ok_or_else(|| format!("unknown kind {}", row.kind))?;
    let label = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(scrub_label);
    let user_agent = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(scrub_user_agent_label);
    let path = |s: &str| scrub_url_part(if s.is_empty() { "/" } else { s });
    let source = Source::parse(&row.source).ok_or_else(|| format!("unknown source {:?}", row.source))?;
    let device_type = ["desktop", "mobile", "tablet", "unknown"]
        .into_iter()
        .find(|d| *d == row.device_type)
        .ok_or_else(|| format!("unknown device type {:?}", row.device_type))?;
    let screen = match row.screen.as_deref() {
        None | Some("") => None,
        Some(name) => Some(
            [ScreenClass::Mobile, ScreenClass::Tablet, ScreenClass::Laptop, ScreenClass::Desktop]
                .into_iter()
                .find(|c| c.as_str() == name)
                .ok_or_else(|| format!("unknown screen class {name:?}"))?,
        ),
    };
    let days_since_last = match row.days_since_last.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(DaysSinceLast::parse(v).ok_or_else(|| format!("unknown days-since-last bucket {v:?}"))?),
    };
    let visit_count = match row.visit_count.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(VisitCount::parse(v).ok_or_else(|| format!("unknown visit-count bucket {v:?}"))?),
    };
    let measure = match (row.metric.as_deref(), row.value) {
        (None, _) => None,
        (Some(name), Some(value)) => {
            let metric = Metric::parse(name).ok_or_else(|| format!("unknown metric {name:?}"))?;
            if !metric.accepts(value) {
                return Err(format!("{name} cannot be {value}"));
            }
            Some((metric, value))
        }
        (Some(name), None) => return Err(format!("metric {name:?} without a value")),
    };
    let country = row.country.as_deref().filter(|c| obscura_enrich::geo::continent_of(c).is_some());
    Ok(Event {
        ts_ms: row.ts_ms,
        site: row.site,
        kind,
        visitor,
        visit,
        visit_seq: row.visit_seq,
        visit_gap_ms: row.visit_gap_ms,
        path: path(&row.path),
        prev_path: row.prev_path.as_deref().map(path),
        referrer_host: label(&row.referrer_host),
        source: source.as_str(),
        utm_source: label(&row.utm_source),
        utm_medium: label(&row.utm_medium),
        utm_campaign: label(&row.utm_campaign),
        name: label(&row.name),
        props: row.props.as_deref().map(exported_props).unwrap_or_default(),
        continent: country.and_then(obscura_enrich::geo::continent_of),
        country: country.map(|c| scrub_label(&c.to_ascii_uppercase())),
        province: label(&row.province),
        network: label(&row.network),
        browser: user_agent(&row.browser),
        browser_version: user_agent(&row.browser_version),
        os: user_agent(&row.os),
        os_version: user_agent(&row.os_version),
        device_type,
        device_brand: user_agent(&row.device_brand),
        device_model: user_agent(&row.device_model),
        screen,
        returning: row.returning,
        days_since_last,
        visit_count,
        engaged_ms: row.engaged_ms,
        measure,
    })
}

/// Stored properties (`\u{1}key\u{2}value\u{1}…`) scrubbed again, as a live event's are; an
/// error's frames and detail keep their lines.
fn exported_props(props: &str) -> Vec<(Clean, Clean)> {
    props
        .split('\u{1}')
        .filter_map(|pair| pair.split_once('\u{2}'))
        .map(|(key, value)| {
            let scrubbed = match key {
                "frames" | "detail" => scrub_lines(value.lines()),
                _ => scrub_property_value(value),
            };
            (scrub_label(key), scrubbed)
        })
        .collect()
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

/// The event of an error report: a copy of the page's desensitized event `base` (page, device,
/// visitor) with the fingerprint as its name and the report's scrubbed parts as
/// properties: `type`, `message`, `culprit`, `level`, `release`, `environment`, `platform` and
/// `frames` (one line per frame, the innermost first). Tags, breadcrumbs and extra context are
/// not kept: detail leaves the device only with the person's consent (P7).
pub fn error_event(mut base: Event, raw: &RawError) -> Event {
    let reported = raw.exceptions.last();
    let kind = reported.and_then(|e| e.kind.as_deref()).map(scrub_label);
    let message = reported.and_then(|e| e.value.as_deref()).or(raw.message.as_deref()).map(scrub_text);
    let frames: &[RawFrame] = reported.map_or(&[][..], |e| e.frames.as_slice());
    let lines: Vec<String> = frames.iter().rev().map(frame_line).collect();
    let group: Vec<GroupFrame> = frames
        .iter()
        .map(|f| GroupFrame {
            location: f
                .module
                .as_deref()
                .or(f.filename.as_deref())
                .map(|l| scrub_label(without_query(l)).into_string()),
            function: f.function.as_deref().map(|x| scrub_label(x).into_string()),
            in_app: f.in_app,
        })
        .collect();
    let transaction = raw.transaction.as_deref().map(scrub_label);
    let sdk: Vec<String> = raw.fingerprint.iter().map(|p| scrub_label(p).into_string()).collect();
    let print = fingerprint(&GroupInput {
        kind: kind.as_ref().map(Clean::as_str),
        message: message.as_ref().map(Clean::as_str),
        frames: &group,
        transaction: transaction.as_ref().map(Clean::as_str),
        sdk: &sdk,
    });
    // Where it happened: the SDK's transaction, else the innermost frame of the application.
    let culprit = transaction.or_else(|| {
        let innermost = group.iter().rev().find(|f| f.in_app != Some(false))?;
        let function = innermost.function.as_deref().unwrap_or("?");
        Some(scrub_label(&match innermost.location.as_deref() {
            Some(location) => format!("{function} ({location})"),
            None => function.to_owned(),
        }))
    });
    let level = match raw.level.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some(l @ ("fatal" | "warning" | "info" | "debug")) => l.to_owned(),
        Some("warn") => "warning".to_owned(),
        _ => "error".to_owned(),
    };
    let label = |key: &str, value: Option<Clean>| value.filter(|v| !v.is_empty()).map(|v| (scrub_label(key), v));
    base.props = [
        label("type", kind),
        label("message", message),
        label("culprit", culprit),
        label("level", Some(scrub_label(&level))),
        label("release", raw.release.as_deref().map(scrub_label)),
        label("environment", raw.environment.as_deref().map(scrub_label)),
        label("platform", raw.platform.as_deref().map(scrub_label)),
        label("frames", Some(scrub_lines(lines.iter().map(String::as_str)))),
    ]
    .into_iter()
    .flatten()
    .collect();
    base.name = Some(digest_label(&print));
    base.kind = EventKind::Error;
    base.visit_seq = 0;
    base.visit_gap_ms = 0;
    base
}

/// Adds a consented report's detail to its event: the lines (breadcrumbs, extra context) each
/// scrubbed like a frame, as property `detail`, and the diagnostics request they answer as
/// `diagnostics`. The event is stored under its day's key like every other, so retention
/// destroys the detail with the day.
pub fn with_detail(event: &mut Event, lines: &[&String], request_id: &str) {
    event.props.push((scrub_label("detail"), scrub_lines(lines.iter().map(|l| l.as_str()))));
    event.props.push((scrub_label("diagnostics"), scrub_label(request_id)));
}

/// One frame as a line: `function (file:line)`, library frames marked.
fn frame_line(f: &RawFrame) -> String {
    let function = f.function.as_deref().unwrap_or("?");
    let place = f.filename.as_deref().or(f.module.as_deref()).map(without_query).unwrap_or("?");
    let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
    let library = if f.in_app == Some(false) { " [library]" } else { "" };
    format!("{function} ({place}{line}){library}")
}

/// A file or URL without its query and fragment (they may carry tokens).
fn without_query(location: &str) -> &str {
    location.split(['?', '#']).next().unwrap_or("")
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
    // An error's name is its fingerprint, a hash of scrubbed text; its properties are its parts.
    let property = if event.kind == EventKind::Error { Field::Error } else { Field::Property };
    if let Some(name) = event.name.as_ref().filter(|_| event.kind != EventKind::Error) {
        event.name = Some(rules.apply(name, Field::EventName));
    }
    for (key, value) in &mut event.props {
        *key = rules.apply(key, property);
        *value = rules.apply(value, property);
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

    #[test]
    fn p01_reimported_events_pass_the_scrubber_again() {
        let mut row = StoredRow::from(&event_with(Enrichment::default()));
        row.path = "/users/jane.doe@example.com/orders".into();
        row.props = Some("\u{1}note\u{2}write to jane.doe@example.com\u{1}plan\u{2}pro\u{1}".into());
        row.name = Some("sent to jane.doe@example.com".into());
        row.country = Some("de".into());
        row.continent = Some("OC".into());
        let visitor = obscura_privacy::Rekey::new().visitor(row.visitor);
        let event = reimported(&row, visitor, 9).expect("an event");
        assert!(!format!("{event:?}").contains("jane.doe"), "{event:?}");
        assert_eq!(event.props[1].1.as_str(), "pro");
        assert_eq!((event.country.as_ref().map(Clean::as_str), event.continent), (Some("DE"), Some("EU")));
        assert_eq!((event.visit, event.visitor), (9, visitor));
        for (field, bad) in [("source", "friends"), ("device", "toaster"), ("kind", "9")] {
            let mut wrong = row.clone();
            match field {
                "source" => wrong.source = bad.into(),
                "device" => wrong.device_type = bad.into(),
                _ => wrong.kind = 9,
            }
            let why = reimported(&wrong, visitor, 9).expect_err("not an event");
            assert!(why.contains(bad), "{why}");
        }
    }

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
