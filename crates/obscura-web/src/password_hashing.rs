//! Password hashing with a bound: each argon2 run takes ~19 MiB and tens of milliseconds, so at
//! most one per core runs at a time, on the blocking pool. A bounded number of requests wait for
//! a turn (up to [`MAX_WAIT`]); beyond that the caller answers 503 and the client retries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Requests waiting for a turn at most, per core hashing.
pub const WAITING_PER_CORE: usize = 32;
/// How long a request waits for a turn before it is told to retry.
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// Hashing is saturated: the request should be retried later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl Busy {
    /// What to tell the user when hashing is saturated.
    pub const MESSAGE: &'static str = "The server is busy checking other passwords. Please try again in a moment.";
}

/// The bounded pool passwords are hashed and checked on; the default runs one hashing per core, with
/// [`WAITING_PER_CORE`] requests per core waiting up to [`MAX_WAIT`].
pub struct PasswordHashing {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
}

impl Default for PasswordHashing {
    /// One hashing at a time per core.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        PasswordHashing::new(cores, cores * WAITING_PER_CORE, MAX_WAIT)
    }
}

/// Counts a waiting request for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHashing {
    /// At most `concurrent` hashings at a time (at least one), and at most `max_waiting` requests
    /// waiting for a turn, each for at most `max_wait`.
    pub fn new(concurrent: usize, max_waiting: usize, max_wait: Duration) -> Self {
        PasswordHashing {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
            max_wait,
        }
    }

    /// Runs `job` (a password hash or check) on the blocking pool when a turn is free.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(Busy);
                }
                let _waiting = Waiting(&self.waiting);
                match tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(Busy),
                }
            }
        };
        // The permit goes with the job: a client that disconnects drops this future, but the
        // hashing it started still runs and still holds its turn.
        tokio::task::spawn_blocking(move || {
            let _turn = permit;
            job()
        })
        .await
        .map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hardening_password_hashing_is_bounded() {
        let hashing = Arc::new(PasswordHashing::new(2, 3, Duration::from_millis(200)));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
        let job = || {
            let (running, most, release_rx) = (running.clone(), most.clone(), release_rx.clone());
            move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let _ = release_rx.lock().unwrap().recv_timeout(Duration::from_secs(5));
                running.fetch_sub(1, Ordering::SeqCst);
            }
        };
        // Two run, three wait: every one of them is served once turns come free.
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (hashing, job) = (hashing.clone(), job());
                tokio::spawn(async move { hashing.run(job).await })
            })
            .collect();
        while running.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        // A sixth finds the queue full and is told to retry at once.
        assert_eq!(hashing.run(|| ()).await, Err(Busy));
        for _ in 0..5 {
            release_tx.send(()).unwrap();
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(()));
        }
        assert_eq!(most.load(Ordering::SeqCst), 2, "never more than two at a time");
        // A request that waits longer than allowed is told to retry.
        let slow = hashing.clone();
        let hold = tokio::spawn(async move { slow.run(|| std::thread::sleep(Duration::from_millis(600))).await });
        let hold2 = {
            let slow = hashing.clone();
            tokio::spawn(async move { slow.run(|| std::thread::sleep(Duration::from_millis(600))).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(hashing.run(|| ()).await, Err(Busy));
        assert!(hold.await.unwrap().is_ok() && hold2.await.unwrap().is_ok());
        assert_eq!(hashing.run(|| 7).await, Ok(7));
    }
}
