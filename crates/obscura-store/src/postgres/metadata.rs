//! The metadata document in PostgreSQL: one sealed row with a version number. Changes are
//! optimistic: a node reads the document and its version, applies the change, and saves only if
//! the version is still the one it read; otherwise it reads again and reapplies.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use anyhow::bail;

use super::Postgres;
use crate::crypto::Key;
use crate::meta::{Metadata, MetadataStore};

const CONTEXT: &[u8] = b"obscura metadata v1";

/// How often a node looks for changes other nodes saved.
const REFRESH: Duration = Duration::from_secs(1);

/// Attempts at one change before giving up (each retry means another node saved meanwhile).
const ATTEMPTS: usize = 20;

/// The shared metadata document, with this node's cached copy (refreshed every second by a
/// background thread, so reads never wait on PostgreSQL and go on from the cache when it is down).
pub struct PgMetaStore {
    inner: Arc<Inner>,
}

struct Inner {
    pg: Arc<Postgres>,
    key: Key,
    cache: RwLock<(i64, Arc<Metadata>)>,
}

impl PgMetaStore {
    /// Reads the document and starts refreshing it.
    pub fn open(pg: Arc<Postgres>, key: Key) -> anyhow::Result<PgMetaStore> {
        let inner = Arc::new(Inner { pg, key, cache: RwLock::new((-1, Arc::default())) });
        inner.refresh()?;
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new().name("obscura-metadata".into()).spawn(move || refresh_while_open(weak))?;
        Ok(PgMetaStore { inner })
    }
}

fn refresh_while_open(inner: Weak<Inner>) {
    loop {
        std::thread::sleep(REFRESH);
        let Some(inner) = inner.upgrade() else { return };
        if let Err(e) = inner.refresh() {
            tracing::warn!("cannot refresh metadata, going on with the cached copy: {e:#}");
        }
    }
}

impl Inner {
    /// The stored version and document, read now.
    fn fetch(&self, newer_than: i64) -> anyhow::Result<Option<(i64, Metadata)>> {
        let row = self.pg.call(move |c| {
            Ok(c.query_opt(
                "SELECT version, sealed FROM obscura_documents WHERE name = 'metadata' AND version <> $1",
                &[&newer_than],
            )?
            .map(|row| (row.get::<_, i64>(0), row.get::<_, Option<Vec<u8>>>(1))))
        })?;
        let Some((version, sealed)) = row else { return Ok(None) };
        let doc = match sealed {
            Some(sealed) => serde_json::from_slice(&self.key.open(CONTEXT, &sealed)?)?,
            None => Metadata::default(),
        };
        Ok(Some((version, doc)))
    }

    /// Replaces the cached copy if the stored one changed.
    fn refresh(&self) -> anyhow::Result<Arc<Metadata>> {
        let seen = self.cache.read().unwrap_or_else(|e| e.into_inner()).0;
        if let Some((version, doc)) = self.fetch(seen)? {
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            // A concurrent update may have cached a newer version already.
            if version > cache.0 {
                *cache = (version, Arc::new(doc));
            }
        }
        Ok(self.cached())
    }

    fn cached(&self) -> Arc<Metadata> {
        self.cache.read().unwrap_or_else(|e| e.into_inner()).1.clone()
    }
}

impl MetadataStore for PgMetaStore {
    fn get(&self) -> Arc<Metadata> {
        self.inner.cached()
    }

    fn reload(&self) -> Arc<Metadata> {
        self.inner.refresh().unwrap_or_else(|e| {
            tracing::error!("cannot reload metadata, keeping the last good copy: {e:#}");
            self.inner.cached()
        })
    }

    fn read_now(&self) -> anyhow::Result<Arc<Metadata>> {
        self.inner.refresh()
    }

    fn update_with(&self, change: &mut dyn FnMut(&mut Metadata) -> anyhow::Result<()>) -> anyhow::Result<()> {
        for _ in 0..ATTEMPTS {
            let (version, mut doc) = self.inner.fetch(-1)?.expect("the metadata row exists from the start");
            change(&mut doc)?;
            let sealed = self.inner.key.seal(CONTEXT, &serde_json::to_vec(&doc)?);
            let saved = self.inner.pg.call(move |c| {
                Ok(c.execute(
                    "UPDATE obscura_documents SET version = version + 1, sealed = $1 \
                     WHERE name = 'metadata' AND version = $2",
                    &[&sealed, &version],
                )?)
            })?;
            if saved == 1 {
                let mut cache = self.inner.cache.write().unwrap_or_else(|e| e.into_inner());
                if version + 1 > cache.0 {
                    *cache = (version + 1, Arc::new(doc));
                }
                return Ok(());
            }
        }
        bail!("metadata kept changing on other nodes; {ATTEMPTS} attempts at this change failed, try again")
    }

    fn check(&self) -> anyhow::Result<()> {
        self.inner.pg.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_two() -> Option<(PgMetaStore, PgMetaStore)> {
        let (url, schema) = super::super::test_server()?;
        let key = Key::random();
        let a = Arc::new(Postgres::connect(&url, Some(&schema)).unwrap());
        let b = Arc::new(Postgres::connect(&url, Some(&schema)).unwrap());
        Some((PgMetaStore::open(a, key.clone()).unwrap(), PgMetaStore::open(b, key).unwrap()))
    }

    #[test]
    fn postgres_metadata_changes_from_two_nodes_are_all_kept() {
        let Some((a, b)) = open_two() else { return };
        let (a, b): (Arc<dyn MetadataStore>, Arc<dyn MetadataStore>) = (Arc::new(a), Arc::new(b));
        let writers: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .enumerate()
            .map(|(node, store)| {
                std::thread::spawn(move || {
                    for i in 0..15 {
                        store.update(|m| m.add_site(&format!("n{node}-{i}.example"), 0, 30)).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        for store in [&a, &b] {
            let mut domains: Vec<String> = store.reload().sites.iter().map(|s| s.domain.clone()).collect();
            domains.sort();
            assert_eq!(domains.len(), 30, "no change lost to a concurrent writer: {domains:?}");
            let mut ids: Vec<u32> = store.get().sites.iter().map(|s| s.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 30, "no two sites got the same id");
        }
    }

    #[test]
    fn postgres_metadata_other_nodes_see_a_change_within_seconds_and_rows_are_sealed() {
        let Some((a, b)) = open_two() else { return };
        (&a as &dyn MetadataStore).update(|m| m.add_site("shared.example", 0, 30)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while b.get().site_by_domain("shared.example").is_none() {
            assert!(std::time::Instant::now() < deadline, "the other node never saw the new site");
            std::thread::sleep(Duration::from_millis(50));
        }
        let raw: Vec<u8> = a
            .inner
            .pg
            .call(|c| Ok(c.query_one("SELECT sealed FROM obscura_documents WHERE name = 'metadata'", &[])?.get(0)))
            .unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("shared.example"), "PostgreSQL holds only ciphertext");
    }
}
