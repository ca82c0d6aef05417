//! Crash safety under load: `obscura bench crash --cycles N`, and the test that runs it in CI.
//!
//! Each cycle starts the server (the real binary, in its own process), sends batches of events
//! from four clients through the batch API with an idempotency key per event, and kills the
//! server with `SIGKILL` at a random moment. A batch whose answer never came is kept and sent
//! again, with the same keys, after the restart. After each restart, before any retry, the
//! stored events are counted: fewer than were acknowledged is a loss. At the end every batch
//! has been acknowledged; stored events beyond the distinct ones sent are duplicates.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

/// The site the load is for.
const SITE: &str = "crash.example";
/// Events per batch.
const BATCH: u64 = 25;
/// Clients sending at once.
const CLIENTS: u64 = 4;
/// A person's browser, so the events count as page views.
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// What the cycles showed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CrashReport {
    /// Kill-and-restart cycles run.
    pub cycles: u32,
    /// Distinct events sent (all acknowledged by the end).
    pub sent: u64,
    /// Batches sent again after a restart, their answer lost to the kill.
    pub retried_batches: u64,
    /// Acknowledged events missing after a restart (summed over restarts).
    pub lost: u64,
    /// Events stored more than once.
    pub duplicated: u64,
    /// Events stored at the end.
    pub stored: u64,
}

impl CrashReport {
    /// One line for the benchmark's output and BENCHMARKS.md.
    pub fn line(&self) -> String {
        format!(
            "{} kill -9 cycles: {} events sent and acknowledged, {} batches retried after a restart, {} lost, {} duplicated ({} stored)",
            self.cycles, self.sent, self.retried_batches, self.lost, self.duplicated, self.stored
        )
    }
}

/// A server process on `port`, its data in `dir`.
struct Server {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Server {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .env("OBSCURA_DATA_DIR", self.dir.join("data"))
            .env("OBSCURA_MASTER_KEY_FILE", self.dir.join("master.key"))
            .env("OBSCURA_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("OBSCURA_LOG", "warn")
            .env_remove("OBSCURA_CONFIG");
        command
    }

    fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.command().args(args).output()?;
        anyhow::ensure!(out.status.success(), "obscura {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    async fn start(&self) -> anyhow::Result<Child> {
        let mut child = self.command().arg("serve").stdout(Stdio::null()).spawn()?;
        let health = format!("{}/health", self.base());
        for _ in 0..600 {
            if reqwest::get(&health).await.is_ok_and(|r| r.status() == 204) {
                return Ok(child);
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("the server exited at start: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        anyhow::bail!("the server did not come up in 30 s")
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Batches not yet acknowledged, and counts shared by the clients.
#[derive(Default)]
struct Load {
    pending: Vec<String>,
    next: u64,
    acknowledged: u64,
    retried: u64,
}

/// A new batch of `BATCH` events, each with its own key and page.
fn new_batch(first: u64) -> String {
    (first..first + BATCH)
        .map(|n| {
            serde_json::json!({"site": SITE, "url": format!("https://{SITE}/e/{n}"), "idempotency_key": format!("event-{n}"), "user_agent": FIREFOX})
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One client: sends batches (retries first) until the server is gone or `until` passes.
async fn client(base: String, token: String, load: Arc<Mutex<Load>>, until: Option<tokio::time::Instant>) {
    let http = reqwest::Client::new();
    loop {
        if until.is_some_and(|u| tokio::time::Instant::now() >= u) {
            return;
        }
        let (body, retry) = {
            let mut load = load.lock().unwrap_or_else(|e| e.into_inner());
            match load.pending.pop() {
                Some(body) => (body, true),
                None if until.is_none() => return,
                None => {
                    let first = load.next;
                    load.next += BATCH;
                    (new_batch(first), false)
                }
            }
        };
        let sent = http
            .post(format!("{base}/api/batch"))
            .bearer_auth(&token)
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await;
        let answered = match sent {
            Ok(response) if response.status() == 200 => response.json::<serde_json::Value>().await.ok(),
            _ => None,
        };
        let mut load = load.lock().unwrap_or_else(|e| e.into_inner());
        match answered {
            Some(answer) if answer["refused"] == 0 && answer["dropped"] == 0 => {
                load.acknowledged += BATCH;
                load.retried += u64::from(retry);
            }
            _ => {
                // No answer (the server is gone, or could not store): the batch waits for the
                // next server, with the same keys.
                load.pending.push(body);
                return;
            }
        }
    }
}

/// Stored page views of the site (people's and kept apart).
async fn stored(base: &str, token: &str) -> anyhow::Result<u64> {
    let get = |path: String| async move {
        let answer = reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(token).send().await?;
        anyhow::Ok(answer.json::<serde_json::Value>().await?)
    };
    let people = get(format!("/api/v1/stats/aggregate?site={SITE}&range=7d")).await?;
    let apart = get(format!("/api/v1/stats/automated?site={SITE}&range=7d")).await?;
    let people = people["results"]["pageviews"].as_u64().context("no page views in the answer")?;
    Ok(people + apart["hits"].as_u64().unwrap_or(0))
}

/// Runs `cycles` kill-and-restart cycles of the server `bin` with its data in `dir`.
pub async fn run(bin: &Path, dir: &Path, cycles: u32) -> anyhow::Result<CrashReport> {
    let server = Server { bin: bin.to_owned(), dir: dir.to_owned(), port: free_port()? };
    server.cli(&["site", "add", SITE])?;
    let token_line = server.cli(&["token", "add", "--name", "crash", "--scope", "admin"])?;
    let token = token_line.split_whitespace().last().context("no token printed")?.to_owned();
    let load = Arc::new(Mutex::new(Load::default()));
    let mut report = CrashReport { cycles, ..CrashReport::default() };
    for _ in 0..cycles {
        let mut child = server.start().await?;
        let acknowledged = load.lock().unwrap_or_else(|e| e.into_inner()).acknowledged;
        let now_stored = stored(&server.base(), &token).await?;
        report.lost += acknowledged.saturating_sub(now_stored);
        let until = tokio::time::Instant::now() + Duration::from_secs(5);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| tokio::spawn(client(server.base(), token.clone(), load.clone(), Some(until))))
            .collect();
        tokio::time::sleep(Duration::from_millis(150 + rand::random::<u64>() % 1200)).await;
        // SAFETY: `kill` takes a process id and a signal number; the child is ours.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait()?;
        for c in clients {
            c.await?;
        }
    }
    // The last server: the batches still unanswered go again, then the count.
    let mut child = server.start().await?;
    let acknowledged = load.lock().unwrap_or_else(|e| e.into_inner()).acknowledged;
    report.lost += acknowledged.saturating_sub(stored(&server.base(), &token).await?);
    let retries: Vec<_> =
        (0..CLIENTS).map(|_| tokio::spawn(client(server.base(), token.clone(), load.clone(), None))).collect();
    for r in retries {
        r.await?;
    }
    report.stored = stored(&server.base(), &token).await?;
    let _ = child.kill();
    child.wait()?;
    let load = load.lock().unwrap_or_else(|e| e.into_inner());
    anyhow::ensure!(load.pending.is_empty(), "{} batches were never acknowledged", load.pending.len());
    report.sent = load.acknowledged;
    report.retried_batches = load.retried;
    report.duplicated = report.stored.saturating_sub(report.sent);
    Ok(report)
}

/// A loopback port nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `obscura bench crash`: runs the cycles against this binary in a fresh folder.
pub async fn bench(cycles: u32) -> anyhow::Result<()> {
    let dir = crate::bench::tempfile_dir("obscura-bench-crash")?;
    let report = run(&std::env::current_exe()?, &dir, cycles).await;
    let _ = std::fs::remove_dir_all(&dir);
    println!("{}", report?.line());
    Ok(())
}
