//! Where the daily visitor-hash salts are kept (P2): sealed under the master key, in a file of
//! the data folder or, for several nodes, in PostgreSQL (`crate::postgres::PgSaltVault`).
//!
//! Nodes share salts so that a visitor hashes alike on every node: the first node to store a
//! day's salt wins, and every other node adopts it.

use std::path::PathBuf;

use time::Date;

use crate::crypto::Key;
use crate::sealed_json::SealedJson;

/// One day's salt.
pub type DaySalt = (Date, [u8; 32]);

/// The store of live salts.
pub trait SaltVault: Send + Sync {
    /// The salts stored, oldest first.
    fn load(&self) -> anyhow::Result<Vec<DaySalt>>;
    /// Keeps exactly these salts: days missing from `salts` are destroyed, and a day whose salt
    /// another node stored first keeps that one. Returns the salts as stored, which the caller
    /// adopts.
    fn store(&self, salts: Vec<DaySalt>) -> anyhow::Result<Vec<DaySalt>>;
}

/// The salts of one data folder, in one sealed file.
pub struct SaltFile(SealedJson);

type StoredSalts = Vec<(String, String)>;

impl SaltFile {
    /// The salt file at `path`, sealed under `master` (not read yet).
    pub fn new(path: PathBuf, master: Key) -> Self {
        SaltFile(SealedJson::new(path, b"obscura salts v1", master))
    }
}

impl SaltVault for SaltFile {
    fn load(&self) -> anyhow::Result<Vec<DaySalt>> {
        let stored: StoredSalts = self.0.load()?;
        Ok(stored.into_iter().filter_map(|(day, salt)| decode_salt(&day, &hex::decode(salt).ok()?)).collect())
    }

    fn store(&self, salts: Vec<DaySalt>) -> anyhow::Result<Vec<DaySalt>> {
        let stored: StoredSalts = salts.iter().map(|(d, s)| (obscura_model::format_day(*d), hex::encode(s))).collect();
        self.0.save(&stored)?;
        Ok(salts)
    }
}

/// A day and salt from their stored forms (the day as text); `None` if either is malformed.
pub(crate) fn decode_salt(day: &str, salt: &[u8]) -> Option<DaySalt> {
    Some((obscura_model::parse_day(day)?, salt.try_into().ok()?))
}
