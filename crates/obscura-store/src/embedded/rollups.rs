//! Per-day rollups of finished days, and the k-anonymous aggregates kept past retention.

use super::*;

/// Builds and writes per-day rollups.
#[derive(Clone)]
pub(super) struct Rollups {
    pub(super) aggregates: Arc<super::kept_aggregates::Aggregates>,
    pub(super) dir: PathBuf,
    /// Whether finished days are rolled up at all.
    pub(super) enabled: bool,
    pub(super) ctx: SessionContext,
    pub(super) keyring: Arc<Keyring>,
    /// For building from the writer thread, which has no runtime of its own.
    pub(super) runtime: Option<tokio::runtime::Handle>,
    pub(super) cache: Arc<rollup::RollupCache>,
    /// Each day's speed cells, built with its rollup.
    pub(super) measures: Arc<super::measure_rollups::MeasureRollups>,
    pub(super) handover: Arc<RwLock<()>>,
}

impl Rollups {
    /// Computes `day`'s rollup from all of its day files and replaces its rollup file.
    pub(super) async fn build(&self, day: Date) -> anyhow::Result<()> {
        let Some(merged) = self.compute(day).await? else { return Ok(()) };
        let keyring = self.keyring.clone();
        let dir = self.dir.clone();
        let file_copy = merged.clone();
        tokio::task::spawn_blocking(move || {
            cold::write_encrypted_file(&dir, &keyring, day, "rollup.parquet", &file_copy)
        })
        .await??;
        self.cache.put(day, rollup::with_day(&merged, &format_day(day))?);
        let cells = self.compute_measures(day).await?;
        let measures = self.measures.clone();
        tokio::task::spawn_blocking(move || measures.write(day, cells)).await??;
        Ok(())
    }

    /// Distinct visitors of each of `day`'s speed cells, for every rolled grouping.
    pub(super) async fn compute_measure_visitors(
        &self,
        day: Date,
    ) -> anyhow::Result<std::collections::HashMap<crate::measure_rollup::CellKey, u64>> {
        let mut out = std::collections::HashMap::new();
        for (set, metrics) in crate::measure_rollup::rolled_sets() {
            let query = Dialect::DataFusion.measure_day_visitors(&set, metrics);
            let batches = self.day_query(day, &query).await?;
            let dims = crate::measure_rollup::set_name(&set);
            for (site, keys, metric, visitors) in super::answers::cell_visitors(&batches, set.len()) {
                out.insert((site, dims.clone(), keys, metric), visitors);
            }
        }
        Ok(out)
    }

    /// Runs `query` with `day` bound to `$1` (its own parameters after).
    async fn day_query(&self, day: Date, query: &SqlQuery) -> anyhow::Result<Vec<RecordBatch>> {
        let mut params = vec![ScalarValue::Utf8(Some(format_day(day)))];
        params.extend(query.params.iter().map(scalar));
        let df = self.ctx.sql(&query.sql).await?.with_param_values(params)?;
        let task = Arc::new(df.task_ctx());
        let plan = {
            let _planning = self.handover.read().await;
            df.create_physical_plan().await?
        };
        Ok(datafusion::physical_plan::collect(plan, task).await?)
    }

    /// `day`'s speed cells, for every rolled grouping, from its day files.
    pub(super) async fn compute_measures(&self, day: Date) -> anyhow::Result<Vec<crate::measure_rollup::DayCell>> {
        let mut cells = Vec::new();
        for (set, metrics) in crate::measure_rollup::rolled_sets() {
            let query = Dialect::DataFusion.measure_day_histogram(&set, metrics);
            let batches = self.day_query(day, &query).await?;
            cells.extend(crate::measure_rollup::day_cells(
                &set,
                super::answers::histogram_rows(&batches, set.len(), true),
            ));
        }
        Ok(cells)
    }

    /// `day`'s rollup rows from its day files; `None` when rollups are off.
    pub(super) async fn compute(&self, day: Date) -> anyhow::Result<Option<RecordBatch>> {
        if !self.enabled {
            return Ok(None);
        }
        let query = rollup::day_query(&format_day(day));
        let params: Vec<ScalarValue> = query.params.iter().map(scalar).collect();
        let df = self.ctx.sql(&query.sql).await?.with_param_values(params)?;
        let task = Arc::new(df.task_ctx());
        let plan = {
            // A listing taken during a hand-over could be cached after it and hide the new file.
            let _planning = self.handover.read().await;
            df.create_physical_plan().await?
        };
        let batches = datafusion::physical_plan::collect(plan, task).await?;
        let conformed = batches.iter().map(rollup::conform).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(arrow::compute::concat_batches(&rollup::ROLLUP_FILE_SCHEMA, &conformed)?))
    }

    pub(super) fn build_blocking(&self, day: Date) -> anyhow::Result<()> {
        match &self.runtime {
            Some(handle) => handle.block_on(self.build(day)),
            None => tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(self.build(day)),
        }
    }
}
