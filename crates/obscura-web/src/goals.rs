//! Goals: each of a site's goals (`obscura goal add`) with its conversions, the visitors who
//! reached it and the conversion rate, as `GET /api/v1/stats/goals` and the dashboard's Goals
//! panel. A goal is a filter on people's rows — a page view of a path, or a custom event with
//! a property's value — so every backend answers it with the queries it answers everything
//! else with, the range's own filters included.

use axum::Json;
use axum::extract::State;
use maud::{Markup, html};
use obscura_query::{Dimension, Query, percent};
use obscura_store::meta::{Goal, GoalTarget};
use obscura_store::{EventStore, StoreError};
use serde::Serialize;
use serde_json::json;

use crate::api_error::ApiError;
use crate::state::AppState;
use crate::stats_query::AuditedRead;

/// One goal's figures over a range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoalFigures {
    /// The goal's name.
    pub name: String,
    /// What reaches it, in words.
    pub target: String,
    /// Page views or events that reached it.
    pub conversions: u64,
    /// Visitors who reached it (estimated, per day summed, as every visitor count).
    pub visitors: u64,
    /// Those visitors among all the range's visitors, in percent, one decimal.
    pub conversion_rate: f64,
}

/// `q` narrowed to the rows that reach `target`.
fn reaching(q: &Query, target: &GoalTarget) -> Query {
    let mut q = q.clone();
    q.filters.extend(target.filters());
    q
}

/// Each goal's figures over `q`.
pub async fn figures(store: &dyn EventStore, q: &Query, goals: &[Goal]) -> Result<Vec<GoalFigures>, StoreError> {
    let all = store.aggregate(q).await?.visitors;
    let mut out = Vec::with_capacity(goals.len());
    for goal in goals {
        let q = reaching(q, &goal.target);
        let (conversions, visitors) = match &goal.target {
            GoalTarget::Page { .. } => {
                let a = store.aggregate(&q).await?;
                (a.pageviews, a.visitors)
            }
            GoalTarget::Event { .. } => {
                let rows = store.breakdown(&q, &Dimension::Event, 1).await?;
                rows.first().map_or((0, 0), |r| (r.events, r.visitors))
            }
        };
        out.push(GoalFigures {
            name: goal.name.clone(),
            target: goal.target.to_string(),
            conversions,
            visitors,
            conversion_rate: percent(visitors, all).min(100.0),
        });
    }
    Ok(out)
}

/// `GET /api/v1/stats/goals` (read token or session): each of the site's goals with its
/// conversions, visitors and conversion rate over the range and filters.
pub async fn goals(
    State(state): State<AppState>,
    AuditedRead { query: q, site, .. }: AuditedRead,
) -> Result<Json<serde_json::Value>, ApiError> {
    let found = figures(state.store.as_ref(), &q, &site.goals).await.map_err(ApiError::unavailable)?;
    Ok(Json(json!({ "results": found })))
}

/// The dashboard's Goals panel.
pub fn panel(found: &[GoalFigures], domain: &str) -> Markup {
    html! {
        div.panel.goals id="goals" {
            h2 { "Goals" }
            @if found.is_empty() {
                p.muted { "No goals yet: " code { "obscura goal add " (domain) " --name Signup --event signup" } }
            } @else {
                table.top {
                    thead { tr { th { "Goal" } th.num { "Visitors" } th.num { "Conversions" } th.num { "Rate" } } }
                    tbody {
                        @for g in found {
                            tr { td title=(g.target) { (g.name) } td.num { (g.visitors) } td.num { (g.conversions) } td.num { (format!("{:.1}%", g.conversion_rate)) } }
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
    use obscura_query::FilterOp;

    #[test]
    fn goals_become_filters_on_pages_and_events() {
        let q = Query {
            site: 1,
            range: obscura_query::TimeRange::named("today", time::macros::datetime!(2026-08-01 10:00 UTC), None, None)
                .unwrap(),
            filters: vec![],
        };
        let page = reaching(&q, &GoalTarget::Page { path: "/blog/".into(), contains: true });
        assert_eq!((page.filters[0].dimension.clone(), page.filters[0].op), (Dimension::Page, FilterOp::Contains));
        let event =
            reaching(&q, &GoalTarget::Event { name: "signup".into(), property: Some(("plan".into(), "pro".into())) });
        assert_eq!(event.filters.len(), 2);
        assert_eq!(event.filters[1].dimension, Dimension::Prop("plan".into()));
        let pro = GoalTarget::Event { name: "signup".into(), property: Some(("plan".into(), "pro".into())) };
        assert_eq!(pro.to_string(), "event signup with plan = pro");
    }
}
