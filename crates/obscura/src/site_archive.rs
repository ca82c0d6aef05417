//! The full-site export's file, for moving a site between installations: a ZIP of
//!
//! - `site.json`: the [`Manifest`] (format and version, when, the site's settings with its goals
//!   and funnels, and what the file holds);
//! - `events/<day>.ndjson`: the site's desensitized events of a day within retention, one
//!   stored row per line, their visitor and visit numbers re-keyed for the file
//!   ([`obscura_privacy::Rekey`]);
//! - `kept/<day>.json`: what is kept of a day past retention ([`KeptFile`]): k-anonymous traffic
//!   aggregates and speed cells.
//!
//! Written by `obscura export site`, read by `obscura import obscura`.

use std::io::BufRead;

use obscura_model::{format_day, parse_day};
use obscura_store::meta::Site;
use obscura_store::{DayCell, RollupCell};
use serde::{Deserialize, Serialize};
use time::Date;

/// What `format` says in every full-site export.
pub const FORMAT: &str = "obscura-site-export";

/// The version this build writes, and the newest it reads.
pub const VERSION: u32 = 1;

/// The manifest's entry.
pub const MANIFEST: &str = "site.json";

/// `site.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The file's layout version ([`VERSION`]).
    pub version: u32,
    /// When it was written, milliseconds since the epoch (UTC).
    pub exported_ms: i64,
    /// The site as configured where it was exported: domain, settings, goals and funnels.
    pub site: Site,
    /// How many events the `events/` entries hold.
    pub events: u64,
    /// How many days have events.
    pub event_days: u32,
    /// How many days have kept aggregates.
    pub kept_days: u32,
}

/// `kept/<day>.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct KeptFile {
    /// Traffic cells (the site's totals have dimension `""`).
    pub aggregates: Vec<RollupCell>,
    /// Speed cells.
    pub measures: Vec<DayCell>,
}

/// What an entry of the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    /// `events/<day>.ndjson`.
    Events(Date),
    /// `kept/<day>.json`.
    Kept(Date),
}

impl Entry {
    /// The entry's name in the ZIP.
    pub fn name(self) -> String {
        match self {
            Entry::Events(day) => format!("events/{}.ndjson", format_day(day)),
            Entry::Kept(day) => format!("kept/{}.json", format_day(day)),
        }
    }

    /// The entry a name stands for; `None` for the manifest and anything else.
    pub fn parse(name: &str) -> Option<Entry> {
        if let Some(day) = name.strip_prefix("events/").and_then(|n| n.strip_suffix(".ndjson")) {
            return parse_day(day).map(Entry::Events);
        }
        let day = name.strip_prefix("kept/").and_then(|n| n.strip_suffix(".json"))?;
        parse_day(day).map(Entry::Kept)
    }
}

/// The longest line read from an entry; a longer one is unreadable, not a reason to run out
/// of memory.
pub const MAX_LINE: usize = 1 << 20;

/// The next line of `reader` (without its line break), or `None` at the end. A line longer
/// than [`MAX_LINE`] is skipped to its end and returned as `Err` with its length so far.
pub fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<Result<(), usize>>> {
    line.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((!line.is_empty() || too_long).then_some(if too_long { Err(line.len()) } else { Ok(()) }));
        }
        let (part, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], i + 1),
            None => (available, available.len()),
        };
        let ended = done > part.len();
        if !too_long {
            if line.len() + part.len() > MAX_LINE {
                too_long = true;
            } else {
                line.extend_from_slice(part);
            }
        }
        reader.consume(done);
        if ended {
            return Ok(Some(if too_long { Err(line.len()) } else { Ok(()) }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_archive_entries_name_their_days() {
        let day = time::macros::date!(2026 - 11 - 02);
        for entry in [Entry::Events(day), Entry::Kept(day)] {
            assert_eq!(Entry::parse(&entry.name()), Some(entry));
        }
        assert_eq!(Entry::Events(day).name(), "events/2026-11-02.ndjson");
        assert_eq!(Entry::parse(MANIFEST), None);
        assert_eq!(Entry::parse("events/yesterday.ndjson"), None);
        assert_eq!(Entry::parse("../events/2026-11-02.ndjson"), None);
    }

    #[test]
    fn site_archive_lines_longer_than_the_cap_are_skipped_whole() {
        let long = "x".repeat(MAX_LINE + 10);
        let text = format!("a\n{long}\nb");
        let mut reader = std::io::BufReader::with_capacity(1000, text.as_bytes());
        let mut line = Vec::new();
        let mut seen = Vec::new();
        while let Some(read) = next_line(&mut reader, &mut line).unwrap() {
            seen.push(read.map(|()| String::from_utf8(line.clone()).unwrap()));
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], Ok("a".to_owned()));
        assert!(seen[1].is_err());
        assert_eq!(seen[2], Ok("b".to_owned()));
    }
}
