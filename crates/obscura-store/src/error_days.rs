//! The error questions over long ranges, answered day by day: a finished day's answer (its
//! issues, or its reports per value of a dimension, for the question's filters) never changes
//! until the day is destroyed, purged or imported into, so each is kept in memory once asked
//! and a 30-day Errors tab merges thirty small answers instead of reading every report again.
//! Visitors add up across days exactly because visitor hashes change every day (P2). Today and
//! ranges that are not whole days are read from the rows. Both backends answer through this.
//!
//! Bounded: at most [`MAX_BYTES`] of answers in all (the least recently used days go first),
//! [`MAX_PER_DAY`] per day's answer. Where other nodes can change a day (ClickHouse), an answer
//! older than [`TTL`] is asked again, so their purge shows within minutes. The server's
//! maintenance asks the Errors tab's questions every minute, so the first view finds them;
//! where the backend can keep them ([`SavedDays`]), answers to unfiltered questions are saved
//! too, so the first view after a start reads thirty small answers rather than every report.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use obscura_query::errors::{ErrorCountRow, IssueRow, IssueSummary, assemble, trend_interval};
use obscura_query::{Dimension, Interval, Query, TimeRange};
use time::Date;

use crate::StoreError;
use crate::error_cells::{CellRow, DayCells, Grouping};

/// Bytes of answers kept in all, approximately.
pub(crate) const MAX_BYTES: usize = 64 << 20;
/// Rows of one day's answer: issues (or values) beyond are left out of the merge.
pub(crate) const MAX_PER_DAY: u32 = 5_000;
/// How long a day's answer is trusted.
pub(crate) const TTL: Duration = Duration::from_secs(600);

/// What a backend reads from its rows.
#[async_trait]
pub(crate) trait ErrorRows: Send + Sync {
    /// Issue summaries of `q`, the `limit` with the most reports.
    async fn summaries(&self, q: &Query, limit: u32) -> Result<Vec<IssueSummary>, StoreError>;
    /// Reports per issue of `fingerprints` and bucket of `interval`.
    async fn trend(
        &self,
        q: &Query,
        interval: Interval,
        fingerprints: &[String],
    ) -> Result<Vec<(String, i64, u64)>, StoreError>;
    /// Reports and visitors per value of `dim`.
    async fn counts(&self, q: &Query, dim: &Dimension, limit: u32) -> Result<Vec<ErrorCountRow>, StoreError>;
    /// Issue summaries per day of `q` (whole days), every issue.
    async fn summaries_by_day(&self, q: &Query) -> Result<Vec<(Date, IssueSummary)>, StoreError>;
    /// Reports and visitors per day of `q` (whole days) and value of `dim`, every value.
    async fn counts_by_day(&self, q: &Query, dim: &Dimension) -> Result<Vec<(Date, ErrorCountRow)>, StoreError>;
    /// Reports and visitors per day of `q` (whole days, no filters) and cell of `grouping`.
    async fn cells_by_day(&self, q: &Query, grouping: Grouping) -> Result<Vec<(Date, CellRow)>, StoreError>;
    /// The latest `limit` reports, newest first.
    async fn latest(&self, q: &Query, limit: u32) -> Result<Vec<crate::StoredRow>, StoreError>;
}

/// The latest `limit` reports of `q`, newest first, read a day at a time from the last day
/// back (each day its own partition), so a long range stops at the day that fills the page.
pub(crate) async fn latest_reports(
    rows: &dyn ErrorRows,
    q: &Query,
    limit: u32,
) -> Result<Vec<crate::StoredRow>, StoreError> {
    if !q.range.is_whole_days() {
        return rows.latest(q, limit).await;
    }
    let (first, mut day) = (q.range.from.date(), (q.range.to - time::Duration::milliseconds(1)).date());
    let mut found = Vec::new();
    while found.len() < limit as usize && day >= first {
        if let Some(one) = day_query(q, day) {
            found.extend(rows.latest(&one, limit - found.len() as u32).await?);
        }
        let Some(before) = day.previous_day() else { break };
        day = before;
    }
    Ok(found)
}

#[derive(Clone)]
enum Answer {
    Issues(Arc<Vec<IssueSummary>>),
    Counts(Arc<Vec<ErrorCountRow>>),
    Cells(Arc<DayCells>),
}

/// An answer's rows, as saved.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Saved {
    Issues(Vec<IssueSummary>),
    Counts(Vec<ErrorCountRow>),
    Cells(DayCells),
}

impl From<Saved> for Answer {
    fn from(saved: Saved) -> Answer {
        match saved {
            Saved::Issues(rows) => Answer::Issues(Arc::new(rows)),
            Saved::Counts(rows) => Answer::Counts(Arc::new(rows)),
            Saved::Cells(cells) => Answer::Cells(Arc::new(cells)),
        }
    }
}

/// A finished day's answer to one site's unfiltered question, as saved.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct SavedAnswer {
    site: u32,
    question: String,
    answer: Saved,
}

impl SavedAnswer {
    /// Which site and question it answers.
    pub(crate) fn question(&self) -> (u32, &str) {
        (self.site, &self.question)
    }

    /// Whether it holds a day's cells rather than an answer.
    pub(crate) fn is_cells(&self) -> bool {
        matches!(self.answer, Saved::Cells(_))
    }
}

/// Where a backend keeps finished days' answers across starts; each day's are destroyed with
/// the day (the embedded store seals them under the day's key, ClickHouse drops their
/// partition with the day's).
#[async_trait]
pub(crate) trait SavedDays: Send + Sync {
    /// The saved answers of `days`, every site's — the cells when `cells`, the other answers
    /// otherwise (each is read only when needed); none for a day without any.
    async fn load(&self, days: &[Date], cells: bool) -> anyhow::Result<Vec<(Date, SavedAnswer)>>;
    /// Adds `answers`, replacing those to the same day, site and question.
    async fn save(&self, answers: Vec<(Date, SavedAnswer)>) -> anyhow::Result<()>;
    /// Removes `day`'s answers.
    async fn remove(&self, day: Date) -> anyhow::Result<()>;
}

impl Answer {
    /// Approximate bytes held.
    fn weight(&self) -> usize {
        match self {
            Answer::Issues(rows) => {
                rows.iter().map(|r| 96 + r.fingerprint.len() + r.props.as_ref().map_or(0, String::len)).sum()
            }
            Answer::Counts(rows) => rows.iter().map(|r| 48 + r.value.len()).sum(),
            Answer::Cells(cells) => cells.weight(),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    site: u32,
    day: Date,
    /// The question: `issues` or the dimension, and the filters.
    question: String,
}

#[derive(Default)]
struct Entries {
    answers: HashMap<Key, (Answer, Instant)>,
    /// Keys from least to most recently used.
    order: VecDeque<Key>,
    bytes: usize,
}

/// The finished days' answers.
#[derive(Default)]
pub(crate) struct ErrorDays {
    entries: Mutex<Entries>,
    /// How long an answer is trusted; `None`: until its day changes here (one node alone).
    ttl: Option<Duration>,
    /// Where unfiltered answers are kept across starts, and the days read from it since.
    saved: Option<(Arc<dyn SavedDays>, DaysRead)>,
}

/// The days whose saved answers (`false`) or cells (`true`) were put in memory since the start.
type DaysRead = Mutex<std::collections::HashSet<(Date, bool)>>;

/// `q`'s finished whole days (before `today`) and the query of the rest, if any: `None` for
/// the days when the range is not whole days.
fn split(q: &Query, today: Date) -> (Vec<Date>, Option<Query>) {
    if !q.range.is_whole_days() {
        return (Vec::new(), Some(q.clone()));
    }
    let (first, last) = (q.range.from.date(), (q.range.to - time::Duration::milliseconds(1)).date());
    let finished: Vec<Date> =
        std::iter::successors(Some(first), |d| d.next_day()).take_while(|d| *d <= last && *d < today).collect();
    let rest_from = finished.last().and_then(|d| d.next_day()).unwrap_or(first);
    let rest = (rest_from <= last).then(|| TimeRange::days(rest_from, last).ok()).flatten();
    (finished, rest.map(|range| Query { range, ..q.clone() }))
}

/// The first day not yet finished by `clock`: a day counts as finished two minutes after it
/// ended, when reports received at its last moment have been committed.
pub(crate) fn finished_before(clock: &dyn obscura_model::Clock) -> Date {
    (clock.now() - time::Duration::minutes(2)).date()
}

/// `q` for one day.
fn day_query(q: &Query, day: Date) -> Option<Query> {
    TimeRange::days(day, day).ok().map(|range| Query { range, ..q.clone() })
}

impl ErrorDays {
    /// Answers trusted for `ttl` (`None`: until their day changes through this store), the
    /// unfiltered ones and the cells also kept in `saved` where the backend keeps them.
    pub(crate) fn new(ttl: Option<Duration>, saved: Option<Arc<dyn SavedDays>>) -> Self {
        ErrorDays { entries: Mutex::default(), ttl, saved: saved.map(|s| (s, Mutex::default())) }
    }

    /// Forgets every answer about `day` (destroyed, purged or imported into), saved ones too.
    /// Called before the change; an answer asked while it runs lives at most [`TTL`].
    pub(crate) async fn forget(&self, day: Date) {
        if let Some((saved, read)) = &self.saved {
            read.lock().unwrap_or_else(|e| e.into_inner()).retain(|(d, _)| *d != day);
            if let Err(e) = saved.remove(day).await {
                tracing::warn!(%day, "cannot remove the saved error answers of the day: {e:#}");
            }
        }
        let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let gone: Vec<Key> = e.answers.keys().filter(|k| k.day == day).cloned().collect();
        for key in gone {
            if let Some((answer, _)) = e.answers.remove(&key) {
                e.bytes -= answer.weight();
            }
            e.order.retain(|k| *k != key);
        }
    }

    fn get(&self, key: &Key) -> Option<Answer> {
        let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (answer, at) = e.answers.get(key).cloned()?;
        if self.ttl.is_some_and(|ttl| at.elapsed() > ttl) {
            return None;
        }
        e.order.retain(|k| k != key);
        e.order.push_back(key.clone());
        Some(answer)
    }

    fn put(&self, key: Key, answer: Answer) {
        let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((old, _)) = e.answers.remove(&key) {
            e.bytes -= old.weight();
            e.order.retain(|k| *k != key);
        }
        e.bytes += answer.weight();
        e.answers.insert(key.clone(), (answer, Instant::now()));
        e.order.push_back(key);
        while e.bytes > MAX_BYTES {
            let Some(oldest) = e.order.pop_front() else { break };
            if let Some((answer, _)) = e.answers.remove(&oldest) {
                e.bytes -= answer.weight();
            }
        }
    }

    fn issues_key(q: &Query, day: Date) -> Key {
        Key { site: q.site, day, question: format!("issues {:?}", q.filters) }
    }

    fn counts_key(q: &Query, dim: &Dimension, day: Date) -> Key {
        Key { site: q.site, day, question: format!("{} {:?}", dim.name(), q.filters) }
    }

    /// Puts the saved answers of those of `days` not read since the start in memory; a day
    /// whose answers cannot be read is answered from its rows.
    async fn read_saved(&self, days: &[Date], cells: bool) {
        let Some((saved, read)) = &self.saved else { return };
        let unread: Vec<Date> = {
            let mut read = read.lock().unwrap_or_else(|e| e.into_inner());
            days.iter().copied().filter(|day| read.insert((*day, cells))).collect()
        };
        if unread.is_empty() {
            return;
        }
        match saved.load(&unread, cells).await {
            Ok(answers) => {
                for (day, a) in answers {
                    self.put(Key { site: a.site, day, question: a.question }, a.answer.into());
                }
            }
            Err(e) => tracing::warn!("cannot read the saved error answers of {} days: {e:#}", unread.len()),
        }
    }

    /// Keeps the answers read from rows for `days` (those of the span read): each day's rows,
    /// most reports first and at most [`MAX_PER_DAY`], in memory and, for an unfiltered question
    /// where the backend keeps answers, saved.
    async fn keep_read<'d, T>(
        &self,
        q: &Query,
        days: impl Iterator<Item = &'d Date>,
        mut by_day: HashMap<Date, Vec<T>>,
        key: impl Fn(Date) -> Key,
        reports: impl Fn(&T) -> u64,
        rows: impl Fn(Vec<T>) -> Saved,
    ) {
        let mut answers = Vec::new();
        for day in days {
            let mut answer = by_day.remove(day).unwrap_or_default();
            answer.sort_by_key(|a| std::cmp::Reverse(reports(a)));
            answer.truncate(MAX_PER_DAY as usize);
            answers.push((key(*day), rows(answer)));
        }
        self.keep(answers, q.filters.is_empty()).await;
    }

    /// Keeps `answers` in memory and, when `save` and the backend keeps answers, saved (in one
    /// write, before they are used, so that a day forgotten meanwhile cannot keep a stale one).
    async fn keep(&self, answers: Vec<(Key, Saved)>, save: bool) {
        if let Some((saved, _)) = self.saved.as_ref().filter(|_| save && !answers.is_empty()) {
            let all = answers
                .iter()
                .map(|(key, answer)| {
                    (key.day, SavedAnswer { site: key.site, question: key.question.clone(), answer: answer.clone() })
                })
                .collect();
            if let Err(e) = saved.save(all).await {
                tracing::warn!("cannot save {} error answers: {e:#}", answers.len());
            }
        }
        for (key, answer) in answers {
            self.put(key, answer.into());
        }
    }

    /// The finished days' cells of `grouping` for `q`'s site, those missing read in one pass
    /// and kept (saved too: cells do not depend on the question's filters); `None` when a day
    /// has too many cells to keep, so its questions go to the rows.
    async fn day_cells(
        &self,
        rows: &dyn ErrorRows,
        q: &Query,
        grouping: Grouping,
        days: &[Date],
    ) -> Result<Option<Vec<Arc<DayCells>>>, StoreError> {
        let plain = Query { filters: Vec::new(), ..q.clone() };
        let key = |day: Date| Key { site: q.site, day, question: grouping.name().to_owned() };
        let mut found: HashMap<Date, Arc<DayCells>> = HashMap::new();
        if let Some(span) = self.missing_span(&plain, days, key, true).await {
            let mut by_day: HashMap<Date, Vec<CellRow>> = HashMap::new();
            for (day, row) in rows.cells_by_day(&span, grouping).await? {
                by_day.entry(day).or_default().push(row);
            }
            let mut read = Vec::new();
            for day in days.iter().filter(|d| span.range.contains_day(**d)) {
                let cells = DayCells::new(by_day.remove(day).unwrap_or_default());
                found.insert(*day, Arc::new(cells.clone()));
                read.push((key(*day), Saved::Cells(cells)));
            }
            self.keep(read, true).await;
        }
        let mut all = Vec::with_capacity(days.len());
        for day in days {
            let cells = match found.remove(day) {
                Some(cells) => cells,
                None => match self.get(&key(*day)) {
                    Some(Answer::Cells(cells)) => cells,
                    _ => return Ok(None),
                },
            };
            if !cells.complete() {
                return Ok(None);
            }
            all.push(cells);
        }
        Ok(Some(all))
    }

    /// The finished days' issues of a filtered `q` from the cells of `grouping`, each issue's
    /// properties from the day's unfiltered answer; `None` where the cells cannot answer.
    async fn issues_from_cells(
        &self,
        rows: &dyn ErrorRows,
        q: &Query,
        grouping: Grouping,
        days: &[Date],
    ) -> Result<Option<Vec<(Date, Arc<Vec<IssueSummary>>)>>, StoreError> {
        let Some(cells) = self.day_cells(rows, q, grouping, days).await? else { return Ok(None) };
        let latest = self.asked_issues(rows, &Query { filters: Vec::new(), ..q.clone() }, days).await?;
        Ok(Some(
            cells
                .iter()
                .zip(latest)
                .map(|(cells, (day, latest))| {
                    let props = latest.iter().map(|s| (s.fingerprint.as_str(), s.props.as_deref())).collect();
                    (day, Arc::new(cells.issues(grouping, &q.filters, &props)))
                })
                .collect(),
        ))
    }

    /// The span from the first to the last of `days` whose answer is missing, as a query.
    async fn missing_span(&self, q: &Query, days: &[Date], key: impl Fn(Date) -> Key, cells: bool) -> Option<Query> {
        if q.filters.is_empty() {
            self.read_saved(days, cells).await;
        }
        let missing: Vec<Date> = days.iter().copied().filter(|d| self.get(&key(*d)).is_none()).collect();
        let range = TimeRange::days(*missing.first()?, *missing.last()?).ok()?;
        Some(Query { range, ..q.clone() })
    }

    /// The finished days' issues of `q`: a filtered question from the cells that hold its
    /// filters, if any do, otherwise (and always for the unfiltered one) from its own answers.
    async fn day_issues(
        &self,
        rows: &dyn ErrorRows,
        q: &Query,
        days: &[Date],
    ) -> Result<Vec<(Date, Arc<Vec<IssueSummary>>)>, StoreError> {
        if let Some(grouping) = Grouping::holding(&q.filters, None).filter(|_| !q.filters.is_empty())
            && let Some(found) = self.issues_from_cells(rows, q, grouping, days).await?
        {
            return Ok(found);
        }
        self.asked_issues(rows, q, days).await
    }

    /// The finished days' answers to `q`'s issue question, those missing read in one pass over
    /// their span.
    async fn asked_issues(
        &self,
        rows: &dyn ErrorRows,
        q: &Query,
        days: &[Date],
    ) -> Result<Vec<(Date, Arc<Vec<IssueSummary>>)>, StoreError> {
        if let Some(span) = self.missing_span(q, days, |d| Self::issues_key(q, d), false).await {
            let mut by_day: HashMap<Date, Vec<IssueSummary>> = HashMap::new();
            for (day, s) in rows.summaries_by_day(&span).await? {
                by_day.entry(day).or_default().push(s);
            }
            let read = days.iter().filter(|d| span.range.contains_day(**d));
            self.keep_read(q, read, by_day, |d| Self::issues_key(q, d), |s| s.events, Saved::Issues).await;
        }
        Ok(days
            .iter()
            .map(|d| match self.get(&Self::issues_key(q, *d)) {
                Some(Answer::Issues(found)) => (*d, found),
                _ => (*d, Arc::default()),
            })
            .collect())
    }

    /// The finished days' answers per value of `dim`, those missing read in one pass; a
    /// filtered question from the cells that hold its filters and `dim`, if any do.
    async fn day_counts(
        &self,
        rows: &dyn ErrorRows,
        q: &Query,
        dim: &Dimension,
        days: &[Date],
    ) -> Result<Vec<Arc<Vec<ErrorCountRow>>>, StoreError> {
        if let Some(grouping) = Grouping::holding(&q.filters, Some(dim)).filter(|_| !q.filters.is_empty())
            && let Some(cells) = self.day_cells(rows, q, grouping, days).await?
        {
            return Ok(cells.iter().map(|c| Arc::new(c.counts(grouping, &q.filters, dim))).collect());
        }
        if let Some(span) = self.missing_span(q, days, |d| Self::counts_key(q, dim, d), false).await {
            let mut by_day: HashMap<Date, Vec<ErrorCountRow>> = HashMap::new();
            for (day, r) in rows.counts_by_day(&span, dim).await? {
                by_day.entry(day).or_default().push(r);
            }
            let read = days.iter().filter(|d| span.range.contains_day(**d));
            self.keep_read(q, read, by_day, |d| Self::counts_key(q, dim, d), |r| r.events, Saved::Counts).await;
        }
        Ok(days
            .iter()
            .map(|d| match self.get(&Self::counts_key(q, dim, *d)) {
                Some(Answer::Counts(found)) => found,
                _ => Arc::default(),
            })
            .collect())
    }

    /// The issues of `q` (see `EventStore::issues`), finished days from their answers.
    pub(crate) async fn issues(
        &self,
        rows: &dyn ErrorRows,
        q: &Query,
        limit: u32,
        today: Date,
    ) -> Result<Vec<IssueRow>, StoreError> {
        let interval = trend_interval(q);
        let (days, rest) = split(q, today);
        if days.is_empty() || interval == Interval::Hour {
            let summaries = rows.summaries(q, limit).await?;
            return trended(rows, q, interval, summaries, Vec::new()).await;
        }
        let mut merged: HashMap<String, IssueSummary> = HashMap::new();
        let mut per_day: Vec<(String, i64, u64)> = Vec::new();
        let mut add = |s: &IssueSummary| match merged.get_mut(&s.fingerprint) {
            Some(m) => {
                m.events += s.events;
                m.visitors += s.visitors;
                m.first_ms = m.first_ms.min(s.first_ms);
                if s.last_ms >= m.last_ms {
                    m.last_ms = s.last_ms;
                    m.props = s.props.clone();
                }
            }
            None => {
                merged.insert(s.fingerprint.clone(), s.clone());
            }
        };
        for (day, answer) in self.day_issues(rows, q, &days).await? {
            let day_ms = obscura_model::unix_ms(day.midnight().assume_utc());
            for s in answer.iter() {
                add(s);
                per_day.push((s.fingerprint.clone(), day_ms, s.events));
            }
        }
        if let Some(rest) = &rest {
            for s in rows.summaries(rest, MAX_PER_DAY).await? {
                add(&s);
            }
        }
        let mut summaries: Vec<IssueSummary> = merged.into_values().collect();
        summaries.sort_by(|a, b| {
            b.events.cmp(&a.events).then(b.last_ms.cmp(&a.last_ms)).then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        summaries.truncate(limit as usize);
        // Days from their answers, weeks from the days; the rest's buckets from its rows.
        let wanted: std::collections::HashSet<&str> = summaries.iter().map(|s| s.fingerprint.as_str()).collect();
        let mut trend: Vec<(String, i64, u64)> =
            per_day.into_iter().filter(|(f, _, _)| wanted.contains(f.as_str())).collect();
        if let Some(rest) = &rest {
            let fingerprints: Vec<String> = summaries.iter().map(|s| s.fingerprint.clone()).collect();
            if !fingerprints.is_empty() {
                trend.extend(rows.trend(rest, Interval::Day, &fingerprints).await?);
            }
        }
        if interval == Interval::Week {
            let week = |ms: i64| (ms - 345_600_000).div_euclid(604_800_000) * 604_800_000 + 345_600_000;
            let mut weeks: HashMap<(String, i64), u64> = HashMap::new();
            for (f, day_ms, n) in trend {
                *weeks.entry((f, week(day_ms))).or_default() += n;
            }
            trend = weeks.into_iter().map(|((f, w), n)| (f, w, n)).collect();
        }
        Ok(assemble(summaries, trend, q))
    }

    /// Reports and visitors per value of `dim` (see `EventStore::error_breakdown`), finished
    /// days from their answers.
    pub(crate) async fn breakdown(
        &self,
        rows: &dyn ErrorRows,
        q: &Query,
        dim: &Dimension,
        limit: u32,
        today: Date,
    ) -> Result<Vec<ErrorCountRow>, StoreError> {
        let (days, rest) = split(q, today);
        if days.is_empty() {
            return rows.counts(q, dim, limit).await;
        }
        let mut merged: HashMap<String, (u64, u64)> = HashMap::new();
        let mut add = |r: &ErrorCountRow| {
            let m = merged.entry(r.value.clone()).or_default();
            m.0 += r.events;
            m.1 += r.visitors;
        };
        for answer in self.day_counts(rows, q, dim, &days).await? {
            answer.iter().for_each(&mut add);
        }
        if let Some(rest) = &rest {
            rows.counts(rest, dim, MAX_PER_DAY).await?.iter().for_each(&mut add);
        }
        let mut out: Vec<ErrorCountRow> =
            merged.into_iter().map(|(value, (events, visitors))| ErrorCountRow { value, events, visitors }).collect();
        out.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.value.cmp(&b.value)));
        out.truncate(limit as usize);
        Ok(out)
    }
}

/// Issues with their trend read from the rows.
async fn trended(
    rows: &dyn ErrorRows,
    q: &Query,
    interval: Interval,
    summaries: Vec<IssueSummary>,
    mut trend: Vec<(String, i64, u64)>,
) -> Result<Vec<IssueRow>, StoreError> {
    let fingerprints: Vec<String> = summaries.iter().map(|s| s.fingerprint.clone()).collect();
    if !fingerprints.is_empty() {
        trend.extend(rows.trend(q, interval, &fingerprints).await?);
    }
    Ok(assemble(summaries, trend, q))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn q(first: Date, last: Date) -> Query {
        Query { site: 1, range: TimeRange::days(first, last).unwrap(), filters: Vec::new() }
    }

    #[test]
    fn error_days_split_finished_days_from_today() {
        let (days, rest) = split(&q(date!(2026 - 03 - 01), date!(2026 - 03 - 05)), date!(2026 - 03 - 04));
        assert_eq!(days, [date!(2026 - 03 - 01), date!(2026 - 03 - 02), date!(2026 - 03 - 03)]);
        assert_eq!(rest.unwrap().range, TimeRange::days(date!(2026 - 03 - 04), date!(2026 - 03 - 05)).unwrap());
        let (days, rest) = split(&q(date!(2026 - 03 - 01), date!(2026 - 03 - 02)), date!(2026 - 03 - 10));
        assert_eq!((days.len(), rest), (2, None), "all finished");
    }

    #[tokio::test]
    async fn error_days_keep_at_most_their_bytes_and_forget_a_day() {
        let cache = ErrorDays::default();
        // Each row weighs 49 bytes.
        let counts =
            |n: usize| Answer::Counts(Arc::new(vec![ErrorCountRow { value: "x".into(), events: 1, visitors: 1 }; n]));
        let half = MAX_BYTES / 2 / 49;
        let key = |d: Date| Key { site: 1, day: d, question: "browser []".into() };
        cache.put(key(date!(2026 - 03 - 01)), counts(half));
        cache.put(key(date!(2026 - 03 - 02)), counts(half));
        assert!(cache.get(&key(date!(2026 - 03 - 01))).is_some(), "used: now the most recent");
        cache.put(key(date!(2026 - 03 - 03)), counts(10));
        assert!(cache.get(&key(date!(2026 - 03 - 02))).is_none(), "the least recently used went");
        assert!(cache.entries.lock().unwrap().bytes <= MAX_BYTES);
        cache.forget(date!(2026 - 03 - 01)).await;
        assert!(cache.get(&key(date!(2026 - 03 - 01))).is_none());
        assert_eq!(cache.entries.lock().unwrap().bytes, 490);
    }
}
