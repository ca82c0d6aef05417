//! The flusher thread: writes frozen chunks as sorted, encrypted day files while commits go on,
//! then lets the write-ahead log forget their segments.

use super::*;

/// Writes frozen hot rows to day files and builds rollups, off the commit path.
pub(super) struct Flusher {
    pub(super) events_dir: PathBuf,
    pub(super) wal_dir: PathBuf,
    pub(super) keyring: Arc<Keyring>,
    pub(super) hot: Arc<HotTier>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) rollups: Rollups,
    pub(super) maintenance: Arc<Mutex<()>>,
    pub(super) handover: Arc<RwLock<()>>,
    pub(super) log: Arc<Mutex<VecDeque<FlushSpan>>>,
    pub(super) closing: Arc<AtomicBool>,
    #[cfg(test)]
    pub(super) pause: Arc<tests::FlushPause>,
}

impl Flusher {
    /// Writes every frozen chunk when woken, and retries failed ones every second. Stops when
    /// the writer is gone.
    pub(super) fn run(self, wake: Receiver<()>) {
        while let Ok(()) | Err(RecvTimeoutError::Timeout) = wake.recv_timeout(StdDuration::from_secs(1)) {
            while wake.try_recv().is_ok() {}
            for chunk in self.hot.frozen() {
                if self.closing.load(Ordering::SeqCst) {
                    return;
                }
                if let Err(e) = self.flush(&chunk) {
                    tracing::error!(day = %chunk.day, "writing a day file failed (the write-ahead log still holds the events): {e:#}");
                    break;
                }
            }
        }
    }

    pub(super) fn flush(&self, chunk: &Arc<FrozenChunk>) -> anyhow::Result<()> {
        let day = chunk.day;
        // Never during a destroy or re-key of the day; waiting here delays no acknowledgement.
        let _maintenance = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        if !self.hot.holds(chunk) {
            return Ok(()); // destroyed meanwhile
        }
        if self.keyring.get(day).is_none() {
            self.hot.release(chunk);
            return Ok(());
        }
        let first = chunk.segments.first().copied().unwrap_or(0);
        let last = chunk.segments.last().copied().unwrap_or(0);
        // Replay skips the segments of a day whose numbers a file name covers.
        let name = format!("part-{first:010}-{last:010}.parquet");
        let staged = cold::stage_day_file(&self.events_dir, &self.keyring, day, &name, chunk.batches())?;
        #[cfg(test)]
        self.pause.hold();
        {
            let _no_query_planning = self.handover.blocking_write();
            staged.publish()?;
            forget_listings(&self.rollups.ctx);
            self.hot.release(chunk);
        }
        if day < self.clock.now().date() && !self.hot.holds_day(day) {
            // Without a rollup the day is read from its files: slower, same numbers.
            if let Err(e) = self.rollups.build_blocking(day) {
                tracing::error!(%day, "cannot roll up the day; it will be read from its day files: {e:#}");
            }
        }
        // Only now may the log go: the file (and the rollup) are durable.
        for &id in &chunk.segments {
            let path = wal::segment_path(&self.wal_dir, day, id);
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), "cannot remove a flushed segment: {e}");
            }
        }
        let dir = self.wal_dir.join(format_day(day));
        if fs::read_dir(&dir).map(|mut d| d.next().is_none()).unwrap_or(false) {
            let _ = fs::remove_dir(&dir);
        }
        sync_dir(&self.wal_dir)?;
        let span = FlushSpan { day, rows: chunk.rows, started: chunk.frozen_at, finished: Instant::now() };
        tracing::info!(%day, file = name, rows = chunk.rows, ms = (span.finished - span.started).as_millis() as u64, "wrote day file");
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() == FLUSH_LOG_LEN {
            log.pop_front();
        }
        log.push_back(span);
        Ok(())
    }
}
