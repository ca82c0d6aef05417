//! Open visits in PostgreSQL (see [`crate::visit_book`]): one row per visitor with an open visit,
//! on a connection of its own so that ingest does not wait behind metadata and audit work.

use std::sync::Arc;

use super::Postgres;
use crate::visit_book::{OpenVisitBook, SharedVisit};

/// The shared open visits.
pub struct PgOpenVisits {
    pg: Arc<Postgres>,
}

impl PgOpenVisits {
    /// The open visits in `pg`.
    pub fn new(pg: Arc<Postgres>) -> PgOpenVisits {
        PgOpenVisits { pg }
    }
}

impl OpenVisitBook for PgOpenVisits {
    fn get(&self, site: u32, visitor: u64) -> anyhow::Result<Option<SharedVisit>> {
        self.pg.call(move |c| {
            let row = c.query_opt(
                "SELECT visit, last_ms, pageviews, last_path FROM obscura_open_visits WHERE site = $1 AND visitor = $2",
                &[&i64::from(site), &(visitor as i64)],
            )?;
            Ok(row.map(|r| SharedVisit {
                id: r.get::<_, i64>(0) as u64,
                last_ms: r.get(1),
                pageviews: r.get::<_, i32>(2).clamp(0, i32::from(u16::MAX)) as u16,
                last_path: r.get(3),
            }))
        })
    }

    fn replace(
        &self,
        site: u32,
        visitor: u64,
        expected: Option<&SharedVisit>,
        next: &SharedVisit,
    ) -> anyhow::Result<bool> {
        let (expected, next) = (expected.cloned(), next.clone());
        self.pg.call(move |c| {
            let (site, visitor) = (i64::from(site), visitor as i64);
            let (id, pageviews) = (next.id as i64, i32::from(next.pageviews));
            let changed = match expected {
                None => c.execute(
                    "INSERT INTO obscura_open_visits (site, visitor, visit, last_ms, pageviews, last_path) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (site, visitor) DO NOTHING",
                    &[&site, &visitor, &id, &next.last_ms, &pageviews, &next.last_path],
                )?,
                Some(old) => c.execute(
                    "UPDATE obscura_open_visits SET visit = $3, last_ms = $4, pageviews = $5, last_path = $6 \
                     WHERE site = $1 AND visitor = $2 AND visit = $7 AND last_ms = $8 AND pageviews = $9",
                    &[
                        &site,
                        &visitor,
                        &id,
                        &next.last_ms,
                        &pageviews,
                        &next.last_path,
                        &(old.id as i64),
                        &old.last_ms,
                        &i32::from(old.pageviews),
                    ],
                )?,
            };
            Ok(changed == 1)
        })
    }

    fn forget_ended(&self, before_ms: i64) -> anyhow::Result<u64> {
        self.pg.call(move |c| Ok(c.execute("DELETE FROM obscura_open_visits WHERE last_ms < $1", &[&before_ms])?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_open_visits_change_only_from_the_state_a_node_read() {
        let Some((url, schema)) = super::super::test_server() else { return };
        let book = PgOpenVisits::new(Arc::new(Postgres::connect(&url, Some(&schema)).unwrap()));
        let first = SharedVisit { id: 7, last_ms: 1_000, pageviews: 1, last_path: Some("/".into()) };
        assert!(book.replace(1, 42, None, &first).unwrap());
        assert!(!book.replace(1, 42, None, &first).unwrap(), "a second first visit loses");
        let second = SharedVisit { last_ms: 2_000, pageviews: 2, last_path: Some("/b".into()), ..first.clone() };
        assert!(book.replace(1, 42, Some(&first), &second).unwrap());
        assert!(!book.replace(1, 42, Some(&first), &second).unwrap(), "a node that read a stale visit must reread");
        assert_eq!(book.get(1, 42).unwrap(), Some(second));
        assert_eq!(book.get(2, 42).unwrap(), None, "visits are per site");
        assert_eq!(book.forget_ended(2_001).unwrap(), 1);
        assert_eq!(book.get(1, 42).unwrap(), None);
    }
}
