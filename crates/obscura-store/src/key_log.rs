//! The log of stored idempotency keys, so that a batch sent again after a restart is not stored
//! twice. Only hashes of keys are kept ([`KeyHash`]), each with when it was stored.
//!
//! A key's hash first lands in the write-ahead log record that stores its event (one fsync
//! makes both durable). Once that record is durable, the writer copies the hashes here, because
//! write-ahead log segments are deleted when their day file is written. A crash between the two
//! loses nothing: replay copies the hashes of the segments it finds.
//!
//! One file per day of receipt (`keys/<day>.log`), of records `u32 length ‖ AES-256-GCM(master
//! key, JSON [[hash, ms], …])`. Keys are remembered for a day, so files older than yesterday's
//! are deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use time::Date;

use crate::crypto::Key;
use crate::durable_fs::{create_dir_durably, sync_parent_dir};
use obscura_model::{day_of_ms, format_day, parse_day};

/// The hash of one idempotency key of one site (see `obscura_ingest::idempotency`).
pub type KeyHash = u128;

/// A stored key's hash and when it was stored (milliseconds since the epoch).
pub type StoredKey = (KeyHash, i64);

/// How long a stored key is remembered: a day.
pub const KEPT_FOR_MS: i64 = 86_400_000;

fn context(day: Date) -> Vec<u8> {
    format!("obscura keys {}", format_day(day)).into_bytes()
}

/// The key log of a data folder, appended to by the write-ahead-log thread.
pub struct KeyLog {
    dir: PathBuf,
    master: Key,
    open: Option<(Date, File, u64)>,
    /// Days before this one are forgotten (and not written again).
    first_kept: Date,
}

impl KeyLog {
    /// Opens the log in `dir`, deleting days before `today`'s yesterday and cutting off a torn
    /// last record (a crash mid-write).
    pub fn open(dir: PathBuf, master: Key, today: Date) -> anyhow::Result<Self> {
        create_dir_durably(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let first_kept = today.previous_day().unwrap_or(today);
        let log = KeyLog { dir, master, open: None, first_kept };
        log.forget_before(first_kept)?;
        for day in days(&log.dir)? {
            let path = path(&log.dir, day);
            let (_, good_len) = read_file(&path, &log.master, day)?;
            if good_len < fs::metadata(&path)?.len() {
                tracing::warn!(file = %path.display(), good_len, "cutting a torn idempotency key record");
                OpenOptions::new().write(true).open(&path)?.set_len(good_len)?;
            }
        }
        Ok(log)
    }

    fn forget_before(&self, first_kept: Date) -> anyhow::Result<()> {
        for day in days(&self.dir)?.into_iter().filter(|d| *d < first_kept) {
            fs::remove_file(path(&self.dir, day))?;
        }
        Ok(())
    }

    /// Appends `keys` (all stored on one day: the writer's now) and makes them durable. Keys of a
    /// day already forgotten are of no more use and are left out.
    pub fn append(&mut self, keys: &[StoredKey]) -> anyhow::Result<()> {
        let Some(&(_, at)) = keys.first() else { return Ok(()) };
        let day = day_of_ms(at);
        if day < self.first_kept {
            return Ok(());
        }
        if self.open.as_ref().is_none_or(|(d, _, _)| *d != day) {
            self.open = None;
            let path = path(&self.dir, day);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            sync_parent_dir(&path)?;
            let len = file.metadata()?.len();
            self.open = Some((day, file, len));
            self.first_kept = self.first_kept.max(day.previous_day().unwrap_or(day));
            self.forget_before(self.first_kept)?;
        }
        let record = crate::wal::frame(&self.master.seal(&context(day), &serde_json::to_vec(keys)?));
        let (_, file, good_len) = self.open.as_mut().expect("opened above");
        let written = file.write_all(&record).and_then(|_| file.sync_data());
        if let Err(e) = written {
            // No later record may sit behind a broken one.
            let _ = file.set_len(*good_len);
            self.open = None;
            return Err(e).context("the idempotency key log cannot be written");
        }
        *good_len += record.len() as u64;
        Ok(())
    }
}

/// Every key in the log in `dir` stored at or after `since_ms`. Safe beside the writer: a
/// record being written is not read.
pub fn read_since(dir: &Path, master: &Key, since_ms: i64) -> anyhow::Result<Vec<StoredKey>> {
    let mut keys = Vec::new();
    for day in days(dir)?.into_iter().filter(|d| *d >= day_of_ms(since_ms)) {
        let (in_file, _) = read_file(&path(dir, day), master, day)?;
        keys.extend(in_file.into_iter().filter(|(_, at)| *at >= since_ms));
    }
    Ok(keys)
}

fn path(dir: &Path, day: Date) -> PathBuf {
    dir.join(format!("{}.log", format_day(day)))
}

fn days(dir: &Path) -> anyhow::Result<Vec<Date>> {
    let mut days: Vec<Date> = fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().strip_suffix(".log").and_then(parse_day))
        .collect();
    days.sort();
    Ok(days)
}

/// The keys of a file's intact records, and the length they take.
fn read_file(path: &Path, master: &Key, day: Date) -> anyhow::Result<(Vec<StoredKey>, u64)> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let (records, intact) = crate::wal::read_frames(&bytes, |sealed| {
        master.open(&context(day), sealed).ok().and_then(|plain| serde_json::from_slice::<Vec<StoredKey>>(&plain).ok())
    });
    Ok((records.into_iter().flatten().collect(), intact as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const DAY_MS: i64 = 86_400_000;

    fn ms(day: Date) -> i64 {
        obscura_model::unix_ms(day.midnight().assume_utc())
    }

    #[test]
    fn idempotency_key_log_reads_back_what_was_appended_and_forgets_after_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let day = date!(2026 - 03 - 10);
        let keys_dir = dir.path().join("keys");
        let mut log = KeyLog::open(keys_dir.clone(), master.clone(), day).unwrap();
        log.append(&[(1, ms(day) + 5), (u128::MAX, ms(day) + 6)]).unwrap();
        log.append(&[(3, ms(day) + DAY_MS + 1)]).unwrap();
        let all = vec![(1, ms(day) + 5), (u128::MAX, ms(day) + 6), (3, ms(day) + DAY_MS + 1)];
        assert_eq!(read_since(&keys_dir, &master, 0).unwrap(), all);
        assert_eq!(read_since(&keys_dir, &master, ms(day) + 6).unwrap().len(), 2);
        // A torn record at the end of the last file is cut off; the rest stays.
        let last = keys_dir.join("2026-03-11.log");
        let good = fs::metadata(&last).unwrap().len();
        OpenOptions::new().append(true).open(&last).unwrap().write_all(&[90, 0, 0, 0, 1]).unwrap();
        assert_eq!(read_since(&keys_dir, &master, 0).unwrap(), all, "a record being written is not read");
        KeyLog::open(keys_dir.clone(), master.clone(), date!(2026 - 03 - 11)).unwrap();
        assert_eq!(fs::metadata(&last).unwrap().len(), good, "opening cuts it off");
        assert_eq!(read_since(&keys_dir, &master, 0).unwrap(), all);
        // Two days on, the first day's file is gone.
        let mut later = KeyLog::open(keys_dir.clone(), master.clone(), date!(2026 - 03 - 12)).unwrap();
        assert_eq!(read_since(&keys_dir, &master, 0).unwrap(), vec![(3, ms(day) + DAY_MS + 1)]);
        later.append(&[(4, ms(date!(2026 - 03 - 13)))]).unwrap();
        assert!(!last.exists(), "forgotten when a new day begins");
        later.append(&[(5, ms(day))]).unwrap();
        assert!(!keys_dir.join("2026-03-10.log").exists(), "a forgotten day is not written again");
    }

    #[test]
    fn p12_idempotency_key_log_is_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let day = date!(2026 - 03 - 10);
        let master = Key::random();
        let mut log = KeyLog::open(dir.path().to_owned(), master.clone(), day).unwrap();
        let hash: KeyHash = 0x1234_5678_9abc_def0_1234_5678_9abc_def0;
        log.append(&[(hash, ms(day))]).unwrap();
        let bytes = fs::read(dir.path().join("2026-03-10.log")).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&hash.to_string()), "the hashes are encrypted");
        assert_eq!(read_since(dir.path(), &master, 0).unwrap(), vec![(hash, ms(day))]);
        assert!(read_since(dir.path(), &Key::random(), 0).unwrap().is_empty(), "another key reads nothing");
    }
}
