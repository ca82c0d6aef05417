//! Per-day data keys (crypto-shredding, P13).
//!
//! Each UTC day of events is encrypted under its own random key — its write-ahead-log segments and
//! its Parquet files alike. The keys live in one file sealed under the master key. Destroying a
//! day means removing its key and its files: no scan, and copies of the files become unreadable.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use time::Date;

use crate::crypto::{Key, SealedFile};

pub struct Keyring {
    master: Key,
    file: SealedFile,
    keys: RwLock<BTreeMap<Date, Arc<Key>>>,
}

impl Keyring {
    /// Opens the keyring file in `data_dir`, or starts an empty one.
    pub fn open(master: Key, path: PathBuf) -> anyhow::Result<Self> {
        let file = SealedFile::new(path, b"obscura keyring v1");
        let mut keys = BTreeMap::new();
        if let Some(plain) = file.read(&master)? {
            let stored: BTreeMap<String, String> =
                serde_json::from_slice(&plain).context("the keyring is corrupt (not valid JSON after decryption)")?;
            for (day, hex_key) in stored {
                let day = parse_day(&day).with_context(|| format!("the keyring holds a bad day {day:?}"))?;
                let bytes: [u8; 32] = hex::decode(&hex_key)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .with_context(|| format!("the keyring holds a bad key for {day}"))?;
                keys.insert(day, Arc::new(Key::from_bytes(bytes)));
            }
        }
        Ok(Keyring { master, file, keys: RwLock::new(keys) })
    }

    /// The key of `day`, if it exists (a destroyed day has none).
    pub fn get(&self, day: Date) -> Option<Arc<Key>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).get(&day).cloned()
    }

    /// The key of `day`, created and persisted if new.
    pub fn get_or_create(&self, day: Date) -> anyhow::Result<Arc<Key>> {
        if let Some(key) = self.get(day) {
            return Ok(key);
        }
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = keys.get(&day) {
            return Ok(key.clone());
        }
        // Persist first: a key that was never saved must never seal anything.
        let key = Arc::new(Key::random());
        let mut with_new = keys.clone();
        with_new.insert(day, key.clone());
        self.persist(&with_new)?;
        *keys = with_new;
        Ok(key)
    }

    /// Destroys the key of `day`. Returns whether there was one.
    pub fn destroy(&self, day: Date) -> anyhow::Result<bool> {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if !keys.contains_key(&day) {
            return Ok(false);
        }
        let mut without = keys.clone();
        without.remove(&day);
        self.persist(&without)?;
        *keys = without;
        Ok(true)
    }

    pub fn days(&self) -> Vec<Date> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).keys().copied().collect()
    }

    pub fn master(&self) -> &Key {
        &self.master
    }

    fn persist(&self, keys: &BTreeMap<Date, Arc<Key>>) -> anyhow::Result<()> {
        let stored: BTreeMap<String, String> =
            keys.iter().map(|(d, k)| (day_string(*d), hex::encode(k.bytes()))).collect();
        self.file.write(&self.master, &serde_json::to_vec(&stored)?)
    }
}

/// `YYYY-MM-DD`, the day's name in paths and partition values.
pub fn day_string(day: Date) -> String {
    format!("{:04}-{:02}-{:02}", day.year(), day.month() as u8, day.day())
}

pub fn parse_day(text: &str) -> anyhow::Result<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, format).with_context(|| format!("{text:?} is not a date (YYYY-MM-DD)"))
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
    fn keyring_with_wrong_master_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        Keyring::open(Key::random(), path.clone()).unwrap().get_or_create(date!(2026 - 01 - 01)).unwrap();
        let err = Keyring::open(Key::random(), path).err().unwrap();
        assert!(format!("{err:#}").contains("cannot be decrypted"));
    }
}
