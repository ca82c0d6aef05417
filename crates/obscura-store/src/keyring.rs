//! Per-day data keys (crypto-shredding, P13).
//!
//! Each UTC day of events is encrypted under its own random key — its write-ahead-log segments and
//! its Parquet files alike. The keys live in one file sealed under the master key, kept outside
//! the data folder, so that a backup of the data folder holds no key. Destroying a day means
//! removing its key and its files: no scan, and copies of the files become unreadable.
//!
//! Removing some sites' rows from a day re-keys it: the remaining rows are written under a
//! *pending* key, which then replaces the day's key, so copies of the old files are unreadable
//! too.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use time::Date;

use crate::crypto::{Key, SealedFile};

/// The per-day data keys, sealed under the master key in one file outside the data folder; every
/// change is saved (atomically, fsynced) before it takes effect. Safe to share between threads.
pub struct Keyring {
    master: Key,
    file: SealedFile,
    keys: RwLock<Keys>,
}

#[derive(Clone, Default)]
struct Keys {
    current: BTreeMap<Date, Arc<Key>>,
    /// Keys of days being re-keyed: saved before they seal anything, current once committed.
    pending: BTreeMap<Date, Arc<Key>>,
}

/// The sealed file's contents. The first format was the bare map of current keys.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Stored {
    V2 { current: BTreeMap<String, String>, pending: BTreeMap<String, String> },
    V1(BTreeMap<String, String>),
}

fn decode_keys(stored: BTreeMap<String, String>) -> anyhow::Result<BTreeMap<Date, Arc<Key>>> {
    let mut keys = BTreeMap::new();
    for (day, hex_key) in stored {
        let day = obscura_model::parse_day(&day)
            .with_context(|| format!("the keyring is corrupt: it holds a bad day {day:?}"))?;
        let key =
            Key::from_hex(&hex_key).with_context(|| format!("the keyring is corrupt: it holds a bad key for {day}"))?;
        keys.insert(day, Arc::new(key));
    }
    Ok(keys)
}

fn encode_keys(keys: &BTreeMap<Date, Arc<Key>>) -> BTreeMap<String, String> {
    keys.iter().map(|(d, k)| (obscura_model::format_day(*d), hex::encode(k.bytes()))).collect()
}

impl Keyring {
    /// Opens the keyring file at `path`, or starts an empty one if there is none. A file that
    /// cannot be decrypted or parsed is an error: the store never starts without its keys.
    pub fn open(master: Key, path: PathBuf) -> anyhow::Result<Self> {
        let file = SealedFile::new(path, b"obscura keyring v1");
        let mut keys = Keys::default();
        if let Some(plain) = file.read(&master)? {
            let stored: Stored = serde_json::from_slice(&plain)
                .context("the keyring is corrupt (not valid after decryption); restore it from your key backup")?;
            keys = match stored {
                Stored::V2 { current, pending } => {
                    Keys { current: decode_keys(current)?, pending: decode_keys(pending)? }
                }
                Stored::V1(current) => Keys { current: decode_keys(current)?, pending: BTreeMap::new() },
            };
        }
        Ok(Keyring { master, file, keys: RwLock::new(keys) })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Saves `next` and makes it the keyring's state.
    fn replace(&self, keys: &mut Keys, next: Keys) -> anyhow::Result<()> {
        self.persist(&next)?;
        *keys = next;
        Ok(())
    }

    /// A new pending key for re-keying `day`, saved before it is handed out.
    pub fn create_pending(&self, day: Date) -> anyhow::Result<Arc<Key>> {
        let mut keys = self.write();
        let key = Arc::new(Key::random());
        let mut next = keys.clone();
        next.pending.insert(day, key.clone());
        self.replace(&mut keys, next)?;
        Ok(key)
    }

    /// The pending key of `day` (one being re-keyed), if any.
    pub fn pending(&self, day: Date) -> Option<Arc<Key>> {
        self.read().pending.get(&day).cloned()
    }

    /// Makes `day`'s pending key its key; the old key is gone. Returns whether there was one.
    pub fn commit_pending(&self, day: Date) -> anyhow::Result<bool> {
        let mut keys = self.write();
        let mut next = keys.clone();
        let Some(key) = next.pending.remove(&day) else { return Ok(false) };
        next.current.insert(day, key);
        self.replace(&mut keys, next)?;
        Ok(true)
    }

    /// Drops `day`'s pending key (a re-key that did not get to commit).
    pub fn drop_pending(&self, day: Date) -> anyhow::Result<()> {
        let mut keys = self.write();
        if !keys.pending.contains_key(&day) {
            return Ok(());
        }
        let mut next = keys.clone();
        next.pending.remove(&day);
        self.replace(&mut keys, next)
    }

    /// The key of `day`, if it exists (a destroyed day has none).
    pub fn get(&self, day: Date) -> Option<Arc<Key>> {
        self.read().current.get(&day).cloned()
    }

    /// The key of `day`, created and persisted if new.
    pub fn get_or_create(&self, day: Date) -> anyhow::Result<Arc<Key>> {
        if let Some(key) = self.get(day) {
            return Ok(key);
        }
        let mut keys = self.write();
        if let Some(key) = keys.current.get(&day) {
            return Ok(key.clone());
        }
        // Persist first: a key that was never saved must never seal anything.
        let key = Arc::new(Key::random());
        let mut next = keys.clone();
        next.current.insert(day, key.clone());
        self.replace(&mut keys, next)?;
        Ok(key)
    }

    /// Destroys the keys of `day` (current and pending). Returns whether there was one.
    pub fn destroy(&self, day: Date) -> anyhow::Result<bool> {
        let mut keys = self.write();
        if !keys.current.contains_key(&day) && !keys.pending.contains_key(&day) {
            return Ok(false);
        }
        let mut next = keys.clone();
        next.current.remove(&day);
        next.pending.remove(&day);
        self.replace(&mut keys, next)?;
        Ok(true)
    }

    /// The days that have a current key (data not destroyed), oldest first.
    pub fn days(&self) -> Vec<Date> {
        self.read().current.keys().copied().collect()
    }

    /// The master key, which seals the keyring file.
    pub fn master(&self) -> &Key {
        &self.master
    }

    fn persist(&self, keys: &Keys) -> anyhow::Result<()> {
        let stored = Stored::V2 { current: encode_keys(&keys.current), pending: encode_keys(&keys.pending) };
        self.file.write(&self.master, &serde_json::to_vec(&stored)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn p13_destroyed_day_key_is_gone_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let path = dir.path().join("keyring");
        let ring = Keyring::open(master.clone(), path.clone()).unwrap();
        let k1 = ring.get_or_create(date!(2026 - 01 - 01)).unwrap();
        ring.get_or_create(date!(2026 - 01 - 02)).unwrap();
        assert!(ring.destroy(date!(2026 - 01 - 01)).unwrap());
        let reopened = Keyring::open(master, path).unwrap();
        assert!(reopened.get(date!(2026 - 01 - 01)).is_none());
        assert!(reopened.get(date!(2026 - 01 - 02)).is_some());
        assert_ne!(k1.bytes(), reopened.get(date!(2026 - 01 - 02)).unwrap().bytes());
    }

    #[test]
    fn p13_rekey_replaces_the_day_key_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let path = dir.path().join("keyring");
        let ring = Keyring::open(master.clone(), path.clone()).unwrap();
        let day = date!(2026 - 01 - 01);
        let old = ring.get_or_create(day).unwrap();
        let new = ring.create_pending(day).unwrap();
        let reopened = Keyring::open(master.clone(), path.clone()).unwrap();
        assert_eq!(reopened.pending(day).unwrap().bytes(), new.bytes());
        assert_eq!(reopened.get(day).unwrap().bytes(), old.bytes());
        assert!(ring.commit_pending(day).unwrap());
        let reopened = Keyring::open(master, path).unwrap();
        assert_eq!(reopened.get(day).unwrap().bytes(), new.bytes());
        assert!(reopened.pending(day).is_none());
    }

    #[test]
    fn keyring_reads_the_first_format() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let file = SealedFile::new(dir.path().join("keyring"), b"obscura keyring v1");
        let key = Key::random();
        let v1 = serde_json::json!({"2026-01-01": hex::encode(key.bytes())});
        file.write(&master, &serde_json::to_vec(&v1).unwrap()).unwrap();
        let ring = Keyring::open(master, dir.path().join("keyring")).unwrap();
        assert_eq!(ring.get(date!(2026 - 01 - 01)).unwrap().bytes(), key.bytes());
    }

    #[test]
    fn keyring_that_is_corrupt_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let file = SealedFile::new(dir.path().join("keyring"), b"obscura keyring v1");
        file.write(&master, b"{\"2026-01-01\": \"not hex\"}").unwrap();
        let err = Keyring::open(master.clone(), dir.path().join("keyring")).err().unwrap();
        assert!(format!("{err:#}").contains("the keyring is corrupt"), "{err:#}");
        std::fs::write(dir.path().join("keyring"), b"garbage").unwrap();
        assert!(Keyring::open(master, dir.path().join("keyring")).is_err());
    }

    #[test]
    fn keyring_with_wrong_master_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        Keyring::open(Key::random(), path.clone()).unwrap().get_or_create(date!(2026 - 01 - 01)).unwrap();
        let err = Keyring::open(Key::random(), path).err().unwrap();
        assert!(format!("{err:#}").contains("cannot be decrypted"));
    }
}
