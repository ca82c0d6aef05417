//! Obscura's own access log (P8): one line per HTTP request, for auditing and intrusion
//! protection.
//!
//! A line may hold a full IP address and request headers, so it is never written in plaintext:
//! each line is sealed (AES-256-GCM) under the key of the hour it was written in, each hour is
//! its own segment file, and the hour keys live in a sealed file beside the keyring, outside the
//! data folder. An hour's segment and key are destroyed 72 hours after the hour began, so no
//! line lives longer than 72 hours and a minute (the policy promises 73), and copies of old
//! segments (backups) cannot be read.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::crypto::{Key, SealedFile};

/// Hours a segment is kept, counted from the start of its hour.
pub const KEEP_HOURS: i64 = 72;
/// What the privacy policy promises: every line is gone within this many hours.
pub const PROMISED_HOURS: i64 = 73;

/// One request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessLine {
    pub ts_ms: i64,
    /// The full client address (as the connection or a trusted proxy gives it).
    pub ip: String,
    pub method: String,
    /// Path and query as requested.
    pub path: String,
    pub status: u16,
    pub user_agent: String,
    pub referer: String,
    /// `X-Forwarded-For` / `Forwarded`, as sent.
    pub forwarded: String,
}

pub struct AccessLog {
    dir: PathBuf,
    master: Key,
    keys_file: SealedFile,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Hour (`YYYY-MM-DDTHH`) → key.
    keys: BTreeMap<String, Arc<Key>>,
    /// The open segment: its hour and file.
    open: Option<(String, fs::File)>,
}

/// The hour a timestamp falls in, as named in segment files and the key file.
fn hour_name(at: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}T{:02}", at.year(), at.month() as u8, at.day(), at.hour())
}

fn parse_hour(name: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]");
    time::PrimitiveDateTime::parse(name, format).ok().map(|t| t.assume_utc())
}

const CONTEXT: &[u8] = b"obscura access log v1";

impl AccessLog {
    /// Opens the log in `dir` with its hour keys in `keys_path` (outside the data folder).
    pub fn open(dir: PathBuf, keys_path: PathBuf, master: Key) -> anyhow::Result<Self> {
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let keys_file = SealedFile::new(keys_path, b"obscura access log keys v1");
        let mut keys = BTreeMap::new();
        if let Some(plain) = keys_file.read(&master)? {
            let stored: BTreeMap<String, String> =
                serde_json::from_slice(&plain).context("the access-log key file is corrupt")?;
            for (hour, hex_key) in stored {
                let key = Key::from_hex(&hex_key)
                    .with_context(|| format!("the access-log key file holds a bad key for {hour}"))?;
                keys.insert(hour, Arc::new(key));
            }
        }
        Ok(AccessLog { dir, master, keys_file, state: Mutex::new(State { keys, open: None }) })
    }

    fn segment_path(&self, hour: &str) -> PathBuf {
        self.dir.join(format!("{hour}.log"))
    }

    fn save_keys(&self, keys: &BTreeMap<String, Arc<Key>>) -> anyhow::Result<()> {
        let stored: BTreeMap<&String, String> = keys.iter().map(|(h, k)| (h, hex::encode(k.bytes()))).collect();
        self.keys_file.write(&self.master, &serde_json::to_vec(&stored)?)
    }

    /// Appends a line to its hour's segment. Lines reach the operating system at once; a crash
    /// of the machine may lose the last of them, which an access log can afford.
    pub fn record(&self, line: &AccessLine) -> anyhow::Result<()> {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(line.ts_ms) * 1_000_000)?;
        let hour = hour_name(at);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let key = match state.keys.get(&hour) {
            Some(key) => key.clone(),
            None => {
                // The key is saved before it seals anything.
                let key = Arc::new(Key::random());
                let mut keys = state.keys.clone();
                keys.insert(hour.clone(), key.clone());
                self.save_keys(&keys)?;
                state.keys = keys;
                key
            }
        };
        if state.open.as_ref().is_none_or(|(h, _)| *h != hour) {
            let path = self.segment_path(&hour);
            let file = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            state.open = Some((hour.clone(), file));
        }
        let sealed = key.seal(CONTEXT, &serde_json::to_vec(line)?);
        let mut frame = Vec::with_capacity(sealed.len() + 4);
        frame.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        frame.extend_from_slice(&sealed);
        let (_, file) = state.open.as_mut().expect("opened above");
        file.write_all(&frame)?;
        Ok(())
    }

    /// Every readable line written at or after `since`, oldest first.
    pub fn read(&self, since: OffsetDateTime) -> anyhow::Result<Vec<AccessLine>> {
        let keys = self.state.lock().unwrap_or_else(|e| e.into_inner()).keys.clone();
        let since_ms = (since.unix_timestamp_nanos() / 1_000_000) as i64;
        let mut lines = Vec::new();
        for (hour, key) in keys {
            if parse_hour(&hour).is_some_and(|h| h + Duration::hours(1) <= since) {
                continue;
            }
            let path = self.segment_path(&hour);
            let mut bytes = Vec::new();
            match fs::File::open(&path) {
                Ok(mut f) => f.read_to_end(&mut bytes)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            };
            let mut rest = bytes.as_slice();
            // A torn last frame (a crash mid-write) ends the segment.
            while rest.len() >= 4 {
                let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
                if rest.len() < 4 + len {
                    break;
                }
                // A frame torn by a failed write: the rest of the segment cannot be framed.
                let Ok(plain) = key.open(CONTEXT, &rest[4..4 + len]) else {
                    tracing::warn!("{} has a damaged record; the lines after it are skipped", path.display());
                    break;
                };
                let Ok(line) = serde_json::from_slice::<AccessLine>(&plain) else { break };
                if line.ts_ms >= since_ms {
                    lines.push(line);
                }
                rest = &rest[4 + len..];
            }
        }
        Ok(lines)
    }

    /// Destroys the segments and keys of hours that began [`KEEP_HOURS`] or more before `now`.
    /// Returns the hours destroyed.
    pub fn purge(&self, now: OffsetDateTime) -> anyhow::Result<Vec<String>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let expired = |hour: &str| parse_hour(hour).is_none_or(|h| h + Duration::hours(KEEP_HOURS) <= now);
        let mut on_disk: Vec<String> = fs::read_dir(&self.dir)?
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().strip_suffix(".log").map(str::to_owned))
            .collect();
        on_disk.extend(state.keys.keys().cloned());
        on_disk.sort();
        on_disk.dedup();
        let gone: Vec<String> = on_disk.into_iter().filter(|h| expired(h)).collect();
        if gone.is_empty() {
            return Ok(gone);
        }
        // The key first: once it is gone, the segment and every copy of it are unreadable.
        let keys: BTreeMap<String, Arc<Key>> =
            state.keys.iter().filter(|(h, _)| !gone.contains(h)).map(|(h, k)| (h.clone(), k.clone())).collect();
        self.save_keys(&keys)?;
        state.keys = keys;
        if state.open.as_ref().is_some_and(|(h, _)| gone.contains(h)) {
            state.open = None;
        }
        for hour in &gone {
            match fs::remove_file(self.segment_path(hour)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context("cannot remove an access-log segment"),
            }
        }
        Ok(gone)
    }

    /// The hours whose segments exist.
    pub fn hours(&self) -> Vec<String> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).keys.keys().cloned().collect()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn line(at: OffsetDateTime, path: &str) -> AccessLine {
        AccessLine {
            ts_ms: (at.unix_timestamp_nanos() / 1_000_000) as i64,
            ip: "203.0.113.9".into(),
            method: "GET".into(),
            path: path.into(),
            status: 200,
            user_agent: "curl/8".into(),
            referer: String::new(),
            forwarded: String::new(),
        }
    }

    #[test]
    fn p08_access_log_lines_are_sealed_per_hour_and_purged_within_73_hours() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let open = || AccessLog::open(dir.path().join("data/access-log"), dir.path().join("keys/access-log-keys"), master.clone()).unwrap();
        let log = open();
        let t0 = datetime!(2026-03-01 10:15 UTC);
        log.record(&line(t0, "/p08-marker-first")).unwrap();
        log.record(&line(t0 + Duration::hours(1), "/second")).unwrap();
        for f in fs::read_dir(dir.path().join("data/access-log")).unwrap().flatten() {
            let bytes = fs::read(f.path()).unwrap();
            assert!(!bytes.windows(10).any(|w| w == b"p08-marker"), "plaintext in {:?}", f.path());
            assert!(!bytes.windows(11).any(|w| w == b"203.0.113.9"));
        }
        let reopened = open();
        let lines = reopened.read(t0 - Duration::hours(1)).unwrap();
        assert_eq!(lines.iter().map(|l| l.path.as_str()).collect::<Vec<_>>(), ["/p08-marker-first", "/second"]);
        assert_eq!(lines[0].ip, "203.0.113.9");

        // 71 h 59 min after the first hour began: nothing is due yet.
        assert!(reopened.purge(datetime!(2026-03-04 09:59 UTC)).unwrap().is_empty());
        // 72 h after it began: the first hour goes, segment and key; the second stays.
        assert_eq!(reopened.purge(datetime!(2026-03-04 10:00 UTC)).unwrap(), ["2026-03-01T10"]);
        assert!(!dir.path().join("data/access-log/2026-03-01T10.log").exists());
        let lines = open().read(t0 - Duration::hours(1)).unwrap();
        assert_eq!(lines.len(), 1);
        // Every line's age at its purge is at most PROMISED_HOURS: the last line of an hour is
        // written just before the hour ends and purged KEEP_HOURS after the hour began.
        assert!(KEEP_HOURS < PROMISED_HOURS);
    }
}
