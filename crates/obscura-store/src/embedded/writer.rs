//! The write-ahead-log thread: group commits, fsynced before any acknowledgement, and the
//! moment a day's rows are frozen for a day file.

use super::*;

pub(super) struct Commit {
    pub(super) rows: Vec<StoredRow>,
    /// The hashes of the rows' idempotency keys, one per row, or empty when none came with keys.
    pub(super) keys: Vec<Option<KeyHash>>,
    pub(super) done: oneshot::Sender<Result<(), String>>,
}

/// The write-ahead-log thread: the commit path. It appends, fsyncs and acknowledges, and does
/// nothing slower: day files are the [`Flusher`]'s job.
pub(super) struct Writer {
    pub(super) wal_dir: PathBuf,
    pub(super) keyring: Arc<Keyring>,
    pub(super) hot: Arc<HotTier>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) active: HashMap<Date, Segment>,
    pub(super) key_log: KeyLog,
    pub(super) next_segment: u64,
    pub(super) flush_rows: Arc<AtomicUsize>,
    pub(super) wake_flusher: Sender<()>,
}

impl Writer {
    pub(super) fn run(mut self, rx: Receiver<Commit>) {
        loop {
            match rx.recv_timeout(StdDuration::from_secs(1)) {
                Ok(first) => {
                    let mut group = vec![first];
                    let mut rows = group[0].rows.len();
                    while rows < MAX_GROUP_ROWS {
                        match rx.try_recv() {
                            Ok(c) => {
                                rows += c.rows.len();
                                group.push(c);
                            }
                            Err(_) => break,
                        }
                    }
                    self.commit(group);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.freeze_due();
        }
    }

    /// One group commit: append every row to its day's segment (with its idempotency key's hash),
    /// fsync each once, copy the hashes to the key log, then acknowledge.
    pub(super) fn commit(&mut self, group: Vec<Commit>) {
        let mut by_day: BTreeMap<Date, (Vec<StoredRow>, Vec<StoredKey>)> = BTreeMap::new();
        let mut acks = Vec::with_capacity(group.len());
        let now_ms = obscura_model::unix_ms(self.clock.now());
        for commit in group {
            let mut keys = commit.keys.into_iter();
            for row in commit.rows {
                let (rows, day_keys) = by_day.entry(obscura_model::day_of_ms(row.ts_ms)).or_default();
                rows.push(row);
                day_keys.extend(keys.next().flatten().map(|hash| (hash, now_ms)));
            }
            acks.push(commit.done);
        }
        let result = self.write(&by_day);
        let outcome = match result {
            Ok(segments) => {
                for ((day, (rows, _)), id) in by_day.into_iter().zip(segments) {
                    self.hot.push(day, id, rows);
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!("write-ahead log commit failed: {e:#}");
                // None of this group is acknowledged: cut its records off and start new segments.
                for day in by_day.keys() {
                    if let Some(segment) = self.active.remove(day) {
                        segment.abandon();
                    }
                }
                Err(format!("{e:#}"))
            }
        };
        for ack in acks {
            let _ = ack.send(outcome.clone());
        }
    }

    pub(super) fn write(
        &mut self,
        by_day: &BTreeMap<Date, (Vec<StoredRow>, Vec<StoredKey>)>,
    ) -> anyhow::Result<Vec<u64>> {
        let mut ids = Vec::with_capacity(by_day.len());
        for (day, (rows, keys)) in by_day {
            let key = self.keyring.get_or_create(*day)?;
            let segment = self.segment(*day)?;
            segment.append(&key, rows, keys)?;
            ids.push(segment.id);
        }
        for day in by_day.keys() {
            self.active.get_mut(day).expect("opened above").sync()?;
        }
        // Only once the rows are durable: a hash logged for a row that was then lost would
        // refuse its retry.
        let keys: Vec<StoredKey> = by_day.values().flat_map(|(_, keys)| keys.iter().copied()).collect();
        self.key_log.append(&keys)?;
        Ok(ids)
    }

    pub(super) fn segment(&mut self, day: Date) -> anyhow::Result<&mut Segment> {
        if !self.active.contains_key(&day) {
            let segment = Segment::create(&self.wal_dir, day, self.next_segment)?;
            self.next_segment += 1;
            self.active.insert(day, segment);
        }
        Ok(self.active.get_mut(&day).expect("inserted above"))
    }

    /// Freezes the hot rows of past days, and of today once they reach the flush threshold, and
    /// wakes the flusher. Cheap: the rows are moved, not copied or converted.
    pub(super) fn freeze_due(&mut self) {
        let today = self.clock.now().date();
        let threshold = self.flush_rows.load(Ordering::Relaxed);
        let live = self.hot.live_days();
        let mut froze = false;
        for &(day, rows) in &live {
            if day < today || rows >= threshold {
                // The day's next rows go to a new segment, so the chunk's segments hold its rows
                // only and can be deleted once its file is written.
                self.active.remove(&day);
                froze |= self.hot.freeze(day).is_some();
            }
        }
        // A past day without live rows was frozen or destroyed: its segment is done with.
        self.active.retain(|day, _| *day >= today || live.iter().any(|(d, _)| d == day));
        if froze {
            let _ = self.wake_flusher.send(());
        }
    }
}
