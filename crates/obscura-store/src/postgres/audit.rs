//! The audit chain in PostgreSQL: one sealed record per row, numbered by `seq` (the primary key,
//! so two nodes can never write the same number). Appends from every node take turns under a
//! transaction-scoped advisory lock, read the head inside it and link to it, so the chain stays
//! one line with several writers. Retention moves the anchor and deletes the records before it
//! in one transaction.

use std::sync::Arc;

use super::Postgres;
use crate::audit::{AuditEntry, AuditRecord, AuditTrail, genesis, next_record, open_record, seal_record, verify_chain};
use crate::crypto::Key;

const ANCHOR_CONTEXT: &[u8] = b"obscura audit anchor v1";

/// Serialises appends and purges between nodes (an arbitrary, fixed advisory lock number).
const AUDIT_LOCK: i64 = 0x0b5c_0002;

/// The shared audit log.
pub struct PgAuditLog {
    pg: Arc<Postgres>,
    key: Key,
}

impl PgAuditLog {
    /// The audit log in `pg`, records sealed under `key`.
    pub fn new(pg: Arc<Postgres>, key: Key) -> PgAuditLog {
        PgAuditLog { pg, key }
    }
}

/// The anchor retention left (or the genesis), read within `tx`.
fn anchor(tx: &mut postgres::Transaction<'_>, key: &Key) -> anyhow::Result<(u64, String)> {
    let row = tx.query_opt("SELECT sealed FROM obscura_documents WHERE name = 'audit_anchor'", &[])?;
    match row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)) {
        Some(sealed) => Ok(serde_json::from_slice(&key.open(ANCHOR_CONTEXT, &sealed)?)?),
        None => Ok(genesis()),
    }
}

fn decode_rows(key: &Key, rows: Vec<postgres::Row>) -> anyhow::Result<Vec<AuditRecord>> {
    rows.iter()
        .map(|row| {
            let seq: i64 = row.get(0);
            open_record(key, row.get(1)).map_err(|e| e.context(format!("audit record {seq} is unreadable")))
        })
        .collect()
}

impl AuditTrail for PgAuditLog {
    fn append(&self, entry: AuditEntry<'_>) -> anyhow::Result<()> {
        let (key, ts_ms) = (self.key.clone(), entry.ts_ms);
        let (actor, action, site, detail) =
            (entry.actor.to_owned(), entry.action.to_owned(), entry.site.map(str::to_owned), entry.detail.to_owned());
        self.pg.call(move |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])?;
            let head = match tx.query_opt("SELECT seq, sealed FROM obscura_audit ORDER BY seq DESC LIMIT 1", &[])? {
                Some(row) => {
                    let last = open_record(&key, row.get(1))?;
                    (last.seq, last.hash)
                }
                None => anchor(&mut tx, &key)?,
            };
            let entry = AuditEntry { ts_ms, actor: &actor, action: &action, site: site.as_deref(), detail: &detail };
            let record = next_record(head, &entry);
            tx.execute(
                "INSERT INTO obscura_audit (seq, ts_ms, sealed) VALUES ($1, $2, $3)",
                &[&(record.seq as i64), &record.ts_ms, &seal_record(&key, &record)?],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn read_last(&self, n: usize) -> anyhow::Result<Vec<AuditRecord>> {
        let key = self.key.clone();
        self.pg.call(move |c| {
            let rows = c.query(
                "SELECT seq, sealed FROM (SELECT seq, sealed FROM obscura_audit ORDER BY seq DESC LIMIT $1) last \
                 ORDER BY seq",
                &[&(n.min(i64::MAX as usize) as i64)],
            )?;
            decode_rows(&key, rows)
        })
    }

    fn read_all(&self) -> anyhow::Result<Vec<AuditRecord>> {
        let key = self.key.clone();
        self.pg.call(move |c| decode_rows(&key, c.query("SELECT seq, sealed FROM obscura_audit ORDER BY seq", &[])?))
    }

    fn verify(&self) -> anyhow::Result<u64> {
        let key = self.key.clone();
        self.pg.call(move |c| {
            // The anchor and the records as one moment saw them.
            let mut tx = c.build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).start()?;
            let start = anchor(&mut tx, &key)?;
            let records = decode_rows(&key, tx.query("SELECT seq, sealed FROM obscura_audit ORDER BY seq", &[])?)?;
            tx.commit()?;
            verify_chain(start, records)
        })
    }

    fn purge_older_than(&self, cutoff_ms: i64) -> anyhow::Result<usize> {
        let key = self.key.clone();
        self.pg.call(move |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])?;
            // Everything up to the last record older than the cutoff (nodes' clocks may differ a
            // little, so an older record can follow a newer one).
            let last = tx.query_opt(
                "SELECT seq, sealed FROM obscura_audit WHERE ts_ms < $1 ORDER BY seq DESC LIMIT 1",
                &[&cutoff_ms],
            )?;
            let Some(last) = last else { return Ok(0) };
            let last_seq: i64 = last.get(0);
            let record = open_record(&key, last.get(1))?;
            let sealed = key.seal(ANCHOR_CONTEXT, &serde_json::to_vec(&(record.seq, record.hash))?);
            tx.execute(
                "INSERT INTO obscura_documents (name, version, sealed) VALUES ('audit_anchor', 0, $1) \
                 ON CONFLICT (name) DO UPDATE SET version = obscura_documents.version + 1, sealed = EXCLUDED.sealed",
                &[&sealed],
            )?;
            let removed = tx.execute("DELETE FROM obscura_audit WHERE seq <= $1", &[&last_seq])?;
            tx.commit()?;
            Ok(removed as usize)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts_ms: i64, detail: &str) -> AuditEntry<'_> {
        AuditEntry { ts_ms, actor: "cli", action: "read", site: Some("a.example"), detail }
    }

    #[test]
    fn postgres_audit_chain_stays_one_verifiable_line_with_two_writers() {
        let Some((url, schema)) = super::super::test_server() else { return };
        let key = Key::random();
        let nodes: Vec<Arc<PgAuditLog>> = (0..2)
            .map(|_| Arc::new(PgAuditLog::new(Arc::new(Postgres::connect(&url, Some(&schema)).unwrap()), key.clone())))
            .collect();
        let writers: Vec<_> = nodes
            .iter()
            .cloned()
            .enumerate()
            .map(|(node, log)| {
                std::thread::spawn(move || {
                    for i in 0..25 {
                        log.append(entry(1_000 + i, &format!("node {node} read {i}"))).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(nodes[0].verify().unwrap(), 50);
        assert_eq!(nodes[1].read_all().unwrap().len(), 50);
        let last = nodes[1].read_last(3).unwrap();
        assert_eq!(last.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![48, 49, 50]);

        // Retention keeps the chain verifiable from its new anchor, and appends continue it.
        let due = nodes[0].read_all().unwrap().iter().filter(|r| r.ts_ms < 1_010).map(|r| r.seq).max().unwrap();
        assert_eq!(nodes[0].purge_older_than(1_010).unwrap() as u64, due);
        assert_eq!(nodes[1].verify().unwrap(), 50);
        nodes[1].append(entry(2_000, "after retention")).unwrap();
        assert_eq!(nodes[0].verify().unwrap(), 51);

        // Someone with database access but without the master key cannot forge a record, nor
        // remove one unnoticed (45: after any anchor the purge can leave, before the last record).
        let pg = Postgres::connect(&url, Some(&schema)).unwrap();
        pg.call(|c| Ok(c.execute("DELETE FROM obscura_audit WHERE seq = 45", &[])?)).unwrap();
        let err = format!("{:#}", nodes[0].verify().unwrap_err());
        assert!(err.contains("missing or out of order"), "{err}");
        let stored: String =
            pg.call(|c| Ok(c.query_one("SELECT sealed FROM obscura_audit WHERE seq = 46", &[])?.get(0))).unwrap();
        assert!(!stored.contains("node"), "records are sealed");
    }
}
