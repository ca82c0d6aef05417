//! The embedded store's saved error answers: each finished day's answers to the Errors tab's
//! unfiltered questions ([`crate::error_days`]), sealed under the day's key in
//! `rollups/day=…/errors.sealed`, so they are destroyed with the day and the first view after a
//! start reads them instead of every report.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use time::Date;

use crate::cold;
use crate::crypto::SealedFile;
use crate::error_days::{SavedAnswer, SavedDays};
use crate::keyring::Keyring;

const FILE: &str = "errors.sealed";
/// The cells, apart: the Errors tab's first view needs only the answers.
const CELLS_FILE: &str = "error-cells.sealed";
const CONTEXT: &[u8] = b"obscura error answers v1";

/// The days' saved answers in the rollups folder.
pub(crate) struct ErrorAnswerFiles {
    dir: PathBuf,
    keyring: Arc<Keyring>,
    /// One writer at a time: a save reads the day's file, adds to it and writes it back.
    writing: Mutex<()>,
}

impl ErrorAnswerFiles {
    /// The answers under `dir` (the store's `rollups` folder).
    pub(crate) fn new(dir: PathBuf, keyring: Arc<Keyring>) -> Self {
        ErrorAnswerFiles { dir, keyring, writing: Mutex::new(()) }
    }

    fn sealed(&self, day: Date, cells: bool) -> SealedFile {
        SealedFile::new(cold::day_dir(&self.dir, day).join(if cells { CELLS_FILE } else { FILE }), CONTEXT)
    }
}

impl ErrorAnswerFiles {
    /// `day`'s saved answers, or its cells.
    fn load_day(&self, day: Date, cells: bool) -> anyhow::Result<Vec<SavedAnswer>> {
        // Without the day's key the day is destroyed, and so are its answers.
        let Some(key) = self.keyring.get(day) else { return Ok(Vec::new()) };
        match self.sealed(day, cells).read(&key)? {
            Some(plain) => Ok(serde_json::from_slice(&plain)?),
            None => Ok(Vec::new()),
        }
    }

    /// Adds `answers` (all cells, or none) to `day`'s.
    fn save_day(&self, day: Date, cells: bool, answers: Vec<SavedAnswer>) -> anyhow::Result<()> {
        let Some(key) = self.keyring.get(day) else { return Ok(()) };
        let _one_writer = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let mut all = self.load_day(day, cells).unwrap_or_default();
        all.retain(|old| !answers.iter().any(|new| new.question() == old.question()));
        all.extend(answers);
        std::fs::create_dir_all(cold::day_dir(&self.dir, day))?;
        self.sealed(day, cells).write(&key, &serde_json::to_vec(&all)?)
    }
}

#[async_trait::async_trait]
impl SavedDays for ErrorAnswerFiles {
    async fn load(&self, days: &[Date], cells: bool) -> anyhow::Result<Vec<(Date, SavedAnswer)>> {
        let mut found = Vec::new();
        for &day in days {
            // A day whose answers cannot be read is answered from its rows.
            match self.load_day(day, cells) {
                Ok(answers) => found.extend(answers.into_iter().map(|a| (day, a))),
                Err(e) => tracing::warn!(%day, "cannot read the saved error answers of the day: {e:#}"),
            }
        }
        Ok(found)
    }

    async fn save(&self, answers: Vec<(Date, SavedAnswer)>) -> anyhow::Result<()> {
        let mut by_file: std::collections::BTreeMap<(Date, bool), Vec<SavedAnswer>> = Default::default();
        for (day, answer) in answers {
            by_file.entry((day, answer.is_cells())).or_default().push(answer);
        }
        for ((day, cells), answers) in by_file {
            self.save_day(day, cells, answers)?;
        }
        Ok(())
    }

    async fn remove(&self, day: Date) -> anyhow::Result<()> {
        let _one_writer = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        for cells in [false, true] {
            match std::fs::remove_file(self.sealed(day, cells).path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_days::{ErrorDays, ErrorRows};
    use obscura_query::errors::{ErrorCountRow, IssueSummary};
    use obscura_query::{Dimension, Interval, Query, TimeRange};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use time::macros::date;

    /// Rows that count how often they are read.
    #[derive(Default)]
    struct CountingRows(AtomicUsize);

    #[async_trait::async_trait]
    impl ErrorRows for CountingRows {
        async fn summaries(&self, _: &Query, _: u32) -> Result<Vec<IssueSummary>, crate::StoreError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(Vec::new())
        }
        async fn trend(
            &self,
            _: &Query,
            _: Interval,
            _: &[String],
        ) -> Result<Vec<(String, i64, u64)>, crate::StoreError> {
            Ok(Vec::new())
        }
        async fn counts(&self, _: &Query, _: &Dimension, _: u32) -> Result<Vec<ErrorCountRow>, crate::StoreError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(Vec::new())
        }
        async fn summaries_by_day(&self, q: &Query) -> Result<Vec<(Date, IssueSummary)>, crate::StoreError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            let day = q.range.from.date();
            let summary = IssueSummary {
                fingerprint: "f1".into(),
                events: 7,
                visitors: 3,
                first_ms: 1,
                last_ms: 2,
                props: Some("\u{1}type\u{2}TypeError".into()),
            };
            Ok(vec![(day, summary)])
        }
        async fn counts_by_day(
            &self,
            q: &Query,
            _: &Dimension,
        ) -> Result<Vec<(Date, ErrorCountRow)>, crate::StoreError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(vec![(q.range.from.date(), ErrorCountRow { value: "1.0".into(), events: 7, visitors: 3 })])
        }
        async fn cells_by_day(
            &self,
            q: &Query,
            _: crate::error_cells::Grouping,
        ) -> Result<Vec<(Date, crate::error_cells::CellRow)>, crate::StoreError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            let values = ["f1", "1.0", "production", "Chrome", "Windows"].map(String::from).to_vec();
            let cell = crate::error_cells::CellRow { values, events: 7, visitors: 3, first_ms: 1, last_ms: 2 };
            Ok(vec![(q.range.from.date(), cell)])
        }
        async fn latest(&self, _: &Query, _: u32) -> Result<Vec<crate::StoredRow>, crate::StoreError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn error_days_saved_answers_serve_the_first_view_after_a_start_and_go_with_the_day() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Arc::new(Keyring::open(crate::crypto::Key::random(), dir.path().join("keys")).unwrap());
        let (day, last) = (date!(2026 - 03 - 01), date!(2026 - 03 - 03));
        for d in [day, date!(2026 - 03 - 02), last] {
            keyring.get_or_create(d).unwrap();
        }
        let files = || Arc::new(ErrorAnswerFiles::new(dir.path().join("rollups"), keyring.clone()));
        // Three days: issues over a few days are answered day by day (shorter ranges by hour).
        let q = Query { site: 1, range: TimeRange::days(day, last).unwrap(), filters: Vec::new() };
        let today = date!(2026 - 03 - 10);
        let release = Dimension::Prop("release".into());

        let rows = CountingRows::default();
        let first = ErrorDays::new(None, Some(files()));
        assert_eq!(first.issues(&rows, &q, 10, today).await.unwrap()[0].events, 7);
        first.breakdown(&rows, &q, &release, 10, today).await.unwrap();
        assert_eq!(rows.0.load(Ordering::Relaxed), 2, "read from the rows once each");

        // A new process: the unfiltered answers come from the sealed file, not from the rows.
        let rows = CountingRows::default();
        let started = ErrorDays::new(None, Some(files()));
        let issues = started.issues(&rows, &q, 10, today).await.unwrap();
        assert_eq!((issues[0].fingerprint.as_str(), issues[0].events, issues[0].visitors), ("f1", 7, 3));
        assert_eq!(started.breakdown(&rows, &q, &release, 10, today).await.unwrap()[0].value, "1.0");
        assert_eq!(rows.0.load(Ordering::Relaxed), 0, "no rows read after the start");
        let plain = std::fs::read(files().sealed(day, false).path()).unwrap();
        assert!(!String::from_utf8_lossy(&plain).contains("TypeError"), "sealed, not plain text");

        // A filtered question is answered from the days' cells, read once and saved beside the
        // unfiltered answers; its own answer is not saved.
        let filtered = Query { filters: vec![obscura_query::Filter::parse("prop:release==1.0").unwrap()], ..q.clone() };
        let issues = started.issues(&rows, &filtered, 10, today).await.unwrap();
        assert_eq!((issues[0].events, issues[0].kind.as_deref()), (7, Some("TypeError")), "with the issue's parts");
        assert_eq!(rows.0.load(Ordering::Relaxed), 1, "the cells of the three days in one read");
        assert_eq!(files().load_day(day, false).unwrap().len(), 2, "the two unfiltered answers");
        assert_eq!(files().load_day(day, true).unwrap().len(), 1, "and, apart, the cells");
        let rows = CountingRows::default();
        let other = Query { filters: vec![obscura_query::Filter::parse("browser!=Chrome").unwrap()], ..q.clone() };
        assert!(ErrorDays::new(None, Some(files())).issues(&rows, &other, 10, today).await.unwrap().is_empty());
        assert_eq!(rows.0.load(Ordering::Relaxed), 0, "another filter, after a start, from the saved cells");

        // Forgetting the day (purged, imported into) removes its saved answers.
        started.forget(day).await;
        assert!(files().load_day(day, false).unwrap().is_empty() && files().load_day(day, true).unwrap().is_empty());
        let again = ErrorDays::new(None, Some(files()));
        again.issues(&CountingRows::default(), &q, 10, today).await.unwrap();

        // Without the day's key (destroyed) nothing is read or written.
        keyring.destroy(day).unwrap();
        assert!(files().load_day(day, false).unwrap().is_empty() && files().load_day(day, true).unwrap().is_empty());
    }
}
