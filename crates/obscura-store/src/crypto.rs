//! Encryption at rest (P12): the master key, AES-256-GCM sealing, and sealed files.
//!
//! The master key comes from the environment (`OBSCURA_MASTER_KEY`, 64 hex digits) or from a key
//! file created with mode 0600 on first run. It never lives inside the data folder, so a copy of
//! the data folder alone reveals nothing.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, bail};

use crate::durable_fs::{create_dir_durably, sync_dir};

/// A 256-bit AES key. Zeroed on drop.
#[derive(Clone)]
pub struct Key(pub(crate) [u8; 32]);

impl Key {
    /// A new key from a cryptographically secure random generator.
    pub fn random() -> Self {
        Key(rand::random())
    }

    /// A key written as 64 hex digits (surrounding whitespace ignored), as key files store it.
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let bytes = hex::decode(text.trim()).context("not hexadecimal")?;
        let arr: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| anyhow::anyhow!("{} bytes instead of 32", b.len()))?;
        Ok(Key(arr))
    }

    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Key(bytes)
    }

    /// The key's 32 raw bytes (secret: never log them).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Encrypts `plain`, binding it to `context` (authenticated, not stored): nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new((&self.0).into());
        let nonce: [u8; 12] = rand::random();
        let mut out = nonce.to_vec();
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: context })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts what [`Key::seal`] produced with the same context.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            bail!("sealed data is too short ({} bytes)", sealed.len());
        }
        let cipher = Aes256Gcm::new((&self.0).into());
        cipher
            .decrypt(Nonce::from_slice(&sealed[..12]), Payload { msg: &sealed[12..], aad: context })
            .map_err(|_| anyhow::anyhow!("decryption failed: wrong key or corrupted data"))
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: valid exclusive reference; volatile so the wipe is not optimised away.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Where the master key comes from.
#[derive(Clone, Debug)]
pub enum MasterKeySource {
    /// 64 hex digits, e.g. from `OBSCURA_MASTER_KEY`.
    Hex(String),
    /// A file holding 64 hex digits; created with mode 0600 if missing.
    File(PathBuf),
}

/// Loads (or, for a missing key file, creates) the master key. Refuses a key file inside `data_dir`.
pub fn load_master_key(source: &MasterKeySource, data_dir: &Path) -> anyhow::Result<Key> {
    match source {
        MasterKeySource::Hex(hex) => Key::from_hex(hex).context("OBSCURA_MASTER_KEY must be 64 hex digits"),
        MasterKeySource::File(path) => {
            if inside(path, data_dir)? {
                bail!(
                    "the master key file {} is inside the data folder {}; keep it elsewhere so a copy of the data alone stays unreadable",
                    path.display(),
                    data_dir.display()
                );
            }
            if path.exists() {
                let text = fs::read_to_string(path)
                    .with_context(|| format!("cannot read the master key file {}", path.display()))?;
                Key::from_hex(&text)
                    .with_context(|| format!("the master key file {} must hold 64 hex digits", path.display()))
            } else if holds_sealed_data(data_dir) {
                bail!(
                    "the master key file {} is missing, but the data folder {} already holds encrypted data; \
                     restore the key file from your backup (or set OBSCURA_MASTER_KEY). A new key would not open it.",
                    path.display(),
                    data_dir.display()
                );
            } else {
                let key = Key::random();
                write_private_file(path, hex::encode(key.bytes()).as_bytes())
                    .with_context(|| format!("cannot create the master key file {}", path.display()))?;
                tracing::info!(path = %path.display(), "created a new master key file (mode 0600); back it up separately from the data");
                Ok(key)
            }
        }
    }
}

/// Whether `data_dir` already holds data sealed under some master key (metadata or the audit
/// log exist): then a missing key file is a lost key, not a first run.
fn holds_sealed_data(data_dir: &Path) -> bool {
    data_dir.join("metadata").exists() || data_dir.join("audit").exists()
}

/// Checks where a file of keys (the keyring, the salts) lives: never inside `data_dir`, since a
/// backup of the data folder must hold no key, or destroyed data and salts would stay readable
/// in it (P2, P13). A file that older versions kept at `data_dir/<legacy_name>` is moved to `path`.
pub fn prepare_key_file(path: &Path, data_dir: &Path, legacy_name: &str) -> anyhow::Result<()> {
    if inside(path, data_dir)? {
        anyhow::bail!(
            "{} is inside the data folder {}; keep key files outside it (keyring_file, beside the \
             master key by default) so that copies of the data folder hold no key",
            path.display(),
            data_dir.display()
        );
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let legacy = data_dir.join(legacy_name);
    if legacy.exists() {
        if path.exists() {
            anyhow::bail!(
                "there are two copies, {} and {}; keep the one that belongs to this data folder \
                 (the newer) and remove the other",
                legacy.display(),
                path.display()
            );
        }
        let bytes = std::fs::read(&legacy).with_context(|| format!("cannot read {}", legacy.display()))?;
        write_atomic(path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
        std::fs::remove_file(&legacy)?;
        tracing::info!(from = %legacy.display(), to = %path.display(), "moved a key file out of the data folder");
    }
    Ok(())
}

/// Whether `path` lies inside `dir`: both made absolute and normalised (`.`, `..`), then their
/// longest existing ancestors resolved (symlinks), so folders that do not exist yet compare too.
fn inside(path: &Path, dir: &Path) -> anyhow::Result<bool> {
    use std::path::Component;
    let resolve = |p: &Path| -> anyhow::Result<PathBuf> {
        let abs = std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))?;
        let mut lexical = PathBuf::new();
        for part in abs.components() {
            match part {
                Component::ParentDir => {
                    lexical.pop();
                }
                Component::CurDir => {}
                other => lexical.push(other),
            }
        }
        let mut existing = lexical.as_path();
        while !existing.exists() {
            existing = existing.parent().unwrap_or(Path::new("/"));
        }
        let rest = lexical.strip_prefix(existing).expect("an ancestor is a prefix").to_path_buf();
        Ok(fs::canonicalize(existing)?.join(rest))
    };
    Ok(resolve(path)?.starts_with(resolve(dir)?))
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the folder (and
/// of the folders holding any folder it had to create).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_dir_durably(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// A small file whose whole content is one value sealed under the master key.
pub struct SealedFile {
    path: PathBuf,
    context: &'static [u8],
}

impl SealedFile {
    /// A sealed file at `path` whose content is bound to `context` (the file is not touched yet).
    pub fn new(path: PathBuf, context: &'static [u8]) -> Self {
        SealedFile { path, context }
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and decrypts; `None` if the file does not exist yet.
    pub fn read(&self, key: &Key) -> anyhow::Result<Option<Vec<u8>>> {
        match fs::read(&self.path) {
            Ok(sealed) => key
                .open(self.context, &sealed)
                .map(Some)
                .with_context(|| format!("{} cannot be decrypted with this master key", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }

    /// Seals `plain` under `key` and replaces the file atomically and durably (fsynced, with its folder).
    pub fn write(&self, key: &Key, plain: &[u8]) -> anyhow::Result<()> {
        write_atomic(&self.path, &key.seal(self.context, plain))
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::durable_fs::tests::SYNCED_DIRS;

    #[test]
    fn hardening_write_atomic_fsyncs_the_folders_holding_new_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        SYNCED_DIRS.with(|s| s.borrow_mut().clear());
        write_atomic(&root.join("a/b/file"), b"x").unwrap();
        let synced = SYNCED_DIRS.with(|s| s.borrow().clone());
        assert_eq!(
            synced,
            vec![root.clone(), root.join("a"), root.join("a/b")],
            "new folders' entries, then the rename"
        );
        assert_eq!(fs::read(root.join("a/b/file")).unwrap(), b"x");
        // An existing folder: only the rename.
        SYNCED_DIRS.with(|s| s.borrow_mut().clear());
        write_atomic(&root.join("a/b/file"), b"y").unwrap();
        assert_eq!(SYNCED_DIRS.with(|s| s.borrow().clone()), vec![root.join("a/b")]);
    }

    #[test]
    fn p12_seal_round_trips_and_rejects_wrong_key_or_context() {
        let key = Key::random();
        let sealed = key.seal(b"ctx", b"hello marker");
        assert!(!sealed.windows(6).any(|w| w == b"marker"));
        assert_eq!(key.open(b"ctx", &sealed).unwrap(), b"hello marker");
        assert!(key.open(b"other", &sealed).is_err());
        assert!(Key::random().open(b"ctx", &sealed).is_err());
    }

    #[test]
    fn p12_master_key_file_is_created_0600_and_refused_inside_data() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(&data).unwrap();
        let key_path = dir.path().join("keys/master.key");
        let k1 = load_master_key(&MasterKeySource::File(key_path.clone()), &data).unwrap();
        let mode = fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let k2 = load_master_key(&MasterKeySource::File(key_path), &data).unwrap();
        assert_eq!(k1.bytes(), k2.bytes());
        let inside = load_master_key(&MasterKeySource::File(data.join("master.key")), &data);
        assert!(inside.unwrap_err().to_string().contains("inside the data folder"));
        // Also when the folders do not exist yet, and through `..`.
        let nested = load_master_key(&MasterKeySource::File(data.join("keys/new/master.key")), &data);
        assert!(nested.unwrap_err().to_string().contains("inside the data folder"));
        assert!(!data.join("keys").exists(), "nothing may be created inside the data folder");
        let dotted = dir.path().join("elsewhere/../data/master.key");
        assert!(load_master_key(&MasterKeySource::File(dotted), &data).is_err());
    }
}
