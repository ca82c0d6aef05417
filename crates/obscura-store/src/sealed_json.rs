//! Small metadata documents (sites, users, tokens, salts) kept as JSON sealed under the master key.
//!
//! Metadata is small and changes rarely, so each document is rewritten whole, atomically; every
//! byte on disk is encrypted (P12).

use std::path::PathBuf;

use serde::{Serialize, de::DeserializeOwned};

use crate::crypto::{Key, SealedFile};

/// A JSON document kept in a [`SealedFile`] under a given key (usually the master key).
pub struct SealedJson {
    file: SealedFile,
    key: Key,
}

impl SealedJson {
    /// The document at `path`, sealed under `key` and bound to `context` (the file is not touched yet).
    pub fn new(path: PathBuf, context: &'static [u8], key: Key) -> Self {
        SealedJson { file: SealedFile::new(path, context), key }
    }

    /// The document, or its default when the file does not exist yet.
    pub fn load<T: DeserializeOwned + Default>(&self) -> anyhow::Result<T> {
        match self.file.read(&self.key)? {
            Some(plain) => serde_json::from_slice(&plain)
                .map_err(|e| anyhow::anyhow!("{} is corrupt: {e}", self.file.path().display())),
            None => Ok(T::default()),
        }
    }

    /// Replaces the document with `value`, atomically and durably (fsynced before returning).
    pub fn save<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        self.file.write(&self.key, &serde_json::to_vec(value)?)
    }

    /// Modification time, to notice changes made by another process (the CLI).
    pub fn modified(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(self.file.path()).and_then(|m| m.modified()).ok()
    }
}
