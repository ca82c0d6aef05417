//! File-system steps that survive a crash: a new, renamed or removed entry is only durable once
//! the folder holding it has been fsynced (on ext4 and XFS a file fsync does not cover its name).

use std::fs;
use std::io;
use std::path::Path;

/// Makes the entries of `dir` (names created, renamed or removed in it) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(test)]
    tests::SYNCED_DIRS.with(|synced| synced.borrow_mut().push(dir.to_path_buf()));
    fs::File::open(dir)?.sync_all()
}

/// Makes the name of `path` durable: fsyncs the folder that holds it.
pub fn sync_parent_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

/// Creates `dir` and any missing parents, fsyncing the folder above each one created, so a crash
/// cannot leave a file whose folder has vanished.
pub fn create_dir_durably(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let missing: Vec<&Path> = dir.ancestors().take_while(|p| !p.as_os_str().is_empty() && !p.exists()).collect();
    fs::create_dir_all(dir)?;
    for created in missing.iter().rev() {
        sync_parent_dir(created)?;
    }
    Ok(())
}

/// Renames `from` to `to` and makes both folders' entries durable.
pub fn rename_durably(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    sync_parent_dir(to)?;
    if from.parent() != to.parent() {
        sync_parent_dir(from)?;
    }
    Ok(())
}

/// Locks `dir` for this process (an exclusive lock on its file `lock`), held until the returned
/// file is dropped; fails with `in_use` when another process holds it. A process that is just
/// stopping may hold it a moment longer, so it is tried for two seconds.
pub fn lock_folder(dir: &Path, in_use: impl FnOnce() -> String) -> anyhow::Result<fs::File> {
    use anyhow::Context;
    let path = dir.join("lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    for _ in 0..20 {
        if lock.try_lock().is_ok() {
            return Ok(lock);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    anyhow::bail!(in_use())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    thread_local! {
        /// The folders this thread fsynced, in order.
        pub(crate) static SYNCED_DIRS: std::cell::RefCell<Vec<std::path::PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    #[test]
    fn hardening_new_folders_and_renames_sync_their_parent() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("wal").join("2026-01-10");
        create_dir_durably(&deep).unwrap();
        assert!(deep.is_dir(), "every missing level is created");
        create_dir_durably(&deep).unwrap();

        let file = deep.join("0000000001.wal");
        fs::write(&file, b"x").unwrap();
        sync_parent_dir(&file).unwrap();
        let moved = dir.path().join("moved.wal");
        rename_durably(&file, &moved).unwrap();
        assert!(moved.exists() && !file.exists());

        // A bare file name has an empty parent: the current folder is meant.
        sync_parent_dir(Path::new("Cargo.toml")).unwrap();
        assert!(
            sync_parent_dir(&dir.path().join("gone").join("x")).is_err(),
            "a missing folder is an error, not skipped"
        );
    }
}
