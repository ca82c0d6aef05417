//! The stats API described as an OpenAPI 3 document (`GET /api/openapi.json`), generated from
//! the route table: every route under `/api/v1/` that a read token may call, with the
//! parameters its handler reads and the answers it gives. A route added to the table without a
//! description here fails `openapi_describes_every_api_route_of_the_table`.

use axum::Json;
use serde_json::{Value, json};

use crate::routes::{Access, table};

/// One query parameter a route reads.
struct Param {
    name: &'static str,
    required: bool,
    description: &'static str,
    schema: fn() -> Value,
}

const fn param(name: &'static str, required: bool, description: &'static str, schema: fn() -> Value) -> Param {
    Param { name, required, description, schema }
}

fn text() -> Value {
    json!({"type": "string"})
}

fn ranges() -> Value {
    json!({"type": "string", "enum": ["today", "24h", "7d", "30d", "month", "last_month", "12mo", "custom"], "default": "30d"})
}

fn day() -> Value {
    json!({"type": "string", "pattern": "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$", "description": "YYYY-MM-DD"})
}

fn dimensions() -> Value {
    let names: Vec<&str> = obscura_query::Dimension::FIXED.iter().map(|(_, n)| *n).collect();
    json!({"type": "string", "description": "or prop:<key>", "anyOf": [{"enum": names}, {"pattern": "^prop:.{1,100}$"}]})
}

fn intervals() -> Value {
    json!({"type": "string", "enum": ["hour", "day", "week"], "default": "day"})
}

fn limit() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 1000})
}

fn included() -> Value {
    json!({"type": "string", "enum": ["", "include", "exclude"], "default": "exclude"})
}

/// What every stats route reads: the site, the range and the filters.
const QUERY: [Param; 5] = [
    param("site", true, "the site's domain", text),
    param("range", false, "the time range", ranges),
    param("from", false, "first day of a custom range", day),
    param("to", false, "last day of a custom range", day),
    param("filters", false, "up to 20 filters separated by `;`: `dimension==a|b`, `!=` or `~=` (contains)", text),
];

/// The switch of the routes that can count automated traffic in.
const AUTOMATED: Param = param("automated", false, "`include`: count automated traffic in (P5)", included);

/// The parameters a route reads besides [`QUERY`], and whether it reads [`QUERY`].
fn parameters(path: &str) -> Option<(bool, Vec<Param>)> {
    let dimension = |required| param("dimension", required, "the dimension broken down by", dimensions);
    let limit = param("limit", false, "rows at most (10 by default)", limit);
    Some(match path {
        "/api/v1/sites" | "/api/v1/ingest/status" => (false, Vec::new()),
        "/api/v1/stats/aggregate" => (
            true,
            vec![
                AUTOMATED,
                param(
                    "compare",
                    false,
                    "`previous`: also the period before",
                    || json!({"type": "string", "enum": ["", "previous"]}),
                ),
            ],
        ),
        "/api/v1/stats/timeseries" => (true, vec![AUTOMATED, param("interval", false, "bucket size", intervals)]),
        "/api/v1/stats/automated" => (true, vec![param("interval", false, "bucket size", intervals)]),
        "/api/v1/stats/breakdown" => (true, vec![AUTOMATED, dimension(true), limit]),
        "/api/v1/stats/errors" => (true, vec![dimension(true), limit]),
        "/api/v1/stats/goals" | "/api/v1/stats/funnels" => (true, Vec::new()),
        "/api/v1/stats/issues" => (
            true,
            vec![param(
                "status",
                false,
                "issues in this state only",
                || json!({"type": "string", "enum": ["open", "resolved", "ignored"]}),
            )],
        ),
        "/api/v1/stats/performance" => (
            true,
            vec![
                param("metrics", false, "metrics, comma-separated (web vitals by default)", text),
                param("by", false, "up to three dimensions, comma-separated", text),
                limit,
                param("percentiles", false, "`all`: every percentile", || json!({"type": "string", "enum": ["all"]})),
            ],
        ),
        "/api/v1/export.csv" | "/api/v1/export.parquet" => (
            true,
            vec![
                AUTOMATED,
                param("dimension", false, "a breakdown of this dimension (else a time series)", dimensions),
                param("interval", false, "the time series' bucket size", intervals),
                limit,
            ],
        ),
        _ => return None,
    })
}

/// The answers every route may give besides its success.
fn errors() -> Value {
    let error = json!({"description": "what was wrong", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "400": error, "401": error, "403": error, "404": error, "429": error,
        "503": {"description": "the store cannot answer now; retry later", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    })
}

fn success(path: &str) -> Value {
    let content = match path {
        "/api/v1/export.csv" => json!({"text/csv": {"schema": {"type": "string"}}}),
        "/api/v1/export.parquet" => {
            json!({"application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}})
        }
        _ => json!({"application/json": {"schema": {"type": "object"}}}),
    };
    json!({"description": "the answer", "content": content})
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (spec, _) in table() {
        if spec.access != Access::ReadToken || !spec.path.starts_with("/api/v1/") {
            continue;
        }
        let Some((query, extra)) = parameters(spec.path) else { continue };
        let listed: Vec<Value> = QUERY
            .iter()
            .filter(|_| query)
            .chain(extra.iter())
            .map(|p| {
                json!({"name": p.name, "in": "query", "required": p.required, "description": p.description, "schema": (p.schema)()})
            })
            .collect();
        let mut responses = errors();
        responses["200"] = success(spec.path);
        paths.insert(
            spec.path.to_owned(),
            json!({"get": {
                "summary": spec.purpose,
                "operationId": spec.path.trim_start_matches("/api/v1/").replace(['/', '.'], "_"),
                "parameters": listed,
                "responses": responses,
            }}),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Obscura stats API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read a site's figures. Every call is audited (P12) and needs a read token (`Authorization: Bearer …`) or a dashboard session.",
        },
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}},
        },
    })
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_describes_every_api_route_of_the_table() {
        let doc = document();
        for (spec, _) in table() {
            if spec.access == Access::ReadToken && spec.path.starts_with("/api/v1/") {
                assert!(parameters(spec.path).is_some(), "{} has no description in openapi.rs", spec.path);
                assert!(doc["paths"][spec.path]["get"]["responses"]["200"].is_object(), "{}", spec.path);
            }
        }
        let breakdown = &doc["paths"]["/api/v1/stats/breakdown"]["get"]["parameters"];
        let names: Vec<&str> = breakdown.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["site", "range", "from", "to", "filters", "automated", "dimension", "limit"]);
        let issues = &doc["paths"]["/api/v1/stats/issues"]["get"]["parameters"];
        assert!(!issues.to_string().contains("\"automated\""), "errors are never counted with robots: {issues}");
        assert!(doc["paths"]["/metrics"].is_null(), "Prometheus' text is not part of the JSON API");
    }
}
