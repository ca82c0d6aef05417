//! Report how fast a desktop or command-line application is — launches (cold or warm), named
//! timing spans and sessions — to an Obscura server, through its application API
//! (`POST /api/app`, documented in `docs/applications.md` for other languages); and, with the
//! site's DSN, its errors, whose detail (breadcrumbs) is sent only when the person agrees
//! ([`Config::on_diagnostics_request`], `docs/errors.md`).
//!
//! Recording never blocks and never fails: events go to a background thread that sends them in
//! batches, retries with growing pauses while the server cannot be reached, and keeps what it
//! could not send in a bounded file (the oldest events go first when it is full), which the
//! next start of the application sends. Nothing identifies the person: no identifier is made or
//! sent, and the server counts with its own daily-salted hash.
//!
//! ```no_run
//! use std::time::{Duration, Instant};
//! use obscura_sdk::{Config, Launch, Obscura};
//!
//! let started = Instant::now();
//! let obscura = Obscura::start(Config::new("https://stats.example.com", "app.example.com", "2.3.1", "/tmp/my-app"))
//!     .expect("the queue folder can be made");
//! obscura.launch(Launch::Cold, started.elapsed());
//! let render = Instant::now();
//! // … work …
//! obscura.span("checkout.render", render.elapsed(), true);
//! obscura.flush().ok(); // optional: sends now; otherwise batches go every few seconds
//! ```

#![warn(missing_docs)]

mod errors;
mod queue;

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::errors::{Breadcrumbs, Dsn, Report};
use crate::queue::FileQueue;
pub use errors::{ConsentHook, DiagnosticsRequest};

/// Where and how to report.
#[derive(Clone)]
pub struct Config {
    /// The server's address, e.g. `https://stats.example.com`.
    pub endpoint: String,
    /// The site (application) as added on the server with `obscura site add`.
    pub site: String,
    /// The application's version.
    pub app_version: String,
    /// The operating system's name (default: Rust's name for it: `linux`, `macos`, `windows`, …).
    pub os: Option<String>,
    /// The operating system's version, if the application knows it.
    pub os_version: Option<String>,
    /// The device model, if the application knows it.
    pub device_model: Option<String>,
    /// `desktop` (the default), `mobile` or `tablet`.
    pub device_type: Option<String>,
    /// The folder of the offline queue file (the application's cache or data folder).
    pub queue_dir: PathBuf,
    /// The most the queue file may hold, in bytes (default 1 MiB, about 10,000 events).
    pub max_queue_bytes: u64,
    /// Events per request (default 100, at most 200).
    pub batch_size: usize,
    /// How often pending events are sent (default 10 s).
    pub flush_interval: Duration,
    /// How long one request may take (default 10 s).
    pub timeout: Duration,
    /// The longest pause between retries while the server cannot be reached (default 5 min).
    pub max_backoff: Duration,
    /// The site's DSN (`obscura site dsn`), for [`Obscura::report_error`]; none: errors are
    /// not reported.
    pub dsn: Option<String>,
    /// Asks the person whether to send an error's detail, when the operator opened a
    /// diagnostics request on its issue; none: detail is never sent.
    pub on_diagnostics_request: Option<ConsentHook>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("endpoint", &self.endpoint)
            .field("site", &self.site)
            .field("app_version", &self.app_version)
            .field("queue_dir", &self.queue_dir)
            .field("dsn", &self.dsn)
            .field("on_diagnostics_request", &self.on_diagnostics_request.is_some())
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration with the defaults.
    pub fn new(
        endpoint: impl Into<String>,
        site: impl Into<String>,
        app_version: impl Into<String>,
        queue_dir: impl Into<PathBuf>,
    ) -> Config {
        Config {
            endpoint: endpoint.into(),
            site: site.into(),
            app_version: app_version.into(),
            os: Some(std::env::consts::OS.to_owned()),
            os_version: None,
            device_model: None,
            device_type: Some("desktop".to_owned()),
            queue_dir: queue_dir.into(),
            max_queue_bytes: 1 << 20,
            batch_size: 100,
            flush_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(300),
            dsn: None,
            on_diagnostics_request: None,
        }
    }
}

/// How the application started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launch {
    /// A new process.
    Cold,
    /// Brought back from the background.
    Warm,
}

/// The longest label the server takes (versions, OS, device model, span names), in bytes.
const MAX_LABEL_BYTES: usize = 100;
/// The most events in one request: well inside the server's 64 KiB body limit.
const MAX_BATCH: usize = 200;
/// The most events kept in memory while the queue file cannot be written.
const MAX_PENDING: usize = 10_000;

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Config {
    /// Whether the server would take this configuration's batches.
    fn check(&self) -> Result<(), Error> {
        for (name, value) in [
            ("app_version", Some(&self.app_version)),
            ("os", self.os.as_ref()),
            ("os_version", self.os_version.as_ref()),
            ("device_model", self.device_model.as_ref()),
        ] {
            if value.is_some_and(|v| v.len() > MAX_LABEL_BYTES) {
                return Err(Error::Config(format!("`{name}` is longer than {MAX_LABEL_BYTES} bytes")));
            }
        }
        if self.device_type.as_deref().is_some_and(|t| !matches!(t, "desktop" | "mobile" | "tablet")) {
            return Err(Error::Config("`device_type` must be desktop, mobile or tablet".into()));
        }
        if self.site.is_empty() || self.endpoint.is_empty() {
            return Err(Error::Config("`endpoint` and `site` are needed".into()));
        }
        if self.dsn.as_deref().is_some_and(|d| Dsn::parse(d).is_none()) {
            return Err(Error::Config("`dsn` must look like https://<key>@<host>/<site number>".into()));
        }
        Ok(())
    }
}

/// Why events could not be sent now (they stay queued and are retried).
#[derive(Debug)]
pub enum Error {
    /// The configuration would be refused by the server (a label too long, an unknown device
    /// type): nothing is started.
    Config(String),
    /// The queue folder or file could not be used.
    Queue(std::io::Error),
    /// The server could not be reached, or answered with a status worth retrying (429, 5xx).
    Unreachable(String),
    /// The background thread has stopped.
    Stopped,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Config(why) => write!(f, "the configuration cannot be used: {why}"),
            Error::Queue(e) => write!(f, "the offline queue cannot be used: {e}"),
            Error::Unreachable(why) => write!(f, "the server cannot take events now ({why}); they stay queued"),
            Error::Stopped => write!(f, "the reporting thread has stopped"),
        }
    }
}

impl std::error::Error for Error {}

/// One recorded event, as queued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Event {
    pub kind: EventKind,
    pub duration_ms: f64,
    /// When it happened, by the application's clock (ms since the epoch).
    pub at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum EventKind {
    Launch { cold: bool },
    Span { name: String, ok: bool },
    Session,
}

impl Event {
    /// The event as the application API takes it, `now_ms` being the time of sending.
    fn wire(&self, now_ms: u64) -> serde_json::Value {
        let age_ms = now_ms.saturating_sub(self.at_ms);
        let duration_ms = (self.duration_ms * 1000.0).round() / 1000.0;
        match &self.kind {
            EventKind::Launch { cold } => serde_json::json!({
                "type": "launch", "start": if *cold { "cold" } else { "warm" },
                "duration_ms": duration_ms, "age_ms": age_ms,
            }),
            EventKind::Span { name, ok } => serde_json::json!({
                "type": "span", "name": name, "status": if *ok { "ok" } else { "error" },
                "duration_ms": duration_ms, "age_ms": age_ms,
            }),
            EventKind::Session => {
                serde_json::json!({ "type": "session", "duration_ms": duration_ms, "age_ms": age_ms })
            }
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

enum Message {
    Record(Event),
    Flush(mpsc::Sender<Result<(), Error>>),
    Error(Box<Report>),
}

/// The reporter: records events and hands them to its background thread. Dropping it writes
/// what is still pending to the queue file and stops the thread.
pub struct Obscura {
    messages: Option<mpsc::Sender<Message>>,
    worker: Option<JoinHandle<()>>,
    breadcrumbs: Breadcrumbs,
    app_version: String,
    reports_errors: bool,
}

impl Obscura {
    /// Opens the offline queue and starts the background thread, which first sends what an
    /// earlier run left queued. Fails for a configuration the server would refuse.
    pub fn start(config: Config) -> Result<Obscura, Error> {
        config.check()?;
        let queue = FileQueue::open(&config.queue_dir, config.max_queue_bytes).map_err(Error::Queue)?;
        let (messages, inbox) = mpsc::channel();
        let (app_version, reports_errors) = (config.app_version.clone(), config.dsn.is_some());
        let worker = std::thread::Builder::new()
            .name("obscura-sdk".into())
            .spawn(move || Worker::new(config, queue).run(inbox))
            .map_err(Error::Queue)?;
        Ok(Obscura {
            messages: Some(messages),
            worker: Some(worker),
            breadcrumbs: Breadcrumbs::default(),
            app_version,
            reports_errors,
        })
    }

    fn record(&self, kind: EventKind, duration: Duration) {
        let event = Event { kind, duration_ms: duration.as_secs_f64() * 1000.0, at_ms: now_ms() };
        if let Some(messages) = &self.messages {
            let _ = messages.send(Message::Record(event));
        }
    }

    /// Records a launch and how long it took until the application was usable.
    pub fn launch(&self, start: Launch, duration: Duration) {
        self.record(EventKind::Launch { cold: start == Launch::Cold }, duration);
    }

    /// Records a named timing span (`checkout.render`, `db.migrate`, …) and whether it succeeded.
    /// Names are labels shown on the dashboard: keep them few and free of personal data.
    pub fn span(&self, name: &str, duration: Duration, ok: bool) {
        self.record(EventKind::Span { name: cut(name, MAX_LABEL_BYTES).to_owned(), ok }, duration);
    }

    /// Times a span from now until [`SpanTimer::finish`] (or until it is dropped, as failed).
    pub fn time_span<'a>(&'a self, name: &'a str) -> SpanTimer<'a> {
        SpanTimer { obscura: self, name, started: Instant::now(), done: false }
    }

    /// Records a session of use that lasted `duration`.
    pub fn session(&self, duration: Duration) {
        self.record(EventKind::Session, duration);
    }

    /// Remembers what the application just did (`opened the settings`, `sync started`): the
    /// last twenty go with an error report only if the person agrees to send its detail. Keep
    /// personal data out; the server scrubs what it finds all the same.
    pub fn breadcrumb(&self, message: &str) {
        self.breadcrumbs.push(message);
    }

    /// Reports an error of type `kind` (its message and causes, the current stack) to the
    /// site's DSN. Sent at once by the background thread and not queued offline; when the
    /// server answers that the issue has an open diagnostics request, the configured hook asks
    /// the person, and only if they agree the report goes again with the breadcrumbs.
    pub fn report_error(&self, kind: &str, error: &dyn std::error::Error) {
        if !self.reports_errors {
            return;
        }
        let report = Report::new(cut(kind, MAX_LABEL_BYTES), error, &self.app_version, &self.breadcrumbs);
        if let Some(messages) = &self.messages {
            let _ = messages.send(Message::Error(Box::new(report)));
        }
    }

    /// Sends every pending and queued event now; on failure they stay queued for a retry.
    pub fn flush(&self) -> Result<(), Error> {
        let (reply, answer) = mpsc::channel();
        self.messages.as_ref().ok_or(Error::Stopped)?.send(Message::Flush(reply)).map_err(|_| Error::Stopped)?;
        answer.recv().map_err(|_| Error::Stopped)?
    }
}

impl Drop for Obscura {
    fn drop(&mut self) {
        // Closing the channel tells the thread to queue what is pending and stop.
        self.messages.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// A span being timed; see [`Obscura::time_span`].
pub struct SpanTimer<'a> {
    obscura: &'a Obscura,
    name: &'a str,
    started: Instant,
    done: bool,
}

impl SpanTimer<'_> {
    /// Ends the span now, successful or not.
    pub fn finish(mut self, ok: bool) {
        self.done = true;
        self.obscura.span(self.name, self.started.elapsed(), ok);
    }
}

impl Drop for SpanTimer<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.obscura.span(self.name, self.started.elapsed(), false);
        }
    }
}

/// The background thread's state.
struct Worker {
    config: Config,
    queue: FileQueue,
    agent: ureq::Agent,
    pending: Vec<Event>,
    /// Whether the queue file may hold events.
    queued: bool,
    /// No send is tried before this (after a failure).
    next_try: Instant,
    backoff: Duration,
    /// What the server's last `Retry-After` asked for.
    retry_after: Option<Duration>,
}

impl Worker {
    fn new(config: Config, queue: FileQueue) -> Worker {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("obscura-sdk/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Worker {
            config,
            queue,
            agent,
            pending: Vec::new(),
            queued: true,
            next_try: Instant::now(),
            backoff: Duration::ZERO,
            retry_after: None,
        }
    }

    fn run(mut self, inbox: mpsc::Receiver<Message>) {
        let _ = self.send_all();
        loop {
            let wait = if self.pending.is_empty() && !self.queued {
                self.config.flush_interval
            } else {
                self.next_try.saturating_duration_since(Instant::now()).max(Duration::from_millis(10))
            };
            match inbox.recv_timeout(wait.min(self.config.flush_interval)) {
                Ok(Message::Record(event)) => {
                    if self.pending.len() >= MAX_PENDING {
                        // The queue file cannot be written: the oldest go first, as in the file.
                        self.pending.remove(0);
                    }
                    self.pending.push(event);
                    if self.pending.len() >= self.config.batch_size && Instant::now() >= self.next_try {
                        let _ = self.send_all();
                    }
                }
                Ok(Message::Flush(reply)) => {
                    let _ = reply.send(self.send_all());
                }
                Ok(Message::Error(report)) => self.send_report(&report),
                Err(RecvTimeoutError::Timeout) => {
                    if Instant::now() >= self.next_try {
                        let _ = self.send_all();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.keep_pending();
                    return;
                }
            }
        }
    }

    /// Moves pending events to the queue file.
    fn keep_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if self.queue.push(&self.pending).is_ok() {
            self.queued = true;
        }
        self.pending.clear();
    }

    /// Sends the queued events, then the pending ones, in batches; on failure everything not
    /// yet accepted goes to the queue file and the next try waits longer.
    fn send_all(&mut self) -> Result<(), Error> {
        let mut events = if self.queued {
            match self.queue.read() {
                Ok(events) => events,
                Err(e) => {
                    self.next_try = Instant::now() + self.config.max_backoff.min(Duration::from_secs(5));
                    return Err(Error::Queue(e));
                }
            }
        } else {
            Vec::new()
        };
        let from_queue = events.len();
        events.append(&mut self.pending);
        if events.is_empty() {
            self.queued = false;
            return Ok(());
        }
        let size = self.config.batch_size.clamp(1, MAX_BATCH);
        let mut sent = 0;
        while sent < events.len() {
            let batch = &events[sent..(sent + size).min(events.len())];
            match self.post(batch) {
                // Accepted, or refused for good (a client error cannot succeed on a retry).
                Ok(()) => sent += batch.len(),
                Err(e) => {
                    let first = Duration::from_secs(1).min(self.config.max_backoff);
                    self.backoff = (self.backoff * 2).max(first).min(self.config.max_backoff);
                    self.next_try = Instant::now() + self.backoff.max(self.retry_after.take().unwrap_or_default());
                    // What the server has not accepted becomes the whole queue (oldest first);
                    // if the file cannot take it, it waits in memory.
                    if let Err(io) = self.queue.replace_with(&events[sent..]) {
                        self.pending = events.split_off(sent);
                        return Err(Error::Queue(io));
                    }
                    self.queued = true;
                    return Err(e);
                }
            }
        }
        if from_queue > 0 {
            self.queue.clear().map_err(Error::Queue)?;
        }
        self.queued = false;
        self.backoff = Duration::ZERO;
        self.next_try = Instant::now();
        Ok(())
    }

    /// Sends an error report; if the server offers a diagnostics request and the person agrees
    /// (the hook), fetches a consent token and sends it again with its detail. Failures are
    /// dropped: an error report is not worth a queue.
    fn send_report(&self, report: &Report) {
        let Some(dsn) = self.config.dsn.as_deref().and_then(Dsn::parse) else { return };
        let post = |url: &str, body: String| -> Option<serde_json::Value> {
            let mut response = self.agent.post(url).header("content-type", "application/json").send(body).ok()?;
            if !response.status().is_success() {
                return None;
            }
            serde_json::from_str(&response.body_mut().read_to_string().ok()?).ok()
        };
        let Some(answer) = post(&dsn.store_url(None), report.body()) else { return };
        let (Some((id, request)), Some(ask)) = (errors::offered(&answer), &self.config.on_diagnostics_request) else {
            return;
        };
        if !ask(&request) {
            return;
        }
        let token = post(&dsn.consent_url(&id), String::new())
            .and_then(|granted| granted.get("token").and_then(|t| t.as_str()).map(str::to_owned));
        if let Some(token) = token {
            let _ = post(&dsn.store_url(Some(&token)), report.body_with_detail());
        }
    }

    /// Posts one batch: `Ok` when accepted or refused for good (4xx but 408 and 429).
    fn post(&mut self, batch: &[Event]) -> Result<(), Error> {
        let now = now_ms();
        let body = serde_json::json!({
            "site": self.config.site,
            "app_version": self.config.app_version,
            "os": self.config.os,
            "os_version": self.config.os_version,
            "device_model": self.config.device_model,
            "device_type": self.config.device_type,
            "events": batch.iter().map(|e| e.wire(now)).collect::<Vec<_>>(),
        });
        let url = format!("{}/api/app", self.config.endpoint.trim_end_matches('/'));
        let response = self
            .agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body.to_string())
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        // An overloaded server says when to come back; the next try waits at least that long.
        self.retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs.min(3_600)));
        match response.status().as_u16() {
            200..=299 => Ok(()),
            408 | 429 => Err(Error::Unreachable(format!("status {}", response.status()))),
            400..=499 => Ok(()),
            status => Err(Error::Unreachable(format!("status {status}"))),
        }
    }
}
