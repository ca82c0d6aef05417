//! The offline queue: events not yet accepted by the server, one JSON line each, in a file that
//! never grows past its bound (the oldest lines go first) and survives the application's exit.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::Event;

/// A bounded file of queued events, oldest first.
pub struct FileQueue {
    path: PathBuf,
    max_bytes: u64,
}

impl FileQueue {
    /// The queue in `dir` (created if missing), holding at most `max_bytes`.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<FileQueue> {
        fs::create_dir_all(dir)?;
        Ok(FileQueue { path: dir.join("obscura-queue.jsonl"), max_bytes })
    }

    /// Every queued event, oldest first; lines that do not parse (a torn last write) are skipped.
    pub fn read(&self) -> io::Result<Vec<Event>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut events = Vec::new();
        for line in BufReader::new(file).lines() {
            if let Ok(event) = serde_json::from_str(&line?) {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// Appends `events`; if the file would outgrow its bound, the oldest events are dropped
    /// (their number is returned) so the newest fit.
    pub fn push(&self, events: &[Event]) -> io::Result<usize> {
        let mut all = self.read()?;
        all.extend_from_slice(events);
        self.replace_with(&all)
    }

    /// Makes `events` the whole queue, the oldest dropped beyond the bound (their number is
    /// returned). Written to a new file, then renamed over the old, so a crash leaves one or
    /// the other.
    pub fn replace_with(&self, events: &[Event]) -> io::Result<usize> {
        let lines: Vec<String> = events.iter().filter_map(|e| serde_json::to_string(e).ok()).collect();
        let mut size: u64 = lines.iter().map(|l| l.len() as u64 + 1).sum();
        let mut first = 0;
        while size > self.max_bytes && first < lines.len() {
            size -= lines[first].len() as u64 + 1;
            first += 1;
        }
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        for line in &lines[first..] {
            writeln!(file, "{line}")?;
        }
        file.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        Ok(first)
    }

    /// Empties the queue.
    pub fn clear(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventKind;

    fn span(i: u32) -> Event {
        Event { kind: EventKind::Span { name: format!("s{i}"), ok: true }, duration_ms: f64::from(i), at_ms: 0 }
    }

    #[test]
    fn sdk_queue_keeps_events_across_opens_and_drops_the_oldest_beyond_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let queue = FileQueue::open(dir.path(), 1_000).unwrap();
        assert!(queue.read().unwrap().is_empty());
        assert_eq!(queue.push(&[span(1), span(2)]).unwrap(), 0);
        let reopened = FileQueue::open(dir.path(), 1_000).unwrap();
        assert_eq!(reopened.read().unwrap(), [span(1), span(2)]);
        let line = serde_json::to_string(&span(1)).unwrap().len() as u64 + 1;
        let small = FileQueue::open(dir.path(), 3 * line + 2).unwrap();
        let dropped = small.push(&[span(3), span(4), span(5)]).unwrap();
        assert_eq!(dropped, 2, "five events, room for three");
        assert_eq!(small.read().unwrap(), [span(3), span(4), span(5)]);
        assert!(std::fs::metadata(dir.path().join("obscura-queue.jsonl")).unwrap().len() <= 3 * line + 2);
        small.clear().unwrap();
        assert!(small.read().unwrap().is_empty());
    }

    #[test]
    fn sdk_queue_skips_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let queue = FileQueue::open(dir.path(), 10_000).unwrap();
        queue.push(&[span(1)]).unwrap();
        let mut file = OpenOptions::new().append(true).open(dir.path().join("obscura-queue.jsonl")).unwrap();
        file.write_all(b"{\"kind\":{\"Sp").unwrap();
        assert_eq!(queue.read().unwrap(), [span(1)]);
    }
}
