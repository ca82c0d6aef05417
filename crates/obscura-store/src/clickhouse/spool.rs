//! The node's spool: rows a shard could not take yet, kept on this node's disk until it can.
//!
//! When a shard does not acknowledge an insert (or, with `acknowledge = "node"`, for every
//! append), the rows are sealed (AES-256-GCM under the master key) into files of one shard and
//! one day each and fsynced, and only then is the append answered: acknowledged still means
//! durable. The store's drainer hands the files to their shard, oldest first, and deletes each
//! only after the shard has acknowledged the rows. A file's name carries its shard, day and row
//! count, so the spool's size is known without opening anything.
//!
//! File states: `*.tmp` (being written; removed at start), `*.spool` (waiting for its shard;
//! drained only once the whole hold that wrote it is on disk), `*.bad` (cannot be read or names
//! no shard: kept for the operator, not counted).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use obscura_model::{day_of_ms, format_day, parse_day};
use time::Date;

use crate::crypto::Key;
use crate::durable_fs::{create_dir_durably, sync_dir};
use crate::row::StoredRow;

const CONTEXT: &[u8] = b"obscura clickhouse spool";

/// One file: rows of one day for one shard.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SpoolFile {
    /// Files are drained in the order they were written.
    pub id: u64,
    /// Index of the shard the rows belong to.
    pub shard: usize,
    /// The UTC day of every row in it.
    pub day: Date,
    /// How many rows the file holds.
    pub rows: u64,
    /// Its size on disk.
    pub bytes: u64,
    path: PathBuf,
}

impl SpoolFile {
    fn name(id: u64, shard: usize, day: Date, rows: u64, state: &str) -> String {
        format!("{id:020}.shard{shard}.{}.rows{rows}.{state}", format_day(day))
    }

    fn parse(path: PathBuf, state: &str) -> Option<SpoolFile> {
        let name = path.file_name()?.to_str()?.strip_suffix(state)?.strip_suffix('.')?.to_owned();
        let mut parts = name.split('.');
        let id = parts.next()?.parse().ok()?;
        let shard = parts.next()?.strip_prefix("shard")?.parse().ok()?;
        let day = parse_day(parts.next()?)?;
        let rows = parts.next()?.strip_prefix("rows")?.parse().ok()?;
        let bytes = fs::metadata(&path).ok()?.len();
        parts.next().is_none().then_some(SpoolFile { id, shard, day, rows, bytes, path })
    }
}

/// What is waiting now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Held {
    /// Rows waiting, over all shards.
    pub rows: u64,
    /// Bytes of sealed files.
    pub bytes: u64,
}

/// The spool folder of one node.
pub(crate) struct Spool {
    /// Held locked while open: two processes draining one spool could store rows twice.
    lock: Mutex<Option<fs::File>>,
    dir: PathBuf,
    key: Key,
    max_bytes: u64,
    next_id: AtomicU64,
    /// Files with a smaller id are complete and may be drained.
    visible_below: AtomicU64,
    /// One hold at a time, so that making one hold's files visible cannot expose another's.
    writing: Mutex<()>,
    held: Mutex<Held>,
}

impl Spool {
    /// Opens (creating it if needed) the spool in `dir`, which takes at most `max_bytes` of
    /// sealed rows. Files from before a restart are kept for the drainer; files of appends that
    /// were never acknowledged are removed.
    pub fn open(dir: &Path, key: Key, max_bytes: u64) -> anyhow::Result<Spool> {
        create_dir_durably(dir).with_context(|| format!("cannot create the spool folder {}", dir.display()))?;
        let lock = crate::durable_fs::lock_folder(dir, || {
            format!(
                "the ClickHouse spool {} is in use by another Obscura process: every node needs its own data folder",
                dir.display()
            )
        })?;
        let mut held = Held::default();
        let mut last_id = 0;
        for entry in fs::read_dir(dir).with_context(|| format!("cannot read the spool folder {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&path)?;
                continue;
            }
            if let Some(file) = SpoolFile::parse(path.clone(), "spool").or_else(|| SpoolFile::parse(path, "bad")) {
                last_id = last_id.max(file.id);
                if file.path.extension().is_some_and(|e| e == "spool") {
                    held.rows += file.rows;
                    held.bytes += file.bytes;
                }
            }
        }
        sync_dir(dir)?;
        if held.rows > 0 {
            tracing::warn!(
                rows = held.rows,
                "the ClickHouse spool holds rows from before; they go to their shards as soon as those answer"
            );
        }
        Ok(Spool {
            lock: Mutex::new(Some(lock)),
            dir: dir.to_owned(),
            key,
            max_bytes,
            next_id: AtomicU64::new(last_id + 1),
            visible_below: AtomicU64::new(last_id + 1),
            writing: Mutex::new(()),
            held: Mutex::new(held),
        })
    }

    /// Writes the rows of each `(shard, rows)` part durably, one file per shard and day, and
    /// only then makes them visible to the drainer, all at once. Fails when the spool is full
    /// or the disk refuses, keeping none of them.
    pub fn hold(&self, parts: &[(usize, Vec<StoredRow>)]) -> anyhow::Result<Vec<SpoolFile>> {
        let _one = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let mut written = Vec::new();
        let result = (|| {
            for (shard, rows) in parts {
                let mut days: BTreeMap<Date, Vec<&StoredRow>> = BTreeMap::new();
                for row in rows {
                    days.entry(day_of_ms(row.ts_ms)).or_default().push(row);
                }
                for (day, day_rows) in days {
                    written.push(self.write(*shard, day, &day_rows)?);
                }
            }
            // One folder sync for every name written.
            sync_dir(&self.dir)?;
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.visible_below.store(self.next_id.load(Ordering::SeqCst), Ordering::SeqCst);
                Ok(written)
            }
            Err(e) => {
                for file in &written {
                    if let Err(e) = self.release(file) {
                        tracing::error!("cannot remove {}: {e:#}", file.path.display());
                    }
                }
                Err(e)
            }
        }
    }

    /// Writes one file: sealed, fsynced, then given its name (the caller syncs the folder).
    fn write(&self, shard: usize, day: Date, rows: &[&StoredRow]) -> anyhow::Result<SpoolFile> {
        let sealed = self.key.seal(CONTEXT, &serde_json::to_vec(rows)?);
        let held = self.held();
        anyhow::ensure!(
            held.bytes + sealed.len() as u64 <= self.max_bytes,
            "the ClickHouse spool is full ({} rows, {} MB, waiting for a shard); raise clickhouse.spool_max_mb or bring the shard back",
            held.rows,
            held.bytes >> 20
        );
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let path = self.dir.join(SpoolFile::name(id, shard, day, rows.len() as u64, "spool"));
        let tmp = path.with_extension("tmp");
        (|| {
            let mut file = fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut file, &sealed)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        })()
        .with_context(|| format!("cannot write {}", path.display()))?;
        self.change(rows.len() as i64, sealed.len() as i64);
        Ok(SpoolFile { id, shard, day, rows: rows.len() as u64, bytes: sealed.len() as u64, path })
    }

    /// The files waiting, oldest first.
    pub fn pending(&self) -> anyhow::Result<Vec<SpoolFile>> {
        let mut files: Vec<SpoolFile> = fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| SpoolFile::parse(e.path(), "spool"))
            .collect();
        files.sort_by_key(|f| f.id);
        Ok(files)
    }

    /// The rows of `file`.
    pub fn read(&self, file: &SpoolFile) -> anyhow::Result<Vec<StoredRow>> {
        let sealed = fs::read(&file.path).with_context(|| format!("cannot read {}", file.path.display()))?;
        let plain =
            self.key.open(CONTEXT, &sealed).with_context(|| format!("{} cannot be opened", file.path.display()))?;
        Ok(serde_json::from_slice(&plain)?)
    }

    /// Deletes `file` once its shard holds its rows.
    pub fn release(&self, file: &SpoolFile) -> anyhow::Result<()> {
        fs::remove_file(&file.path).with_context(|| format!("cannot delete {}", file.path.display()))?;
        self.change(-(file.rows as i64), -(file.bytes as i64));
        sync_dir(&self.dir)?;
        Ok(())
    }

    /// Sets aside a file that cannot be drained (unreadable, or naming a shard this node does
    /// not have), for the operator to look at; it no longer counts as waiting.
    pub fn set_aside(&self, file: &SpoolFile) -> anyhow::Result<()> {
        let name = SpoolFile::name(file.id, file.shard, file.day, file.rows, "bad");
        fs::rename(&file.path, self.dir.join(&name))
            .with_context(|| format!("cannot rename {}", file.path.display()))?;
        self.change(-(file.rows as i64), -(file.bytes as i64));
        sync_dir(&self.dir)?;
        tracing::error!("the spool file {name} cannot be stored; it stays in {} for inspection", self.dir.display());
        Ok(())
    }

    /// Removes the waiting rows of `day` (of `sites` only, when given): retention destroyed
    /// them in the cluster, and a later drain must not bring them back. Returns how many went.
    pub fn discard(&self, day: Date, sites: Option<&[u32]>) -> anyhow::Result<u64> {
        let mut removed = 0;
        for file in self.pending()?.into_iter().filter(|f| f.day == day) {
            let rows = self.read(&file)?;
            let keep: Vec<&StoredRow> = rows.iter().filter(|r| sites.is_some_and(|s| !s.contains(&r.site))).collect();
            removed += file.rows - keep.len() as u64;
            if keep.len() as u64 == file.rows {
                continue;
            }
            if !keep.is_empty() {
                self.hold(&[(file.shard, keep.into_iter().cloned().collect())])?;
            }
            self.release(&file)?;
        }
        Ok(removed)
    }

    /// What is waiting now.
    pub fn held(&self) -> Held {
        *self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets another process open the spool (the store is closing).
    pub fn unlock(&self) {
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    fn change(&self, rows: i64, bytes: i64) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.rows = held.rows.saturating_add_signed(rows);
        held.bytes = held.bytes.saturating_add_signed(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::tests::row;

    const DAY_MS: i64 = 86_400_000;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn clickhouse_spool_keeps_rows_per_shard_and_day_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::random();
        let spool = Spool::open(dir.path(), key.clone(), 1 << 20).unwrap();
        spool.hold(&[(1, vec![row(5), row(DAY_MS + 5), row(6)])]).unwrap();
        spool.hold(&[(0, vec![row(7)])]).unwrap();
        // A file half-written when the process died: its append was never acknowledged.
        fs::write(dir.path().join("00000000000000000099.shard0.1970-01-01.rows1.tmp"), b"torn").unwrap();
        assert_eq!(spool.held().rows, 4);
        let err = Spool::open(dir.path(), key.clone(), 1 << 20).err().expect("one process per spool").to_string();
        assert!(err.contains("in use by another Obscura process"), "{err}");
        drop(spool);

        let spool = Spool::open(dir.path(), key.clone(), 1 << 20).unwrap();
        assert_eq!(spool.held().rows, 4);
        assert!(names(dir.path()).iter().all(|n| n.ends_with(".spool") || n == "lock"), "{:?}", names(dir.path()));
        let files = spool.pending().unwrap();
        assert_eq!(files.iter().map(|f| (f.shard, f.rows)).collect::<Vec<_>>(), [(1, 2), (1, 1), (0, 1)]);
        assert_eq!(files[1].day, day_of_ms(DAY_MS));
        let first: Vec<i64> = spool.read(&files[0]).unwrap().iter().map(|r| r.ts_ms).collect();
        assert_eq!(first, [5, 6]);
        assert!(fs::read(&files[0].path).unwrap().windows(4).all(|w| w != b"site"), "sealed, not plain JSON");
        for file in &files {
            spool.release(file).unwrap();
        }
        assert_eq!(spool.held(), Held::default());
        assert_eq!(spool.pending().unwrap(), []);
        // New files never reuse the id of one still on disk.
        spool.hold(&[(0, vec![row(8)])]).unwrap();
        let pending = spool.pending().unwrap();
        assert!(pending[0].id > files[2].id);
        spool.unlock();
        let wrong_key = Spool::open(dir.path(), Key::random(), 1 << 20).unwrap();
        assert!(wrong_key.read(&pending[0]).is_err(), "sealed under the master key");
        wrong_key.set_aside(&pending[0]).unwrap();
        assert_eq!((wrong_key.held(), wrong_key.pending().unwrap()), (Held::default(), vec![]));
    }

    #[test]
    fn clickhouse_spool_refuses_rows_beyond_its_size_and_keeps_none_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let one_row = Key::random().seal(CONTEXT, &serde_json::to_vec(&[row(1)]).unwrap()).len() as u64;
        let spool = Spool::open(dir.path(), Key::random(), one_row * 3).unwrap();
        spool.hold(&[(0, vec![row(1)])]).unwrap();
        // The first shard's file fits, the second shard's does not: neither stays.
        let err = spool.hold(&[(0, vec![row(DAY_MS)]), (1, vec![row(2), row(3)])]).unwrap_err().to_string();
        assert!(err.contains("spool is full"), "{err}");
        assert_eq!(spool.held().rows, 1);
        assert_eq!(names(dir.path()).len(), 2, "the first file and the lock: {:?}", names(dir.path()));
    }

    #[test]
    fn clickhouse_spool_discards_rows_retention_destroyed() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), Key::random(), 1 << 20).unwrap();
        let other_site = StoredRow { site: 2, ..row(3) };
        spool.hold(&[(0, vec![row(1), other_site.clone(), row(DAY_MS + 1)])]).unwrap();
        assert_eq!(spool.discard(day_of_ms(0), Some(&[1])).unwrap(), 1);
        let left: Vec<(u32, i64)> =
            spool.pending().unwrap().iter().flat_map(|f| spool.read(f).unwrap()).map(|r| (r.site, r.ts_ms)).collect();
        assert_eq!(left, [(1, DAY_MS + 1), (2, 3)]);
        assert_eq!(spool.discard(day_of_ms(DAY_MS), None).unwrap(), 1);
        assert_eq!(spool.held().rows, 1);
    }
}
