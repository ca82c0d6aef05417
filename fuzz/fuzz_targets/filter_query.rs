//! A statistics URL's query string (`site=…&range=7d&filters=country==DE|FR;page~=blog&…`), read
//! as the stats API, the dashboard and the exports read it, with the query model's parsers:
//! the range, its dates, the filters, the interval, the dimensions and the metrics; then the
//! time series the range spans, as a chart fills it.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use obscura_model::{Metric, parse_day};
use obscura_query::errors::trend_interval;
use obscura_query::results::fill_gaps;
use obscura_query::{Dimension, Filter, Interval, Query, TimeRange};

fuzz_target!(|data: &[u8]| {
    // As axum's `Query<HashMap<String, String>>`: form-decoded, the last of a repeated name wins.
    let params: HashMap<String, String> = url::form_urlencoded::parse(data).into_owned().collect();
    let param = |name: &str| params.get(name).map(String::as_str);

    for name in ["from", "to"] {
        let _ = param(name).map(parse_day);
    }
    let now = time::macros::datetime!(2026-03-15 10:00 UTC);
    let range = TimeRange::named(param("range").unwrap_or("30d"), now, param("from"), param("to"));
    let filters = param("filters")
        .map(|f| f.split(';').filter(|s| !s.is_empty()).map(Filter::parse).collect::<Result<Vec<_>, _>>())
        .transpose();
    let interval = Interval::parse(param("interval").unwrap_or("day"));
    if let Some(name) = param("dimension") {
        let _ = Dimension::parse(name).map(|d| d.name());
    }
    for name in param("by").unwrap_or_default().split(',') {
        let _ = Dimension::parse(name.trim());
    }
    for name in param("metrics").unwrap_or_default().split(',') {
        let _ = Metric::parse(name.trim());
    }

    let (Ok(range), Ok(filters)) = (range, filters) else { return };
    let _ = (range.previous(), range.is_whole_days(), range.contains_day(now.date()));
    let q = Query { site: 1, range, filters: filters.unwrap_or_default() };
    let interval = interval.unwrap_or_else(|_| trend_interval(&q));
    let _ = fill_gaps(Vec::new(), &q, interval);
});
