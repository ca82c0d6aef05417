//! Obscura's own access log (P8): one line per HTTP request, for auditing and intrusion
//! protection.
//!
//! A line may hold a full IP address and request headers, so it is never written in plaintext:
//! each line is sealed (AES-256-GCM) under the key of the hour it was written in, each hour is
//! its own segment file, and the hour keys live in a sealed file beside the keyring, outside the
//! data folder. An hour's segment and key are destroyed 72 hours after the hour began, so no
//! line lives longer than 72 hours and a minute (the policy promises 73), and copies of old
//! segments (backups) cannot be read.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::io::{BufReader, Read, Write};
use std::net::IpAddr;
use std::ops::ControlFlow;
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
    /// When the request was handled, in milliseconds since the Unix epoch (UTC); decides the line's hour.
    pub ts_ms: i64,
    /// The full client address (as the connection or a trusted proxy gives it).
    pub ip: String,
    /// The HTTP method (capped at 16 characters); `-` on a line that only counts dropped requests.
    pub method: String,
    /// Path and query as requested.
    pub path: String,
    /// The HTTP status code of the response; 0 on a line that only counts dropped requests.
    pub status: u16,
    /// The `User-Agent` header (capped at 256 characters); may be empty.
    pub user_agent: String,
    /// The `Referer` header as the caller recorded it (capped at 256 characters); may be empty.
    pub referer: String,
    /// `X-Forwarded-For` / `Forwarded`, as sent.
    pub forwarded: String,
    /// The JA4 fingerprint of the client's TLS ClientHello, when Obscura terminated TLS (at
    /// most 36 characters); empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ja4: String,
    /// Requests of this hour not written since the line before, because the log was over its
    /// budget (see [`Budget`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The longest each field may be, in characters: a line stays under about 1.5 KB whatever a
/// client sends.
const FIELD_CAPS: [usize; 6] = [64, 16, 512, 256, 256, 256];

impl AccessLine {
    /// Cuts every field to its cap (on a character boundary).
    fn cap(&mut self) {
        let [ip, method, path, ua, referer, forwarded] = FIELD_CAPS;
        for (field, cap) in [
            (&mut self.ip, ip),
            (&mut self.method, method),
            (&mut self.path, path),
            (&mut self.user_agent, ua),
            (&mut self.referer, referer),
            (&mut self.forwarded, forwarded),
            (&mut self.ja4, 36),
        ] {
            if let Some((at, _)) = field.char_indices().nth(cap) {
                field.truncate(at);
            }
        }
    }
}

/// How much the log may grow in an hour. Under the budget every request is written; past it
/// (in total, or for the client's network: an IPv4 /24 or an IPv6 /48), one request in
/// `sample_one_in` is, carrying the count of those dropped before it; past twice the total,
/// none is, and the hour's segment ends with the count. The log never grows past
/// `2 × hour_bytes` per hour, so [`KEEP_HOURS`] of it fit in a known space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Bytes (sealed lines with their framing) an hour's segment may take before requests are sampled;
    /// past twice this they are only counted, not written.
    pub hour_bytes: u64,
    /// Bytes one client network (IPv4 /24, IPv6 /48) may take in an hour before its requests are sampled.
    pub network_hour_bytes: u64,
    /// Past a budget, one request in this many is written (0 is treated as 1).
    pub sample_one_in: u32,
    /// Networks whose use is tracked in an hour; later ones share the total budget only.
    pub networks_tracked: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { hour_bytes: 16 << 20, network_hour_bytes: 1 << 20, sample_one_in: 100, networks_tracked: 100_000 }
    }
}

/// The network a client belongs to, for the budget: IPv4 /24, IPv6 /48.
fn network_of(ip: &str) -> Option<u128> {
    match ip.parse::<IpAddr>().ok()?.to_canonical() {
        IpAddr::V4(v4) => Some(u128::from(u32::from(v4) >> 8)),
        IpAddr::V6(v6) => Some((u128::from(v6) >> 80) | (1 << 127)),
    }
}

/// What the current hour has used of the budget.
#[derive(Default)]
struct HourUse {
    hour: String,
    bytes: u64,
    networks: HashMap<u128, u64>,
    /// Requests seen over budget this hour (for sampling).
    over: u64,
    /// Dropped and not yet counted in a written line.
    dropped_unwritten: u64,
}

/// The access log: per-hour segments of lines sealed under per-hour keys, each hour destroyed
/// [`KEEP_HOURS`] after it began (see the module documentation). Safe to share between threads.
pub struct AccessLog {
    dir: PathBuf,
    master: Key,
    keys_file: SealedFile,
    budget: Budget,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Hour (`YYYY-MM-DDTHH`) → key.
    keys: BTreeMap<String, Arc<Key>>,
    /// The open segment: its hour and file.
    open: Option<(String, fs::File)>,
    usage: HourUse,
    /// Requests not written because of the budget, since the log was opened.
    dropped_total: u64,
}

/// Where a page of the log ends: the hour and the position of the oldest line shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The hour (`YYYY-MM-DDTHH`, UTC) of the segment holding the oldest line shown.
    pub hour: String,
    /// That line's position in its hour's segment (0 = first line of the hour).
    pub index: u64,
}

impl Cursor {
    /// `2026-03-01T10.42`, for a URL.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.hour, self.index)
    }

    /// Reads a cursor written by [`Cursor::encode`]; `None` if the text is not one.
    pub fn decode(text: &str) -> Option<Cursor> {
        let (hour, index) = text.rsplit_once('.')?;
        parse_hour(hour)?;
        Some(Cursor { hour: hour.to_owned(), index: index.parse().ok()? })
    }
}

/// One page of lines, newest first, and where the next (older) page starts.
#[derive(Debug, Default)]
pub struct Page {
    /// The lines of this page, newest first.
    pub lines: Vec<AccessLine>,
    /// Where the next, older page starts; `None` when this page is the last.
    pub older: Option<Cursor>,
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
/// No sealed line comes near this; a larger length is damage, not a line.
const MAX_FRAME: usize = 64 << 10;

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
        let state = State { keys, ..Default::default() };
        Ok(AccessLog { dir, master, keys_file, budget: Budget::default(), state: Mutex::new(state) })
    }

    /// Sets how much the log may grow (`[access_log]`).
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = Budget { sample_one_in: budget.sample_one_in.max(1), ..budget };
        self
    }

    /// Requests not written because of the budget, since the log was opened.
    pub fn dropped(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).dropped_total
    }

    fn segment_path(&self, hour: &str) -> PathBuf {
        self.dir.join(format!("{hour}.log"))
    }

    fn save_keys(&self, keys: &BTreeMap<String, Arc<Key>>) -> anyhow::Result<()> {
        let stored: BTreeMap<&String, String> = keys.iter().map(|(h, k)| (h, hex::encode(k.bytes()))).collect();
        self.keys_file.write(&self.master, &serde_json::to_vec(&stored)?)
    }

    /// Appends a line to its hour's segment, within the [`Budget`]. Lines reach the operating
    /// system at once; a crash of the machine may lose the last of them, which an access log can
    /// afford.
    pub fn record(&self, line: &AccessLine) -> anyhow::Result<()> {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(line.ts_ms) * 1_000_000)?;
        let hour = hour_name(at);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // Only forward: a line of the hour before, finishing late, counts against the new hour
        // rather than starting the old one's budget again.
        if state.usage.hour < hour {
            self.close_hour(&mut state)?;
            state.usage = HourUse { hour: hour.clone(), ..Default::default() };
        }
        let network = network_of(&line.ip);
        let budget = self.budget;
        let usage = &mut state.usage;
        let network_used = network.and_then(|n| usage.networks.get(&n)).copied().unwrap_or(0);
        if usage.bytes >= budget.hour_bytes || network_used >= budget.network_hour_bytes {
            usage.over += 1;
            let sampled = usage.over.is_multiple_of(u64::from(budget.sample_one_in));
            if !sampled || usage.bytes >= budget.hour_bytes.saturating_mul(2) {
                usage.dropped_unwritten += 1;
                state.dropped_total += 1;
                return Ok(());
            }
        }
        let mut line = line.clone();
        line.cap();
        line.dropped = std::mem::take(&mut state.usage.dropped_unwritten);
        let written = match self.write_line(&mut state, &hour, &line) {
            Ok(n) => n,
            Err(e) => {
                // Not written: its count of dropped requests waits for the next line.
                state.usage.dropped_unwritten += line.dropped;
                return Err(e);
            }
        };
        let usage = &mut state.usage;
        usage.bytes += written;
        if let Some(n) = network
            && (usage.networks.len() < budget.networks_tracked || usage.networks.contains_key(&n))
        {
            *usage.networks.entry(n).or_default() += written;
        }
        Ok(())
    }

    /// Ends the current hour: what was dropped and not yet counted is written as one line.
    fn close_hour(&self, state: &mut State) -> anyhow::Result<()> {
        let dropped = state.usage.dropped_unwritten;
        if dropped == 0 {
            return Ok(());
        }
        let hour = state.usage.hour.clone();
        let Some(start) = parse_hour(&hour) else { return Ok(()) };
        let last_ms = obscura_model::unix_ms(start + Duration::hours(1)) - 1;
        let summary = AccessLine {
            ts_ms: last_ms,
            ip: String::new(),
            method: "-".into(),
            path: "(requests over the access-log budget, not written)".into(),
            status: 0,
            user_agent: String::new(),
            referer: String::new(),
            forwarded: String::new(),
            ja4: String::new(),
            dropped,
        };
        self.write_line(state, &hour, &summary)?;
        state.usage.dropped_unwritten = 0;
        Ok(())
    }

    /// Seals `line` into `hour`'s segment; returns the bytes written.
    fn write_line(&self, state: &mut State, hour: &str, line: &AccessLine) -> anyhow::Result<u64> {
        let key = match state.keys.get(hour) {
            Some(key) => key.clone(),
            None => {
                // The key is saved before it seals anything.
                let key = Arc::new(Key::random());
                let mut keys = state.keys.clone();
                keys.insert(hour.to_owned(), key.clone());
                self.save_keys(&keys)?;
                state.keys = keys;
                key
            }
        };
        if state.open.as_ref().is_none_or(|(h, _)| h != hour) {
            let path = self.segment_path(hour);
            let file = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            state.open = Some((hour.to_owned(), file));
        }
        let sealed = key.seal(CONTEXT, &serde_json::to_vec(line)?);
        let mut frame = Vec::with_capacity(sealed.len() + 4);
        frame.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        frame.extend_from_slice(&sealed);
        let (_, file) = state.open.as_mut().expect("opened above");
        file.write_all(&frame)?;
        Ok(frame.len() as u64)
    }

    /// Every readable line written at or after `since`, oldest first (for small logs and
    /// tests; [`AccessLog::for_each`] and [`AccessLog::page`] do not hold the log in memory).
    pub fn read(&self, since: OffsetDateTime) -> anyhow::Result<Vec<AccessLine>> {
        let mut lines = Vec::new();
        self.for_each(since, |line| {
            lines.push(line);
            ControlFlow::Continue(())
        })?;
        Ok(lines)
    }

    /// Streams every readable line written at or after `since`, oldest first, one at a time.
    pub fn for_each(
        &self,
        since: OffsetDateTime,
        mut f: impl FnMut(AccessLine) -> ControlFlow<()>,
    ) -> anyhow::Result<()> {
        let since_ms = obscura_model::unix_ms(since);
        for (hour, key) in self.hours_since(since) {
            let flow = self.scan_segment(&hour, &key, |_, line| {
                if line.ts_ms >= since_ms { f(line) } else { ControlFlow::Continue(()) }
            })?;
            if flow.is_break() {
                break;
            }
        }
        Ok(())
    }

    /// Up to `limit` lines written at or after `since` that `keep` accepts, newest first,
    /// starting below `before` (a cursor from the previous page). Holds at most `limit` lines
    /// in memory, however large the log.
    pub fn page(
        &self,
        since: OffsetDateTime,
        before: Option<&Cursor>,
        limit: usize,
        keep: impl Fn(&AccessLine) -> bool,
    ) -> anyhow::Result<Page> {
        let since_ms = obscura_model::unix_ms(since);
        let mut page = Page::default();
        let mut hours = self.hours_since(since);
        hours.reverse();
        for (hour, key) in hours {
            if before.is_some_and(|c| hour > c.hour) {
                continue;
            }
            let below = before.filter(|c| c.hour == hour).map_or(u64::MAX, |c| c.index);
            let need = limit - page.lines.len();
            // The newest `need` matching lines of this hour below the cursor.
            let mut newest: VecDeque<(u64, AccessLine)> = VecDeque::with_capacity(need.min(1024));
            let _ = self.scan_segment(&hour, &key, |index, line| {
                if index >= below {
                    return ControlFlow::Break(());
                }
                if line.ts_ms >= since_ms && keep(&line) {
                    if newest.len() == need {
                        newest.pop_front();
                    }
                    newest.push_back((index, line));
                }
                ControlFlow::Continue(())
            })?;
            let oldest = newest.front().map(|(i, _)| *i);
            page.lines.extend(newest.into_iter().rev().map(|(_, l)| l));
            if page.lines.len() == limit {
                page.older = oldest.map(|index| Cursor { hour, index });
                break;
            }
        }
        Ok(page)
    }

    /// The hours that may hold lines written at or after `since`, oldest first, with their keys.
    fn hours_since(&self, since: OffsetDateTime) -> Vec<(String, Arc<Key>)> {
        let keys = self.state.lock().unwrap_or_else(|e| e.into_inner()).keys.clone();
        keys.into_iter().filter(|(hour, _)| parse_hour(hour).is_none_or(|h| h + Duration::hours(1) > since)).collect()
    }

    /// Calls `f` with each readable line of `hour`'s segment and its position, oldest first,
    /// reading one frame at a time.
    fn scan_segment(
        &self,
        hour: &str,
        key: &Key,
        mut f: impl FnMut(u64, AccessLine) -> ControlFlow<()>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let path = self.segment_path(hour);
        let mut reader = match fs::File::open(&path) {
            Ok(file) => BufReader::new(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ControlFlow::Continue(())),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut frame = Vec::new();
        for index in 0.. {
            let mut len = [0u8; 4];
            // A torn last frame (a crash mid-write) ends the segment.
            if reader.read_exact(&mut len).is_err() {
                break;
            }
            let len = u32::from_le_bytes(len) as usize;
            if len > MAX_FRAME {
                tracing::warn!("{} has a damaged record; the lines after it are skipped", path.display());
                break;
            }
            frame.resize(len, 0);
            if reader.read_exact(&mut frame).is_err() {
                break;
            }
            // A frame torn by a failed write: the rest of the segment cannot be framed.
            let Ok(plain) = key.open(CONTEXT, &frame) else {
                tracing::warn!("{} has a damaged record; the lines after it are skipped", path.display());
                break;
            };
            let Ok(line) = serde_json::from_slice::<AccessLine>(&plain) else { break };
            if f(index, line).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
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

    /// The folder holding the hour segments (`<hour>.log`).
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
            ts_ms: obscura_model::unix_ms(at),
            ip: "203.0.113.9".into(),
            method: "GET".into(),
            path: path.into(),
            status: 200,
            user_agent: "curl/8".into(),
            referer: String::new(),
            forwarded: String::new(),
            ja4: String::new(),
            dropped: 0,
        }
    }

    #[test]
    fn p08_access_log_lines_are_sealed_per_hour_and_purged_within_73_hours() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let open = || {
            AccessLog::open(dir.path().join("data/access-log"), dir.path().join("keys/access-log-keys"), master.clone())
                .unwrap()
        };
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
        const { assert!(KEEP_HOURS < PROMISED_HOURS) };
    }

    fn from(ip: &str, at: OffsetDateTime, path: &str) -> AccessLine {
        AccessLine { ip: ip.into(), ..line(at, path) }
    }

    #[test]
    fn hardening_access_log_caps_fields_and_stays_within_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let budget =
            Budget { hour_bytes: 400_000, network_hour_bytes: 8_000, sample_one_in: 10, networks_tracked: 1000 };
        let log = AccessLog::open(dir.path().join("log"), dir.path().join("keys"), Key::random())
            .unwrap()
            .with_budget(budget);
        let t0 = datetime!(2026-03-01 10:00 UTC);
        // One network floods with huge junk requests.
        let junk = "x".repeat(5000);
        for i in 0..2_000 {
            let mut l = from(&format!("198.51.100.{}", i % 250), t0 + Duration::milliseconds(i), &format!("/{junk}"));
            (l.user_agent, l.referer, l.forwarded) = (junk.clone(), junk.clone(), junk.clone());
            log.record(&l).unwrap();
        }
        // A client of another network is still written in full.
        log.record(&from("203.0.113.5", t0 + Duration::seconds(10), "/real")).unwrap();
        let lines = log.read(t0).unwrap();
        assert!(lines.iter().all(|l| l.path.chars().count() <= 512
            && l.user_agent.chars().count() <= 256
            && l.forwarded.chars().count() <= 256));
        assert!(lines.iter().any(|l| l.path == "/real"));
        let flood = lines.iter().filter(|l| l.ip.starts_with("198.51.100.")).count();
        assert!(flood < 250, "past its network's budget a network is sampled: {flood} lines written");
        // Nothing is lost from the count: written + dropped = sent.
        assert_eq!(flood as u64 + log.dropped(), 2_000);

        // A flood from everywhere: the hour never passes twice its total budget.
        for i in 0..20_000u32 {
            let ip = format!("10.{}.{}.1", (i >> 8) & 255, i & 255);
            let mut l = from(&ip, t0 + Duration::seconds(20), "/");
            l.user_agent = junk.clone();
            log.record(&l).unwrap();
        }
        let size = fs::metadata(dir.path().join("log/2026-03-01T10.log")).unwrap().len();
        assert!(size <= 2 * budget.hour_bytes + 2_000, "segment is {size} bytes");
        // The next hour starts a fresh budget and the old one ends with the count of what it dropped.
        log.record(&from("203.0.113.5", t0 + Duration::hours(1), "/next")).unwrap();
        let lines = log.read(t0).unwrap();
        let counted: u64 = lines.iter().map(|l| l.dropped).sum();
        assert_eq!(counted, log.dropped(), "every dropped request is counted in the log itself");
        assert!(lines.iter().any(|l| l.path == "/next"));
    }

    #[test]
    fn hardening_access_log_pages_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let log = AccessLog::open(dir.path().join("log"), dir.path().join("keys"), Key::random()).unwrap();
        let t0 = datetime!(2026-03-01 10:00 UTC);
        for i in 0..50 {
            let ip = if i % 2 == 0 { "203.0.113.9" } else { "198.51.100.1" };
            log.record(&from(ip, t0 + Duration::minutes(i * 5), &format!("/{i}"))).unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = log.page(t0, cursor.as_ref(), 7, |l| l.ip == "203.0.113.9").unwrap();
            assert!(page.lines.len() <= 7);
            seen.extend(page.lines.iter().map(|l| l.path.clone()));
            match page.older {
                Some(c) => cursor = Some(Cursor::decode(&c.encode()).unwrap()),
                None => break,
            }
        }
        let expected: Vec<String> = (0..50).rev().filter(|i| i % 2 == 0).map(|i| format!("/{i}")).collect();
        assert_eq!(seen, expected, "every matching line once, newest first, across hours");
    }
}
