//! The k-anonymous aggregates the embedded store keeps past retention: sealed under the master
//! key (one `<day>.agg` file each: a Parquet file sealed whole) and served with the rollups.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use arrow::array::{Array, Int64Array, RecordBatch, StringArray, UInt32Array};
use obscura_model::{format_day, parse_day};
use time::Date;

use crate::aggregates::RollupCell;
use crate::crypto::{Key, SealedFile};
use crate::rollup::{ROLLUP_FILE_SCHEMA, with_day};

/// Rollup cells as rows of [`ROLLUP_FILE_SCHEMA`].
pub(crate) fn cells_to_batch(cells: &[RollupCell]) -> RecordBatch {
    let metric =
        |f: fn(&RollupCell) -> i64| -> Arc<dyn Array> { Arc::new(cells.iter().map(f).collect::<Int64Array>()) };
    let columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(cells.iter().map(|c| c.site).collect::<UInt32Array>()),
        Arc::new(cells.iter().map(|c| Some(c.dim.as_str())).collect::<StringArray>()),
        Arc::new(cells.iter().map(|c| c.value.as_deref()).collect::<StringArray>()),
        metric(|c| c.visitors),
        metric(|c| c.visits),
        metric(|c| c.pageviews),
        metric(|c| c.events),
        metric(|c| c.bounces),
        metric(|c| c.duration_ms),
    ];
    RecordBatch::try_new(ROLLUP_FILE_SCHEMA.clone(), columns).expect("columns follow the schema")
}

/// Rows of [`ROLLUP_FILE_SCHEMA`] as rollup cells.
pub(crate) fn batch_to_cells(batch: &RecordBatch) -> anyhow::Result<Vec<RollupCell>> {
    let site = column::<UInt32Array>(batch, "site")?;
    let dim = column::<StringArray>(batch, "dim")?;
    let value = column::<StringArray>(batch, "value")?;
    let metric = |name| column::<Int64Array>(batch, name);
    let (visitors, visits, pageviews) = (metric("visitors")?, metric("visits")?, metric("pageviews")?);
    let (events, bounces, duration_ms) = (metric("events")?, metric("bounces")?, metric("duration_ms")?);
    Ok((0..batch.num_rows())
        .map(|i| RollupCell {
            site: site.value(i),
            dim: dim.value(i).to_owned(),
            // The totals have no value (the rollup SQL writes '').
            value: (!value.is_null(i) && !dim.value(i).is_empty()).then(|| value.value(i).to_owned()),
            visitors: visitors.value(i),
            visits: visits.value(i),
            pageviews: pageviews.value(i),
            events: events.value(i),
            bounces: bounces.value(i),
            duration_ms: duration_ms.value(i),
        })
        .collect())
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> anyhow::Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .with_context(|| format!("rollup rows lack a {name} column of the right type"))
}

/// The kept aggregates: one sealed file per day, all held in memory (they are small).
pub struct Aggregates {
    dir: PathBuf,
    master: Key,
    days: Mutex<BTreeMap<Date, RecordBatch>>,
}

const CONTEXT: &[u8] = b"obscura aggregates v1";

impl Aggregates {
    /// Opens the aggregates in `dir` (created if missing), decrypting every `<day>.agg` file with
    /// `master` and loading it into memory; a file that cannot be decrypted or read is an error.
    pub fn open(dir: PathBuf, master: Key) -> anyhow::Result<Self> {
        crate::durable_fs::create_dir_durably(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut days = BTreeMap::new();
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(day) = name.strip_suffix(".agg").and_then(parse_day) else { continue };
            let plain = SealedFile::new(entry.path(), CONTEXT)
                .read(&master)?
                .with_context(|| format!("{} vanished", entry.path().display()))?;
            days.insert(day, read_parquet(plain)?);
        }
        Ok(Aggregates { dir, master, days: Mutex::new(days) })
    }

    /// Adds `cells` (already k-anonymous) to `day`, replacing earlier cells of the same sites.
    pub fn add(&self, day: Date, cells: &[RollupCell]) -> anyhow::Result<()> {
        let rows = &cells_to_batch(cells);
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        let new_sites: Vec<u32> = column::<UInt32Array>(rows, "site")?.iter().flatten().collect();
        let mut parts = Vec::new();
        if let Some(old) = days.get(&day) {
            let site = column::<UInt32Array>(old, "site")?;
            let keep: arrow::array::BooleanArray =
                site.iter().map(|s| Some(!s.is_some_and(|s| new_sites.contains(&s)))).collect();
            parts.push(arrow::compute::filter_record_batch(old, &keep)?);
        }
        parts.push(rows.clone());
        let merged = arrow::compute::concat_batches(&ROLLUP_FILE_SCHEMA, &parts)?;
        let bytes = write_parquet(&merged)?;
        SealedFile::new(self.dir.join(format!("{}.agg", format_day(day))), CONTEXT).write(&self.master, &bytes)?;
        days.insert(day, merged);
        Ok(())
    }

    /// Every day's rows with the `day` column.
    #[cfg(test)]
    pub fn batches(&self) -> anyhow::Result<Vec<RecordBatch>> {
        self.batches_except(|_| Vec::new())
    }

    /// Like [`Aggregates::batches`], without the sites that `still_rolled_up(day)` lists: their
    /// aggregates are kept before their rows go, and until then the day's rollup counts them.
    pub fn batches_except(&self, still_rolled_up: impl Fn(Date) -> Vec<u32>) -> anyhow::Result<Vec<RecordBatch>> {
        let days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(days.len());
        for (day, rows) in days.iter() {
            let rolled_up = still_rolled_up(*day);
            let rows = if rolled_up.is_empty() {
                rows.clone()
            } else {
                let site = column::<UInt32Array>(rows, "site")?;
                let keep: arrow::array::BooleanArray =
                    site.iter().map(|s| Some(!s.is_some_and(|s| rolled_up.contains(&s)))).collect();
                arrow::compute::filter_record_batch(rows, &keep)?
            };
            out.push(with_day(&rows, &format_day(*day))?);
        }
        Ok(out)
    }

    /// The cells of `site`, with their days, oldest first.
    pub fn of_site(&self, site: u32) -> anyhow::Result<Vec<(Date, RollupCell)>> {
        let days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (day, rows) in days.iter() {
            out.extend(batch_to_cells(rows)?.into_iter().filter(|c| c.site == site).map(|c| (*day, c)));
        }
        Ok(out)
    }

    /// The days that have kept aggregates, oldest first.
    pub fn days(&self) -> Vec<Date> {
        self.days.lock().unwrap_or_else(|e| e.into_inner()).keys().copied().collect()
    }
}

fn write_parquet(batch: &RecordBatch) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None)?;
    writer.write(batch)?;
    writer.close()?;
    Ok(bytes)
}

fn read_parquet(bytes: Vec<u8>) -> anyhow::Result<RecordBatch> {
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))?.build()?;
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok(arrow::compute::concat_batches(&ROLLUP_FILE_SCHEMA, &batches)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregates::tests::cell;

    fn values(batch: &RecordBatch) -> Vec<String> {
        batch_to_cells(batch).unwrap().into_iter().map(|c| c.value.unwrap_or_default()).collect()
    }

    #[test]
    fn p03_aggregates_are_sealed_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let day = time::macros::date!(2026 - 01 - 05);
        let agg = Aggregates::open(dir.path().to_path_buf(), master.clone()).unwrap();
        agg.add(day, &[cell(1, "page", "/p03-marker", 9)]).unwrap();
        agg.add(day, &[cell(2, "page", "/other-site", 7)]).unwrap();
        agg.add(day, &[cell(1, "page", "/replaced", 8)]).unwrap();
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let bytes = std::fs::read(f.path()).unwrap();
            assert!(!bytes.windows(6).any(|w| w == b"/other"), "plaintext in {:?}", f.path());
        }
        let reopened = Aggregates::open(dir.path().to_path_buf(), master).unwrap();
        assert_eq!(values(&reopened.batches().unwrap()[0]), ["/other-site", "/replaced"]);
    }

    #[test]
    fn hardening_aggregates_of_sites_still_rolled_up_are_not_served_twice() {
        let dir = tempfile::tempdir().unwrap();
        let day = time::macros::date!(2026 - 01 - 05);
        let agg = Aggregates::open(dir.path().to_path_buf(), Key::random()).unwrap();
        agg.add(day, &[cell(1, "page", "/site-1", 9), cell(2, "page", "/site-2", 7)]).unwrap();
        let still_rolled_up = |d: Date| if d == day { vec![1] } else { Vec::new() };
        assert_eq!(values(&agg.batches_except(still_rolled_up).unwrap()[0]), ["/site-2"]);
        assert_eq!(agg.batches().unwrap()[0].num_rows(), 2);
    }

    #[test]
    fn aggregates_cells_round_trip_through_rows() {
        let cells = [cell(1, "", "", 9), cell(2, "page", "/a", 7)];
        assert_eq!(batch_to_cells(&cells_to_batch(&cells)).unwrap(), cells);
    }
}
