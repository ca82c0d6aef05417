//! The stored row: the Arrow schema of the events table and conversions into it.
//!
//! [`StoredRow`] is the store's own flat copy of an [`Event`], used in the write-ahead log; it can
//! only be made from an `Event` (or decoded from the log), so it inherits the privacy boundary.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BooleanBuilder, RecordBatch, StringBuilder, TimestampMillisecondBuilder, UInt8Builder, UInt16Builder,
    UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use obscura_model::Event;
use obscura_privacy::Clean;
use serde::{Deserialize, Serialize};

/// Separators of the `props` column: `\u{1}key\u{2}value\u{1}key\u{2}value\u{1}`, so a property's
/// value can be cut out with `split_part` in any SQL dialect. The scrubber strips control
/// characters, so keys and values cannot contain them.
pub const PROP_START: char = '\u{1}';
pub const PROP_EQ: char = '\u{2}';

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StoredRow {
    pub ts_ms: i64,
    pub site: u32,
    pub kind: u8,
    pub visitor: u64,
    pub visit: u64,
    pub visit_seq: u16,
    #[serde(default)]
    pub visit_gap_ms: u32,
    pub path: String,
    pub prev_path: Option<String>,
    pub referrer_host: Option<String>,
    pub source: String,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub name: Option<String>,
    pub props: Option<String>,
    pub continent: Option<String>,
    pub country: Option<String>,
    pub province: Option<String>,
    pub network: Option<String>,
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub device_type: String,
    pub device_brand: Option<String>,
    pub device_model: Option<String>,
    pub screen: Option<String>,
    pub returning: Option<bool>,
    pub days_since_last: Option<String>,
    pub visit_count: Option<String>,
    pub engaged_ms: Option<u32>,
}

fn text(c: &Option<Clean>) -> Option<String> {
    c.as_ref().map(|c| c.as_str().to_owned())
}

impl From<&Event> for StoredRow {
    fn from(e: &Event) -> Self {
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
            path: e.path.as_str().to_owned(),
            prev_path: text(&e.prev_path),
            referrer_host: text(&e.referrer_host),
            source: e.source.to_owned(),
            utm_source: text(&e.utm_source),
            utm_medium: text(&e.utm_medium),
            utm_campaign: text(&e.utm_campaign),
            name: text(&e.name),
            props,
            continent: e.continent.map(str::to_owned),
            country: text(&e.country),
            province: text(&e.province),
            network: text(&e.network),
            browser: text(&e.browser),
            browser_version: text(&e.browser_version),
            os: text(&e.os),
            os_version: text(&e.os_version),
            device_type: e.device_type.to_owned(),
            device_brand: text(&e.device_brand),
            device_model: text(&e.device_model),
            screen: e.screen.map(|s| s.as_str().to_owned()),
            returning: e.returning,
            days_since_last: e.days_since_last.map(|d| d.as_str().to_owned()),
            visit_count: e.visit_count.map(|v| v.as_str().to_owned()),
            engaged_ms: e.engaged_ms,
        }
    }
}

/// Text columns, in schema order after the fixed leading columns.
const TEXT_COLUMNS: [(&str, bool); 24] = [
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
        let values: [Option<&str>; 24] = [
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
