//! ClickHouse's saved error answers: each finished day's answers to the Errors tab's unfiltered
//! questions and its cells ([`crate::error_days`]), in table `error_answers` on the first shard,
//! one partition per day, dropped when the day is destroyed, purged or imported into. The first
//! view after any node starts reads them instead of every report. Several nodes may save the
//! same answer: the latest saved wins, and the table keeps one per day, site and question.

use std::collections::HashMap;
use std::sync::Arc;

use obscura_model::Clock;
use serde::{Deserialize, Serialize};
use time::Date;

use super::rows::{day_number, day_of_number};
use crate::error_days::{SavedAnswer, SavedDays};

/// One saved answer: the whole [`SavedAnswer`] as JSON, with its day, site and question as
/// columns so the table keeps the latest of each.
#[derive(clickhouse::Row, Serialize, Deserialize)]
struct AnswerRow {
    day: u16,
    site: u32,
    question: String,
    answer: String,
    saved_ms: i64,
}

/// The `error_answers` table.
pub(super) struct ErrorAnswerTable {
    /// The first shard, with the database.
    client: clickhouse::Client,
    clock: Arc<dyn Clock>,
}

impl ErrorAnswerTable {
    pub(super) fn new(client: clickhouse::Client, clock: Arc<dyn Clock>) -> Self {
        ErrorAnswerTable { client, clock }
    }
}

#[async_trait::async_trait]
impl SavedDays for ErrorAnswerTable {
    async fn load(&self, days: &[Date], cells: bool) -> anyhow::Result<Vec<(Date, SavedAnswer)>> {
        let (Some(first), Some(last)) = (days.iter().min(), days.iter().max()) else { return Ok(Vec::new()) };
        let rows: Vec<AnswerRow> = self
            .client
            .query(
                "SELECT day, site, question, answer, saved_ms FROM error_answers \
                 WHERE day >= toDate(?) AND day <= toDate(?) AND (question LIKE 'cells %') = ?",
            )
            .bind(obscura_model::format_day(*first))
            .bind(obscura_model::format_day(*last))
            .bind(u8::from(cells))
            .fetch_all()
            .await?;
        let mut latest: HashMap<(u16, u32, String), AnswerRow> = HashMap::new();
        for row in rows {
            let key = (row.day, row.site, row.question.clone());
            if latest.get(&key).is_none_or(|kept| kept.saved_ms <= row.saved_ms) {
                latest.insert(key, row);
            }
        }
        let mut found = Vec::new();
        for row in latest.into_values() {
            let day = day_of_number(row.day);
            if days.contains(&day) {
                found.push((day, serde_json::from_str(&row.answer)?));
            }
        }
        Ok(found)
    }

    async fn save(&self, answers: Vec<(Date, SavedAnswer)>) -> anyhow::Result<()> {
        let saved_ms = obscura_model::unix_ms(self.clock.now());
        let mut insert = self.client.insert::<AnswerRow>("error_answers").await?;
        for (day, answer) in answers {
            let (site, question) = answer.question();
            let row = AnswerRow {
                day: day_number(day),
                site,
                question: question.to_owned(),
                answer: serde_json::to_string(&answer)?,
                saved_ms,
            };
            insert.write(&row).await?;
        }
        Ok(insert.end().await?)
    }

    async fn remove(&self, day: Date) -> anyhow::Result<()> {
        self.client.query("ALTER TABLE error_answers DROP PARTITION ?").bind(super::yyyymmdd(day)).execute().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[tokio::test]
    async fn clickhouse_error_answers_round_trip_the_latest_and_go_with_the_day() {
        let url = super::super::current_release_tests::shards().remove(0);
        let database = format!("obscura_answers_{}", rand::random::<u32>());
        let server = clickhouse::Client::default().with_url(&url).with_validation(false);
        server.query(&format!("CREATE DATABASE {database}")).execute().await.unwrap();
        for statement in super::super::schema::rollup_tables(&database) {
            server.query(&statement).execute().await.unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let clock = Arc::new(obscura_model::ManualClock::new(datetime!(2026-03-10 12:00 UTC)));
        let table = ErrorAnswerTable::new(server.clone().with_database(&database), clock.clone());
        let answer = |events: u64| -> SavedAnswer {
            serde_json::from_value(serde_json::json!({
                "site": 1, "question": "browser []",
                "answer": {"counts": [{"value": "Firefox", "events": events, "visitors": 1}]}
            }))
            .unwrap()
        };
        let (day, other) = (date!(2026 - 03 - 01), date!(2026 - 03 - 02));
        table.save(vec![(day, answer(1)), (other, answer(5))]).await.unwrap();
        clock.advance(time::Duration::seconds(1));
        table.save(vec![(day, answer(2))]).await.unwrap();
        let events = |found: Vec<(Date, SavedAnswer)>| -> Vec<(Date, String)> {
            let mut found: Vec<_> = found.into_iter().map(|(d, a)| (d, serde_json::to_string(&a).unwrap())).collect();
            found.sort();
            found
        };
        let loaded = events(table.load(&[day], false).await.unwrap());
        assert_eq!(loaded.len(), 1, "one answer per day, site and question: {loaded:?}");
        assert!(loaded[0].1.contains(r#""events":2"#), "the latest saved: {loaded:?}");
        assert_eq!(table.load(&[day, other], false).await.unwrap().len(), 2);
        let cells: SavedAnswer = serde_json::from_value(serde_json::json!({
            "site": 1, "question": "cells context", "answer": {"cells": {"names": [], "cells": [], "overflow": false}}
        }))
        .unwrap();
        table.save(vec![(other, cells)]).await.unwrap();
        let (answers, cells) = (table.load(&[other], false).await.unwrap(), table.load(&[other], true).await.unwrap());
        assert_eq!((answers.len(), cells.len()), (1, 1), "cells are read apart from the answers");
        assert!(cells[0].1.is_cells() && !answers[0].1.is_cells());
        table.remove(day).await.unwrap();
        let left = events(table.load(&[day, other], false).await.unwrap());
        assert_eq!(left.iter().map(|(d, _)| *d).collect::<Vec<_>>(), [other], "the day's answers went with it");
        server.query(&format!("DROP DATABASE {database}")).execute().await.unwrap();
    }
}
