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
    async fn load(&self, days: &[Date]) -> anyhow::Result<Vec<(Date, SavedAnswer)>> {
        let (Some(first), Some(last)) = (days.iter().min(), days.iter().max()) else { return Ok(Vec::new()) };
        let rows: Vec<AnswerRow> = self
            .client
            .query("SELECT day, site, question, answer, saved_ms FROM error_answers WHERE day >= ? AND day <= ?")
            .bind(day_number(*first))
            .bind(day_number(*last))
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
