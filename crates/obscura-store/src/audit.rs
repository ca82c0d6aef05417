//! The audit log (P12): every read of data by a person or token, and every administrative
//! action, appended and never rewritten.
//!
//! Each record is JSON sealed under the master key, one per line (base64). Each record carries the
//! SHA-256 of the previous record and its own hash over its content and that link, so editing,
//! removing or reordering a record — even by someone holding the key — breaks the chain, which
//! `obscura audit verify` checks.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::Key;

const CONTEXT: &[u8] = b"obscura audit v1";
const ANCHOR_CONTEXT: &[u8] = b"obscura audit anchor v1";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One record of the audit log, as stored (sealed) and as read back.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// Sequence number: 1 for the first record ever, one more for each record after it.
    pub seq: u64,
    /// When the action happened, in milliseconds since the Unix epoch (UTC).
    pub ts_ms: i64,
    /// `user:<name>`, `token:<id>` or `cli`.
    pub actor: String,
    /// `read`, `site.add`, `user.add`, `token.add`, …
    pub action: String,
    /// The site concerned (its domain), if any.
    pub site: Option<String>,
    /// What was read (the query) or changed.
    pub detail: String,
    /// The `hash` of the record before, linking the chain (64 zeros before the first record).
    pub prev: String,
    /// Hex SHA-256 over this record's content and `prev`.
    pub hash: String,
}

impl AuditRecord {
    fn compute_hash(&self) -> String {
        let content =
            serde_json::json!([self.seq, self.ts_ms, self.actor, self.action, self.site, self.detail, self.prev]);
        hex::encode(Sha256::digest(content.to_string().as_bytes()))
    }
}

/// What to record; the log adds the sequence number, time link and hash.
pub struct AuditEntry<'a> {
    /// When the action happened, in milliseconds since the Unix epoch (UTC).
    pub ts_ms: i64,
    /// Who acted: `user:<name>`, `token:<id>` or `cli`.
    pub actor: &'a str,
    /// What was done: `read`, `site.add`, `user.add`, `token.add`, …
    pub action: &'a str,
    /// The site concerned (its domain), if any.
    pub site: Option<&'a str>,
    /// What was read (the query) or changed; only the first 2000 characters are kept.
    pub detail: &'a str,
}

/// Where audit records are kept: a sealed file in the data folder ([`AuditLog`]) or, for
/// several nodes, PostgreSQL (`crate::postgres::PgAuditLog`). Either way one hash chain.
pub trait AuditTrail: Send + Sync {
    /// Appends a record; returns once it is durable.
    fn append(&self, entry: AuditEntry<'_>) -> anyhow::Result<()>;
    /// The last `n` records, oldest first.
    fn read_last(&self, n: usize) -> anyhow::Result<Vec<AuditRecord>>;
    /// Every record, decrypted, without checking the chain.
    fn read_all(&self) -> anyhow::Result<Vec<AuditRecord>>;
    /// Checks every record's hash and link; returns the number of the last record.
    fn verify(&self) -> anyhow::Result<u64>;
    /// Removes the records older than `cutoff_ms`, keeping the chain verifiable; returns how many.
    fn purge_older_than(&self, cutoff_ms: i64) -> anyhow::Result<usize>;
}

/// The log of one data folder. The server and every CLI command open their own; they take
/// turns through an exclusive lock on `audit.lock`, and each append reads the chain's head from
/// the file under that lock, so no two records get the same number and a purge never drops a
/// record appended meanwhile.
pub struct AuditLog {
    path: PathBuf,
    key: Key,
    lock_file: File,
    /// The OS lock belongs to the open file, which this process's threads share, so they also
    /// take turns here.
    in_process: Mutex<()>,
}

/// One writer's turn: the in-process mutex and the OS lock, released together.
struct WriterTurn<'a> {
    lock_file: &'a File,
    _in_process: MutexGuard<'a, ()>,
}

impl Drop for WriterTurn<'_> {
    fn drop(&mut self) {
        // Closing would release it too, but the file stays open for the next turn.
        let _ = self.lock_file.unlock();
    }
}

impl AuditLog {
    /// Opens the audit log of `data_dir` (folder `audit`, created if missing), with records sealed
    /// under `key`; no record is read yet.
    pub fn open(data_dir: &Path, key: Key) -> anyhow::Result<Self> {
        let dir = data_dir.join("audit");
        crate::durable_fs::create_dir_durably(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let lock_path = dir.join("audit.lock");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        Ok(AuditLog { path: dir.join("audit.log"), key, lock_file, in_process: Mutex::new(()) })
    }

    /// Waits for this process's and every other process's writers to finish.
    fn writer_turn(&self) -> anyhow::Result<WriterTurn<'_>> {
        let in_process = self.in_process.lock().unwrap_or_else(|e| e.into_inner());
        self.lock_file.lock().context("cannot lock the audit log")?;
        Ok(WriterTurn { lock_file: &self.lock_file, _in_process: in_process })
    }

    /// Appends a record (durably: fsynced before returning).
    pub fn append(&self, entry: AuditEntry<'_>) -> anyhow::Result<()> {
        let _turn = self.writer_turn()?;
        self.cut_torn_tail()?;
        let record = next_record(self.head()?, &entry);
        let line = self.seal_line(&record)?;
        let first = !self.path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        file.write_all(format!("{line}\n").as_bytes())?;
        file.sync_data()?;
        if first {
            // The new file's entry in its folder.
            crate::durable_fs::sync_dir(self.path.parent().expect("the log lies in the audit folder"))?;
        }
        Ok(())
    }

    /// Cuts off a last record that a crash left half-written (no newline, and it does not
    /// decode). It was never acknowledged: `append` returns only after the whole line is
    /// fsynced. Without this, every later append would fail on it.
    fn cut_torn_tail(&self) -> anyhow::Result<()> {
        let mut file = match OpenOptions::new().read(true).write(true).open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", self.path.display())),
        };
        let len = file.metadata()?.len();
        // Records are a few kilobytes at most.
        let from = len.saturating_sub(64 << 10);
        let mut tail = vec![0; (len - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut tail)?;
        if tail.last().is_none_or(|b| *b == b'\n') {
            return Ok(());
        }
        let cut = tail.iter().rposition(|b| *b == b'\n').map_or(from, |i| from + i as u64 + 1);
        let torn = String::from_utf8_lossy(&tail[(cut - from) as usize..]).into_owned();
        if self.decode(&torn).is_ok() {
            // A whole record that only lacks its newline: keep it and end its line.
            file.seek(SeekFrom::End(0))?;
            file.write_all(b"\n")?;
        } else {
            tracing::warn!("{}: cut off a half-written last record (never acknowledged)", self.path.display());
            file.set_len(cut)?;
        }
        file.sync_data()?;
        Ok(())
    }

    /// The sequence number and hash of the last record (only the file's last line is read), or
    /// the anchor when the file holds none. Called during a writer's turn.
    fn head(&self) -> anyhow::Result<(u64, String)> {
        match last_line(&self.path).with_context(|| format!("cannot read {}", self.path.display()))? {
            Some(line) => {
                let last = self.decode(&line).context("the last audit record is unreadable")?;
                Ok((last.seq, last.hash))
            }
            None => self.anchor(),
        }
    }

    /// The last `n` records, oldest first (only their lines are read).
    pub fn read_last(&self, n: usize) -> anyhow::Result<Vec<AuditRecord>> {
        let lines = {
            let _turn = self.writer_turn()?;
            last_lines(&self.path, n).with_context(|| format!("cannot read {}", self.path.display()))?
        };
        lines.iter().map(|line| self.decode(line)).collect()
    }

    /// Every record, decrypted, without checking the chain.
    pub fn read_all(&self) -> anyhow::Result<Vec<AuditRecord>> {
        let (_, text) = self.snapshot()?;
        self.decode_all(&text)
    }

    /// The anchor and the file's text as one writer left them (no half-written record).
    fn snapshot(&self) -> anyhow::Result<((u64, String), String)> {
        let _turn = self.writer_turn()?;
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        };
        Ok((self.anchor()?, text))
    }

    fn decode_all(&self, text: &str) -> anyhow::Result<Vec<AuditRecord>> {
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| self.decode(line).with_context(|| format!("audit record on line {} is unreadable", i + 1)))
            .collect()
    }

    fn decode(&self, line: &str) -> anyhow::Result<AuditRecord> {
        open_record(&self.key, line)
    }

    /// Checks every record's hash and link. Returns the number of records, or says which record
    /// breaks the chain.
    pub fn verify(&self) -> anyhow::Result<u64> {
        let (anchor, text) = self.snapshot()?;
        verify_chain(anchor, self.decode_all(&text)?)
    }

    /// Where the chain starts: the genesis, or the last record that retention removed.
    fn anchor(&self) -> anyhow::Result<(u64, String)> {
        let anchor: Option<(u64, String)> = self.anchor_file().load()?;
        Ok(anchor.unwrap_or_else(genesis))
    }

    fn anchor_file(&self) -> crate::sealed_json::SealedJson {
        crate::sealed_json::SealedJson::new(self.path.with_file_name("anchor"), ANCHOR_CONTEXT, self.key.clone())
    }

    /// Removes the records older than `cutoff_ms` (the audit log's own retention). The chain stays
    /// verifiable: the last removed record's sequence number and hash become its anchor.
    /// Returns how many records were removed. When nothing is due only the oldest record is
    /// read, so running this every minute costs one line.
    pub fn purge_older_than(&self, cutoff_ms: i64) -> anyhow::Result<usize> {
        let _turn = self.writer_turn()?;
        match first_line(&self.path).with_context(|| format!("cannot read {}", self.path.display()))? {
            None => return Ok(0),
            Some(line) if self.decode(&line).context("the oldest audit record is unreadable")?.ts_ms >= cutoff_ms => {
                return Ok(0);
            }
            Some(_) => {}
        }
        let text = fs::read_to_string(&self.path)?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut removed = 0;
        let mut last_removed = None;
        for line in &lines {
            let record = self.decode(line)?;
            if record.ts_ms >= cutoff_ms {
                break;
            }
            removed += 1;
            last_removed = Some(record);
        }
        let Some(last) = last_removed else { return Ok(0) };
        self.anchor_file().save(&Some((last.seq, last.hash.clone())))?;
        let kept: String = lines[removed..].iter().map(|l| format!("{l}\n")).collect();
        crate::crypto::write_atomic(&self.path, kept.as_bytes())?;
        Ok(removed)
    }

    /// The log file (`<data_dir>/audit/audit.log`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-seals a record as it is (for tests that play an attacker holding the key).
    pub fn seal_line(&self, record: &AuditRecord) -> anyhow::Result<String> {
        seal_record(&self.key, record)
    }
}

impl AuditTrail for AuditLog {
    fn append(&self, entry: AuditEntry<'_>) -> anyhow::Result<()> {
        AuditLog::append(self, entry)
    }
    fn read_last(&self, n: usize) -> anyhow::Result<Vec<AuditRecord>> {
        AuditLog::read_last(self, n)
    }
    fn read_all(&self) -> anyhow::Result<Vec<AuditRecord>> {
        AuditLog::read_all(self)
    }
    fn verify(&self) -> anyhow::Result<u64> {
        AuditLog::verify(self)
    }
    fn purge_older_than(&self, cutoff_ms: i64) -> anyhow::Result<usize> {
        AuditLog::purge_older_than(self, cutoff_ms)
    }
}

/// The record that follows `head` (the last record's sequence number and hash, or the anchor).
pub(crate) fn next_record(head: (u64, String), entry: &AuditEntry<'_>) -> AuditRecord {
    let (seq, prev) = head;
    let mut record = AuditRecord {
        seq: seq + 1,
        ts_ms: entry.ts_ms,
        actor: entry.actor.to_owned(),
        action: entry.action.to_owned(),
        site: entry.site.map(str::to_owned),
        detail: entry.detail.chars().take(2000).collect(),
        prev,
        hash: String::new(),
    };
    record.hash = record.compute_hash();
    record
}

/// A record sealed under `key`, as one base64 line.
pub(crate) fn seal_record(key: &Key, record: &AuditRecord) -> anyhow::Result<String> {
    Ok(STANDARD.encode(key.seal(CONTEXT, &serde_json::to_vec(record)?)))
}

/// The record sealed in `line`.
pub(crate) fn open_record(key: &Key, line: &str) -> anyhow::Result<AuditRecord> {
    let sealed = STANDARD.decode(line.trim()).context("not base64")?;
    let plain = key.open(CONTEXT, &sealed)?;
    Ok(serde_json::from_slice(&plain)?)
}

/// Checks every record's hash and link from `anchor` (where retention left the chain's start).
/// Returns the last sequence number, or says which record breaks the chain.
pub(crate) fn verify_chain(anchor: (u64, String), records: Vec<AuditRecord>) -> anyhow::Result<u64> {
    let (anchor_seq, anchor_hash) = anchor;
    let (mut seq, mut prev) = (anchor_seq, anchor_hash.clone());
    for record in records {
        if record.seq <= anchor_seq {
            // Left by a purge interrupted between saving the anchor and rewriting the file;
            // the next purge removes it.
            if record.seq == anchor_seq && record.hash != anchor_hash {
                bail!("record {} does not match the anchor retention left: the chain was broken", record.seq);
            }
            continue;
        }
        if record.seq != seq + 1 {
            bail!("record {} follows record {seq}: records are missing or out of order", record.seq);
        }
        if record.prev != prev {
            bail!("record {} does not link to the record before it: the chain was broken", record.seq);
        }
        if record.compute_hash() != record.hash {
            bail!("record {} was altered: its hash does not match its content", record.seq);
        }
        prev = record.hash.clone();
        seq = record.seq;
    }
    Ok(seq)
}

/// The chain's start before any retention: sequence 0 and 64 zeros.
pub(crate) fn genesis() -> (u64, String) {
    (0, GENESIS.to_owned())
}

/// The first non-empty line of `path`, or `None` if it is missing or empty.
fn first_line(path: &Path) -> std::io::Result<Option<String>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    for line in BufReader::new(file).lines() {
        let line = line?;
        if !line.trim().is_empty() {
            return Ok(Some(line));
        }
    }
    Ok(None)
}

/// The last non-empty line of `path`.
fn last_line(path: &Path) -> std::io::Result<Option<String>> {
    Ok(last_lines(path, 1)?.pop())
}

/// The last `n` non-empty lines of `path`, oldest first, read backwards from the end in blocks,
/// so the cost does not grow with the file.
fn last_lines(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    const BLOCK: u64 = 4096;
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut start = file.metadata()?.len();
    let mut tail: Vec<u8> = Vec::new();
    loop {
        // Only lines known to be whole: everything after the first newline, or all at the start.
        let whole = if start == 0 {
            &tail[..]
        } else {
            tail.iter().position(|b| *b == b'\n').map_or(&[][..], |i| &tail[i + 1..])
        };
        let lines: Vec<&[u8]> = whole.split(|b| *b == b'\n').filter(|l| !l.trim_ascii().is_empty()).collect();
        if lines.len() >= n || start == 0 {
            let from = lines.len().saturating_sub(n);
            return Ok(lines[from..].iter().map(|l| String::from_utf8_lossy(l.trim_ascii()).into_owned()).collect());
        }
        let from = start.saturating_sub(BLOCK);
        let mut block = vec![0; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&tail);
        tail = block;
        start = from;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(detail: &'a str) -> AuditEntry<'a> {
        AuditEntry { ts_ms: 1, actor: "token:obs_1234", action: "read", site: Some("a.example"), detail }
    }

    #[test]
    fn audit_chain_verifies_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::random();
        let log = AuditLog::open(dir.path(), key.clone()).unwrap();
        for d in ["aggregate 30d", "breakdown page", "timeseries day"] {
            log.append(entry(d)).unwrap();
        }
        assert_eq!(log.verify().unwrap(), 3);
        // Reopening continues the chain.
        let log = AuditLog::open(dir.path(), key.clone()).unwrap();
        log.append(entry("breakdown country")).unwrap();
        assert_eq!(log.verify().unwrap(), 4);
        let text = fs::read_to_string(log.path()).unwrap();
        assert!(!text.contains("breakdown"), "records are encrypted");
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();

        // Someone with the key rewrites record 2's content.
        let mut forged = log.read_all().unwrap()[1].clone();
        forged.detail = "nothing to see".into();
        let mut edited = lines.clone();
        edited[1] = log.seal_line(&forged).unwrap();
        fs::write(log.path(), edited.join("\n") + "\n").unwrap();
        assert!(log.verify().unwrap_err().to_string().contains("record 2 was altered"));

        // Removing a record.
        let mut removed = lines.clone();
        removed.remove(2);
        fs::write(log.path(), removed.join("\n") + "\n").unwrap();
        assert!(log.verify().unwrap_err().to_string().contains("missing or out of order"));

        // Flipping a byte of the ciphertext.
        let mut flipped = lines.clone();
        let mut bytes = flipped[0].clone().into_bytes();
        bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
        flipped[0] = String::from_utf8(bytes).unwrap();
        fs::write(log.path(), flipped.join("\n") + "\n").unwrap();
        assert!(log.verify().is_err());

        fs::write(log.path(), lines.join("\n") + "\n").unwrap();
        assert_eq!(log.verify().unwrap(), 4);
    }

    #[test]
    fn audit_retention_drops_old_records_and_keeps_the_chain_verifiable() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path(), Key::random()).unwrap();
        for ts in [10, 20, 30, 40] {
            log.append(AuditEntry { ts_ms: ts, actor: "cli", action: "site.add", site: None, detail: "x" }).unwrap();
        }
        assert_eq!(log.purge_older_than(25).unwrap(), 2);
        let kept = log.read_all().unwrap();
        assert_eq!(kept.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(log.verify().unwrap(), 4);
        log.append(AuditEntry { ts_ms: 50, actor: "cli", action: "site.add", site: None, detail: "y" }).unwrap();
        assert_eq!(log.verify().unwrap(), 5);
        // Removing a kept record is still caught.
        let text = fs::read_to_string(log.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        fs::write(log.path(), format!("{}\n{}\n", lines[1], lines[2])).unwrap();
        assert!(log.verify().is_err());
    }

    fn at(ts_ms: i64) -> AuditEntry<'static> {
        AuditEntry { ts_ms, actor: "cli", action: "site.add", site: None, detail: "x" }
    }

    #[test]
    fn hardening_audit_chain_holds_with_several_writers_appending_and_purging_at_once() {
        // The server and CLI commands each open their own log on the same folder.
        let dir = tempfile::tempdir().unwrap();
        let key = Key::random();
        let clock = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
        let (writers, per_writer) = (4, 30);
        let mut threads = Vec::new();
        for _ in 0..writers {
            let (path, key, clock) = (dir.path().to_path_buf(), key.clone(), clock.clone());
            threads.push(std::thread::spawn(move || {
                let log = AuditLog::open(&path, key).unwrap();
                for _ in 0..per_writer {
                    log.append(at(clock.fetch_add(1, std::sync::atomic::Ordering::SeqCst))).unwrap();
                }
            }));
        }
        let purger = {
            let (path, key, clock) = (dir.path().to_path_buf(), key.clone(), clock.clone());
            std::thread::spawn(move || {
                let log = AuditLog::open(&path, key).unwrap();
                let mut purged = 0;
                for _ in 0..40 {
                    purged += log.purge_older_than(clock.load(std::sync::atomic::Ordering::SeqCst) - 10).unwrap();
                    std::thread::yield_now();
                }
                purged
            })
        };
        for t in threads {
            t.join().unwrap();
        }
        let purged = purger.join().unwrap();
        let log = AuditLog::open(dir.path(), key).unwrap();
        let total = (writers * per_writer) as u64;
        assert_eq!(log.verify().unwrap(), total, "one chain, no number given twice");
        assert_eq!(log.read_all().unwrap().len() + purged, total as usize, "no record was lost by a purge");
    }

    #[test]
    fn hardening_audit_purge_with_nothing_due_reads_only_the_oldest_record() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path(), Key::random()).unwrap();
        for ts in [10, 20, 30] {
            log.append(at(ts)).unwrap();
        }
        // A record that cannot be decrypted in the middle: a purge that decrypted the whole
        // log would fail on it.
        let text = fs::read_to_string(log.path()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[1] = "bm90IGEgcmVjb3Jk";
        fs::write(log.path(), lines.join("\n") + "\n").unwrap();
        let before = fs::metadata(log.path()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(log.purge_older_than(5).unwrap(), 0);
        let after = fs::metadata(log.path()).unwrap();
        assert_eq!(
            (before.ino(), before.mtime_nsec(), before.len()),
            (after.ino(), after.mtime_nsec(), after.len()),
            "not rewritten"
        );
        // Appending reads only the last record too.
        log.append(at(40)).unwrap();
        let last = log.decode(&last_line(log.path()).unwrap().unwrap()).unwrap();
        let third = log.decode(lines[2]).unwrap();
        assert_eq!((last.seq, last.prev), (4, third.hash));
    }

    #[test]
    fn hardening_audit_tail_is_read_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        assert_eq!(last_line(&path).unwrap(), None);
        fs::write(&path, "").unwrap();
        assert_eq!(last_line(&path).unwrap(), None);
        let (long, longer) = ("a".repeat(5000), "b".repeat(9000));
        fs::write(&path, format!("{long}\n")).unwrap();
        assert_eq!(last_line(&path).unwrap(), Some(long.clone()));
        fs::write(&path, format!("{long}\nc\n{longer}\n\n")).unwrap();
        assert_eq!(last_line(&path).unwrap(), Some(longer.clone()));
        fs::write(&path, format!("{longer}\n{long}")).unwrap();
        assert_eq!(last_line(&path).unwrap(), Some(long.clone()));
        fs::write(&path, format!("{long}\nc\n{longer}\n")).unwrap();
        assert_eq!(last_lines(&path, 2).unwrap(), vec!["c".to_owned(), longer.clone()]);
        assert_eq!(last_lines(&path, 5).unwrap(), vec![long, "c".to_owned(), longer]);
        assert!(last_lines(&path, 0).unwrap().is_empty());
    }

    #[test]
    fn hardening_audit_purge_interrupted_after_saving_the_anchor_still_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path(), Key::random()).unwrap();
        for ts in [10, 20, 30, 40] {
            log.append(at(ts)).unwrap();
        }
        let records = log.read_all().unwrap();
        // The anchor is saved, the file not yet rewritten.
        log.anchor_file().save(&Some((2u64, records[1].hash.clone()))).unwrap();
        assert_eq!(log.verify().unwrap(), 4);
        assert_eq!(log.purge_older_than(25).unwrap(), 2);
        assert_eq!(log.verify().unwrap(), 4);
        // A leftover that does not match the anchor is still caught.
        log.anchor_file().save(&Some((2u64, records[0].hash.clone()))).unwrap();
        let mut text = records[..2].iter().map(|r| log.seal_line(r).unwrap() + "\n").collect::<String>();
        text.push_str(&fs::read_to_string(log.path()).unwrap());
        fs::write(log.path(), text).unwrap();
        assert!(log.verify().is_err());
    }

    #[test]
    fn hardening_audit_append_cuts_a_half_written_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path(), Key::random()).unwrap();
        log.append(AuditEntry { ts_ms: 1, actor: "cli", action: "site.add", site: None, detail: "a" }).unwrap();
        // A crash in the middle of writing the next line.
        let mut file = OpenOptions::new().append(true).open(log.path()).unwrap();
        file.write_all(b"c2VhbGVkIGJ1dCBjdXQ").unwrap();
        drop(file);
        log.append(AuditEntry { ts_ms: 2, actor: "cli", action: "site.add", site: None, detail: "b" }).unwrap();
        assert_eq!(log.verify().unwrap(), 2);
        assert_eq!(log.read_all().unwrap().iter().map(|r| r.detail.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }
}
