//! The speed figures of the stats API: `GET /api/v1/stats/performance`.
//!
//! Parameters besides the stats API's own (`site`, `range`, `filters`): `metrics` (comma
//! separated metric names, the web vitals by default), `by` (up to three comma-separated
//! dimensions, `prop:provider` and `prop:protocol` for CDN providers; none for the site's
//! totals), `limit` (the groups with the most measurements, 50 by default) and
//! `percentiles=all` (every fifth percentile as well, to draw a distribution).

use axum::Json;
use axum::extract::State;
use obscura_model::{Metric, Unit};
use obscura_query::Dimension;
use obscura_query::measures::MeasureCell;
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::speed_query::{parse_by, parse_metrics, top_groups};
use crate::state::AppState;
use crate::stats_query::{AuditedRead, GEO_ATTRIBUTION, parse_limit};

fn round(v: Option<f64>, metric: Option<Metric>) -> Value {
    match (v, metric.map(Metric::unit)) {
        (None, _) => Value::Null,
        (Some(v), Some(Unit::Score)) => json!((v * 10_000.0).round() / 10_000.0),
        (Some(v), _) => json!((v * 10.0).round() / 10.0),
    }
}

/// One cell as the API shows it: percentiles for timings and scores, sums for counts, the
/// web-vitals ratings where the metric has thresholds.
pub fn cell_json(cell: &MeasureCell, all_percentiles: bool) -> Value {
    let metric = Metric::parse(&cell.metric);
    let mut out = json!({
        "keys": cell.keys,
        "metric": cell.metric,
        "samples": cell.samples,
    });
    if metric.map(Metric::unit) == Some(Unit::Count) {
        out["sum"] = json!(cell.sum.round());
        return out;
    }
    for p in [50.0, 75.0, 95.0] {
        out[format!("p{p}")] = round(cell.percentile(p), metric);
    }
    out["mean"] = round(cell.mean(), metric);
    if metric.and_then(Metric::thresholds).is_some() {
        let [good, needs_improvement, poor] = cell.ratings;
        out["ratings"] = json!({ "good": good, "needs_improvement": needs_improvement, "poor": poor });
    }
    if all_percentiles {
        let every: Vec<Value> = (1..20).map(|i| round(cell.percentile(f64::from(i) * 5.0), metric)).collect();
        out["percentiles"] = json!(every);
    }
    out
}

/// `GET /api/v1/stats/performance` (read token or session): percentiles (p50, p75, p95), mean
/// and web-vitals ratings of each metric, or sums for counts, per group of `by`.
pub async fn performance(
    State(state): State<AppState>,
    AuditedRead { params, query: q, .. }: AuditedRead,
) -> Result<Json<Value>, ApiError> {
    let metrics = parse_metrics(&params)?;
    let by = parse_by(&params)?;
    let limit = match params.get("limit") {
        None => 50,
        Some(_) => parse_limit(&params)?,
    };
    let cells = state.store.measures(&q, &metrics, &by).await.map_err(ApiError::unavailable)?;
    let all = params.get("percentiles").map(String::as_str) == Some("all");
    let rows: Vec<Value> = top_groups(cells, limit as usize).iter().map(|c| cell_json(c, all)).collect();
    let mut out = json!({
        "metrics": metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
        "by": by.iter().map(Dimension::name).collect::<Vec<_>>(),
        "results": rows,
    });
    if by
        .iter()
        .any(|d| matches!(d, Dimension::Continent | Dimension::Country | Dimension::Province | Dimension::Network))
    {
        out["attribution"] = json!(GEO_ATTRIBUTION);
    }
    if let Some(partial) = state.store.partial() {
        out["partial"] = json!(partial);
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speed_query::test_cells as cells;

    #[test]
    fn speed_api_shows_percentiles_and_ratings_for_vitals_and_sums_for_counts() {
        let all = cells(&[
            ("x", "lcp", 1000.0, 6),
            ("x", "lcp", 3000.0, 3),
            ("x", "lcp", 5000.0, 1),
            ("x", "cdn.resources", 4.0, 5),
        ]);
        let lcp = all.iter().find(|c| c.metric == "lcp").unwrap();
        let shown = cell_json(lcp, true);
        assert_eq!(shown["samples"], 10);
        assert_eq!(shown["ratings"], json!({"good": 6, "needs_improvement": 3, "poor": 1}));
        let p50 = shown["p50"].as_f64().unwrap();
        assert!((p50 - 1000.0).abs() <= 10.0, "{p50}");
        // Of ten values the 95th percentile lies between the 9th and the 10th: the sketch's
        // rank rule (q × (n − 1), rounded up to a value) gives the 9th.
        let p95 = shown["p95"].as_f64().unwrap();
        assert!((p95 - 3000.0).abs() <= 30.0, "{p95}");
        assert_eq!(shown["percentiles"].as_array().unwrap().len(), 19);
        let resources = cell_json(all.iter().find(|c| c.metric == "cdn.resources").unwrap(), false);
        assert_eq!(resources["sum"], 20.0);
        assert!(resources.get("p75").is_none());
    }
}
