//! The dashboard view, for a signed-in user (`/`) and for a shared link (`/share/…`): headline
//! numbers with their change, a time-series chart (hour, day or week), and panels of top lists
//! (sources, pages and flow, locations, devices, visit frequency, custom events and their
//! properties). Clicking a row filters the view; filters show as removable chips; every state is
//! in the URL. Server-rendered: it works without JavaScript (the script only switches the theme).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use obscura_query::{Aggregate, BreakdownRow, SeriesPoint};
use obscura_query::{Dimension, Interval, Query};

use crate::layout::page;
use crate::state::AppState;
use crate::stats_query::{Params, Reader, parse_query};
use crate::traffic::Traffic;

const RANGES: [(&str, &str); 7] = [
    ("today", "Today"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("month", "This month"),
    ("last_month", "Last month"),
    ("12mo", "12 months"),
];

/// A panel of top lists: its URL parameter (which tab is open), title, tabs and second column.
struct Panel {
    param: &'static str,
    title: &'static str,
    tabs: &'static [(&'static str, &'static str)],
    count: Count,
}

const PANELS: [Panel; 6] = [
    Panel {
        param: "sources",
        title: "Sources",
        tabs: &[
            ("source", "Channel"),
            ("referrer", "Referrer"),
            ("utm_source", "UTM source"),
            ("utm_medium", "UTM medium"),
            ("utm_campaign", "UTM campaign"),
        ],
        count: Count::Visits,
    },
    Panel {
        param: "pages",
        title: "Pages",
        tabs: &[("page", "Top pages"), ("entry_page", "Entry pages"), ("exit_page", "Exit pages"), ("flow", "Flow")],
        count: Count::Pageviews,
    },
    Panel {
        param: "locations",
        title: "Locations",
        tabs: &[
            ("country", "Countries"),
            ("province", "Provinces"),
            ("continent", "Continents"),
            ("network", "Network operators"),
        ],
        count: Count::Visits,
    },
    Panel {
        param: "devices",
        title: "Devices",
        tabs: &[
            ("browser", "Browsers"),
            ("os", "Operating systems"),
            ("device_type", "Device types"),
            ("device_brand", "Brands"),
            ("device_model", "Models"),
            ("screen", "Screens"),
        ],
        count: Count::Visits,
    },
    Panel {
        param: "frequency",
        title: "Visitors",
        tabs: &[
            ("visitor_type", "New vs returning"),
            ("days_since_last", "Days since last visit"),
            ("visit_count", "Visits so far"),
        ],
        count: Count::Visits,
    },
    Panel { param: "events", title: "Custom events", tabs: &[("event", "Events")], count: Count::Events },
];

/// Everything but RFC 3986's unreserved characters is encoded in a query value.
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a URL query value.
pub(crate) fn enc(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// This view's URL with some parameters changed (`None` removes one). Every state lives in the URL.
fn url_with(base: &str, params: &Params, changes: &[(&str, Option<&str>)]) -> String {
    let mut merged: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    merged.extend(changes.iter().filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), v.to_owned()))));
    merged.sort();
    let query: Vec<String> =
        merged.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", enc(v))).collect();
    format!("{base}?{}", query.join("&"))
}

/// The filters of the URL, as written there (`dim==value` joined with `;`).
fn filter_list(params: &Params) -> Vec<String> {
    params
        .get("filters")
        .map(|f| f.split(';').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Who looks at a dashboard: a logged-in user, or a visitor of a shared link.
pub struct Viewer {
    /// Who reads (named in the audit log) and which sites they may see.
    pub reader: Reader,
    /// The path the dashboard's links start with: `/` or `/share/<token>`.
    pub base: String,
    /// The path as the audit log records it: `/`, or `/share/…` — never a link's token, which
    /// is kept only as a hash (the reader's actor names the link).
    pub audited_base: String,
    /// Sites the viewer may switch between.
    pub sites: Vec<obscura_store::meta::Site>,
    /// The login session (for log out and account links); none on a shared link.
    pub session: Option<crate::sessions::Session>,
}

/// Renders the dashboard for `viewer` from the URL's parameters.
pub async fn render_dashboard(state: &AppState, viewer: Viewer, mut params: Params) -> Response {
    let Viewer { reader, base, audited_base, sites: visible, session } = viewer;
    let base = base.as_str();
    if !params.contains_key("site") {
        params.insert("site".into(), visible[0].domain.clone());
    }
    let range_name = params.get("range").cloned().unwrap_or_else(|| "30d".into());
    let parsed = parse_query(state, &reader, &params).and_then(|(q, site)| {
        let interval = match params.get("interval") {
            Some(i) => Interval::parse(i)?,
            None if q.range.to - q.range.from <= time::Duration::days(2) => Interval::Hour,
            None => Interval::Day,
        };
        let prop = params.get("prop").filter(|p| !p.is_empty() && p.len() <= 100).cloned();
        let traffic = Traffic::from_params(&params)?;
        crate::audit::record_read(
            state,
            &reader.actor,
            Some(&site.domain),
            &format!("dashboard {}", url_with(&audited_base, &params, &[])),
        )?;
        Ok((q, site, interval, prop, traffic))
    });
    let (q, site, interval, prop, traffic) = match parsed {
        Ok(x) => x,
        Err(e) => {
            let body = page(
                "Bad request",
                html! { main { h1 { "Cannot show this view" } p class="error" { (e.message) } p { a href=(base) { "Back to the overview" } } } },
            );
            return (e.status, Html(body.into_string())).into_response();
        }
    };
    let store = state.store.as_ref();
    let prev = Query { range: q.range.previous(), ..q.clone() };
    let tab_of = |panel: &Panel| -> String {
        let chosen = params.get(panel.param).map(String::as_str);
        let allowed = panel.tabs.iter().any(|(dim, _)| Some(*dim) == chosen)
            || (panel.param == "events"
                && prop.as_deref().is_some_and(|p| chosen == Some(format!("prop:{p}").as_str())));
        if allowed { chosen.unwrap_or(panel.tabs[0].0).to_owned() } else { panel.tabs[0].0.to_owned() }
    };
    let tabs: Vec<String> = PANELS.iter().map(tab_of).collect();
    let dims: Vec<Dimension> = tabs.iter().map(|t| Dimension::parse(t).expect("tabs are known dimensions")).collect();
    // The queries of one page run concurrently: two cores, a dozen small queries.
    let breakdowns = futures::future::join_all(dims.iter().map(|dim| traffic.breakdown(store, &q, dim, 10)));
    let (now, before, people_series, panels, automated, goals, funnels) = futures::join!(
        traffic.aggregate(store, &q),
        traffic.aggregate(store, &prev),
        store.timeseries(&q, interval),
        breakdowns,
        crate::automated::Automated::load(store, &q, interval, 5),
        crate::goals::figures(store, &q, &site.goals),
        crate::funnels::figures(store, &q, &site.funnels),
    );
    let loaded = async {
        let panels = panels.into_iter().collect::<Result<Vec<_>, _>>()?;
        let people_series = people_series?;
        let series = traffic.series_from(store, &q, interval, people_series.clone()).await?;
        Ok::<_, obscura_store::StoreError>((now?, before?, people_series, series, panels, automated?, goals?, funnels?))
    };
    let (now, before, people_series, series, panels, automated, goals, funnels) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("dashboard query failed: {e}");
            let body = page(
                "Unavailable",
                html! { main { h1 { "The store could not answer" } p class="error" { "Please try again; the server log has the details." } } },
            );
            return (StatusCode::SERVICE_UNAVAILABLE, Html(body.into_string())).into_response();
        }
    };
    let filters = filter_list(&params);
    let partial = store.partial();
    let body = page(
        "Dashboard",
        html! {
            header.top {
                h1 { "Obscura · " (site.domain) }
                nav.sites { @for s in &visible { a class=[(s.id == site.id).then_some("on")] href=(url_with(base, &params, &[("site", Some(s.domain.as_str())), ("filters", None)])) { (s.domain) } } }
                nav.actions {
                    button type="button" id="theme" class="link" { "Theme" }
                    @if let Some(session) = &session {
                        a href=(format!("/realtime?site={}", enc(&site.domain))) { "Realtime" }
                        a href=(format!("/speed?site={}", enc(&site.domain))) { "Speed" }
                        a href=(format!("/errors?site={}", enc(&site.domain))) { "Errors" }
                        @if session.role >= obscura_store::meta::Role::Admin { a href="/sites" { "Sites" } }
                        a href="/account" { "Account" }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Log out " (session.username) }
                        }
                    } @else {
                        span.muted { "Shared read-only view" }
                    }
                }
            }
            main {
                @if let Some(partial) = &partial { p class="error partial" role="status" { (partial) } }
                nav.ranges {
                    @for (key, label) in RANGES { a class=[(key == range_name).then_some("on")] href=(url_with(base, &params, &[("range", Some(key)), ("from", None), ("to", None), ("interval", None)])) { (label) } }
                    form.inline.custom method="get" action=(base) {
                        @for (k, v) in params.iter().filter(|(k, _)| !matches!(k.as_str(), "range" | "from" | "to" | "interval")) { input type="hidden" name=(k) value=(v); }
                        input type="hidden" name="range" value="custom";
                        input type="date" name="from" aria-label="From" value=[params.get("from")] required;
                        input type="date" name="to" aria-label="To" value=[params.get("to")] required;
                        button type="submit" { "Custom range" }
                    }
                }
                @if !filters.is_empty() {
                    div.chips {
                        @for (i, f) in filters.iter().enumerate() {
                            @let rest: Vec<&str> = filters.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, f)| f.as_str()).collect();
                            a.chip href=(url_with(base, &params, &[("filters", Some(rest.join(";").as_str()))])) title="Remove this filter" { (f.replace("==", " is ").replace("!=", " is not ").replace("~=", " contains ")) " ×" }
                        }
                        a.chip.clear href=(url_with(base, &params, &[("filters", None)])) { "Clear all" }
                    }
                }
                @if traffic == Traffic::WithAutomated {
                    div.chips { a.chip href=(url_with(base, &params, &[("automated", None)])) title="Leave automated traffic out" { "Automated traffic counted in ×" } }
                }
                (metrics(&now, &before))
                div.chart {
                    nav.granularity {
                        @for (key, label) in [("hour", "Hours"), ("day", "Days"), ("week", "Weeks")] {
                            @let on = matches!((key, interval), ("hour", Interval::Hour) | ("day", Interval::Day) | ("week", Interval::Week));
                            a class=[on.then_some("on")] href=(url_with(base, &params, &[("interval", Some(key))])) { (label) }
                        }
                    }
                    (chart(&series, interval))
                }
                div.panels {
                    @for ((panel, tab), rows) in PANELS.iter().zip(&tabs).zip(&panels) {
                        div class=(if tab == "flow" { "panel wide" } else { "panel" }) {
                            h2 { (panel.title) }
                            nav.tabs {
                                @for (dim, label) in panel.tabs { a class=[(dim == tab).then_some("on")] href=(url_with(base, &params, &[(panel.param, Some(dim))])) { (label) } }
                                @if panel.param == "events" {
                                    @if let Some(p) = &prop { @let key = format!("prop:{p}"); a class=[(&key == tab).then_some("on")] href=(url_with(base, &params, &[("events", Some(key.as_str()))])) { "Property " (p) } }
                                }
                            }
                            @if tab == "flow" && !rows.is_empty() { (flow_picture(rows)) }
                            (top_rows(base, tab, rows, panel.count, &params))
                            @if panel.param == "locations" { p.attribution { (crate::stats_query::GEO_ATTRIBUTION) } }
                            @if panel.param == "events" {
                                form.inline.prop method="get" action=(base) {
                                    @for (k, v) in params.iter().filter(|(k, _)| !matches!(k.as_str(), "prop" | "events")) { input type="hidden" name=(k) value=(v); }
                                    input name="prop" placeholder="property key, e.g. plan" aria-label="Property key" value=[prop.as_deref()];
                                    button type="submit" { "Break down" }
                                }
                            }
                        }
                    }
                    (crate::goals::panel(&goals, &site.domain))
                    (crate::funnels::panel(&funnels, &site.domain))
                    @let switched = if traffic == Traffic::WithAutomated { None } else { Some("include") };
                    (crate::automated::panel(&automated, &people_series, traffic, &url_with(base, &params, &[("automated", switched)])))
                }
            }
            script src="/static/app.js" defer {}
        },
    );
    Html(body.into_string()).into_response()
}

fn change(now: f64, before: f64, lower_is_better: bool) -> Markup {
    if before == 0.0 {
        return html! { span.change { "—" } };
    }
    let pct = (now - before) / before * 100.0;
    let good = if lower_is_better { pct < 0.0 } else { pct > 0.0 };
    let class = if pct.abs() < 0.5 {
        "change"
    } else if good {
        "change up"
    } else {
        "change down"
    };
    html! { span class=(class) { (format!("{:+.0}%", pct)) " vs previous period" } }
}

fn metrics(now: &Aggregate, before: &Aggregate) -> Markup {
    let items: [(&str, String, f64, f64, bool); 6] = [
        ("Visitors", now.visitors.to_string(), now.visitors as f64, before.visitors as f64, false),
        ("Visits", now.visits.to_string(), now.visits as f64, before.visits as f64, false),
        ("Pageviews", now.pageviews.to_string(), now.pageviews as f64, before.pageviews as f64, false),
        ("Views per visit", format!("{:.2}", now.views_per_visit), now.views_per_visit, before.views_per_visit, false),
        ("Bounce rate", format!("{:.0}%", now.bounce_rate), now.bounce_rate, before.bounce_rate, true),
        ("Visit duration", duration(now.visit_duration), now.visit_duration, before.visit_duration, false),
    ];
    html! {
        section.metrics {
            @for (label, shown, n, b, lower) in items {
                div.metric data-metric=(label.to_lowercase().replace(' ', "_")) {
                    div.label { (label) }
                    div.value { (shown) }
                    (change(n, b, lower))
                }
            }
        }
    }
}

fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 60 { format!("{}m {:02}s", s / 60, s % 60) } else { format!("{s}s") }
}

/// An SVG bar chart of visitors; each bar's `<title>` shows its values on hover, without script.
fn chart(series: &[SeriesPoint], interval: Interval) -> Markup {
    let (w, h, pad) = (1000.0_f64, 220.0_f64, 24.0_f64);
    let max = series.iter().map(|p| p.visitors).max().unwrap_or(0).max(1) as f64;
    let n = series.len().max(1) as f64;
    let slot = (w - pad) / n;
    let fmt = match interval {
        Interval::Hour => time::macros::format_description!("[month repr:short] [day] [hour]:00"),
        Interval::Day | Interval::Week => time::macros::format_description!("[month repr:short] [day]"),
    };
    let label = |ms: i64| {
        time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
            .ok()
            .and_then(|t| t.format(fmt).ok())
            .unwrap_or_default()
    };
    html! {
        svg viewBox=(format!("0 0 {w} {}", h + pad)) role="img" aria-label="Visitors over time" {
            line x1=(pad) y1=(h) x2=(w) y2=(h) stroke="currentColor" stroke-opacity="0.3" {}
            text x="0" y="12" font-size="11" fill="currentColor" { (max as u64) }
            @for (i, p) in series.iter().enumerate() {
                @let bh = (p.visitors as f64 / max) * (h - 16.0);
                @let x = pad + i as f64 * slot;
                g {
                    title { (label(p.bucket_ms)) ": " (p.visitors) " visitors, " (p.visits) " visits, " (p.pageviews) " pageviews" }
                    rect x=(format!("{:.1}", x + slot * 0.1)) y=(format!("{:.1}", h - bh)) width=(format!("{:.1}", slot * 0.8)) height=(format!("{:.1}", bh.max(0.5))) {}
                }
            }
            @if let (Some(first), Some(last)) = (series.first(), series.last()) {
                text x=(pad) y=(h + 18.0) font-size="11" fill="currentColor" { (label(first.bucket_ms)) }
                text x=(w) y=(h + 18.0) font-size="11" fill="currentColor" text-anchor="end" { (label(last.bucket_ms)) }
            }
        }
    }
}

/// The behaviour flow as a picture: previous pages on the left, pages on the right, each band as
/// wide as the pageviews that followed that step (hover a band for its numbers).
fn flow_picture(rows: &[BreakdownRow]) -> Markup {
    let pairs: Vec<(&str, &str, u64)> =
        rows.iter().filter_map(|r| r.value.split_once(" → ").map(|(a, b)| (a, b, r.pageviews))).collect();
    let total: u64 = pairs.iter().map(|p| p.2).sum::<u64>().max(1);
    // Nodes in order of their traffic, each as tall as its share.
    let nodes = |left_side: bool| -> Vec<(String, u64)> {
        let mut sums: Vec<(String, u64)> = Vec::new();
        for (a, b, v) in &pairs {
            let name = if left_side { *a } else { *b };
            match sums.iter_mut().find(|(n, _)| n == name) {
                Some(entry) => entry.1 += v,
                None => sums.push((name.to_owned(), *v)),
            }
        }
        sums.sort_by_key(|(_, v)| std::cmp::Reverse(*v));
        sums
    };
    let (left, right) = (nodes(true), nodes(false));
    let (w, h, gap, node_w) = (380.0_f64, 240.0_f64, 6.0_f64, 10.0_f64);
    let scale = |n: usize| (h - gap * (n.saturating_sub(1)) as f64) / total as f64;
    let (ls, rs) = (scale(left.len()), scale(right.len()));
    let tops = |list: &[(String, u64)], k: f64| -> Vec<f64> {
        let mut y = 0.0;
        list.iter()
            .map(|(_, v)| {
                let top = y;
                y += *v as f64 * k + gap;
                top
            })
            .collect()
    };
    let (ltop, rtop) = (tops(&left, ls), tops(&right, rs));
    let mut lused = vec![0.0; left.len()];
    let mut rused = vec![0.0; right.len()];
    let mut bands = Vec::new();
    for (a, b, v) in &pairs {
        let (li, ri) =
            (left.iter().position(|n| n.0 == *a).unwrap_or(0), right.iter().position(|n| n.0 == *b).unwrap_or(0));
        let (lh, rh) = (*v as f64 * ls, *v as f64 * rs);
        let (y1, y2) = (ltop[li] + lused[li] + lh / 2.0, rtop[ri] + rused[ri] + rh / 2.0);
        lused[li] += lh;
        rused[ri] += rh;
        bands.push((
            format!("M{node_w} {y1:.1} C{:.1} {y1:.1} {:.1} {y2:.1} {:.1} {y2:.1}", w / 2.0, w / 2.0, w - node_w),
            lh.max(rh).max(1.0),
            format!("{a} → {b}: {v} pageviews"),
        ));
    }
    html! {
        svg.flow viewBox=(format!("-200 -4 {} {}", w + 400.0, h + 8.0)) role="img" aria-label="Behaviour flow" {
            @for (d, width, label) in &bands {
                path d=(d) stroke-width=(format!("{width:.1}")) fill="none" class="band" { title { (label) } }
            }
            @for ((name, v), top) in left.iter().zip(&ltop) {
                rect x="0" y=(format!("{top:.1}")) width=(node_w) height=(format!("{:.1}", (*v as f64 * ls).max(1.0))) class="node" {}
                text x="-4" y=(format!("{:.1}", top + (*v as f64 * ls) / 2.0 + 4.0)) text-anchor="end" font-size="13" fill="currentColor" { (name) }
            }
            @for ((name, v), top) in right.iter().zip(&rtop) {
                rect x=(w - node_w) y=(format!("{top:.1}")) width=(node_w) height=(format!("{:.1}", (*v as f64 * rs).max(1.0))) class="node" {}
                text x=(w + 4.0) y=(format!("{:.1}", top + (*v as f64 * rs) / 2.0 + 4.0)) font-size="13" fill="currentColor" { (name) }
            }
        }
    }
}

/// The second number of a top list: acquisition, location, device and visitor lists count visits
/// (they describe a visit's start); content lists count pageviews; events count events.
#[derive(Clone, Copy)]
pub(crate) enum Count {
    Visits,
    Pageviews,
    Events,
}

/// A top list whose rows filter the view when clicked.
pub(crate) fn top_rows(base: &str, dim: &str, rows: &[BreakdownRow], count: Count, params: &Params) -> Markup {
    let (label, value): (&str, fn(&BreakdownRow) -> u64) = match count {
        Count::Visits => ("Visits", |r| r.visits),
        Count::Pageviews => ("Pageviews", |r| r.pageviews),
        Count::Events => ("Events", |r| r.events),
    };
    let (label, value): (&str, fn(&BreakdownRow) -> u64) = match dim {
        "exit_page" => ("Exits", |r| r.visits),
        "entry_page" => ("Entrances", |r| r.visits),
        "flow" => ("Pageviews", |r| r.pageviews),
        _ if dim.starts_with("prop:") => ("Events", |r| r.events),
        _ => (label, value),
    };
    // Flow pairs are not a filterable value.
    let filterable = dim != "flow";
    let mut filters = filter_list(params);
    html! {
        @if rows.is_empty() { p.empty { "No data in this period." } } @else {
            table.top {
                thead { tr { th { "" } th.n { "Visitors" } th.n { (label) } } }
                tbody {
                    @for r in rows {
                        tr {
                            td {
                                @if filterable {
                                    @let with = { filters.push(format!("{dim}=={}", r.value)); let f = filters.join(";"); filters.pop(); f };
                                    a href=(url_with(base, params, &[("filters", Some(with.as_str()))])) title="Filter by this" { (r.value) }
                                } @else { (r.value) }
                            }
                            td.n { (r.visitors) }
                            td.n { (value(r)) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_query_values_are_percent_encoded() {
        assert_eq!(enc("a-z_0.9~"), "a-z_0.9~");
        assert_eq!(enc("country==DE|FR;page~=/blog"), "country%3D%3DDE%7CFR%3Bpage~%3D%2Fblog");
        assert_eq!(enc("München & co"), "M%C3%BCnchen%20%26%20co");
    }
}
