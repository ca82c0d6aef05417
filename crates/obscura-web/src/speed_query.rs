//! What a speed question asks: the metrics and groupings of the speed figures' URL parameters,
//! and which groups are shown (shared by the stats API's speed figures and the speed dashboard).

use obscura_model::Metric;
use obscura_query::Dimension;
use obscura_query::measures::MeasureCell;

use crate::api_error::ApiError;
use crate::stats_query::Params;

/// The metrics of a request's `metrics` parameter (the web vitals when absent).
pub fn parse_metrics(params: &Params) -> Result<Vec<Metric>, ApiError> {
    let Some(text) = params.get("metrics").filter(|t| !t.is_empty()) else { return Ok(Metric::VITALS.to_vec()) };
    text.split(',')
        .map(|name| {
            Metric::parse(name.trim()).ok_or_else(|| {
                let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
                ApiError::bad_request(format!("unknown metric {name:?}; known: {}", known.join(", ")))
            })
        })
        .collect()
}

/// The dimensions of a request's `by` parameter: at most three.
pub fn parse_by(params: &Params) -> Result<Vec<Dimension>, ApiError> {
    let Some(text) = params.get("by").filter(|t| !t.is_empty()) else { return Ok(Vec::new()) };
    let dims = text.split(',').map(|d| Dimension::parse(d.trim())).collect::<Result<Vec<_>, _>>()?;
    if dims.len() > 3 {
        return Err(ApiError::bad_request("`by` takes at most three dimensions"));
    }
    Ok(dims)
}

/// Keeps the cells of the `limit` groups with the most measurements (of any metric), in that
/// order.
pub fn top_groups(cells: Vec<MeasureCell>, limit: usize) -> Vec<MeasureCell> {
    let mut samples: std::collections::HashMap<Vec<String>, u64> = std::collections::HashMap::new();
    for c in &cells {
        *samples.entry(c.keys.clone()).or_default() += c.samples;
    }
    let mut groups: Vec<(Vec<String>, u64)> = samples.into_iter().collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    groups.truncate(limit);
    let rank: std::collections::HashMap<Vec<String>, usize> =
        groups.into_iter().enumerate().map(|(i, (keys, _))| (keys, i)).collect();
    let mut kept: Vec<MeasureCell> = cells.into_iter().filter(|c| rank.contains_key(&c.keys)).collect();
    kept.sort_by_key(|c| (rank[&c.keys], Metric::parse(&c.metric)));
    kept
}

/// Cells of one-key groups from (key, metric, value, count) rows, rated as the backends rate.
#[cfg(test)]
pub(crate) fn test_cells(rows: &[(&str, &str, f64, u64)]) -> Vec<MeasureCell> {
    use obscura_query::measures::{HistogramRow, MeasureCells, rating_index};
    let mut cells = MeasureCells::default();
    for (key, metric, value, n) in rows {
        cells.add(HistogramRow {
            keys: vec![key.to_string()],
            metric: metric.to_string(),
            bucket: *value,
            rating: rating_index(Metric::parse(metric).expect("a known metric"), *value),
            n: *n,
            total: value * *n as f64,
        });
    }
    cells.into_cells()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_api_keeps_the_groups_with_most_measurements_in_order() {
        let all = test_cells(&[
            ("/a", "lcp", 1000.0, 3),
            ("/b", "lcp", 900.0, 10),
            ("/b", "cls", 0.1, 10),
            ("/c", "lcp", 1.0, 1),
        ]);
        let kept: Vec<(String, String)> =
            top_groups(all, 2).into_iter().map(|c| (c.keys[0].clone(), c.metric)).collect();
        assert_eq!(kept, [("/b".into(), "lcp".into()), ("/b".into(), "cls".into()), ("/a".into(), "lcp".into())]);
    }

    #[test]
    fn speed_api_refuses_unknown_metrics_and_more_than_three_dimensions() {
        let params = |k: &str, v: &str| Params::from([(k.to_owned(), v.to_owned())]);
        assert!(parse_metrics(&params("metrics", "lcp,fid")).unwrap_err().message.contains("unknown metric \"fid\""));
        assert_eq!(parse_metrics(&Params::new()).unwrap(), Metric::VITALS.to_vec());
        assert!(parse_by(&params("by", "page,country,network,os")).unwrap_err().message.contains("at most three"));
        assert_eq!(parse_by(&params("by", "prop:provider,prop:protocol")).unwrap().len(), 2);
    }
}
