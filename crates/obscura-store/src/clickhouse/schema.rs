//! The tables Obscura keeps in ClickHouse, created on every shard directly (`ON CLUSTER` needs
//! ZooKeeper, which a two-server cluster should not need):
//!
//! - `events_local` on each shard: MergeTree, one partition per UTC day (so retention drops whole
//!   partitions), ordered by site and time (the dashboard reads one site's range);
//! - `events` on each shard: a Distributed table over the cluster's `events_local`, sharded by
//!   visit, so every row of a visit is on one shard and visit-level filters run shard by shard;
//! - on the first shard only: `rollup_days` (each finished day's rollup cells),
//!   `measure_rollup_days` (each finished day's speed cells, with their quantile sketches),
//!   `kept_measures` (the k-anonymous speed cells kept past retention),
//!   `kept_aggregates` (k-anonymous cells kept past retention), `error_answers` (each finished
//!   day's saved answers to the Errors tab, [`super::error_answers`]) and the view `rollups` that serves
//!   kept aggregates of a site's day only once its rollup is gone. They are small (thousands of
//!   rows a day), written once a day, and read by every dashboard view.

use super::rows::{EVENT_COLUMNS, MEASURE_CELL_COLUMNS, ROLLUP_COLUMNS};

/// Whether `name` is a plain identifier, safe to write into DDL unquoted.
pub(super) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

/// The statements that create the tables of every shard, in order.
pub(super) fn shard_tables(database: &str, cluster: &str) -> Vec<String> {
    vec![
        format!("CREATE DATABASE IF NOT EXISTS {database}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.events_local ({EVENT_COLUMNS}) \
             ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (site, ts_ms)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.events AS {database}.events_local \
             ENGINE = Distributed({cluster}, {database}, events_local, visit)"
        ),
    ]
}

/// The statements that create the rollup tables, on the first shard only.
pub(super) fn rollup_tables(database: &str) -> Vec<String> {
    let table = |name: &str| {
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.{name} ({ROLLUP_COLUMNS}) \
             ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (site, day, dim)"
        )
    };
    vec![
        table("rollup_days"),
        table("kept_aggregates"),
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.measure_rollup_days ({MEASURE_CELL_COLUMNS}) \
             ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (site, day, dims)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.kept_measures ({MEASURE_CELL_COLUMNS}) \
             ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (site, day, dims)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.error_answers \
             (day Date, site UInt32, question String, answer String, saved_ms Int64) \
             ENGINE = ReplacingMergeTree(saved_ms) PARTITION BY toYYYYMMDD(day) ORDER BY (day, site, question)"
        ),
        // A site's kept aggregates are written just before its rows and rollup go: until then
        // the rollup answers for it, so nothing is counted twice.
        format!(
            "CREATE VIEW IF NOT EXISTS {database}.rollups AS \
             SELECT day, site, dim, value, visitors, visits, pageviews, events, bounces, duration_ms FROM {database}.rollup_days \
             UNION ALL SELECT day, site, dim, value, visitors, visits, pageviews, events, bounces, duration_ms \
             FROM {database}.kept_aggregates WHERE (day, site) NOT IN (SELECT day, site FROM {database}.rollup_days)"
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clickhouse_identifiers_are_plain_names() {
        assert!(is_identifier("obscura") && is_identifier("obscura_test_2") && is_identifier("_x"));
        for bad in ["", "2x", "a-b", "a.b", "a b", "x; DROP TABLE y", "é", &"a".repeat(65)] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }
}
