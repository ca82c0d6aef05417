//! The embedded store's speed rollups: each finished day's measure cells
//! ([`crate::measure_rollup`]), sealed under the day's key in `rollups/day=…/measures.sealed`
//! (so destroying the key destroys them with the day) and kept in memory once read.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use time::Date;

use crate::cold;
use crate::crypto::SealedFile;
use crate::keyring::Keyring;
use crate::measure_rollup::{DayCell, DayCells as Cells};

const FILE: &str = "measures.sealed";
const CONTEXT: &[u8] = b"obscura measure rollup v1";

/// The days' measure cells, loaded from their files on first use.
pub(crate) struct MeasureRollups {
    dir: PathBuf,
    keyring: Arc<Keyring>,
    days: Mutex<Option<BTreeMap<Date, Cells>>>,
}

impl MeasureRollups {
    /// The rollups under `dir` (the store's `rollups` folder).
    pub(crate) fn new(dir: PathBuf, keyring: Arc<Keyring>) -> Self {
        MeasureRollups { dir, keyring, days: Mutex::new(None) }
    }

    fn sealed(&self, day: Date) -> SealedFile {
        SealedFile::new(cold::day_dir(&self.dir, day).join(FILE), CONTEXT)
    }

    /// Replaces `day`'s cells, durably, under the day's key.
    pub(crate) fn write(&self, day: Date, cells: Vec<DayCell>) -> anyhow::Result<()> {
        let key = self.keyring.get_or_create(day)?;
        std::fs::create_dir_all(cold::day_dir(&self.dir, day))?;
        self.sealed(day).write(&key, &serde_json::to_vec(&cells)?)?;
        if let Some(days) = self.lock().as_mut() {
            days.insert(day, Cells::new(cells));
        }
        Ok(())
    }

    /// Forgets `day` (its folder and key are destroyed by the store).
    pub(crate) fn remove(&self, day: Date) {
        if let Some(days) = self.lock().as_mut() {
            days.remove(&day);
        }
    }

    /// The days that have cells, and the cells of those of them in `wanted`.
    pub(crate) fn cells(&self, wanted: impl Fn(Date) -> bool) -> anyhow::Result<Vec<(Date, Cells)>> {
        let mut days = self.lock();
        if days.is_none() {
            *days = Some(self.load());
        }
        Ok(days
            .as_ref()
            .expect("loaded above")
            .iter()
            .filter(|(d, _)| wanted(**d))
            .map(|(d, c)| (*d, c.clone()))
            .collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<BTreeMap<Date, Cells>>> {
        self.days.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every day's cells; a file that cannot be read is skipped (its day is then read from its
    /// rows), so one bad file cannot break the speed figures.
    fn load(&self) -> BTreeMap<Date, Cells> {
        let mut out = BTreeMap::new();
        for (day, _) in cold::list_days(&self.dir) {
            let Some(key) = self.keyring.get(day) else { continue };
            match self.sealed(day).read(&key).and_then(|plain| match plain {
                Some(plain) => Ok(Some(serde_json::from_slice::<Vec<DayCell>>(&plain)?)),
                None => Ok(None),
            }) {
                Ok(Some(cells)) => {
                    out.insert(day, Cells::new(cells));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(%day, "cannot read the speed rollup of the day: {e:#}"),
            }
        }
        out
    }
}

const KEPT_CONTEXT: &[u8] = b"obscura kept measures v1";

/// The k-anonymous speed cells kept past retention: one `<day>.measures` file per day in the
/// aggregates folder, sealed under the master key (the day's key is destroyed with its rows).
pub(crate) struct KeptMeasures {
    dir: PathBuf,
    master: crate::crypto::Key,
    days: Mutex<BTreeMap<Date, Cells>>,
}

impl KeptMeasures {
    /// Opens the kept cells in `dir`, loading every `<day>.measures` file; one that cannot be
    /// decrypted or read is an error, as for the kept aggregates beside it.
    pub(crate) fn open(dir: PathBuf, master: crate::crypto::Key) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let mut days = BTreeMap::new();
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(day) = name.strip_suffix(".measures").and_then(obscura_model::parse_day) else { continue };
            let plain = SealedFile::new(entry.path(), KEPT_CONTEXT).read(&master)?.unwrap_or_default();
            let cells: Vec<DayCell> = serde_json::from_slice(&plain)
                .map_err(|e| anyhow::anyhow!("{} is corrupt: {e}", entry.path().display()))?;
            days.insert(day, Cells::new(cells));
        }
        Ok(KeptMeasures { dir, master, days: Mutex::new(days) })
    }

    /// Keeps `cells` for `day`, replacing earlier cells of the same sites; durable on return.
    pub(crate) fn keep(&self, day: Date, cells: &[DayCell]) -> anyhow::Result<()> {
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        let sites: Vec<u32> = cells.iter().map(|c| c.site).collect();
        let mut all: Vec<DayCell> = days
            .get(&day)
            .map(|old| old.all().iter().filter(|c| !sites.contains(&c.site)).cloned().collect())
            .unwrap_or_default();
        all.extend_from_slice(cells);
        let path = self.dir.join(format!("{}.measures", obscura_model::format_day(day)));
        SealedFile::new(path, KEPT_CONTEXT).write(&self.master, &serde_json::to_vec(&all)?)?;
        days.insert(day, Cells::new(all));
        Ok(())
    }

    /// The kept cells of the days in `wanted`.
    pub(crate) fn cells(&self, wanted: impl Fn(Date) -> bool) -> Vec<(Date, Cells)> {
        let days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        days.iter().filter(|(d, _)| wanted(**d)).map(|(d, c)| (*d, c.clone())).collect()
    }
}
