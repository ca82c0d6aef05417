//! The audit log (P12): every read of data by a person or token, and every administrative
//! action, appended and never rewritten.
//!
//! Each record is JSON sealed under the master key, one per line (base64). Each record carries the
//! SHA-256 of the previous record and its own hash over its content and that link, so editing,
//! removing or reordering a record — even by someone holding the key — breaks the chain, which
//! `obscura audit verify` checks.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::Key;

const CONTEXT: &[u8] = b"obscura audit v1";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub seq: u64,
    pub ts_ms: i64,
    /// `user:<name>`, `token:<id>` or `cli`.
    pub actor: String,
    /// `read`, `site.add`, `user.add`, `token.add`, …
    pub action: String,
    pub site: Option<String>,
    /// What was read (the query) or changed.
    pub detail: String,
    pub prev: String,
    pub hash: String,
}

impl AuditRecord {
    fn compute_hash(&self) -> String {
        let content = serde_json::json!([self.seq, self.ts_ms, self.actor, self.action, self.site, self.detail, self.prev]);
        hex::encode(Sha256::digest(content.to_string().as_bytes()))
    }
}

/// What to record; the log adds the sequence number, time link and hash.
pub struct AuditEntry<'a> {
    pub ts_ms: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub site: Option<&'a str>,
    pub detail: &'a str,
}

pub struct AuditLog {
    path: PathBuf,
    key: Key,
    /// Sequence number and hash of the last record.
    head: Mutex<(u64, String)>,
}

impl AuditLog {
    pub fn open(data_dir: &Path, key: Key) -> anyhow::Result<Self> {
        let dir = data_dir.join("audit");
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("audit.log");
        let log = AuditLog { path, key, head: Mutex::new((0, GENESIS.to_owned())) };
        let records = log.read_all()?;
        if let Some(last) = records.last() {
            *log.head.lock().unwrap_or_else(|e| e.into_inner()) = (last.seq, last.hash.clone());
        }
        Ok(log)
    }

    /// Appends a record (durably: fsynced before returning).
    pub fn append(&self, entry: AuditEntry<'_>) -> anyhow::Result<()> {
        let mut head = self.head.lock().unwrap_or_else(|e| e.into_inner());
        let mut record = AuditRecord {
            seq: head.0 + 1,
            ts_ms: entry.ts_ms,
            actor: entry.actor.to_owned(),
            action: entry.action.to_owned(),
            site: entry.site.map(str::to_owned),
            detail: entry.detail.chars().take(2000).collect(),
            prev: head.1.clone(),
            hash: String::new(),
        };
        record.hash = record.compute_hash();
        let line = STANDARD.encode(self.key.seal(CONTEXT, &serde_json::to_vec(&record)?));
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        file.write_all(format!("{line}\n").as_bytes())?;
        file.sync_data()?;
        *head = (record.seq, record.hash);
        Ok(())
    }

    /// Every record, decrypted, without checking the chain.
    pub fn read_all(&self) -> anyhow::Result<Vec<AuditRecord>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        };
        let mut out = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            out.push(self.decode(&line?).with_context(|| format!("audit record on line {} is unreadable", i + 1))?);
        }
        Ok(out)
    }

    fn decode(&self, line: &str) -> anyhow::Result<AuditRecord> {
        let sealed = STANDARD.decode(line.trim()).context("not base64")?;
        let plain = self.key.open(CONTEXT, &sealed)?;
        Ok(serde_json::from_slice(&plain)?)
    }

    /// Checks every record's hash and link. Returns the number of records, or says which record
    /// breaks the chain.
    pub fn verify(&self) -> anyhow::Result<u64> {
        // After retention dropped old records, the chain starts at the anchor they left.
        let (mut seq, mut prev) = self.anchor()?;
        for record in self.read_all()? {
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

    /// Where the chain starts: the genesis, or the last record that retention removed.
    fn anchor(&self) -> anyhow::Result<(u64, String)> {
        let file = crate::sealed_json::SealedJson::new(self.anchor_path(), b"obscura audit anchor v1", self.key.clone());
        let anchor: Option<(u64, String)> = file.load()?;
        Ok(anchor.unwrap_or((0, GENESIS.to_owned())))
    }

    fn anchor_path(&self) -> PathBuf {
        self.path.with_file_name("anchor")
    }

    /// Removes the records older than `cutoff_ms` (the audit log's own retention). The chain stays
    /// verifiable: the last removed record's sequence number and hash become its anchor.
    /// Returns how many records were removed.
    pub fn purge_older_than(&self, cutoff_ms: i64) -> anyhow::Result<usize> {
        // Held so no record is appended while the file is rewritten.
        let _head = self.head.lock().unwrap_or_else(|e| e.into_inner());
        let records = self.read_all()?;
        let removed = records.iter().take_while(|r| r.ts_ms < cutoff_ms).count();
        if removed == 0 {
            return Ok(0);
        }
        let last = &records[removed - 1];
        let anchor = crate::sealed_json::SealedJson::new(self.anchor_path(), b"obscura audit anchor v1", self.key.clone());
        anchor.save(&Some((last.seq, last.hash.clone())))?;
        let text = std::fs::read_to_string(&self.path)?;
        let kept: String = text.lines().skip(removed).map(|l| format!("{l}\n")).collect();
        crate::crypto::write_atomic(&self.path, kept.as_bytes())?;
        Ok(removed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-seals a record as it is (for tests that play an attacker holding the key).
    pub fn seal_line(&self, record: &AuditRecord) -> anyhow::Result<String> {
        Ok(STANDARD.encode(self.key.seal(CONTEXT, &serde_json::to_vec(record)?)))
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
}
