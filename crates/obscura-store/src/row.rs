//! The stored row: the Arrow schema of the events table and conversions into it.
//!
//! [`StoredRow`] is the store's own flat copy of an [`Event`], used in the write-ahead log; it can
//! only be made from an `Event` (or decoded from the log), so it inherits the privacy boundary.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, RecordBatch, StringBuilder, TimestampMillisecondBuilder, UInt8Builder,
    UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use obscura_model::Event;
use obscura_privacy::Clean;
use serde::{Deserialize, Serialize};

/// Separators of the `props` column: `\u{1}key\u{2}value\u{1}key\u{2}value\u{1}`, so a property's
/// value can be cut out with `split_part` in any SQL dialect. The scrubber strips control
/// characters, so keys and values cannot contain them.
pub(crate) const PROP_START: char = '\u{1}';
pub(crate) const PROP_EQ: char = '\u{2}';

/// An event as stored: every value plain text or a number, as a backend reads it back. It is
/// also a ClickHouse row: the ClickHouse backend's `events` table has these columns (and `day`,
/// computed from `ts_ms`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, clickhouse::Row)]
pub struct StoredRow {
    /// When it happened, milliseconds since the epoch (UTC).
    pub ts_ms: i64,
    /// The site's id.
    pub site: u32,
    /// 0 pageview, 1 custom event, 2 engagement.
    pub kind: u8,
    /// The visitor's daily hash (P2).
    pub visitor: u64,
    /// The visit's id.
    pub visit: u64,
    /// The event's place in its visit, from 1.
    pub visit_seq: u16,
    #[serde(default)]
    /// Milliseconds since the previous event of the visit.
    pub visit_gap_ms: u32,
    /// The page path, normalised and scrubbed.
    pub path: String,
    /// The previous page of the visit.
    pub prev_path: Option<String>,
    /// The referrer's host.
    pub referrer_host: Option<String>,
    /// Source category: direct, search, social, campaign or other.
    pub source: String,
    /// Campaign source.
    pub utm_source: Option<String>,
    /// Campaign medium.
    pub utm_medium: Option<String>,
    /// Campaign name.
    pub utm_campaign: Option<String>,
    /// A custom event's name.
    pub name: Option<String>,
    /// Custom properties, `\u{1}key\u{2}value\u{1}…`.
    pub props: Option<String>,
    /// Two-letter continent code.
    pub continent: Option<String>,
    /// ISO country code.
    pub country: Option<String>,
    /// First-level subdivision.
    pub province: Option<String>,
    /// Network operator.
    pub network: Option<String>,
    /// Browser name.
    pub browser: Option<String>,
    /// Browser major version.
    pub browser_version: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Operating system version.
    pub os_version: Option<String>,
    /// desktop, mobile, tablet or unknown.
    pub device_type: String,
    /// Device manufacturer.
    pub device_brand: Option<String>,
    /// Device model.
    pub device_model: Option<String>,
    /// Screen width class.
    pub screen: Option<String>,
    /// New or returning, as the tracker reports.
    pub returning: Option<bool>,
    /// Days since the previous visit, bucketed.
    pub days_since_last: Option<String>,
    /// Visits so far, bucketed.
    pub visit_count: Option<String>,
    /// Engaged time an engagement event reports.
    pub engaged_ms: Option<u32>,
    /// A measurement's metric name (`lcp`, `cdn.ttfb`, …).
    #[serde(default)]
    pub metric: Option<String>,
    /// A measurement's value.
    #[serde(default)]
    pub value: Option<f64>,
}

fn text(c: Option<Clean>) -> Option<String> {
    c.map(Clean::into_string)
}

impl From<&Event> for StoredRow {
    fn from(e: &Event) -> Self {
        StoredRow::from(e.clone())
    }
}

/// By value: the event's text moves into the row, uncopied.
impl From<Event> for StoredRow {
    fn from(e: Event) -> Self {
        let props = (!e.props.is_empty()).then(|| {
            let mut s = String::new();
            for (k, v) in &e.props {
                s.push(PROP_START);
                s.push_str(k.as_str());
                s.push(PROP_EQ);
                s.push_str(v.as_str());
            }
            s.push(PROP_START);
            s
        });
        StoredRow {
            ts_ms: e.ts_ms,
            site: e.site,
            kind: e.kind.code(),
            visitor: e.visitor.get(),
            visit: e.visit,
            visit_seq: e.visit_seq,
            visit_gap_ms: e.visit_gap_ms,
            path: e.path.into_string(),
            prev_path: text(e.prev_path),
            referrer_host: text(e.referrer_host),
            source: e.source.to_owned(),
            utm_source: text(e.utm_source),
            utm_medium: text(e.utm_medium),
            utm_campaign: text(e.utm_campaign),
            name: text(e.name),
            props,
            continent: e.continent.map(str::to_owned),
            country: text(e.country),
            province: text(e.province),
            network: text(e.network),
            browser: text(e.browser),
            browser_version: text(e.browser_version),
            os: text(e.os),
            os_version: text(e.os_version),
            device_type: e.device_type.to_owned(),
            device_brand: text(e.device_brand),
            device_model: text(e.device_model),
            screen: e.screen.map(|s| s.as_str().to_owned()),
            returning: e.returning,
            days_since_last: e.days_since_last.map(|d| d.as_str().to_owned()),
            visit_count: e.visit_count.map(|v| v.as_str().to_owned()),
            engaged_ms: e.engaged_ms,
            metric: e.measure.map(|(m, _)| m.name().to_owned()),
            value: e.measure.map(|(_, v)| v),
        }
    }
}

/// Text columns, in schema order after the fixed leading columns.
const TEXT_COLUMNS: [(&str, bool); 25] = [
    ("path", false),
    ("prev_path", true),
    ("referrer_host", true),
    ("source", false),
    ("utm_source", true),
    ("utm_medium", true),
    ("utm_campaign", true),
    ("name", true),
    ("props", true),
    ("continent", true),
    ("country", true),
    ("province", true),
    ("network", true),
    ("browser", true),
    ("browser_version", true),
    ("os", true),
    ("os_version", true),
    ("device_type", false),
    ("device_brand", true),
    ("device_model", true),
    ("screen", true),
    ("days_since_last", true),
    ("visit_count", true),
    ("metric", true),
    ("day", false),
];

/// The schema of the events table as queries see it (Parquet files hold all but `day`, which is
/// the partition column from the file's folder).
pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
        Field::new("site", DataType::UInt32, false),
        Field::new("kind", DataType::UInt8, false),
        Field::new("visitor", DataType::UInt64, false),
        Field::new("visit", DataType::UInt64, false),
        Field::new("visit_seq", DataType::UInt16, false),
        Field::new("visit_gap_ms", DataType::UInt32, false),
        Field::new("returning", DataType::Boolean, true),
        Field::new("engaged_ms", DataType::UInt32, true),
        Field::new("value", DataType::Float64, true),
    ];
    fields.extend(TEXT_COLUMNS.iter().map(|(name, nullable)| Field::new(*name, DataType::Utf8, *nullable)));
    Arc::new(Schema::new(fields))
});

/// The schema of the Parquet files: [`SCHEMA`] without the partition column.
pub static FILE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let fields: Vec<_> = SCHEMA.fields().iter().filter(|f| f.name() != "day").cloned().collect();
    Arc::new(Schema::new(fields))
});

/// Builds a record batch in [`SCHEMA`] (with the `day` column) from rows of one day.
pub fn rows_to_batch(rows: &[StoredRow], day: &str) -> RecordBatch {
    let n = rows.len();
    let mut ts = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut site = UInt32Builder::with_capacity(n);
    let mut kind = UInt8Builder::with_capacity(n);
    let mut visitor = UInt64Builder::with_capacity(n);
    let mut visit = UInt64Builder::with_capacity(n);
    let mut visit_seq = UInt16Builder::with_capacity(n);
    let mut visit_gap = UInt32Builder::with_capacity(n);
    let mut returning = BooleanBuilder::with_capacity(n);
    let mut engaged = UInt32Builder::with_capacity(n);
    let mut value = Float64Builder::with_capacity(n);
    let mut texts: Vec<StringBuilder> = TEXT_COLUMNS.iter().map(|_| StringBuilder::with_capacity(n, n * 8)).collect();
    for r in rows {
        ts.append_value(r.ts_ms);
        site.append_value(r.site);
        kind.append_value(r.kind);
        visitor.append_value(r.visitor);
        visit.append_value(r.visit);
        visit_seq.append_value(r.visit_seq);
        visit_gap.append_value(r.visit_gap_ms);
        returning.append_option(r.returning);
        engaged.append_option(r.engaged_ms);
        value.append_option(r.value);
        let values: [Option<&str>; 25] = [
            Some(&r.path),
            r.prev_path.as_deref(),
            r.referrer_host.as_deref(),
            Some(&r.source),
            r.utm_source.as_deref(),
            r.utm_medium.as_deref(),
            r.utm_campaign.as_deref(),
            r.name.as_deref(),
            r.props.as_deref(),
            r.continent.as_deref(),
            r.country.as_deref(),
            r.province.as_deref(),
            r.network.as_deref(),
            r.browser.as_deref(),
            r.browser_version.as_deref(),
            r.os.as_deref(),
            r.os_version.as_deref(),
            Some(&r.device_type),
            r.device_brand.as_deref(),
            r.device_model.as_deref(),
            r.screen.as_deref(),
            r.days_since_last.as_deref(),
            r.visit_count.as_deref(),
            r.metric.as_deref(),
            Some(day),
        ];
        for (builder, value) in texts.iter_mut().zip(values) {
            builder.append_option(value);
        }
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(ts.finish()),
        Arc::new(site.finish()),
        Arc::new(kind.finish()),
        Arc::new(visitor.finish()),
        Arc::new(visit.finish()),
        Arc::new(visit_seq.finish()),
        Arc::new(visit_gap.finish()),
        Arc::new(returning.finish()),
        Arc::new(engaged.finish()),
        Arc::new(value.finish()),
    ];
    columns.extend(texts.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    RecordBatch::try_new(SCHEMA.clone(), columns).expect("columns are built to match SCHEMA")
}

/// Drops the `day` column: what goes into a Parquet file.
pub fn without_day(batch: &RecordBatch) -> RecordBatch {
    let idx = batch.schema().index_of("day").expect("batch has a day column");
    let mut columns = batch.columns().to_vec();
    columns.remove(idx);
    RecordBatch::try_new(FILE_SCHEMA.clone(), columns).expect("same columns minus day")
}

/// Reads rows back from a batch in [`SCHEMA`] or [`FILE_SCHEMA`] (any compatible column types).
pub fn batch_to_rows(batch: &RecordBatch) -> anyhow::Result<Vec<StoredRow>> {
    use arrow::array::{Array, BooleanArray, Int64Array, StringArray, UInt64Array};
    use arrow::compute::cast;
    let column = |name: &str, to: &DataType| -> anyhow::Result<ArrayRef> {
        let col = batch.column_by_name(name).ok_or_else(|| anyhow::anyhow!("no column {name}"))?;
        Ok(cast(col, to)?)
    };
    let signed = |name: &str| -> anyhow::Result<Int64Array> {
        let col = match batch.column_by_name(name).map(|c| c.data_type()) {
            Some(DataType::Timestamp(_, _)) => column(name, &DataType::Timestamp(TimeUnit::Millisecond, None))
                .and_then(|c| Ok(cast(&c, &DataType::Int64)?))?,
            _ => column(name, &DataType::Int64)?,
        };
        Ok(col.as_any().downcast_ref::<Int64Array>().expect("cast to Int64").clone())
    };
    let unsigned = |name: &str| -> anyhow::Result<UInt64Array> {
        Ok(column(name, &DataType::UInt64)?.as_any().downcast_ref::<UInt64Array>().expect("cast to UInt64").clone())
    };
    let text = |name: &str| -> anyhow::Result<Vec<Option<String>>> {
        let col = column(name, &DataType::Utf8)?;
        let col = col.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        Ok((0..col.len()).map(|i| (!col.is_null(i)).then(|| col.value(i).to_owned())).collect())
    };
    let (ts, site, kind, visitor, visit) =
        (signed("ts")?, signed("site")?, signed("kind")?, unsigned("visitor")?, unsigned("visit")?);
    let (visit_seq, visit_gap, engaged) = (signed("visit_seq")?, signed("visit_gap_ms")?, signed("engaged_ms")?);
    let value = column("value", &DataType::Float64)?;
    let value = value.as_any().downcast_ref::<arrow::array::Float64Array>().expect("cast to Float64");
    let returning = column("returning", &DataType::Boolean)?;
    let returning = returning.as_any().downcast_ref::<BooleanArray>().expect("cast to Boolean");
    let mut texts: std::collections::HashMap<&str, std::vec::IntoIter<Option<String>>> =
        std::collections::HashMap::new();
    for (name, _) in TEXT_COLUMNS.iter().filter(|(name, _)| *name != "day") {
        texts.insert(name, text(name)?.into_iter());
    }
    let mut next = |name: &str| texts.get_mut(name).and_then(Iterator::next).flatten();
    let mut rows = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        rows.push(StoredRow {
            ts_ms: ts.value(i),
            site: site.value(i) as u32,
            kind: kind.value(i) as u8,
            visitor: visitor.value(i),
            visit: visit.value(i),
            visit_seq: visit_seq.value(i) as u16,
            visit_gap_ms: visit_gap.value(i) as u32,
            returning: (!returning.is_null(i)).then(|| returning.value(i)),
            engaged_ms: (!engaged.is_null(i)).then(|| engaged.value(i) as u32),
            path: next("path").unwrap_or_default(),
            prev_path: next("prev_path"),
            referrer_host: next("referrer_host"),
            source: next("source").unwrap_or_default(),
            utm_source: next("utm_source"),
            utm_medium: next("utm_medium"),
            utm_campaign: next("utm_campaign"),
            name: next("name"),
            props: next("props"),
            continent: next("continent"),
            country: next("country"),
            province: next("province"),
            network: next("network"),
            browser: next("browser"),
            browser_version: next("browser_version"),
            os: next("os"),
            os_version: next("os_version"),
            device_type: next("device_type").unwrap_or_default(),
            device_brand: next("device_brand"),
            device_model: next("device_model"),
            screen: next("screen"),
            days_since_last: next("days_since_last"),
            visit_count: next("visit_count"),
            metric: next("metric"),
            value: (!value.is_null(i)).then(|| value.value(i)),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_rows_read_back_from_a_batch_equal_the_rows_written() {
        let mut rows: Vec<StoredRow> = (0..3).map(|i| crate::wal::tests::row(1_767_225_600_000 + i)).collect();
        rows[1].returning = Some(true);
        rows[1].engaged_ms = Some(1_500);
        rows[2].props = Some("\u{1}plan\u{2}pro\u{1}".into());
        rows[2].prev_path = None;
        rows[2].metric = Some("lcp".into());
        rows[2].value = Some(1234.5);
        let batch = rows_to_batch(&rows, "2026-01-01");
        assert_eq!(batch_to_rows(&batch).unwrap(), rows);
        assert_eq!(batch_to_rows(&without_day(&batch)).unwrap(), rows, "day files lack the day column");
    }
}
