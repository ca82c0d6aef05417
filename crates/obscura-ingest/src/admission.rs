//! Admission when ingest outruns the store: events handed to the store and not yet durable are
//! counted, and an append that would take them past [`Admission::max_waiting_events`], or that
//! comes while the process's resident memory is over its ceiling, is
//! refused at once with a `503` and `Retry-After` instead of waiting in a queue. The queue is
//! bounded, memory stays under the ceiling, and ingest recovers by itself as the store catches
//! up: nothing is held for later.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// Events waiting to be made durable at most, by default.
pub const DEFAULT_MAX_WAITING_EVENTS: usize = 200_000;
/// The resident memory above which ingest is refused, by default: 1 GiB.
pub const DEFAULT_MEMORY_CEILING_BYTES: u64 = 1 << 30;
/// How often resident memory is read at most (reading it costs a system call and a parse).
const MEMORY_READ_EVERY_MS: i64 = 100;

/// Why an append was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// This many events already wait to be stored.
    QueueFull(usize),
    /// Resident memory (bytes) is over the ceiling.
    MemoryHigh(u64),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::QueueFull(n) => {
                write!(f, "the server is overloaded: {n} events are waiting to be stored; retry later")
            }
            Refusal::MemoryHigh(b) => write!(
                f,
                "the server is overloaded: it uses {} MB, over its memory ceiling ([limits] memory_mb); retry later",
                b >> 20
            ),
        }
    }
}

/// The admission gate of one pipeline.
#[derive(Debug)]
pub struct Admission {
    /// Events waiting to be made durable at most.
    pub max_waiting_events: usize,
    /// Resident memory above which ingest is refused; 0: no ceiling.
    memory_ceiling_bytes: AtomicU64,
    waiting: AtomicUsize,
    resident: AtomicU64,
    resident_read_at: AtomicI64,
    started: Instant,
    read_resident: fn() -> Option<u64>,
    /// Appends refused, for the metrics.
    pub refused: AtomicU64,
}

impl Default for Admission {
    fn default() -> Self {
        Admission::new(DEFAULT_MAX_WAITING_EVENTS, DEFAULT_MEMORY_CEILING_BYTES)
    }
}

/// Events admitted and not yet answered; leaving (even by a cancelled request) frees their place.
#[derive(Debug)]
pub struct Admitted<'a> {
    admission: &'a Admission,
    events: usize,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.admission.waiting.fetch_sub(self.events, Ordering::AcqRel);
    }
}

impl Admission {
    /// A gate with these limits, reading this process's resident memory.
    pub fn new(max_waiting_events: usize, memory_ceiling_bytes: u64) -> Self {
        Admission::with_memory_reader(max_waiting_events, memory_ceiling_bytes, resident_bytes)
    }

    fn with_memory_reader(max_waiting_events: usize, memory_ceiling_bytes: u64, read: fn() -> Option<u64>) -> Self {
        Admission {
            max_waiting_events: max_waiting_events.max(1),
            memory_ceiling_bytes: AtomicU64::new(memory_ceiling_bytes),
            waiting: AtomicUsize::new(0),
            resident: AtomicU64::new(0),
            resident_read_at: AtomicI64::new(i64::MIN),
            started: Instant::now(),
            read_resident: read,
            refused: AtomicU64::new(0),
        }
    }

    /// Changes the memory ceiling (bytes; 0: none), taking effect at once.
    pub fn set_memory_ceiling(&self, bytes: u64) {
        self.memory_ceiling_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Events waiting to be made durable now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Whether a request may be read at all: `Err` while memory is over the ceiling (checked
    /// before a body is read, so an overloaded server does not buffer more bodies).
    pub fn check_memory(&self) -> Result<(), Refusal> {
        let ceiling = self.memory_ceiling_bytes.load(Ordering::Relaxed);
        if ceiling == 0 {
            return Ok(());
        }
        let now = self.started.elapsed().as_millis() as i64;
        let read_at = self.resident_read_at.load(Ordering::Relaxed);
        if now.saturating_sub(read_at) >= MEMORY_READ_EVERY_MS
            && self.resident_read_at.compare_exchange(read_at, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            && let Some(bytes) = (self.read_resident)()
        {
            self.resident.store(bytes, Ordering::Relaxed);
        }
        let resident = self.resident.load(Ordering::Relaxed);
        if resident > ceiling {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::MemoryHigh(resident));
        }
        Ok(())
    }

    /// Admits `events` to wait for the store, or refuses them.
    pub fn enter(&self, events: usize) -> Result<Admitted<'_>, Refusal> {
        self.check_memory()?;
        let before = self.waiting.fetch_add(events, Ordering::AcqRel);
        // One append larger than the whole queue still goes through when nothing else waits.
        if before > 0 && before + events > self.max_waiting_events {
            self.waiting.fetch_sub(events, Ordering::AcqRel);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::QueueFull(before));
        }
        Ok(Admitted { admission: self, events })
    }
}

/// This process's resident memory in bytes, from `/proc/self/statm`.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok().filter(|p| *p > 0).unwrap_or(4096))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_queue_is_bounded_and_places_free_when_answers_leave() {
        let gate = Admission::with_memory_reader(100, 0, || None);
        let a = gate.enter(60).unwrap();
        let b = gate.enter(40).unwrap();
        assert_eq!(gate.enter(1).unwrap_err(), Refusal::QueueFull(100));
        assert_eq!(gate.waiting(), 100, "a refusal takes no place");
        drop(a);
        let c = gate.enter(50).unwrap();
        assert_eq!(gate.waiting(), 90);
        drop((b, c));
        assert_eq!(gate.waiting(), 0);
        let huge = gate.enter(500).expect("alone, one append larger than the queue goes through");
        assert!(gate.enter(1).is_err());
        drop(huge);
        assert_eq!(gate.refused.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn overload_memory_over_the_ceiling_refuses_until_it_falls() {
        static RESIDENT: AtomicU64 = AtomicU64::new(900);
        let gate = Admission::with_memory_reader(1_000, 1_000, || Some(RESIDENT.load(Ordering::Relaxed)));
        assert!(gate.enter(1).is_ok());
        RESIDENT.store(1_500, Ordering::Relaxed);
        std::thread::sleep(std::time::Duration::from_millis(MEMORY_READ_EVERY_MS as u64 + 20));
        assert_eq!(gate.enter(1).unwrap_err(), Refusal::MemoryHigh(1_500));
        assert!(gate.check_memory().is_err());
        assert!(Refusal::MemoryHigh(1_500 << 20).to_string().contains("1500 MB"));
        RESIDENT.store(800, Ordering::Relaxed);
        std::thread::sleep(std::time::Duration::from_millis(MEMORY_READ_EVERY_MS as u64 + 20));
        assert!(gate.enter(1).is_ok(), "recovers by itself");
        assert!(resident_bytes().is_some_and(|b| b > 1 << 20), "this process's memory is read");
    }
}
