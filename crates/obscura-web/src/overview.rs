//! The signed-in user's pages of statistics: the dashboard at `/` (the view itself is in
//! [`crate::dashboard`]) and the realtime page.

use axum::extract::{Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, html};
use obscura_query::{Dimension, Query};

use crate::dashboard::{Count, Viewer, enc, render_dashboard, top_rows};
use crate::extract::SignedIn;
use crate::layout::page;
use crate::state::AppState;
use crate::stats_query::{Params, Reader};

/// `GET /realtime`: visitors and top pages of the last five minutes, refreshing itself.
pub async fn realtime(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    UrlQuery(params): UrlQuery<Params>,
) -> Response {
    let now = state.clock.now();
    let reader = Reader::for_session(&state, &session);
    let meta = state.meta.get();
    let Some(site) = params
        .get("site")
        .and_then(|d| meta.site_by_domain(d))
        .or_else(|| meta.sites.iter().find(|s| reader.may_read(s.id)))
        .cloned()
    else {
        return (
            StatusCode::NOT_FOUND,
            Html(page("Realtime", html! { main { p { "No site to show." } } }).into_string()),
        )
            .into_response();
    };
    if !reader.may_read(site.id) {
        return (
            StatusCode::FORBIDDEN,
            Html(page("Realtime", html! { main { p.error { "You may not read this site." } } }).into_string()),
        )
            .into_response();
    }
    if let Err(e) = crate::audit::record_read(&state, &reader.actor, Some(&site.domain), "realtime") {
        return e.into_response();
    }
    let q = Query {
        site: site.id,
        range: obscura_query::TimeRange {
            from: now - time::Duration::minutes(5),
            to: now + time::Duration::seconds(1),
        },
        filters: Vec::new(),
    };
    let store = state.store.as_ref();
    let (agg, pages) = futures::join!(store.aggregate(&q), store.breakdown(&q, &Dimension::Page, 10));
    let (Ok(agg), Ok(pages)) = (agg, pages) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(
                page("Realtime", html! { main { p.error { "The store could not answer; retrying." } } }).into_string(),
            ),
        )
            .into_response();
    };
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content="15";
                title { "Realtime · " (site.domain) " · Obscura" }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                header.top { h1 { "Realtime · " (site.domain) } a href=(format!("/?site={}", enc(&site.domain))) { "Dashboard" } }
                main {
                    section.metrics {
                        div.metric data-metric="current_visitors" { div.label { "Visitors, last 5 minutes" } div.value { (agg.visitors) } }
                        div.metric { div.label { "Pageviews, last 5 minutes" } div.value { (agg.pageviews) } }
                    }
                    div.panel { h2 { "Current top pages" } (top_rows("/realtime", "page", &pages, Count::Pageviews, &Params::new())) }
                    p.attribution { "Refreshes every 15 seconds." }
                }
            }
        }
    };
    Html(body.into_string()).into_response()
}

/// `GET /` (signed-in users): the dashboard of a site the user may read, chosen by `?site=`; a "No sites
/// yet" page when there is none.
pub async fn overview(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    UrlQuery(params): UrlQuery<Params>,
) -> Response {
    let meta = state.meta.get();
    let reader = Reader::for_session(&state, &session);
    let sites: Vec<_> = meta.sites.iter().filter(|s| reader.may_read(s.id)).cloned().collect();
    if sites.is_empty() {
        let body = page(
            "Overview",
            html! { main { h1 { "No sites yet" } p { "Add one with " code { "obscura site add example.com" } "." } } },
        );
        return Html(body.into_string()).into_response();
    }
    render_dashboard(
        &state,
        Viewer { reader, base: "/".into(), audited_base: "/".into(), sites, session: Some(session) },
        params,
    )
    .await
}
