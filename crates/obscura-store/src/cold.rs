//! The cold tier: one folder per day of Parquet files with Parquet Modular Encryption.
//!
//! Files live at `events/day=YYYY-MM-DD/part-….parquet` (Hive-style, so a query's date range
//! prunes whole days before any footer is decrypted). Each file is encrypted under its day's key
//! and sorted by site and time so row-group statistics prune further.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow::array::RecordBatch;
use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::config::{EncryptionFactoryOptions, TableParquetOptions};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::parquet_encryption::EncryptionFactory;
use datafusion::object_store::path::Path as ObjectPath;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::encryption::decrypt::FileDecryptionProperties;
use parquet::encryption::encrypt::FileEncryptionProperties;
use parquet::file::properties::WriterProperties;
use time::Date;

use crate::crypto::Key;
use crate::durable_fs::{create_dir_durably, rename_durably};
use obscura_model::{format_day, parse_day};

use crate::keyring::Keyring;
use crate::row::without_day;

pub const FACTORY_ID: &str = "obscura-keyring";

pub fn day_dir(events_dir: &Path, day: Date) -> PathBuf {
    events_dir.join(format!("day={}", format_day(day)))
}

/// Writes `batches` (all of `day`) as one encrypted, sorted Parquet file named `name`.
/// The file appears atomically (temporary name, fsync, rename).
pub fn write_day_file(
    events_dir: &Path,
    keyring: &Keyring,
    day: Date,
    name: &str,
    batches: &[RecordBatch],
) -> anyhow::Result<PathBuf> {
    Ok(stage_day_file(events_dir, keyring, day, name, batches)?.publish()?)
}

/// Like [`write_day_file`], but the file stays hidden until [`StagedFile::publish`], so the
/// caller can make it appear at the moment of its choosing.
pub fn stage_day_file(
    events_dir: &Path,
    keyring: &Keyring,
    day: Date,
    name: &str,
    batches: &[RecordBatch],
) -> anyhow::Result<StagedFile> {
    let without: Vec<RecordBatch> = batches.iter().filter(|b| b.num_rows() > 0).map(without_day).collect();
    let sorted = merge_sorted_by_site_and_time(&without)?;
    let key = keyring.get_or_create(day)?;
    stage_sealed_file(&day_dir(events_dir, day), &key, day, name, &sorted)
}

/// Writes one batch as an encrypted Parquet file `name` in `dir/day=…/`, under the day's key.
pub fn write_encrypted_file(
    dir: &Path,
    keyring: &Keyring,
    day: Date,
    name: &str,
    batch: &RecordBatch,
) -> anyhow::Result<PathBuf> {
    let key = keyring.get_or_create(day)?;
    write_sealed_file(&day_dir(dir, day), &key, day, name, batch)
}

/// Writes one batch as a Parquet file `dir/name` encrypted under `key` (the key of `day`).
pub fn write_sealed_file(dir: &Path, key: &Key, day: Date, name: &str, batch: &RecordBatch) -> anyhow::Result<PathBuf> {
    Ok(stage_sealed_file(dir, key, day, name, batch)?.publish()?)
}

/// Suffix of a file written but not yet published; no table lists it (they list `.parquet`).
const STAGED_SUFFIX: &str = ".tmp";

/// A complete, fsynced file under a temporary name. Dropped unpublished, it is removed.
#[must_use = "a staged file is invisible until published"]
pub struct StagedFile {
    staged: PathBuf,
    path: PathBuf,
    published: bool,
}

impl StagedFile {
    /// Renames the file to its final name and makes the rename durable.
    pub fn publish(mut self) -> std::io::Result<PathBuf> {
        rename_durably(&self.staged, &self.path)?;
        self.published = true;
        Ok(self.path.clone())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.staged);
        }
    }
}

fn stage_sealed_file(dir: &Path, key: &Key, day: Date, name: &str, batch: &RecordBatch) -> anyhow::Result<StagedFile> {
    let encryption = FileEncryptionProperties::builder(key.bytes().to_vec())
        .with_footer_key_metadata(format_day(day).into_bytes())
        .build()?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(256 * 1024))
        .with_file_encryption_properties(encryption)
        .build();
    create_dir_durably(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let staged =
        StagedFile { staged: dir.join(format!("{name}{STAGED_SUFFIX}")), path: dir.join(name), published: false };
    let file =
        fs::File::create(&staged.staged).with_context(|| format!("cannot create {}", staged.staged.display()))?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props))?;
    writer.write(batch)?;
    let file = writer.into_inner()?;
    file.sync_all()?;
    Ok(staged)
}

/// Removes files that a crash left staged in the day folders under `dir`; their rows are still
/// in the write-ahead log (or the operation that wrote them never finished).
pub fn remove_staged(dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    for day in entries.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("day=")) {
        for file in fs::read_dir(day.path())?.flatten() {
            if file.file_name().to_string_lossy().ends_with(STAGED_SUFFIX) {
                fs::remove_file(file.path()).with_context(|| format!("cannot remove {}", file.path().display()))?;
            }
        }
    }
    Ok(())
}

/// Reads every row of a day's files (in the file schema, without `day`), decrypting with `key`.
pub fn read_day(events_dir: &Path, day: Date, key: &Key) -> anyhow::Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    let Some((_, files)) = list_days(events_dir).into_iter().find(|(d, _)| *d == day) else {
        return Ok(batches);
    };
    for path in files {
        let file = fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let decryption = FileDecryptionProperties::builder(key.bytes().to_vec()).build()?;
        let options =
            parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_file_decryption_properties(decryption);
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
            .with_context(|| format!("cannot decrypt {}", path.display()))?
            .build()?;
        for batch in reader {
            batches.push(batch?);
        }
    }
    Ok(batches)
}

/// The rows of `batches` whose site is not in `sites`, sorted by site and time, as one batch.
pub fn without_sites(batches: &[RecordBatch], sites: &[u32]) -> anyhow::Result<RecordBatch> {
    let merged = concat_batches(&crate::row::FILE_SCHEMA, batches)?;
    let site = merged
        .column_by_name("site")
        .and_then(|c| c.as_any().downcast_ref::<arrow::array::UInt32Array>())
        .context("day file without a site column")?;
    let keep: arrow::array::BooleanArray = site.iter().map(|s| Some(!s.is_some_and(|s| sites.contains(&s)))).collect();
    let kept = arrow::compute::filter_record_batch(&merged, &keep)?;
    sort_by_site_and_time(&kept)
}

/// The rows of `batches` as one batch sorted by site and time. Only the two sort columns are
/// concatenated; the rows themselves are copied once, straight into their sorted places
/// (concatenating and then sorting would hold a day's rows three times at once).
/// Every batch must have rows.
fn merge_sorted_by_site_and_time(batches: &[RecordBatch]) -> anyhow::Result<RecordBatch> {
    if batches.is_empty() {
        return Ok(RecordBatch::new_empty(crate::row::FILE_SCHEMA.clone()));
    }
    let column = |name: &str| -> anyhow::Result<arrow::array::ArrayRef> {
        let parts: Vec<&dyn arrow::array::Array> =
            batches.iter().map(|b| b.column_by_name(name).expect("column").as_ref()).collect();
        Ok(arrow::compute::concat(&parts)?)
    };
    let columns =
        [SortColumn { values: column("site")?, options: None }, SortColumn { values: column("ts")?, options: None }];
    let order = lexsort_to_indices(&columns, None)?;
    drop(columns);
    // Row number in the concatenation → (batch, row within the batch).
    let mut starts = Vec::with_capacity(batches.len());
    let mut rows = 0;
    for batch in batches {
        starts.push(rows);
        rows += batch.num_rows();
    }
    let positions: Vec<(usize, usize)> = order
        .values()
        .iter()
        .map(|&row| {
            let row = row as usize;
            let batch = starts.partition_point(|&start| start <= row) - 1;
            (batch, row - starts[batch])
        })
        .collect();
    let parts: Vec<&RecordBatch> = batches.iter().collect();
    Ok(arrow::compute::interleave_record_batch(&parts, &positions)?)
}

fn sort_by_site_and_time(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    let columns =
        ["site", "ts"].map(|c| SortColumn { values: batch.column_by_name(c).expect("column").clone(), options: None });
    let indices = lexsort_to_indices(&columns, None)?;
    Ok(take_record_batch(batch, &indices)?)
}

/// Lists the Parquet files of every day.
pub fn list_days(events_dir: &Path) -> Vec<(Date, Vec<PathBuf>)> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(events_dir) else { return out };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(day) = name.strip_prefix("day=").and_then(parse_day) else { continue };
        let files = fs::read_dir(entry.path())
            .map(|it| {
                it.flatten().map(|f| f.path()).filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect()
            })
            .unwrap_or_default();
        out.push((day, files));
    }
    out.sort_by_key(|(d, _)| *d);
    out
}

/// Hands DataFusion each file's day key, found from the file's `day=` folder.
#[derive(Debug)]
pub struct KeyringFactory(pub Arc<Keyring>);

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring")
    }
}

#[async_trait]
impl EncryptionFactory for KeyringFactory {
    async fn get_file_encryption_properties(
        &self,
        _config: &EncryptionFactoryOptions,
        _schema: &SchemaRef,
        _file_path: &ObjectPath,
    ) -> DfResult<Option<Arc<FileEncryptionProperties>>> {
        Err(DataFusionError::Plan("the events table is written by the store, not through SQL".into()))
    }

    async fn get_file_decryption_properties(
        &self,
        _config: &EncryptionFactoryOptions,
        file_path: &ObjectPath,
    ) -> DfResult<Option<Arc<FileDecryptionProperties>>> {
        let day = file_path
            .as_ref()
            .split('/')
            .find_map(|part| part.strip_prefix("day="))
            .and_then(parse_day)
            .ok_or_else(|| DataFusionError::Execution(format!("{file_path} is not inside a day= folder")))?;
        let key = self
            .0
            .get(day)
            .ok_or_else(|| DataFusionError::Execution(format!("the key of {day} has been destroyed")))?;
        Ok(Some(FileDecryptionProperties::builder(key.bytes().to_vec()).build()?))
    }
}

/// The listing table over `dir` (files of `file_schema` in `day=` folders), decrypting through
/// [`KeyringFactory`].
pub fn listing_table(dir: &Path, file_schema: SchemaRef) -> anyhow::Result<ListingTable> {
    let mut options = TableParquetOptions::default();
    options.crypto.factory_id = Some(FACTORY_ID.to_owned());
    let format = ParquetFormat::default().with_options(options);
    let listing = ListingOptions::new(Arc::new(format))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("day".to_owned(), DataType::Utf8)]);
    let abs = fs::canonicalize(dir)?;
    let url = ListingTableUrl::parse(format!("{}/", abs.display()))?;
    let config = ListingTableConfig::new(url).with_listing_options(listing).with_schema(file_schema);
    Ok(ListingTable::try_new(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::rows_to_batch;
    use crate::wal::tests::row;

    fn batch(rows: &[(u32, i64)]) -> RecordBatch {
        let rows: Vec<_> = rows
            .iter()
            .map(|&(site, ts)| {
                let mut r = row(ts);
                r.site = site;
                r.path = format!("/{site}/{ts}");
                r
            })
            .collect();
        without_day(&rows_to_batch(&rows, "2026-01-10"))
    }

    #[test]
    fn day_file_rows_merge_sorted_by_site_and_time_from_several_batches() {
        let batches = [batch(&[(2, 30), (1, 20), (2, 10)]), batch(&[(1, 5)]), batch(&[(3, 1), (1, 25), (2, 20)])];
        let merged = merge_sorted_by_site_and_time(&batches).expect("merge");
        let expected =
            sort_by_site_and_time(&concat_batches(&crate::row::FILE_SCHEMA, &batches).expect("concat")).expect("sort");
        assert_eq!(merged, expected);
        // Every column moved with its row: the path names the row's site and time.
        let paths = merged.column_by_name("path").expect("path");
        let paths = paths.as_any().downcast_ref::<arrow::array::StringArray>().expect("strings");
        let order: Vec<&str> = paths.iter().map(|p| p.expect("path")).collect();
        assert_eq!(order, ["/1/5", "/1/20", "/1/25", "/2/10", "/2/20", "/2/30", "/3/1"]);
        assert_eq!(merge_sorted_by_site_and_time(&[]).expect("empty").num_rows(), 0);
    }
}
