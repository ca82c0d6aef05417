//! The speed dashboard (`/speed`, signed-in users): web vitals (p75 with the share of good,
//! needs-improvement and poor page loads, each vital's distribution, the slowest pages, by
//! device and by country), the CDN comparison (per provider and protocol: p75 time to first
//! byte and download as a chart and a table, cache hits, failures, hidden timings; per province
//! × network operator, which provider answers fastest; per page, the slowest providers) and
//! applications (launch time by start, version and operating system; the slowest timing
//! spans). Server-rendered, range in the URL.

use axum::extract::{Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use obscura_model::Metric;
use obscura_query::Dimension;
use obscura_query::measures::MeasureCell;

use crate::dashboard::enc;
use crate::extract::SignedIn;
use crate::layout::page;
use crate::speed_query::top_groups;
use crate::state::AppState;
use crate::stats_query::{GEO_ATTRIBUTION, Params, Reader, parse_query};

/// A provider's p75 time to first byte in one province and network, and its samples.
type ProviderTiming = (String, f64, u64);

const RANGES: [(&str, &str); 5] =
    [("today", "Today"), ("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days"), ("month", "This month")];

fn find<'a>(cells: &'a [MeasureCell], keys: &[String], metric: Metric) -> Option<&'a MeasureCell> {
    cells.iter().find(|c| c.keys == keys && c.metric == metric.name())
}

fn sum(cells: &[MeasureCell], keys: &[String], metric: Metric) -> f64 {
    find(cells, keys, metric).map_or(0.0, |c| c.sum)
}

/// A value as shown: milliseconds without decimals, scores with three.
fn shown(metric: Metric, v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if metric == Metric::Cls => format!("{v:.3}"),
        Some(v) => format!("{} ms", v.round() as i64),
    }
}

/// The 75th percentile of a group's metric, if measured.
fn p75_value(cells: &[MeasureCell], keys: &[String], metric: Metric) -> Option<f64> {
    find(cells, keys, metric).and_then(|c| c.percentile(75.0))
}

fn p75(cells: &[MeasureCell], keys: &[String], metric: Metric) -> String {
    shown(metric, p75_value(cells, keys, metric))
}

/// The groups of `cells`, each once, in the order they first appear.
fn groups_of(cells: &[MeasureCell]) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for c in cells {
        if !groups.contains(&c.keys) {
            groups.push(c.keys.clone());
        }
    }
    groups
}

/// The good / needs improvement / poor shares as a bar.
fn rating_bar(cell: &MeasureCell) -> Markup {
    let total = cell.ratings.iter().sum::<u64>().max(1) as f64;
    let share = |n: u64| n as f64 * 100.0 / total;
    let [good, ni, poor] = cell.ratings;
    html! {
        div.ratings title=(format!("good {:.0}% · needs improvement {:.0}% · poor {:.0}%", share(good), share(ni), share(poor))) {
            span.good style=(format!("width:{:.1}%", share(good))) {}
            span.ni style=(format!("width:{:.1}%", share(ni))) {}
            span.poor style=(format!("width:{:.1}%", share(poor))) {}
        }
    }
}

/// A vital's distribution as a histogram of equal-count bins: each bar holds 5% of the
/// measurements, so its area is the same and its height is how dense the values are there.
fn distribution(cell: &MeasureCell, metric: Metric) -> Markup {
    let (w, h) = (300.0_f64, 80.0_f64);
    let edges: Vec<f64> = (0..=20).filter_map(|i| cell.percentile(f64::from(i) * 5.0)).collect();
    let top = edges.get(19).copied().unwrap_or(0.0).max(f64::MIN_POSITIVE);
    let x = |v: f64| (v / top * w).min(w);
    let bars: Vec<(f64, f64, f64)> = edges
        .windows(2)
        .take(19)
        .map(|e| (x(e[0]), (x(e[1]) - x(e[0])).max(0.5), 0.05 / (e[1] - e[0]).max(top / 1000.0)))
        .collect();
    let densest = bars.iter().map(|b| b.2).fold(f64::MIN_POSITIVE, f64::max);
    html! {
        svg.distribution viewBox=(format!("0 0 {w} {}", h + 14.0)) role="img" aria-label=(format!("Distribution of {}", metric.name())) {
            @for (x0, width, density) in &bars {
                @let bh = density / densest * h;
                rect x=(format!("{x0:.1}")) y=(format!("{:.1}", h - bh)) width=(format!("{width:.1}")) height=(format!("{bh:.1}")) {}
            }
            @if let Some((good, poor)) = metric.thresholds() {
                line.good x1=(format!("{:.1}", x(good))) x2=(format!("{:.1}", x(good))) y1="0" y2=(h) {}
                line.poor x1=(format!("{:.1}", x(poor))) x2=(format!("{:.1}", x(poor))) y1="0" y2=(h) {}
            }
            text x="0" y=(h + 12.0) font-size="10" fill="currentColor" { "0" }
            text x=(w) y=(h + 12.0) font-size="10" fill="currentColor" text-anchor="end" { "p95 " (shown(metric, Some(top))) }
        }
    }
}

/// One query per day of `q`'s range: whole days only, at most 31 (none otherwise: each day is
/// its own question to the store).
fn day_queries(q: &obscura_query::Query) -> Vec<obscura_query::Query> {
    let (first, last) = (q.range.from.date(), (q.range.to - time::Duration::milliseconds(1)).date());
    if !q.range.is_whole_days() || (last - first).whole_days() > 30 {
        return Vec::new();
    }
    std::iter::successors(Some(first), |d| d.next_day().filter(|n| *n <= last))
        .filter_map(|day| obscura_query::TimeRange::days(day, day).ok())
        .map(|range| obscura_query::Query { range, ..q.clone() })
        .collect()
}

/// The trend: each day's p75 LCP as a bar (hover for INP too), the "good" threshold drawn in.
fn trend_chart(days: &[obscura_query::Query], trend: &[Vec<MeasureCell>]) -> Markup {
    let (w, h) = (1000.0_f64, 160.0_f64);
    let p75 = |cells: &[MeasureCell], m: Metric| {
        cells.iter().find(|c| c.metric == m.name() && c.keys.is_empty()).and_then(|c| c.percentile(75.0))
    };
    let lcp: Vec<Option<f64>> = trend.iter().map(|cells| p75(cells, Metric::Lcp)).collect();
    let top = lcp.iter().flatten().copied().fold(2_500.0_f64, f64::max) * 1.1;
    let slot = w / days.len().max(1) as f64;
    let good = h - 2_500.0 / top * h;
    html! {
        div.chart.trend {
            h2 { "p75 LCP per day" }
            svg viewBox=(format!("0 0 {w} {}", h + 16.0)) role="img" aria-label="p75 LCP per day" {
                line.good x1="0" x2=(w) y1=(format!("{good:.1}")) y2=(format!("{good:.1}")) stroke="currentColor" stroke-dasharray="4 4" stroke-opacity="0.5" {}
                @for (i, (day, cells)) in days.iter().zip(trend).enumerate() {
                    @if let Some(v) = lcp[i] {
                        @let bh = v / top * h;
                        g {
                            title { (obscura_model::format_day(day.range.from.date())) ": p75 LCP " (shown(Metric::Lcp, Some(v))) ", p75 INP " (shown(Metric::Inp, p75(cells, Metric::Inp))) }
                            rect x=(format!("{:.1}", i as f64 * slot + slot * 0.1)) y=(format!("{:.1}", h - bh)) width=(format!("{:.1}", slot * 0.8)) height=(format!("{bh:.1}")) {}
                        }
                    }
                }
                text x="0" y=(h + 14.0) font-size="10" fill="currentColor" { (days.first().map(|d| obscura_model::format_day(d.range.from.date())).unwrap_or_default()) }
                text x=(w) y=(h + 14.0) font-size="10" fill="currentColor" text-anchor="end" { (days.last().map(|d| obscura_model::format_day(d.range.from.date())).unwrap_or_default()) }
            }
        }
    }
}

/// The CDN comparison as a chart: a bar per provider and protocol, p75 time to first byte and
/// p75 download laid end to end, so the shortest bar is the fastest way to get a resource.
fn cdn_chart(cdn: &[MeasureCell], providers: &[Vec<String>]) -> Markup {
    let p75_of = |keys: &[String], m: Metric| p75_value(cdn, keys, m).unwrap_or(0.0);
    let rows: Vec<(&Vec<String>, f64, f64)> =
        providers.iter().take(12).map(|k| (k, p75_of(k, Metric::CdnTtfb), p75_of(k, Metric::CdnDownload))).collect();
    let longest = rows.iter().map(|(_, t, d)| t + d).fold(1.0_f64, f64::max);
    let (label_w, bar_w, row_h) = (180.0_f64, 640.0_f64, 22.0_f64);
    let x = |ms: f64| ms / longest * bar_w;
    html! {
        svg.cdn viewBox=(format!("0 0 {} {}", label_w + bar_w + 120.0, rows.len() as f64 * row_h + 18.0)) role="img" aria-label="p75 time to first byte and download per CDN provider" {
            @for (i, (keys, ttfb, download)) in rows.iter().enumerate() {
                @let y = i as f64 * row_h;
                g data-provider=(keys[0]) {
                    title { (keys.join(" · ")) ": p75 TTFB " (shown(Metric::CdnTtfb, Some(*ttfb))) ", p75 download " (shown(Metric::CdnDownload, Some(*download))) }
                    text x="0" y=(format!("{:.1}", y + 15.0)) font-size="12" fill="currentColor" { (keys.join(" · ")) }
                    rect.ttfb x=(label_w) y=(format!("{:.1}", y + 4.0)) width=(format!("{:.1}", x(*ttfb))) height="14" {}
                    rect.download x=(format!("{:.1}", label_w + x(*ttfb))) y=(format!("{:.1}", y + 4.0)) width=(format!("{:.1}", x(*download))) height="14" {}
                    text x=(format!("{:.1}", label_w + x(ttfb + download) + 6.0)) y=(format!("{:.1}", y + 15.0)) font-size="11" fill="currentColor" { (shown(Metric::CdnTtfb, Some(ttfb + download))) }
                }
            }
            text x=(label_w) y=(format!("{:.1}", rows.len() as f64 * row_h + 14.0)) font-size="11" fill="currentColor" {
                tspan.ttfb { "■ " } "time to first byte  " tspan.download { "■ " } "download (p75 each)"
            }
        }
    }
}

/// Per page, the providers its resources came from, slowest first: where a page waits on a CDN.
fn slowest_resources(cells: &[MeasureCell], rows: usize) -> Markup {
    let mut groups = groups_of(cells);
    let p75_of = |keys: &[String], m: Metric| p75_value(cells, keys, m).unwrap_or(0.0);
    let total = |keys: &[String]| p75_of(keys, Metric::CdnTtfb) + p75_of(keys, Metric::CdnDownload);
    groups.sort_by(|a, b| total(b).total_cmp(&total(a)));
    html! {
        div.panel.wide {
            h2 { "Slowest resources per page" }
            p.muted { "Per page, the resources it loaded from each CDN provider: p75 time to first byte and download. Resource addresses are never collected, only their provider." }
            @if groups.is_empty() { p.muted { "No CDN timings in this range." } }
            @else {
                table.top.resources {
                    thead { tr { th { "Page" } th { "Provider" } th { "p75 TTFB" } th { "p75 download" } th { "Resources" } } }
                    tbody {
                        @for keys in groups.iter().take(rows) {
                            tr {
                                td { (keys[0]) } td { (keys.get(1).map_or("", String::as_str)) }
                                td { (p75(cells, keys, Metric::CdnTtfb)) } td { (p75(cells, keys, Metric::CdnDownload)) }
                                td { (sum(cells, keys, Metric::CdnResources) as u64) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A table of groups (rows) with p75 of the given vitals.
fn vitals_table(title: &str, cells: &[MeasureCell], vitals: &[Metric], sort_by: Option<Metric>, rows: usize) -> Markup {
    let mut groups = groups_of(cells);
    if let Some(metric) = sort_by {
        let p = |k: &Vec<String>| p75_value(cells, k, metric).unwrap_or(-1.0);
        groups.sort_by(|a, b| p(b).total_cmp(&p(a)));
    }
    html! {
        div.panel {
            h2 { (title) }
            @if groups.is_empty() { p.muted { "No measurements in this range." } }
            @else {
                table.top {
                    thead { tr { th { "" } @for m in vitals { th { "p75 " (m.name().to_uppercase()) } } th { "Loads" } } }
                    tbody {
                        @for keys in groups.iter().take(rows) {
                            tr {
                                td { (keys.join(" · ")) }
                                @for m in vitals { td { (p75(cells, keys, *m)) } }
                                td { (vitals.iter().filter_map(|m| find(cells, keys, *m)).map(|c| c.samples).max().unwrap_or(0)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A table of groups with p50, p75 and p95 of one metric, slowest (by p75) first.
fn percentile_table(title: &str, columns: &[&str], cells: &[MeasureCell], metric: Metric, rows: usize) -> Markup {
    let mut cells: Vec<&MeasureCell> = cells.iter().filter(|c| c.metric == metric.name()).collect();
    cells.sort_by(|a, b| b.percentile(75.0).unwrap_or(0.0).total_cmp(&a.percentile(75.0).unwrap_or(0.0)));
    html! {
        div.panel {
            h2 { (title) }
            table.top {
                thead { tr { @for c in columns { th { (c) } } th { "p50" } th { "p75" } th { "p95" } th { "Samples" } } }
                tbody {
                    @for c in cells.iter().take(rows) {
                        tr {
                            @for k in &c.keys { td { (k) } }
                            td { (shown(metric, c.percentile(50.0))) } td { (shown(metric, c.percentile(75.0))) }
                            td { (shown(metric, c.percentile(95.0))) } td { (c.samples) }
                        }
                    }
                }
            }
        }
    }
}

/// Applications: cold and warm launches by version and by operating system, the slowest spans.
fn applications(launches: &[MeasureCell], by_os: &[MeasureCell], spans: &[MeasureCell]) -> Markup {
    html! {
        h2 { "Applications" }
        @if launches.is_empty() && spans.is_empty() {
            p.muted { "No application launches or timing spans in this range (see docs/applications.md)." }
        } @else {
            div.panels.launch {
                (percentile_table("Launch time by start and version", &["Start", "Version"], launches, Metric::Launch, 15))
                (percentile_table("Launch time by operating system", &["OS", "Start"], by_os, Metric::Launch, 15))
                (percentile_table("Slowest spans", &["Span", "Status"], spans, Metric::Span, 15))
            }
        }
    }
}

/// `GET /speed` (signed-in users): the speed dashboard of a site the user may read.
pub async fn speed_page(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    UrlQuery(mut params): UrlQuery<Params>,
) -> Response {
    let reader = Reader::for_session(&state, &session);
    if !params.contains_key("site") {
        let meta = state.meta.get();
        match meta.sites.iter().find(|s| reader.may_read(s.id)) {
            Some(site) => params.insert("site".into(), site.domain.clone()),
            None => {
                return Html(page("Speed", html! { main { p { "No site to show." } } }).into_string()).into_response();
            }
        };
    }
    let parsed = parse_query(&state, &reader, &params).and_then(|(q, site)| {
        let mut pairs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.sort();
        crate::audit::record_read(&state, &reader.actor, Some(&site.domain), &format!("speed ?{}", pairs.join("&")))?;
        Ok((q, site))
    });
    let (q, site) = match parsed {
        Ok(x) => x,
        Err(e) => {
            let body =
                page("Bad request", html! { main { h1 { "Cannot show this view" } p class="error" { (e.message) } } });
            return (e.status, Html(body.into_string())).into_response();
        }
    };
    let store = state.store.as_ref();
    let page_vitals = [Metric::Lcp, Metric::Inp, Metric::Cls];
    let prop = |key: &str| Dimension::Prop(key.into());
    let lcp_element = [prop("element")];
    let (providers_protocols, network_grid, page_providers) = (
        [prop("provider"), prop("protocol")],
        [Dimension::Province, Dimension::Network, prop("provider")],
        [Dimension::Page, prop("provider")],
    );
    let (launch_versions, launch_os, span_names) =
        ([prop("start"), prop("version")], [Dimension::Os, prop("start")], [prop("span"), prop("status")]);
    let apps = futures::join!(
        store.measures(&q, &[Metric::Launch], &launch_versions),
        store.measures(&q, &[Metric::Launch], &launch_os),
        store.measures(&q, &[Metric::Span], &span_names),
    );
    // The trend: each day's p75 (day rollups answer finished days), for up to 31 whole days.
    let days: Vec<obscura_query::Query> = day_queries(&q);
    let trend = futures::future::join_all(days.iter().map(|d| store.measures(d, &[Metric::Lcp, Metric::Inp], &[])));
    let elements = store.measures(&q, &[Metric::Lcp], &lcp_element);
    let resources = store.measures(&q, &[Metric::CdnTtfb, Metric::CdnDownload, Metric::CdnResources], &page_providers);
    let (trend, elements, resources) = futures::join!(trend, elements, resources);
    let (totals, pages, devices, countries, cdn, networks) = futures::join!(
        store.measures(&q, &Metric::VITALS, &[]),
        store.measures(&q, &page_vitals, &[Dimension::Page]),
        store.measures(&q, &page_vitals, &[Dimension::DeviceType]),
        store.measures(&q, &[Metric::Lcp, Metric::Ttfb], &[Dimension::Country]),
        store.measures(&q, &Metric::CDN, &providers_protocols),
        store.measures(&q, &[Metric::CdnTtfb], &network_grid),
    );
    let loaded = (|| {
        Ok::<_, obscura_store::StoreError>((
            (totals?, pages?, devices?, countries?, cdn?, networks?),
            (apps.0?, apps.1?, apps.2?),
            (trend.into_iter().collect::<Result<Vec<_>, _>>()?, elements?, resources?),
        ))
    })();
    let (
        (totals, pages, devices, countries, cdn, networks),
        (launches, launch_os, spans),
        (trend, elements, resources),
    ) = match loaded {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("speed dashboard query failed: {e}");
            let body = page(
                "Unavailable",
                html! { main { h1 { "The store could not answer" } p class="error" { "Please try again; the server log has the details." } } },
            );
            return (StatusCode::SERVICE_UNAVAILABLE, Html(body.into_string())).into_response();
        }
    };
    let pages = top_groups(pages, 50);
    let countries = top_groups(countries, 15);
    let range_name = params.get("range").cloned().unwrap_or_else(|| "30d".into());
    let link = |changes: &[(&str, &str)]| {
        let mut p = params.clone();
        for (k, v) in changes {
            p.insert((*k).into(), (*v).into());
        }
        let mut pairs: Vec<String> = p.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        pairs.sort();
        format!("/speed?{}", pairs.join("&"))
    };
    // Providers per protocol, most resources first.
    let mut providers = groups_of(&cdn);
    providers.sort_by(|a, b| sum(&cdn, b, Metric::CdnResources).total_cmp(&sum(&cdn, a, Metric::CdnResources)));
    // Per province and network: each provider's p75 time to first byte, fastest first.
    let mut by_network: std::collections::BTreeMap<(String, String), Vec<ProviderTiming>> = Default::default();
    for c in &networks {
        if let (Some(p75), [province, network, provider]) = (c.percentile(75.0), c.keys.as_slice()) {
            by_network.entry((province.clone(), network.clone())).or_default().push((provider.clone(), p75, c.samples));
        }
    }
    for list in by_network.values_mut() {
        list.sort_by(|a, b| a.1.total_cmp(&b.1));
    }
    let mut network_rows: Vec<_> = by_network.into_iter().collect();
    network_rows.sort_by_key(|(_, list)| std::cmp::Reverse(list.iter().map(|p| p.2).sum::<u64>()));
    let percent =
        |part: f64, whole: f64| if whole > 0.0 { format!("{:.1}%", part * 100.0 / whole) } else { "–".into() };
    let body = page(
        "Speed",
        html! {
            header.top {
                h1 { "Speed · " (site.domain) }
                nav.actions {
                    a href=(format!("/?site={}", enc(&site.domain))) { "Dashboard" }
                    button type="button" id="theme" class="link" { "Theme" }
                }
            }
            main.speed {
                @if let Some(partial) = store.partial() { p class="error partial" role="status" { (partial) } }
                nav.ranges {
                    @for (key, label) in RANGES { a class=[(key == range_name).then_some("on")] href=(link(&[("range", key)])) { (label) } }
                }
                h2 { "Web vitals" }
                p.muted { "The 75th percentile of page loads, and the share that is good, needs improvement or is poor by the web-vitals thresholds. Automated browsers are never counted." }
                section.metrics.vitals {
                    @for m in Metric::VITALS {
                        @let cell = find(&totals, &[], m);
                        div.metric data-metric=(m.name()) {
                            div.label { (m.name().to_uppercase()) }
                            div.value { (shown(m, cell.and_then(|c| c.percentile(75.0)))) }
                            @if let Some(cell) = cell {
                                @if m.thresholds().is_some() { (rating_bar(cell)) }
                                (distribution(cell, m))
                                div.muted { (cell.samples) " measurements" }
                            }
                        }
                    }
                }
                @if !trend.is_empty() { (trend_chart(&days, &trend)) }
                div.panels {
                    (vitals_table("Slowest pages (by p75 LCP)", &pages, &page_vitals, Some(Metric::Lcp), 10))
                    (vitals_table("Largest elements (LCP), a CSS selector each", &top_groups(elements, 10), &[Metric::Lcp], Some(Metric::Lcp), 10))
                    (vitals_table("By device", &devices, &page_vitals, None, 10))
                    (vitals_table("By country", &countries, &[Metric::Lcp, Metric::Ttfb], None, 15))
                }
                p.attribution { (GEO_ATTRIBUTION) }
                h2 { "CDN providers" }
                p.muted { "Resources the pages loaded from public content-delivery networks, per provider and protocol. Timings are means per page; hosts that send no Timing-Allow-Origin count as hidden, not as zeros." }
                div.panel.wide {
                    @if providers.is_empty() { p.muted { "No CDN resources measured in this range." } }
                    @else {
                        (cdn_chart(&cdn, &providers))
                        table.top.cdn {
                            thead { tr { th { "Provider" } th { "Protocol" } th { "p75 TTFB" } th { "p75 download" } th { "Cache hits" } th { "Failures" } th { "Timing hidden" } th { "Resources" } } }
                            tbody {
                                @for keys in &providers {
                                    @let resources = sum(&cdn, keys, Metric::CdnResources);
                                    tr data-provider=(keys[0]) {
                                        td { (keys[0]) } td { (keys.get(1).map_or("", String::as_str)) }
                                        td { (p75(&cdn, keys, Metric::CdnTtfb)) } td { (p75(&cdn, keys, Metric::CdnDownload)) }
                                        td { (percent(sum(&cdn, keys, Metric::CdnCacheHits), resources)) }
                                        td { (percent(sum(&cdn, keys, Metric::CdnFailures), resources)) }
                                        td { (percent(sum(&cdn, keys, Metric::CdnTimingHidden), resources)) }
                                        td { (resources as u64) }
                                    }
                                }
                            }
                        }
                    }
                }
                div.panel.wide {
                    h2 { "Fastest provider per province and network operator" }
                    @if network_rows.is_empty() { p.muted { "No CDN timings in this range." } }
                    @else {
                        table.top {
                            thead { tr { th { "Province" } th { "Network operator" } th { "Fastest (p75 TTFB)" } th { "Others" } } }
                            tbody {
                                @for ((province, network), list) in network_rows.iter().take(30) {
                                    tr {
                                        td { (province) } td { (network) }
                                        td { strong { (list[0].0) } " " (shown(Metric::CdnTtfb, Some(list[0].1))) }
                                        td { @for (name, p75, _) in list.iter().skip(1) { span.other { (name) " " (shown(Metric::CdnTtfb, Some(*p75))) } " " } }
                                    }
                                }
                            }
                        }
                    }
                }
                (slowest_resources(&resources, 15))
                (applications(&launches, &launch_os, &spans))
            }
            script src="/static/app.js" defer {}
        },
    );
    Html(body.into_string()).into_response()
}
