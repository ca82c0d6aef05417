//! Funnels: each of a site's funnels (`obscura funnel add`) over a range — how many visits took
//! each step in order and how many dropped off before the next — as
//! `GET /api/v1/stats/funnels` and the dashboard's Funnels panel, drawn as bars.

use axum::Json;
use axum::extract::State;
use maud::{Markup, html};
use obscura_query::{Query, percent};
use obscura_store::meta::Funnel;
use obscura_store::{EventStore, StoreError};
use serde::Serialize;
use serde_json::json;

use crate::api_error::ApiError;
use crate::state::AppState;
use crate::stats_query::AuditedRead;

/// One step of a funnel over a range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepFigures {
    /// What takes it, in words.
    pub step: String,
    /// Visits that took it and every step before, in order.
    pub visits: u64,
    /// Those visits among the first step's, in percent, one decimal.
    pub of_first: f64,
    /// Visits of the step before that did not take this one, in percent, one decimal (0 for
    /// the first step).
    pub dropped: f64,
}

/// One funnel over a range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunnelFigures {
    /// The funnel's name.
    pub name: String,
    /// Its steps, in order.
    pub steps: Vec<StepFigures>,
}

/// Each funnel's figures over `q`.
pub async fn figures(store: &dyn EventStore, q: &Query, funnels: &[Funnel]) -> Result<Vec<FunnelFigures>, StoreError> {
    let mut out = Vec::with_capacity(funnels.len());
    for funnel in funnels {
        let visits = store.funnel(q, &funnel.steps).await?;
        let first = visits.first().copied().unwrap_or(0);
        let steps = funnel
            .steps
            .iter()
            .zip(&visits)
            .enumerate()
            .map(|(i, (step, &n))| StepFigures {
                step: step.to_string(),
                visits: n,
                of_first: percent(n, first),
                dropped: if i == 0 { 0.0 } else { percent(visits[i - 1].saturating_sub(n), visits[i - 1]) },
            })
            .collect();
        out.push(FunnelFigures { name: funnel.name.clone(), steps });
    }
    Ok(out)
}

/// `GET /api/v1/stats/funnels` (read token or session): each of the site's funnels over the
/// range and filters, step by step.
pub async fn funnels(
    State(state): State<AppState>,
    AuditedRead { query: q, site, .. }: AuditedRead,
) -> Result<Json<serde_json::Value>, ApiError> {
    let found = figures(state.store.as_ref(), &q, &site.funnels).await.map_err(ApiError::unavailable)?;
    Ok(Json(json!({ "results": found })))
}

/// The dashboard's Funnels panel: a bar per step, as wide as its share of the first step.
pub fn panel(found: &[FunnelFigures], domain: &str) -> Markup {
    html! {
        div.panel.wide.funnels id="funnels" {
            h2 { "Funnels" }
            @if found.is_empty() {
                p.muted { "No funnels yet: " code { "obscura funnel add " (domain) " --name Checkout --step page=/pricing --step event=signup" } }
            }
            @for f in found {
                h3 { (f.name) }
                ol.funnel {
                    @for s in &f.steps {
                        li {
                            span.label { (s.step) }
                            span.bar style=(format!("width:{:.0}%", s.of_first.max(1.0))) {}
                            span.num { (s.visits) " visits · " (format!("{:.1}%", s.of_first)) }
                            @if s.dropped > 0.0 { span.muted { " · " (format!("{:.1}%", s.dropped)) " dropped" } }
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
    fn funnels_shares_are_of_the_first_step_and_drops_of_the_one_before() {
        assert_eq!((percent(1, 3), percent(0, 0), percent(2, 2)), (33.3, 0.0, 100.0));
    }
}
