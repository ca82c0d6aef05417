//! The hot tier: acknowledged events not yet in a Parquet file, in memory as Arrow batches and
//! queryable at once. Every row here is also in the write-ahead log, so losing memory loses nothing.
//!
//! A day's rows grow in a *live* buffer. When they are due for a day file, the write-ahead-log
//! thread freezes the buffer into an immutable [`FrozenChunk`] (a move, nothing more) and the
//! flusher writes the chunk out; queries read the chunk until its file takes its place.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use time::Date;

use crate::row::{SCHEMA, StoredRow, rows_to_batch};
use obscura_model::format_day;

/// Small batches (left by queries that sealed a few pending rows) are merged once this many pile up.
const COMPACT_AFTER: usize = 32;
/// Pending rows become an Arrow batch once this many wait: in Arrow a row takes about a tenth of
/// the memory it takes as a [`StoredRow`], so a day's hot rows stay small until their day file.
const CONVERT_AT: usize = 4096;

/// Rows of a day still receiving commits.
#[derive(Default)]
struct LiveBuffer {
    pending: Vec<StoredRow>,
    batches: Vec<RecordBatch>,
    /// Write-ahead-log segments whose rows are in this buffer.
    segments: BTreeSet<u64>,
    rows: usize,
}

impl LiveBuffer {
    /// Converts pending rows into a batch and merges small batches; returns all batches.
    fn seal(&mut self, day: Date) -> Vec<RecordBatch> {
        self.convert_pending(day);
        let small = self.batches.iter().filter(|b| b.num_rows() < CONVERT_AT).count();
        if small > COMPACT_AFTER {
            // Only the small ones: merging the large would copy the whole day on every query.
            let (small, mut large): (Vec<RecordBatch>, Vec<RecordBatch>) =
                self.batches.drain(..).partition(|b| b.num_rows() < CONVERT_AT);
            large.push(arrow::compute::concat_batches(&SCHEMA, &small).expect("batches share SCHEMA"));
            self.batches = large;
        }
        self.batches.clone()
    }

    fn convert_pending(&mut self, day: Date) {
        if !self.pending.is_empty() {
            self.batches.push(rows_to_batch(&self.pending, &format_day(day)));
            self.pending = Vec::new();
        }
    }
}

/// Rows of a day frozen for a day file: no row is added or removed until the chunk is released.
pub struct FrozenChunk {
    pub day: Date,
    /// Chunks are numbered in the order they were frozen, and written in that order.
    pub seq: u64,
    /// Write-ahead-log segments holding exactly these rows.
    pub segments: BTreeSet<u64>,
    pub rows: usize,
    pub frozen_at: Instant,
    /// Rows not yet in Arrow form, taken by the first call of [`FrozenChunk::batches`].
    unconverted: Mutex<Option<(Vec<StoredRow>, Vec<RecordBatch>)>>,
    converted: OnceLock<Vec<RecordBatch>>,
}

impl FrozenChunk {
    /// The rows as batches. Converted on first use outside the tier's lock, so commits never
    /// wait for the conversion.
    pub fn batches(&self) -> &[RecordBatch] {
        self.converted.get_or_init(|| {
            let taken = self.unconverted.lock().unwrap_or_else(|e| e.into_inner()).take();
            let (pending, mut batches) = taken.unwrap_or_default();
            if !pending.is_empty() {
                batches.push(rows_to_batch(&pending, &format_day(self.day)));
            }
            batches
        })
    }
}

#[derive(Default)]
struct DayRows {
    live: LiveBuffer,
    frozen: Vec<Arc<FrozenChunk>>,
}

impl DayRows {
    fn rows(&self) -> usize {
        self.live.rows + self.frozen.iter().map(|c| c.rows).sum::<usize>()
    }
}

#[derive(Default)]
pub struct HotTier {
    days: Mutex<BTreeMap<Date, DayRows>>,
    next_seq: AtomicU64,
}

impl HotTier {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Date, DayRows>> {
        self.days.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, day: Date, segment: u64, rows: Vec<StoredRow>) {
        let mut days = self.lock();
        let live = &mut days.entry(day).or_default().live;
        live.rows += rows.len();
        live.segments.insert(segment);
        live.pending.extend(rows);
        if live.pending.len() >= CONVERT_AT {
            live.convert_pending(day);
        }
    }

    /// All rows, live and frozen, as batches, for a query.
    pub fn snapshot(&self) -> Vec<RecordBatch> {
        let (mut batches, frozen) = {
            let mut days = self.lock();
            let mut batches = Vec::new();
            let mut frozen = Vec::new();
            for (day, rows) in days.iter_mut() {
                batches.extend(rows.live.seal(*day));
                frozen.extend(rows.frozen.iter().cloned());
            }
            (batches, frozen)
        };
        for chunk in frozen {
            batches.extend(chunk.batches().iter().cloned());
        }
        batches
    }

    /// Days held, with their row counts (live and frozen).
    pub fn days(&self) -> Vec<(Date, usize)> {
        self.lock().iter().map(|(d, r)| (*d, r.rows())).collect()
    }

    /// Days with rows still receiving commits, with those rows' count.
    pub fn live_days(&self) -> Vec<(Date, usize)> {
        self.lock().iter().filter(|(_, r)| r.live.rows > 0).map(|(d, r)| (*d, r.live.rows)).collect()
    }

    /// Whether any row of `day` is held.
    pub fn holds_day(&self, day: Date) -> bool {
        self.lock().contains_key(&day)
    }

    /// Freezes `day`'s live rows into a chunk for a day file; `None` if it has none. The caller
    /// starts a new write-ahead-log segment for the day's next rows.
    pub fn freeze(&self, day: Date) -> Option<Arc<FrozenChunk>> {
        let mut days = self.lock();
        let rows = days.get_mut(&day).filter(|r| r.live.rows > 0)?;
        let live = std::mem::take(&mut rows.live);
        let chunk = Arc::new(FrozenChunk {
            day,
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            segments: live.segments,
            rows: live.rows,
            frozen_at: Instant::now(),
            unconverted: Mutex::new(Some((live.pending, live.batches))),
            converted: OnceLock::new(),
        });
        rows.frozen.push(chunk.clone());
        Some(chunk)
    }

    /// Every frozen chunk, in the order frozen.
    pub fn frozen(&self) -> Vec<Arc<FrozenChunk>> {
        let mut chunks: Vec<_> = self.lock().values().flat_map(|r| r.frozen.iter().cloned()).collect();
        chunks.sort_by_key(|c| c.seq);
        chunks
    }

    /// Whether `chunk` is still held (it is not once its day was destroyed).
    pub fn holds(&self, chunk: &Arc<FrozenChunk>) -> bool {
        self.lock().get(&chunk.day).is_some_and(|r| r.frozen.iter().any(|c| Arc::ptr_eq(c, chunk)))
    }

    /// Forgets `chunk` once its rows are readable from their day file.
    pub fn release(&self, chunk: &Arc<FrozenChunk>) {
        let mut days = self.lock();
        if let Some(rows) = days.get_mut(&chunk.day) {
            rows.frozen.retain(|c| !Arc::ptr_eq(c, chunk));
            if rows.frozen.is_empty() && rows.live.rows == 0 {
                days.remove(&chunk.day);
            }
        }
    }

    /// Forgets `day` (when the day is destroyed).
    pub fn remove(&self, day: Date) {
        self.lock().remove(&day);
    }
}

/// The hot tier as a DataFusion table; each scan sees the rows acknowledged so far.
#[derive(Debug)]
pub struct HotTable(pub Arc<HotTier>);

impl std::fmt::Debug for HotTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HotTier")
    }
}

#[async_trait]
impl TableProvider for HotTable {
    fn schema(&self) -> SchemaRef {
        SCHEMA.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let batches = self.0.snapshot();
        // Spread the batches over two partitions so both cores work.
        let mut parts = vec![Vec::new(), Vec::new()];
        for (i, b) in batches.into_iter().enumerate() {
            parts[i % 2].push(b);
        }
        Ok(MemorySourceConfig::try_new_exec(&parts, SCHEMA.clone(), projection.cloned())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray, TimestampMillisecondArray, UInt32Array};
    use datafusion::prelude::SessionContext;
    use time::macros::date;

    const DAY: Date = date!(2026 - 01 - 10);
    const NEXT_DAY: Date = date!(2026 - 01 - 11);

    fn rows(n: usize) -> Vec<StoredRow> {
        (0..n).map(|i| crate::wal::tests::row(i as i64)).collect()
    }

    /// Rows of `site`, one per timestamp.
    fn site_rows(site: u32, ts: &[i64]) -> Vec<StoredRow> {
        ts.iter().map(|&t| StoredRow { site, ..crate::wal::tests::row(t) }).collect()
    }

    fn count(tier: &HotTier) -> usize {
        tier.snapshot().iter().map(RecordBatch::num_rows).sum()
    }

    fn sizes(batches: &[RecordBatch]) -> Vec<usize> {
        batches.iter().map(RecordBatch::num_rows).collect()
    }

    fn timestamps(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| {
                let ts = b.column_by_name("ts").unwrap().as_any().downcast_ref::<TimestampMillisecondArray>().unwrap();
                (0..b.num_rows()).map(|i| ts.value(i)).collect::<Vec<_>>()
            })
            .collect()
    }

    fn sites(batches: &[RecordBatch]) -> Vec<u32> {
        batches
            .iter()
            .flat_map(|b| {
                let site = b.column_by_name("site").unwrap().as_any().downcast_ref::<UInt32Array>().unwrap();
                (0..b.num_rows()).map(|i| site.value(i)).collect::<Vec<_>>()
            })
            .collect()
    }

    fn day_column(batches: &[RecordBatch]) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| {
                let day = b.column_by_name("day").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
                (0..b.num_rows()).map(|i| day.value(i).to_owned()).collect::<Vec<_>>()
            })
            .collect()
    }

    /// `(site, rows)` of table `hot`, by site.
    async fn site_counts(ctx: &SessionContext) -> Vec<(u32, i64)> {
        let sql = "SELECT site, count(*) AS n FROM hot GROUP BY site ORDER BY site";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        batches
            .iter()
            .flat_map(|b| {
                let site = b.column(0).as_any().downcast_ref::<UInt32Array>().unwrap();
                let n = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
                (0..b.num_rows()).map(|i| (site.value(i), n.value(i))).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn hot_pushed_rows_are_counted_per_day_and_visible_as_batches() {
        let tier = HotTier::default();
        assert!(tier.snapshot().is_empty());
        assert!(tier.days().is_empty());
        tier.push(DAY, 1, site_rows(2, &[10, 11]));
        tier.push(NEXT_DAY, 2, site_rows(3, &[20]));
        tier.push(DAY, 3, site_rows(4, &[12]));
        assert_eq!(tier.days(), vec![(DAY, 3), (NEXT_DAY, 1)]);
        assert_eq!(tier.live_days(), vec![(DAY, 3), (NEXT_DAY, 1)]);
        assert!(tier.holds_day(DAY));
        assert!(tier.holds_day(NEXT_DAY));
        assert!(!tier.holds_day(date!(2026 - 01 - 12)));

        let batches = tier.snapshot();
        assert_eq!(sizes(&batches), vec![3, 1], "one batch per day, days in order");
        assert!(batches.iter().all(|b| b.schema() == *SCHEMA));
        assert_eq!(timestamps(&batches), vec![10, 11, 12, 20]);
        assert_eq!(sites(&batches), vec![2, 2, 4, 3]);
        assert_eq!(day_column(&batches), vec!["2026-01-10", "2026-01-10", "2026-01-10", "2026-01-11"]);
        assert_eq!(sizes(&tier.snapshot()), vec![3, 1], "a second snapshot repeats no row");
    }

    #[test]
    fn hot_convert_at_pending_rows_become_a_batch() {
        let tier = HotTier::default();
        tier.push(DAY, 1, rows(CONVERT_AT - 1));
        {
            let days = tier.lock();
            let live = &days[&DAY].live;
            assert_eq!(live.pending.len(), CONVERT_AT - 1);
            assert!(live.batches.is_empty());
        }
        tier.push(DAY, 1, rows(1));
        {
            let days = tier.lock();
            let live = &days[&DAY].live;
            assert!(live.pending.is_empty());
            assert_eq!(sizes(&live.batches), vec![CONVERT_AT]);
            assert_eq!(live.rows, CONVERT_AT);
        }
        tier.push(DAY, 2, rows(3));
        assert_eq!(sizes(&tier.snapshot()), vec![CONVERT_AT, 3]);
        assert_eq!(tier.days(), vec![(DAY, CONVERT_AT + 3)]);
    }

    #[test]
    fn hot_small_batches_merge_once_more_than_compact_after_pile_up() {
        let tier = HotTier::default();
        tier.push(DAY, 1, rows(CONVERT_AT));
        for i in 0..COMPACT_AFTER {
            tier.push(DAY, 1, rows(1));
            assert_eq!(tier.snapshot().len(), i + 2, "the large batch and {} small ones", i + 1);
        }
        tier.push(DAY, 1, rows(1));
        assert_eq!(sizes(&tier.snapshot()), vec![CONVERT_AT, COMPACT_AFTER + 1], "only the small batches merge");
        assert_eq!(count(&tier), CONVERT_AT + COMPACT_AFTER + 1);
    }

    #[test]
    fn hot_freeze_moves_live_rows_into_a_chunk_and_new_rows_start_a_fresh_buffer() {
        let tier = HotTier::default();
        assert!(tier.freeze(DAY).is_none(), "no rows, no chunk");
        tier.push(DAY, 3, rows(2));
        tier.push(DAY, 4, rows(3));
        tier.push(NEXT_DAY, 5, rows(1));
        let chunk = tier.freeze(DAY).expect("live rows");
        assert_eq!(chunk.day, DAY);
        assert_eq!(chunk.seq, 0);
        assert_eq!(chunk.rows, 5);
        assert_eq!(chunk.segments, BTreeSet::from([3, 4]));
        assert!(tier.holds(&chunk));
        assert_eq!(tier.live_days(), vec![(NEXT_DAY, 1)], "the frozen day has no live rows left");
        assert_eq!(tier.days(), vec![(DAY, 5), (NEXT_DAY, 1)]);
        {
            let days = tier.lock();
            let live = &days[&DAY].live;
            assert!(live.pending.is_empty() && live.batches.is_empty() && live.segments.is_empty());
        }

        tier.push(DAY, 6, rows(4));
        assert_eq!(chunk.rows, 5, "a frozen chunk takes no more rows");
        assert_eq!(tier.live_days(), vec![(DAY, 4), (NEXT_DAY, 1)]);
        assert_eq!(tier.days(), vec![(DAY, 9), (NEXT_DAY, 1)]);
        let second = tier.freeze(DAY).expect("new live rows");
        assert_eq!((second.day, second.seq, second.rows), (DAY, 1, 4));
        assert_eq!(second.segments, BTreeSet::from([6]));
        assert_eq!(count(&tier), 10);
    }

    #[test]
    fn hot_frozen_chunk_batches_hold_exactly_its_rows() {
        let tier = HotTier::default();
        tier.push(DAY, 1, site_rows(1, &[10, 11, 12]));
        assert_eq!(count(&tier), 3, "a query seals the pending rows into a batch");
        tier.push(DAY, 1, site_rows(2, &[13]));
        let chunk = tier.freeze(DAY).unwrap();
        tier.push(DAY, 2, site_rows(3, &[20, 21]));

        assert_eq!(sizes(chunk.batches()), vec![3, 1], "the sealed batch, then the rows still pending");
        assert_eq!(timestamps(chunk.batches()), vec![10, 11, 12, 13]);
        assert_eq!(sites(chunk.batches()), vec![1, 1, 1, 2]);
        assert_eq!(day_column(chunk.batches()), vec!["2026-01-10"; 4]);
        assert!(std::ptr::eq(chunk.batches(), chunk.batches()), "converted once");
        let mut all = timestamps(&tier.snapshot());
        all.sort_unstable();
        assert_eq!(all, vec![10, 11, 12, 13, 20, 21]);
    }

    #[test]
    fn hot_frozen_lists_chunks_in_the_order_frozen() {
        let tier = HotTier::default();
        tier.push(DAY, 1, rows(1));
        tier.push(NEXT_DAY, 2, rows(2));
        let later_day = tier.freeze(NEXT_DAY).unwrap();
        let earlier_day = tier.freeze(DAY).unwrap();
        assert_eq!((later_day.seq, earlier_day.seq), (0, 1));
        let order: Vec<(Date, u64, usize)> = tier.frozen().iter().map(|c| (c.day, c.seq, c.rows)).collect();
        assert_eq!(order, vec![(NEXT_DAY, 0, 2), (DAY, 1, 1)]);
        assert!(tier.live_days().is_empty());
        assert_eq!(tier.days(), vec![(DAY, 1), (NEXT_DAY, 2)]);
    }

    #[test]
    fn hot_release_removes_the_chunk_and_then_the_empty_day() {
        let tier = HotTier::default();
        tier.push(DAY, 1, rows(2));
        let first = tier.freeze(DAY).unwrap();
        tier.push(DAY, 2, rows(3));
        let second = tier.freeze(DAY).unwrap();
        assert_eq!(tier.frozen().iter().map(|c| c.seq).collect::<Vec<_>>(), vec![0, 1]);

        tier.release(&first);
        assert!(!tier.holds(&first));
        assert!(tier.holds(&second));
        let frozen = tier.frozen();
        assert_eq!(frozen.len(), 1);
        assert!(Arc::ptr_eq(&frozen[0], &second));
        assert_eq!(tier.days(), vec![(DAY, 3)]);
        assert_eq!(count(&tier), 3);

        tier.release(&first);
        assert_eq!(tier.days(), vec![(DAY, 3)], "releasing twice changes nothing");

        tier.release(&second);
        assert!(tier.frozen().is_empty());
        assert!(!tier.holds_day(DAY));
        assert!(tier.days().is_empty());
        assert_eq!(count(&tier), 0);
    }

    #[test]
    fn hot_remove_forgets_the_days_live_and_frozen_rows() {
        let tier = HotTier::default();
        tier.push(DAY, 1, rows(2));
        let chunk = tier.freeze(DAY).unwrap();
        tier.push(DAY, 2, rows(3));
        tier.push(NEXT_DAY, 3, rows(4));

        tier.remove(DAY);
        assert!(!tier.holds_day(DAY));
        assert!(!tier.holds(&chunk), "a chunk of a destroyed day is not written");
        assert!(tier.frozen().is_empty());
        assert_eq!(tier.days(), vec![(NEXT_DAY, 4)]);
        assert_eq!(tier.live_days(), vec![(NEXT_DAY, 4)]);
        assert_eq!(count(&tier), 4);

        tier.release(&chunk);
        tier.remove(DAY);
        assert_eq!(tier.days(), vec![(NEXT_DAY, 4)], "releasing or removing again changes nothing");
        tier.push(DAY, 4, rows(1));
        assert_eq!(tier.days(), vec![(DAY, 1), (NEXT_DAY, 4)], "the day starts afresh");
        assert_eq!(tier.freeze(DAY).map(|c| c.rows), Some(1));
    }

    #[tokio::test]
    async fn hot_table_scans_see_the_rows_held_at_each_query() {
        let tier = Arc::new(HotTier::default());
        let ctx = SessionContext::new();
        ctx.register_table("hot", Arc::new(HotTable(tier.clone()))).unwrap();
        assert!(site_counts(&ctx).await.is_empty());

        tier.push(DAY, 1, site_rows(1, &[10, 11]));
        tier.push(NEXT_DAY, 2, site_rows(2, &[20]));
        assert_eq!(site_counts(&ctx).await, vec![(1, 2), (2, 1)]);

        let chunk = tier.freeze(DAY).unwrap();
        tier.push(DAY, 3, site_rows(2, &[12, 13]));
        assert_eq!(site_counts(&ctx).await, vec![(1, 2), (2, 3)], "frozen and live rows, each once");

        tier.release(&chunk);
        assert_eq!(site_counts(&ctx).await, vec![(2, 3)]);
    }

    #[test]
    fn hardening_frozen_rows_stay_visible_once_until_released() {
        let tier = HotTier::default();
        tier.push(DAY, 1, rows(3));
        let chunk = tier.freeze(DAY).expect("live rows");
        assert!(tier.freeze(DAY).is_none(), "nothing live is left to freeze");
        tier.push(DAY, 2, rows(2));
        assert_eq!(count(&tier), 5, "frozen and live rows each counted once");
        assert_eq!(tier.days(), vec![(DAY, 5)]);
        assert_eq!(tier.live_days(), vec![(DAY, 2)]);
        assert_eq!(chunk.segments.iter().copied().collect::<Vec<_>>(), vec![1], "later rows went to another segment");
        assert_eq!(chunk.batches().iter().map(RecordBatch::num_rows).sum::<usize>(), 3);

        tier.release(&chunk);
        assert!(!tier.holds(&chunk));
        assert_eq!(count(&tier), 2);
        let second = tier.freeze(DAY).unwrap();
        tier.release(&second);
        assert!(!tier.holds_day(DAY), "a day with no rows left is forgotten");
    }
}
