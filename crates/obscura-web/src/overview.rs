//! The overview page at `/`: headline numbers with their change, a time-series chart, and the top
//! pages, sources and countries. Server-rendered; works without JavaScript.

use axum::extract::{Query as UrlQuery, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use obscura_query::results::{self, Aggregate, BreakdownRow, SeriesPoint};
use obscura_query::{Dimension, Interval, Query};

use crate::state::AppState;
use crate::stats_api::{Params, Reader, parse_query};

pub const APP_CSS: &str = include_str!("../assets/app.css");

pub async fn app_css() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")], APP_CSS)
}

/// The page frame shared by every HTML page.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · Obscura" }
                link rel="stylesheet" href="/static/app.css";
            }
            body { (body) }
        }
    }
}

const RANGES: [(&str, &str); 7] = [
    ("today", "Today"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("month", "This month"),
    ("last_month", "Last month"),
    ("12mo", "12 months"),
];

pub async fn overview(State(state): State<AppState>, headers: HeaderMap, UrlQuery(mut params): UrlQuery<Params>) -> Response {
    let Some(session) = state.sessions.get(&headers, state.clock.now()) else {
        return (StatusCode::SEE_OTHER, [(LOCATION, "/login")]).into_response();
    };
    let meta = state.meta.get();
    let visible: Vec<_> = {
        let reader = Reader::for_session(&state, &session);
        meta.sites.iter().filter(|s| reader.may_read(s.id)).cloned().collect()
    };
    if visible.is_empty() {
        let body = page("Overview", html! { main { h1 { "No sites yet" } p { "Add one with " code { "obscura site add example.com" } "." } } });
        return Html(body.into_string()).into_response();
    }
    if !params.contains_key("site") {
        params.insert("site".into(), visible[0].domain.clone());
    }
    let range_name = params.get("range").cloned().unwrap_or_else(|| "30d".into());
    let reader = Reader::for_session(&state, &session);
    let parsed = parse_query(&state, &reader, &params).and_then(|(q, site)| {
        crate::stats_api::audit_read(&state, &reader.actor, Some(&site.domain), &format!("overview range={range_name}"))?;
        Ok((q, site))
    });
    let (q, site) = match parsed {
        Ok(x) => x,
        Err(e) => {
            let body = page("Bad request", html! { main { h1 { "Cannot show this view" } p class="error" { (e.message) } p { a href="/" { "Back to the overview" } } } });
            return (e.status, Html(body.into_string())).into_response();
        }
    };
    let interval = if q.range.to - q.range.from <= time::Duration::days(2) { Interval::Hour } else { Interval::Day };
    let store = state.store.as_ref();
    let d = state.dialect;
    let prev = Query { range: q.range.previous(), ..q.clone() };
    let loaded = async {
        Ok::<_, obscura_store::StoreError>((
            results::aggregate(store, d, &q).await?,
            results::aggregate(store, d, &prev).await?,
            results::timeseries(store, d, &q, interval).await?,
            results::breakdown(store, d, &q, &Dimension::Page, 10).await?,
            results::breakdown(store, d, &q, &Dimension::Source, 10).await?,
            results::breakdown(store, d, &q, &Dimension::Referrer, 10).await?,
            results::breakdown(store, d, &q, &Dimension::Country, 10).await?,
        ))
    }
    .await;
    let (now, before, series, pages, sources, referrers, countries) = match loaded {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("overview query failed: {e}");
            let body = page("Unavailable", html! { main { h1 { "The store could not answer" } p class="error" { "Please try again; the server log has the details." } } });
            return (StatusCode::SERVICE_UNAVAILABLE, Html(body.into_string())).into_response();
        }
    };
    let body = page(
        "Overview",
        html! {
            header.top {
                h1 { "Obscura · " (site.domain) }
                nav.sites { @for s in &visible { a class=[(s.id == site.id).then_some("on")] href=(format!("/?site={}&range={}", s.domain, range_name)) { (s.domain) } } }
                nav.ranges { @for (key, label) in RANGES { a class=[(key == range_name).then_some("on")] href=(format!("/?site={}&range={}", site.domain, key)) { (label) } } }
                a href="/account" { "Account" }
                form.inline method="post" action="/logout" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Log out " (session.username) }
                }
            }
            main {
                (metrics(&now, &before))
                div.chart { (chart(&series, interval)) }
                div.panels {
                    (top_table("Top pages", "Page", &pages, Count::Pageviews))
                    (top_table("Sources", "Source", &sources, Count::Visits))
                    (top_table("Referrers", "Referrer", &referrers, Count::Visits))
                    div.panel {
                        (top_rows("Countries", "Country", &countries, Count::Pageviews))
                        p.attribution { (crate::stats_api::GEO_ATTRIBUTION) }
                    }
                }
            }
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
    let class = if pct.abs() < 0.5 { "change" } else if good { "change up" } else { "change down" };
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
        Interval::Day => time::macros::format_description!("[month repr:short] [day]"),
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
                    rect x=(format!("{:.1}", x + slot * 0.1)) y=(format!("{:.1}", h - bh)) width=(format!("{:.1}", slot * 0.8)) height=(format!("{:.1}", bh.max(0.5))) fill="#4b5fd6" {}
                }
            }
            @if let (Some(first), Some(last)) = (series.first(), series.last()) {
                text x=(pad) y=(h + 18.0) font-size="11" fill="currentColor" { (label(first.bucket_ms)) }
                text x=(w) y=(h + 18.0) font-size="11" fill="currentColor" text-anchor="end" { (label(last.bucket_ms)) }
            }
        }
    }
}

/// The second number of a top list: acquisition lists count visits (they describe a visit's
/// start), content and location lists count pageviews.
#[derive(Clone, Copy)]
enum Count {
    Visits,
    Pageviews,
}

fn top_rows(title: &str, what: &str, rows: &[BreakdownRow], count: Count) -> Markup {
    let (label, value): (&str, fn(&BreakdownRow) -> u64) = match count {
        Count::Visits => ("Visits", |r| r.visits),
        Count::Pageviews => ("Pageviews", |r| r.pageviews),
    };
    html! {
        h2 { (title) }
        @if rows.is_empty() { p.empty { "No data in this period." } } @else {
            table.top {
                thead { tr { th { (what) } th.n { "Visitors" } th.n { (label) } } }
                tbody { @for r in rows { tr { td { (r.value) } td.n { (r.visitors) } td.n { (value(r)) } } } }
            }
        }
    }
}

fn top_table(title: &str, what: &str, rows: &[BreakdownRow], count: Count) -> Markup {
    html! { div.panel { (top_rows(title, what, rows, count)) } }
}

