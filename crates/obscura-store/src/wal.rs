//! The write-ahead log: acknowledged means durable.
//!
//! Each group commit appends one record per day touched to that day's active segment file
//! (`wal/<day>/<segment>.wal`) and fsyncs it before any request is answered. A record is
//! `u32 length ‖ AES-256-GCM(day key, JSON)`, so the log is encrypted under the same per-day
//! key as the day's Parquet files and is shredded with it. The JSON is the rows (an array), or,
//! when some came with idempotency keys, `{"rows": […], "keys": [[hash, ms], …]}`, so a row and
//! its key's hash are durable together. On start the segments are replayed; a torn last record
//! (a crash mid-write, never acknowledged) is cut off.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use time::Date;

use crate::crypto::Key;
use crate::durable_fs::{create_dir_durably, sync_parent_dir};
use crate::key_log::StoredKey;
use crate::row::StoredRow;
use obscura_model::{format_day, parse_day};

fn context(day: Date) -> Vec<u8> {
    format!("obscura wal {}", format_day(day)).into_bytes()
}

/// An open segment being appended to.
pub struct Segment {
    pub day: Date,
    pub id: u64,
    file: File,
    /// Length up to the last record known to be complete.
    good_len: u64,
}

impl Segment {
    /// Creates segment `id` of `day` under `wal_dir`.
    pub fn create(wal_dir: &Path, day: Date, id: u64) -> anyhow::Result<Self> {
        let dir = wal_dir.join(format_day(day));
        // Both the day folder and the segment's name must survive a crash, or replay misses it.
        create_dir_durably(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = segment_path(wal_dir, day, id);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        sync_parent_dir(&path)?;
        let good_len = file.metadata()?.len();
        Ok(Segment { day, id, file, good_len })
    }

    /// Appends one sealed record of `rows` and the hashes of their idempotency keys (not yet
    /// durable: call [`Segment::sync`]).
    pub fn append(&mut self, key: &Key, rows: &[StoredRow], keys: &[StoredKey]) -> anyhow::Result<()> {
        let plain = if keys.is_empty() {
            serde_json::to_vec(rows)?
        } else {
            #[derive(serde::Serialize)]
            struct Keyed<'a> {
                rows: &'a [StoredRow],
                keys: &'a [StoredKey],
            }
            serde_json::to_vec(&Keyed { rows, keys })?
        };
        let record = frame(&key.seal(&context(self.day), &plain));
        self.file.write_all(&record).context("write-ahead log write failed")?;
        Ok(())
    }

    pub fn sync(&mut self) -> anyhow::Result<()> {
        self.file.sync_data().context("write-ahead log fsync failed")?;
        self.good_len = self.file.metadata()?.len();
        Ok(())
    }

    /// After a failed append or sync: cuts the file back to its last complete record, so no
    /// later record sits behind a broken one (replay stops at the first broken record).
    pub fn abandon(self) {
        if let Err(e) = self.file.set_len(self.good_len).and_then(|_| self.file.sync_data()) {
            tracing::error!(day = %self.day, segment = self.id, "cannot cut back a failed write-ahead log segment: {e}");
        }
    }
}

pub fn segment_path(wal_dir: &Path, day: Date, id: u64) -> PathBuf {
    wal_dir.join(format_day(day)).join(format!("{id:010}.wal"))
}

/// A segment found on disk.
#[derive(Debug, Clone)]
pub struct SegmentFile {
    pub day: Date,
    pub id: u64,
    pub path: PathBuf,
}

/// Lists every segment under `wal_dir`, ordered by day then id.
pub fn list_segments(wal_dir: &Path) -> anyhow::Result<Vec<SegmentFile>> {
    let mut out = Vec::new();
    let Ok(days) = fs::read_dir(wal_dir) else { return Ok(out) };
    for day_entry in days {
        let day_entry = day_entry?;
        let Some(day) = parse_day(&day_entry.file_name().to_string_lossy()) else { continue };
        for seg in fs::read_dir(day_entry.path())? {
            let seg = seg?;
            let name = seg.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".wal").and_then(|n| n.parse::<u64>().ok()) {
                out.push(SegmentFile { day, id, path: seg.path() });
            }
        }
    }
    out.sort_by_key(|s| (s.day, s.id));
    Ok(out)
}

/// A sealed record as it is written: `u32 length ‖ sealed`.
pub(crate) fn frame(sealed: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(4 + sealed.len());
    record.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
    record.extend_from_slice(sealed);
    record
}

/// Reads the framed records of `bytes` in order, each through `open`, up to the first that is
/// torn or cannot be opened; returns what they gave and the length of the intact part.
pub(crate) fn read_frames<T>(bytes: &[u8], mut open: impl FnMut(&[u8]) -> Option<T>) -> (Vec<T>, usize) {
    let mut out = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let record = bytes
            .get(offset..offset + 4)
            .map(|l| u32::from_le_bytes(l.try_into().expect("4 bytes")) as usize)
            .and_then(|len| bytes.get(offset + 4..offset + 4 + len));
        match record.and_then(|sealed| open(sealed).map(|item| (sealed.len(), item))) {
            Some((len, item)) => {
                out.push(item);
                offset += 4 + len;
            }
            None => break,
        }
    }
    (out, offset)
}

/// A record whose rows came with idempotency keys.
#[derive(serde::Deserialize)]
struct KeyedRecord {
    rows: Vec<StoredRow>,
    keys: Vec<StoredKey>,
}

fn decode_record(plain: &[u8]) -> Option<KeyedRecord> {
    if plain.first() == Some(&b'{') {
        serde_json::from_slice(plain).ok()
    } else {
        serde_json::from_slice(plain).ok().map(|rows| KeyedRecord { rows, keys: Vec::new() })
    }
}

/// What a segment holds: its rows, and the hashes of the idempotency keys that came with them.
#[derive(Debug, Default)]
pub struct Replayed {
    pub rows: Vec<StoredRow>,
    pub keys: Vec<StoredKey>,
}

/// Reads every intact record of a segment. A torn or undecryptable tail is truncated away, since
/// it was never acknowledged.
pub fn replay(segment: &SegmentFile, key: &Key) -> anyhow::Result<Replayed> {
    let mut bytes = Vec::new();
    File::open(&segment.path)?.read_to_end(&mut bytes)?;
    let (records, intact) =
        read_frames(&bytes, |sealed| key.open(&context(segment.day), sealed).ok().and_then(|p| decode_record(&p)));
    if intact < bytes.len() {
        tracing::warn!(segment = %segment.path.display(), offset = intact, "cutting a torn write-ahead log record");
        OpenOptions::new().write(true).open(&segment.path)?.set_len(intact as u64)?;
    }
    let mut replayed = Replayed::default();
    for mut record in records {
        replayed.rows.append(&mut record.rows);
        replayed.keys.append(&mut record.keys);
    }
    Ok(replayed)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::date;

    pub(crate) fn row(ts: i64) -> StoredRow {
        StoredRow {
            ts_ms: ts,
            site: 1,
            kind: 0,
            visitor: 7,
            visit: 9,
            visit_seq: 1,
            visit_gap_ms: 0,
            path: "/".into(),
            prev_path: None,
            referrer_host: None,
            source: "direct".into(),
            utm_source: None,
            utm_medium: None,
            utm_campaign: None,
            name: None,
            props: None,
            continent: None,
            country: None,
            province: None,
            network: None,
            browser: None,
            browser_version: None,
            os: None,
            os_version: None,
            device_type: "desktop".into(),
            device_brand: None,
            device_model: None,
            screen: None,
            returning: None,
            days_since_last: None,
            visit_count: None,
            engaged_ms: None,
            metric: None,
            value: None,
        }
    }

    #[test]
    fn wal_replays_records_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::random();
        let day = date!(2026 - 02 - 03);
        let mut seg = Segment::create(dir.path(), day, 1).unwrap();
        seg.append(&key, &[row(1), row(2)], &[]).unwrap();
        seg.append(&key, &[row(3)], &[(u128::MAX - 1, 77)]).unwrap();
        seg.sync().unwrap();
        let path = segment_path(dir.path(), day, 1);
        let good_len = fs::metadata(&path).unwrap().len();
        // A crash in the middle of the next record.
        OpenOptions::new().append(true).open(&path).unwrap().write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        let segments = list_segments(dir.path()).unwrap();
        assert_eq!(segments.len(), 1);
        let replayed = replay(&segments[0], &key).unwrap();
        assert_eq!(replayed.rows.iter().map(|r| r.ts_ms).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(replayed.keys, vec![(u128::MAX - 1, 77)], "keys come back with their rows");
        assert_eq!(fs::metadata(&path).unwrap().len(), good_len);
    }
}
