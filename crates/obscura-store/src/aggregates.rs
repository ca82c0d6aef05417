//! k-anonymous aggregates (P3): what is kept of a site's day once its per-event data is
//! destroyed.
//!
//! Per-event rows, and rollups that can single out a few visitors, are personal data and go
//! with the day (P13). Before they go, the day's rollup cells of the expiring sites are made
//! k-anonymous — every cell that counts fewer than `k` distinct visitors is dropped or, where
//! that is sound, merged into one `(other)` cell per dimension, which is dropped in turn if it
//! still counts fewer than `k` — and kept, sealed under the master key (one `<day>.agg` file each: a Parquet file
//! sealed whole), so that long-range dashboards still work.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use arrow::array::{Array, Int64Array, RecordBatch, StringArray, UInt32Array};
use time::Date;

use crate::crypto::{Key, SealedFile};
use crate::rollup::{ROLLUP_FILE_SCHEMA, with_day};
use obscura_model::{format_day, parse_day};

/// The default number of distinct visitors every published cell must count.
pub const DEFAULT_K: u32 = 5;
/// The name of the merged cell.
pub const OTHER: &str = "(other)";

const METRICS: [&str; 6] = ["visitors", "visits", "pageviews", "events", "bounces", "duration_ms"];

/// Makes rollup rows ([`ROLLUP_FILE_SCHEMA`]) k-anonymous; see the module documentation.
/// `mergeable` says which dimensions' small cells may be summed into "(other)" (those with one
/// value per visitor and day); small cells of the others are dropped.
pub fn k_anonymize(batch: &RecordBatch, k: u32, mergeable: impl Fn(&str) -> bool) -> anyhow::Result<RecordBatch> {
    let site = column::<UInt32Array>(batch, "site")?;
    let dim = column::<StringArray>(batch, "dim")?;
    let value = column::<StringArray>(batch, "value")?;
    let metrics: Vec<&Int64Array> =
        METRICS.iter().map(|m| column::<Int64Array>(batch, m)).collect::<anyhow::Result<_>>()?;
    let k = i64::from(k);
    let mut kept: Vec<(u32, String, Option<String>, [i64; 6])> = Vec::new();
    let mut other: BTreeMap<(u32, String), [i64; 6]> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        let cell: [i64; 6] = std::array::from_fn(|m| metrics[m].value(row));
        let key = (site.value(row), dim.value(row).to_owned());
        let value = (!value.is_null(row)).then(|| value.value(row).to_owned());
        // The site's totals (dimension '') are one cell: kept or dropped, never merged.
        if cell[0] >= k {
            kept.push((key.0, key.1, value, cell));
        } else if mergeable(&key.1) {
            let sum = other.entry(key).or_insert([0; 6]);
            for m in 0..6 {
                sum[m] += cell[m];
            }
        }
    }
    for ((site, dim), cell) in other {
        if cell[0] >= k {
            kept.push((site, dim, Some(OTHER.to_owned()), cell));
        }
    }
    let mut columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(kept.iter().map(|r| r.0).collect::<UInt32Array>()),
        Arc::new(kept.iter().map(|r| Some(r.1.as_str())).collect::<StringArray>()),
        Arc::new(kept.iter().map(|r| r.2.as_deref()).collect::<StringArray>()),
    ];
    for m in 0..6 {
        columns.push(Arc::new(kept.iter().map(|r| r.3[m]).collect::<Int64Array>()));
    }
    Ok(RecordBatch::try_new(ROLLUP_FILE_SCHEMA.clone(), columns)?)
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

    /// Adds `rows` (already k-anonymous) to `day`, replacing earlier rows of the same sites.
    pub fn add(&self, day: Date, rows: &RecordBatch) -> anyhow::Result<()> {
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

    /// Every day's rows with the `day` column, for table `rollups`.
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

    fn rows(cells: &[(u32, &str, &str, i64)]) -> RecordBatch {
        let mut columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(cells.iter().map(|c| c.0).collect::<UInt32Array>()),
            Arc::new(cells.iter().map(|c| Some(c.1)).collect::<StringArray>()),
            Arc::new(cells.iter().map(|c| Some(c.2)).collect::<StringArray>()),
        ];
        for _ in METRICS {
            columns.push(Arc::new(cells.iter().map(|c| c.3).collect::<Int64Array>()));
        }
        RecordBatch::try_new(ROLLUP_FILE_SCHEMA.clone(), columns).unwrap()
    }

    fn cells(batch: &RecordBatch) -> Vec<(String, String, i64)> {
        let dim = column::<StringArray>(batch, "dim").unwrap();
        let value = column::<StringArray>(batch, "value").unwrap();
        let visitors = column::<Int64Array>(batch, "visitors").unwrap();
        (0..batch.num_rows()).map(|i| (dim.value(i).to_owned(), value.value(i).to_owned(), visitors.value(i))).collect()
    }

    #[test]
    fn p03_small_cells_merge_into_other_and_what_stays_small_is_dropped() {
        // Rare pages are dropped even though their visitors add up to 5: one visitor may have
        // seen both. Rare browsers (disjoint visitors) merge into "(other)"; a lone OS is dropped.
        let input = rows(&[
            (1, "", "", 40),
            (1, "page", "/", 30),
            (1, "page", "/rare-a", 3),
            (1, "page", "/rare-b", 2),
            (1, "browser", "Firefox", 33),
            (1, "browser", "Lynx", 2),
            (1, "browser", "w3m", 3),
            (1, "os", "Plan 9", 1),
            (2, "", "", 4),
            (2, "page", "/", 4),
        ]);
        let out = cells(&k_anonymize(&input, 5, |dim| matches!(dim, "browser" | "os")).unwrap());
        assert_eq!(
            out,
            [
                ("".into(), "".into(), 40),
                ("page".into(), "/".into(), 30),
                ("browser".into(), "Firefox".into(), 33),
                ("browser".into(), OTHER.into(), 5),
            ]
        );
    }

    #[test]
    fn p03_aggregates_are_sealed_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let day = time::macros::date!(2026 - 01 - 05);
        let agg = Aggregates::open(dir.path().to_path_buf(), master.clone()).unwrap();
        agg.add(day, &rows(&[(1, "page", "/p03-marker", 9)])).unwrap();
        agg.add(day, &rows(&[(2, "page", "/other-site", 7)])).unwrap();
        agg.add(day, &rows(&[(1, "page", "/replaced", 8)])).unwrap();
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let bytes = std::fs::read(f.path()).unwrap();
            assert!(!bytes.windows(6).any(|w| w == b"/other"), "plaintext in {:?}", f.path());
        }
        let reopened = Aggregates::open(dir.path().to_path_buf(), master).unwrap();
        let batch = &reopened.batches().unwrap()[0];
        let values: Vec<String> = cells(batch).into_iter().map(|c| c.1).collect();
        assert_eq!(values, ["/other-site", "/replaced"]);
    }

    #[test]
    fn hardening_aggregates_of_sites_still_rolled_up_are_not_served_twice() {
        let dir = tempfile::tempdir().unwrap();
        let day = time::macros::date!(2026 - 01 - 05);
        let agg = Aggregates::open(dir.path().to_path_buf(), Key::random()).unwrap();
        agg.add(day, &rows(&[(1, "page", "/site-1", 9), (2, "page", "/site-2", 7)])).unwrap();
        let still_rolled_up = |d: Date| if d == day { vec![1] } else { Vec::new() };
        let values: Vec<String> =
            cells(&agg.batches_except(still_rolled_up).unwrap()[0]).into_iter().map(|c| c.1).collect();
        assert_eq!(values, ["/site-2"]);
        assert_eq!(agg.batches().unwrap()[0].num_rows(), 2);
    }
}
