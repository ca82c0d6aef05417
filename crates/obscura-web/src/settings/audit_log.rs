//! `/audit`: the latest audit records and whether their hash chain is intact (owners only).

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use maud::html;

use crate::extract::{Owner, RequireRole};
use crate::layout::page;
use crate::state::AppState;

/// `GET /audit`: the latest audit records and whether the chain is intact (owners only).
pub async fn audit_page(State(state): State<AppState>, RequireRole(_, _): RequireRole<Owner>) -> Response {
    let verdict = match state.audit.verify() {
        Ok(n) => format!("Chain intact: {n} records."),
        Err(e) => format!("CHAIN BROKEN: {e:#}"),
    };
    let records = state.audit.read_all().unwrap_or_default();
    let body = page(
        "Audit log",
        html! {
            header.top { h1 { "Audit log" } nav.actions { a href="/" { "Dashboard" } a href="/sites" { "Sites" } a href="/tokens" { "API tokens" } } }
            main {
                p class=[verdict.starts_with("CHAIN").then_some("error")] { (verdict) }
                table.top {
                    thead { tr { th { "#" } th { "When (UTC)" } th { "Who" } th { "What" } th { "Site" } th { "Detail" } } }
                    tbody {
                        @for r in records.iter().rev().take(200) {
                            tr { td { (r.seq) } td { (obscura_model::format_ms(r.ts_ms)) } td { (r.actor) } td { (r.action) } td { (r.site.as_deref().unwrap_or("")) } td { (r.detail) } }
                        }
                    }
                }
            }
        },
    );
    Html(body.into_string()).into_response()
}
