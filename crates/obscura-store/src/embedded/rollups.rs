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
        Ok(())
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
