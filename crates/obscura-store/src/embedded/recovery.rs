//! Start-up: finishing destroys and re-keys a crash interrupted (crypto-shredding is all or
//! nothing), and replaying the write-ahead log into the hot tier.

use super::*;

pub(super) const DESTROY_PREFIX: &str = ".destroy-";

/// Completes destructions of days that a crash interrupted: their folders were set aside as
/// `.destroy-<day>`; the key goes, then the folders.
pub(super) fn finish_destroys(dirs: &[&Path], keyring: &Keyring) -> anyhow::Result<()> {
    for dir in dirs {
        for entry in fs::read_dir(dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(day) = name.strip_prefix(DESTROY_PREFIX).and_then(parse_day) else {
                continue;
            };
            keyring.destroy(day)?;
            fs::remove_dir_all(entry.path())?;
            tracing::info!(%day, "finished destroying a day");
        }
    }
    Ok(())
}

pub(super) const REKEY_PREFIX: &str = ".rekey-";

pub(super) const SHRED_PREFIX: &str = ".shred-";

/// Completes or rolls back re-keys that a crash interrupted (see [`EmbeddedStore::rekey`]).
/// The keyring decides: a pending key means the re-key was not committed — it goes forward only
/// if the old folders were already set aside, else it is undone; no pending key means it was
/// committed (or the day destroyed meanwhile).
pub(super) fn finish_rekeys(events_dir: &Path, rollups_dir: &Path, keyring: &Keyring) -> anyhow::Result<()> {
    for entry in fs::read_dir(events_dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(day) = name.strip_prefix(REKEY_PREFIX).and_then(parse_day) else {
            continue;
        };
        let day_name = format_day(day);
        let events_aside = events_dir.join(format!("{SHRED_PREFIX}{day_name}"));
        let rollups_aside = rollups_dir.join(format!("{SHRED_PREFIX}{day_name}"));
        let day_dir = cold::day_dir(events_dir, day);
        let pending = keyring.pending(day).is_some();
        if pending && events_aside.exists() {
            keyring.commit_pending(day)?;
            fs::rename(entry.path(), &day_dir)?;
            tracing::info!(%day, "finished re-keying a day");
        } else if pending {
            if rollups_aside.exists() && !cold::day_dir(rollups_dir, day).exists() {
                fs::rename(&rollups_aside, cold::day_dir(rollups_dir, day))?;
            }
            fs::remove_dir_all(entry.path())?;
            keyring.drop_pending(day)?;
            tracing::info!(%day, "rolled back an unfinished re-key");
        } else if keyring.get(day).is_some() && !day_dir.exists() {
            fs::rename(entry.path(), &day_dir)?;
            tracing::info!(%day, "finished re-keying a day");
        } else {
            fs::remove_dir_all(entry.path())?;
        }
    }
    for dir in [events_dir, rollups_dir] {
        for entry in fs::read_dir(dir)?.flatten() {
            if entry.file_name().to_string_lossy().starts_with(SHRED_PREFIX) {
                fs::remove_dir_all(entry.path())?;
            }
        }
        sync_dir(dir)?;
    }
    Ok(())
}

/// Replays the write-ahead log into the hot tier and the hashes of its idempotency keys into
/// the key log (a crash may have come before the writer copied them); returns the next free
/// segment id.
pub(super) fn replay(
    events_dir: &Path,
    wal_dir: &Path,
    keyring: &Keyring,
    hot: &HotTier,
    key_log: &mut KeyLog,
) -> anyhow::Result<u64> {
    // Segments already written to a Parquet file (`part-<first>-<last>.parquet`) are skipped.
    let mut covered: Vec<(Date, u64, u64)> = Vec::new();
    let mut max_id = 0;
    for (day, files) in cold::list_days(events_dir) {
        for f in files {
            let name = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some((a, b)) = name.strip_prefix("part-").and_then(|r| r.split_once('-'))
                && let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>())
            {
                covered.push((day, a, b));
                max_id = max_id.max(b);
            }
        }
    }
    for segment in wal::list_segments(wal_dir)? {
        max_id = max_id.max(segment.id);
        let flushed = covered.iter().any(|(d, a, b)| *d == segment.day && (*a..=*b).contains(&segment.id));
        if flushed {
            // Already in a day file: the segment is no longer needed.
            fs::remove_file(&segment.path)?;
            continue;
        }
        let key = keyring.get(segment.day).with_context(|| {
            format!(
                "the write-ahead log holds events of {} but the keyring has no key for that day: \
                 the keyring does not belong to this data folder (restored from another backup?)",
                segment.day
            )
        })?;
        let replayed =
            wal::replay(&segment, &key).with_context(|| format!("cannot replay {}", segment.path.display()))?;
        tracing::info!(segment = %segment.path.display(), rows = replayed.rows.len(), "replayed write-ahead log");
        for same_day in replayed.keys.chunk_by(|a, b| day_of_ms(a.1) == day_of_ms(b.1)) {
            key_log.append(same_day)?;
        }
        hot.push(segment.day, segment.id, replayed.rows);
    }
    Ok(max_id + 1)
}
