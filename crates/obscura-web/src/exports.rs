//! Exports: `GET /api/v1/export.csv` and `GET /api/v1/export.parquet` (and `obscura export
//! table`, through [`audited_table`]) give a breakdown (with
//! `dimension`) or a time series (without one; `interval` as for the time series) as CSV or
//! Parquet. Aggregates only: per-event rows never leave. For API tokens with read scope and for
//! analysts, admins and owners — not viewers; every export is written to the audit log first.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use axum::extract::{Query as UrlQuery, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use obscura_query::{Dimension, Interval};
use obscura_store::meta::Role;

use crate::api_error::ApiError;
use crate::state::AppState;
use crate::stats_query::{Params, Reader, authorize, describe, parse_limit, parse_query};
use crate::traffic::Traffic;

/// What an export holds: a text column (the dimension's value, or the bucket's date) and
/// counts, one row per value or bucket.
#[derive(Debug, PartialEq)]
pub struct Table {
    /// The text column's name: the dimension's, or `date`.
    pub key: String,
    /// The count columns' names.
    pub counts: Vec<&'static str>,
    /// (text, counts in the order of `counts`).
    pub rows: Vec<(String, Vec<u64>)>,
}

impl Table {
    /// The table as CSV, values defused for spreadsheets.
    pub fn csv(&self) -> String {
        let mut out =
            std::iter::once(self.key.as_str()).chain(self.counts.iter().copied()).collect::<Vec<_>>().join(",");
        out.push('\n');
        for (key, counts) in &self.rows {
            out.push_str(&csv_field(key));
            for n in counts {
                out.push_str(&format!(",{n}"));
            }
            out.push('\n');
        }
        out
    }

    /// The table as a Parquet file: a UTF-8 column and unsigned 64-bit counts.
    pub fn parquet(&self) -> Result<Vec<u8>, parquet::errors::ParquetError> {
        let mut fields = vec![Field::new(&self.key, DataType::Utf8, false)];
        fields.extend(self.counts.iter().map(|c| Field::new(*c, DataType::UInt64, false)));
        let schema = Arc::new(Schema::new(fields));
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(StringArray::from_iter_values(self.rows.iter().map(|(k, _)| k.as_str())))];
        for i in 0..self.counts.len() {
            columns.push(Arc::new(UInt64Array::from_iter_values(self.rows.iter().map(|(_, c)| c[i]))));
        }
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        let mut out = Vec::new();
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None)?;
        writer.write(&batch)?;
        writer.close()?;
        Ok(out)
    }
}

/// A CSV field: quoted when needed, and defused when a spreadsheet would take it for a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

/// `GET /api/v1/export.csv`.
pub async fn export_csv(
    state: State<AppState>,
    headers: HeaderMap,
    params: UrlQuery<Params>,
) -> Result<Response, ApiError> {
    export(state, headers, params, Format::Csv).await
}

/// `GET /api/v1/export.parquet`.
pub async fn export_parquet(
    state: State<AppState>,
    headers: HeaderMap,
    params: UrlQuery<Params>,
) -> Result<Response, ApiError> {
    export(state, headers, params, Format::Parquet).await
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Parquet,
}

async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<Params>,
    format: Format,
) -> Result<Response, ApiError> {
    let reader = authorize(&state, &headers)?;
    if reader.actor.starts_with("user:") {
        let session = state.sessions.get(&headers, state.clock.now());
        if session.is_none_or(|s| s.role < Role::Analyst) {
            return Err(ApiError::forbidden("exports need the analyst, admin or owner role"));
        }
    }
    let path = if format == Format::Csv { "/api/v1/export.csv" } else { "/api/v1/export.parquet" };
    let export = audited_table(&state, &reader, &params, path).await?;
    let (body, content_type, extension) = match format {
        Format::Csv => (export.table.csv().into_bytes(), "text/csv; charset=utf-8", "csv"),
        Format::Parquet => (
            export
                .table
                .parquet()
                .map_err(|e| ApiError::unavailable(format!("the Parquet file could not be written: {e}")))?,
            "application/vnd.apache.parquet",
            "parquet",
        ),
    };
    let disposition = format!("attachment; filename=\"{}.{extension}\"", export.name);
    Ok(([(CONTENT_TYPE, content_type.to_owned()), (CONTENT_DISPOSITION, disposition)], body).into_response())
}

/// An export's table and the name its file is given (`<site>-<dimension>` or
/// `<site>-timeseries`, without extension).
pub struct Export {
    /// What it holds.
    pub table: Table,
    /// The file's name, without extension.
    pub name: String,
}

/// The table `params` ask for (as the API's export parameters), read by `reader` and written to
/// the audit log (as `via`) before it is read; shared by the API and `obscura export`.
pub async fn audited_table(state: &AppState, reader: &Reader, params: &Params, via: &str) -> Result<Export, ApiError> {
    let (q, site) = parse_query(state, reader, params)?;
    let traffic = Traffic::from_params(params)?;
    let dimension = params.get("dimension").map(|d| Dimension::parse(d)).transpose()?;
    let interval = Interval::parse(params.get("interval").map_or("day", String::as_str))?;
    let limit = match params.get("limit") {
        None => 1000,
        Some(_) => parse_limit(params)?,
    };
    let detail = describe(via, params);
    state
        .audit
        .append(obscura_store::audit::AuditEntry {
            ts_ms: state.clock.now_ms(),
            actor: &reader.actor,
            action: "export",
            site: Some(&site.domain),
            detail: &detail,
        })
        .map_err(|e| ApiError::unavailable(format!("audit log: {e:#}")))?;
    let store = state.store.as_ref();
    let (table, name) = match &dimension {
        Some(dim) => {
            let rows = traffic.breakdown(store, &q, dim, limit).await.map_err(ApiError::unavailable)?;
            let table = Table {
                key: dim.name(),
                counts: vec!["visitors", "visits", "pageviews", "events"],
                rows: rows.into_iter().map(|r| (r.value, vec![r.visitors, r.visits, r.pageviews, r.events])).collect(),
            };
            (table, dim.name().replace(':', "-"))
        }
        None => {
            let points = traffic.timeseries(store, &q, interval).await.map_err(ApiError::unavailable)?;
            let table = Table {
                key: "date".into(),
                counts: vec!["visitors", "visits", "pageviews"],
                rows: points
                    .into_iter()
                    .map(|p| (obscura_model::format_ms(p.bucket_ms), vec![p.visitors, p.visits, p.pageviews]))
                    .collect(),
            };
            (table, "timeseries".to_owned())
        }
    };
    Ok(Export { table, name: format!("{}-{name}", site.domain) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            key: "page".into(),
            counts: vec!["visitors", "pageviews"],
            rows: vec![("/a,b".into(), vec![3, 4]), ("=cmd()".into(), vec![1, 1])],
        }
    }

    #[test]
    fn exports_csv_quotes_and_defuses_values() {
        assert_eq!(table().csv(), "page,visitors,pageviews\n\"/a,b\",3,4\n'=cmd(),1,1\n");
    }

    #[test]
    fn exports_parquet_reads_back_with_its_columns_and_rows() {
        let bytes = axum::body::Bytes::from(table().parquet().unwrap());
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap();
        let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
        let batch = &batches[0];
        let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["page", "visitors", "pageviews"]);
        let pages = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let views = batch.column(2).as_any().downcast_ref::<UInt64Array>().unwrap();
        assert_eq!((pages.value(0), views.value(0), pages.value(1)), ("/a,b", 4, "=cmd()"));
    }
}
