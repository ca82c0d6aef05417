//! The policy tells the truth (P16): `/privacy` (HTML) and `/privacy.json` (data inventory),
//! generated from the running configuration — per site with `?site=example.com` — so they can
//! only say what the code does.
//!
//! "Last updated" is the day the text last changed: the text's hash and that day are kept
//! (sealed) beside the metadata, and the day moves only when a configuration change changes the
//! text. Responses carry an ETag (the hash) and Last-Modified, with `Cache-Control: no-cache`, and
//! answer 304 to a matching If-None-Match.

use axum::extract::{Query as UrlQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LAST_MODIFIED};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_store::meta::{GeoLevel, Site};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::layout::page;
use crate::state::AppState;
use crate::stats_query::Params;

/// The data inventory of a site (or, without one, of the defaults every new site starts with).
pub fn inventory(site: Option<&Site>, privacy: &crate::state::PrivacySettings) -> Value {
    let c = site.map(|s| s.collect.clone()).unwrap_or_default();
    let respect_dnt = site.is_none_or(|s| s.respect_dnt);
    let location = match c.geo {
        GeoLevel::Off => "not collected",
        GeoLevel::Continent => "continent",
        GeoLevel::Country => "continent and country",
        GeoLevel::Province => "continent, country and province/state",
    };
    let yes_no = |on: bool, what: &str| if on { what.to_owned() } else { "not collected".to_owned() };
    json!({
        "site": site.map(|s| s.domain.clone()),
        "controller_tool": "Obscura (self-hosted; no data goes to third parties)",
        "collected": {
            "pages": format!(
                "page path with identifiers replaced (such as /user/:id) and personal data scrubbed; of the query string only campaign tags utm_* and {} are kept",
                if privacy.source_params.is_empty() { "nothing else".to_owned() } else { privacy.source_params.join(", ") }
            ),
            "referrer": yes_no(c.referrer, "referring site's host and a category (search, social, campaign, direct, other)"),
            "device": yes_no(c.device, "browser, operating system, device type, brand and model"),
            "screen": yes_no(c.screen, "screen size class (mobile, tablet, laptop, desktop)"),
            "location": location,
            "network_operator": yes_no(c.network, "network operator (ASN organisation)"),
            "visit_frequency": yes_no(c.frequency, "new or returning, days since last visit and visits so far, in buckets, computed in the browser"),
            "engaged_time": yes_no(c.engagement, "time the page was visible"),
            "page_speed": yes_no(c.performance, "web vitals (TTFB, FCP, LCP, INP, CLS), page load time and, per content-delivery provider, resource timings and cache hits; the largest element as a CSS selector, never its text; nothing from automated browsers"),
            "custom_events": "event names and a few properties the site defines, scrubbed of personal data",
            "errors": "when the site reports errors: error type, message, stack frames, page, release and environment, scrubbed of personal data and grouped into issues; what happened before an error (breadcrumbs, extra context) only if you agree to send it, for a request about that error",
        },
        "never_collected": [
            "IP addresses (used in memory only for location, network operator and the daily visitor hash)",
            "cookies or any identifier stored in the browser",
            "names, e-mail addresses, phone numbers, ID numbers, payment cards, precise location",
        ],
        "visitor_counting": "a keyed hash of site, IP address and browser with a random salt that changes every day and is destroyed after 48 hours; visitors cannot be recognised across days",
        "privacy_signals": if respect_dnt { "Global Privacy Control and Do-Not-Track are honoured: nothing is collected" } else { "Global Privacy Control and Do-Not-Track are not honoured for this site" },
        "storage": "encrypted at rest (AES-256), each day under its own key; readable only by authorised users, and every read is audited",
        "retention": format!(
            "per-event data is deleted {} days after it was received; deletion destroys the data's encryption key (crypto-shredding), so copies and backups become unreadable too",
            site.map_or(privacy.default_retention_days, |s| s.retention_days)
        ),
        "aggregates": format!(
            "after that, only daily totals per page, source, location, device and the like are kept, and only where a figure counts at least {} different visitors; smaller figures are merged or dropped",
            privacy.k_anonymity
        ),
        "server_logs": format!(
            "Obscura's own access log (time, full IP address, request, status, browser) is encrypted, used only for security and auditing, and destroyed within {} hours",
            obscura_store::access_log::PROMISED_HOURS
        ),
    })
}

fn render_html(inv: &Value, updated: &str) -> String {
    let items = |v: &Value| -> Vec<(String, String)> {
        v.as_object()
            .map(|o| o.iter().map(|(k, v)| (k.replace('_', " "), v.as_str().unwrap_or_default().to_owned())).collect())
            .unwrap_or_default()
    };
    page(
        "Privacy",
        html! {
            main.policy {
                h1 { "Privacy policy" @if let Some(site) = inv["site"].as_str() { " · " (site) } }
                p.muted { "Last updated " (updated) ". Generated from the running configuration." }
                h2 { "What is collected" }
                ul { @for (k, v) in items(&inv["collected"]) { li { strong { (k) } ": " (v) } } }
                h2 { "What is never collected" }
                ul { @for v in inv["never_collected"].as_array().into_iter().flatten() { li { (v.as_str().unwrap_or_default()) } } }
                h2 { "How visitors are counted" } p { (inv["visitor_counting"].as_str().unwrap_or_default()) }
                h2 { "Privacy signals" } p { (inv["privacy_signals"].as_str().unwrap_or_default()) }
                h2 { "Storage and access" } p { (inv["storage"].as_str().unwrap_or_default()) }
                h2 { "Retention" } p { (inv["retention"].as_str().unwrap_or_default()) } p { (inv["aggregates"].as_str().unwrap_or_default()) }
                h2 { "Server logs" } p { (inv["server_logs"].as_str().unwrap_or_default()) }
                p.muted { "Machine-readable: " a href="privacy.json" { "privacy.json" } }
            }
        },
    )
    .into_string()
}

/// The text's hash and the day it was last updated, moving the day only when the text changed.
fn last_updated(state: &AppState, key: &str, text_hash: &str) -> anyhow::Result<time::Date> {
    let today = state.clock.now().date();
    let doc = &state.policy_versions;
    let mut versions: std::collections::BTreeMap<String, (String, String)> = doc.load()?;
    match versions.get(key) {
        Some((hash, day)) if hash == text_hash => Ok(obscura_model::parse_day(day).unwrap_or(today)),
        _ => {
            versions.insert(key.to_owned(), (text_hash.to_owned(), obscura_model::format_day(today)));
            doc.save(&versions)?;
            Ok(today)
        }
    }
}

fn respond(state: &AppState, headers: &HeaderMap, params: &Params, json: bool) -> Response {
    let meta = state.meta.get();
    let site = match params.get("site") {
        Some(domain) => match meta.site_by_domain(domain) {
            Some(s) => Some(s.clone()),
            None => {
                return (StatusCode::NOT_FOUND, format!("no policy for {domain:?}: not a site of this server"))
                    .into_response();
            }
        },
        None => None,
    };
    let inv = inventory(site.as_ref(), &state.privacy);
    let hash = hex::encode(Sha256::digest(inv.to_string().as_bytes()));
    let key = site.as_ref().map_or("*".to_owned(), |s| s.domain.clone());
    let updated = match last_updated(state, &key, &hash) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("cannot record the policy version: {e:#}");
            return (StatusCode::SERVICE_UNAVAILABLE, "the policy could not be generated; try again").into_response();
        }
    };
    let updated_text = obscura_model::format_day(updated);
    let etag = format!("\"{}\"", &hash[..32]);
    let last_modified = updated
        .midnight()
        .assume_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default()
        .replace("+0000", "GMT");
    let cache = [(ETAG, etag.clone()), (LAST_MODIFIED, last_modified), (CACHE_CONTROL, "no-cache".to_owned())];
    if headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    if json {
        let mut body = inv;
        body["last_updated"] = json!(updated_text);
        (cache, [(CONTENT_TYPE, "application/json".to_owned())], body.to_string()).into_response()
    } else {
        (cache, Html(render_html(&inv, &updated_text))).into_response()
    }
}

/// `GET /privacy` (public): the privacy policy as HTML, for the site named by `?site=` or, without it, the
/// defaults new sites start with; 404 for an unknown site, 304 when the ETag matches.
pub async fn privacy_html(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<Params>,
) -> Response {
    respond(&state, &headers, &params, false)
}

/// `GET /privacy.json` (public): the same data inventory as JSON, with its `last_updated` day; 404 and 304
/// as for [`privacy_html`].
pub async fn privacy_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<Params>,
) -> Response {
    respond(&state, &headers, &params, true)
}

#[cfg(test)]
mod tests {
    use obscura_store::meta::{Collection, GeoLevel, Site};

    use super::*;
    use crate::state::PrivacySettings;

    /// The policy's text as configured by default and for a site that collects less: one
    /// reviewed file (`snapshots/`) shows what a change to the policy says.
    #[test]
    fn policy_text_snapshot_default_and_reduced_site() {
        let privacy = PrivacySettings::default();
        let reduced = Site {
            id: 2,
            domain: "shop.example".into(),
            respect_dnt: false,
            collect: Collection { geo: GeoLevel::Country, network: false, device: false, ..Collection::default() },
            created_ms: 0,
            retention_days: 90,
            error_key: None,
            goals: Vec::new(),
            funnels: Vec::new(),
        };
        let text = |v: &Value| serde_json::to_string_pretty(v).expect("JSON");
        let out = format!(
            "-- defaults\n{}\n-- shop.example\n{}\n",
            text(&inventory(None, &privacy)),
            text(&inventory(Some(&reduced), &privacy))
        );
        insta::assert_snapshot!(out);
    }
}
