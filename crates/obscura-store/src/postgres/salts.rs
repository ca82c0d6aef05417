//! The daily salts in PostgreSQL, shared by every node: the first node to store a day's salt
//! wins (`ON CONFLICT DO NOTHING`), and every node adopts what is stored, so a visitor hashes
//! alike wherever their request lands. Expired days are deleted from the table (P2).

use std::sync::Arc;

use super::Postgres;
use crate::crypto::Key;
use crate::salts::{DaySalt, SaltVault};

const CONTEXT: &[u8] = b"obscura salt v1";

/// The shared salts.
pub struct PgSaltVault {
    pg: Arc<Postgres>,
    key: Key,
}

impl PgSaltVault {
    /// The salts in `pg`, sealed under `key`.
    pub fn new(pg: Arc<Postgres>, key: Key) -> PgSaltVault {
        PgSaltVault { pg, key }
    }
}

fn decode(key: &Key, rows: Vec<postgres::Row>) -> anyhow::Result<Vec<DaySalt>> {
    let mut salts = Vec::new();
    for row in rows {
        let day: String = row.get(0);
        let sealed: Vec<u8> = row.get(1);
        let salt = key.open(CONTEXT, &sealed)?;
        let parsed = crate::salts::decode_salt(&day, &salt);
        salts.push(parsed.ok_or_else(|| anyhow::anyhow!("the stored salt of {day:?} is malformed"))?);
    }
    Ok(salts)
}

impl SaltVault for PgSaltVault {
    fn load(&self) -> anyhow::Result<Vec<DaySalt>> {
        let key = self.key.clone();
        self.pg.call(move |c| decode(&key, c.query("SELECT day, sealed FROM obscura_salts ORDER BY day", &[])?))
    }

    fn store(&self, salts: Vec<DaySalt>) -> anyhow::Result<Vec<DaySalt>> {
        let key = self.key.clone();
        self.pg.call(move |c| {
            let mut tx = c.transaction()?;
            let days: Vec<String> = salts.iter().map(|(d, _)| obscura_model::format_day(*d)).collect();
            for ((_, salt), day) in salts.iter().zip(&days) {
                tx.execute(
                    "INSERT INTO obscura_salts (day, sealed) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING",
                    &[day, &key.seal(CONTEXT, salt)],
                )?;
            }
            // Only days before the oldest kept one: a node whose clock runs behind must not
            // destroy a salt the others use today.
            if let Some(oldest) = days.iter().min() {
                tx.execute("DELETE FROM obscura_salts WHERE day < $1", &[oldest])?;
            }
            let rows = tx.query("SELECT day, sealed FROM obscura_salts WHERE day = ANY($1) ORDER BY day", &[&days])?;
            tx.commit()?;
            decode(&key, rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn postgres_salts_first_writer_wins_and_expired_days_are_deleted() {
        let Some((url, schema)) = super::super::test_server() else { return };
        let key = Key::random();
        let node = |_| PgSaltVault::new(Arc::new(Postgres::connect(&url, Some(&schema)).unwrap()), key.clone());
        let (a, b) = (node(0), node(1));
        let first = a.store(vec![(date!(2026 - 03 - 01), [1; 32])]).unwrap();
        assert_eq!(first, vec![(date!(2026 - 03 - 01), [1; 32])]);
        let second = b.store(vec![(date!(2026 - 03 - 01), [2; 32])]).unwrap();
        assert_eq!(second, first, "the node that came second adopts the first node's salt");
        let next_day = b.store(vec![(date!(2026 - 03 - 01), [2; 32]), (date!(2026 - 03 - 02), [3; 32])]).unwrap();
        assert_eq!(next_day, vec![(date!(2026 - 03 - 01), [1; 32]), (date!(2026 - 03 - 02), [3; 32])]);
        a.store(vec![(date!(2026 - 03 - 02), [4; 32])]).unwrap();
        assert_eq!(b.load().unwrap(), vec![(date!(2026 - 03 - 02), [3; 32])], "the expired day is gone from the table");
    }
}
