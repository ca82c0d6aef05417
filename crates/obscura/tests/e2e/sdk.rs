//! The Rust SDK (`obscura-sdk`) against a running server: launches and spans arrive with the
//! device the application reports; while the server cannot be reached they wait in the offline
//! queue — across a restart of the application — and are retried by themselves. Its error
//! reports carry detail only when the person agrees.

use std::sync::Arc;
use std::time::Duration;

use obscura_sdk::{Config, Error, Launch, Obscura};

use crate::harness::{SITE, TestServer, free_port};

fn config(endpoint: &str, queue: &std::path::Path) -> Config {
    Config {
        flush_interval: Duration::from_millis(200),
        max_backoff: Duration::from_millis(400),
        timeout: Duration::from_secs(2),
        os_version: Some("6.1".into()),
        ..Config::new(endpoint, SITE, "2.3.1", queue)
    }
}

fn queued_lines(queue: &std::path::Path) -> usize {
    std::fs::read_to_string(queue.join("obscura-queue.jsonl")).map_or(0, |s| s.lines().count())
}

fn cell<'a>(answer: &'a serde_json::Value, keys: &[&str], metric: &str) -> Option<&'a serde_json::Value> {
    answer["results"].as_array()?.iter().find(|c| c["metric"] == metric && c["keys"] == serde_json::json!(keys))
}

/// A stand-in for the server's address that starts answering later: forwards `/api/app`.
async fn forward_later(port: u16, to: String) {
    let app = axum::Router::new().route(
        "/api/app",
        axum::routing::post(move |body: String| {
            let to = to.clone();
            async move {
                let res = reqwest::Client::new().post(format!("{to}/api/app")).body(body).send().await.unwrap();
                axum::http::StatusCode::from_u16(res.status().as_u16()).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_reports_launches_and_spans_queues_offline_and_retries_by_itself() {
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    obscura::admin::set_speed(&*s.server_meta(), SITE, true, 100).unwrap();
    let queue = tempfile::tempdir().unwrap();
    let dir = queue.path().to_path_buf();

    // Offline: nothing listens; the events wait in the queue file when the application exits.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (offline_dir, offline) = (dir.clone(), dead.clone());
    tokio::task::spawn_blocking(move || {
        let obscura = Obscura::start(config(&offline, &offline_dir)).unwrap();
        obscura.launch(Launch::Cold, Duration::from_millis(840));
        obscura.span("checkout.render", Duration::from_millis(120), true);
        obscura.span("checkout.render", Duration::from_millis(300), false);
        assert!(matches!(obscura.flush(), Err(Error::Unreachable(_))), "the server cannot be reached");
    })
    .await
    .unwrap();
    assert_eq!(queued_lines(&dir), 3, "queued for the next start");

    // The next start sends them.
    let (online_dir, base) = (dir.clone(), s.base.clone());
    tokio::task::spawn_blocking(move || {
        let obscura = Obscura::start(config(&base, &online_dir)).unwrap();
        obscura.flush().expect("the server takes them");
    })
    .await
    .unwrap();
    assert_eq!(queued_lines(&dir), 0, "nothing left queued");
    let q = format!("site={SITE}&range=today");
    let launches = s.api(&format!("/api/v1/stats/performance?{q}&metrics=launch&by=prop:start,prop:version")).await;
    let cold = cell(&launches, &["cold", "2.3.1"], "launch").unwrap_or_else(|| panic!("{launches}"));
    assert_eq!(cold["samples"], 1);
    assert!((cold["p50"].as_f64().unwrap() - 840.0).abs() <= 5.0, "{cold}");
    let spans = s.api(&format!("/api/v1/stats/performance?{q}&metrics=span&by=prop:span,prop:status")).await;
    assert_eq!(
        cell(&spans, &["checkout.render", "ok"], "span").map(|c| c["samples"].clone()),
        Some(1.into()),
        "{spans}"
    );
    assert_eq!(cell(&spans, &["checkout.render", "error"], "span").map(|c| c["samples"].clone()), Some(1.into()));
    let devices = s.api(&format!("/api/v1/stats/performance?{q}&metrics=launch&by=os_version,device_type")).await;
    let os = cell(&devices, &[&format!("{} 6.1", std::env::consts::OS), "desktop"], "launch");
    assert!(os.is_some(), "the device the application reported: {devices}");

    // Retried by itself: the server's address answers only after a while.
    let port = free_port();
    let later = format!("http://127.0.0.1:{port}");
    let (retry_dir, retry) = (dir.clone(), later.clone());
    let app = tokio::task::spawn_blocking(move || {
        let obscura = Obscura::start(config(&retry, &retry_dir)).unwrap();
        obscura.session(Duration::from_secs(95));
        std::thread::sleep(Duration::from_millis(700));
        obscura
    })
    .await
    .unwrap();
    forward_later(port, s.base.clone()).await;
    let mut sessions = serde_json::Value::Null;
    for _ in 0..50 {
        sessions = s.api(&format!("/api/v1/stats/performance?{q}&metrics=session")).await;
        if cell(&sessions, &[], "session").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cell(&sessions, &[], "session").map(|c| c["samples"].clone()), Some(1.into()), "{sessions}");
    tokio::task::spawn_blocking(move || drop(app)).await.unwrap();
    assert_eq!(queued_lines(&dir), 0);
    s.stop();
}

/// The SDK's error reports and the same consent hook as the tracker's (P7): a report lands
/// without detail; once the operator asks for breadcrumbs, a person who declines sends none,
/// and one who agrees sends the last breadcrumbs with a single-use token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_reports_errors_and_sends_detail_only_when_the_person_agrees() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    let dsn = s.dsn();
    let agree = Arc::new(AtomicBool::new(false));
    let asked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let queue = tempfile::tempdir().unwrap();
    let (hook_agree, hook_asked) = (agree.clone(), asked.clone());
    let config = Config {
        dsn: Some(dsn),
        on_diagnostics_request: Some(Arc::new(move |request: &obscura_sdk::DiagnosticsRequest| {
            hook_asked.lock().unwrap().push(request.purpose.clone());
            hook_agree.load(Ordering::SeqCst)
        })),
        ..config(&s.base, queue.path())
    };
    let sdk = Arc::new(tokio::task::spawn_blocking(move || Obscura::start(config).unwrap()).await.unwrap());
    let report = |sdk: &Obscura| {
        sdk.breadcrumb("opened the settings");
        sdk.report_error("SyncError", &std::io::Error::other("sync failed for jane@example.com"));
    };

    report(&sdk);
    let first = s.error_reports(1).await.remove(0);
    let props = first.props.clone().unwrap_or_default();
    assert!(props.contains("SyncError") && props.contains("sync failed for [email]"), "{props}");
    assert!(!props.contains("opened the settings"), "no detail without a request and consent");
    let fingerprint = first.name.clone().expect("an issue");
    let meta = s.server_meta();
    let admin = obscura_admin::AdminService::seeding(&*meta, obscura_model::unix_ms(time::OffsetDateTime::now_utc()));
    let wants = [obscura_store::meta::DetailKind::Breadcrumbs];
    admin.open_diagnostics(SITE, &fingerprint, "Why does sync fail?", &wants, 7, 5).unwrap();

    report(&sdk);
    s.error_reports(2).await;
    for _ in 0..50 {
        if !asked.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(*asked.lock().unwrap(), ["Why does sync fail?"], "the hook was asked with the purpose");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.error_reports(2).await.len(), 2, "declined: nothing more is sent");

    agree.store(true, Ordering::SeqCst);
    report(&sdk);
    let all = s.error_reports(4).await;
    let detailed: Vec<String> =
        all.iter().filter_map(|r| r.props.clone()).filter(|p| p.contains("\u{1}detail\u{2}")).collect();
    assert_eq!(detailed.len(), 1, "{detailed:?}");
    assert!(detailed[0].contains("opened the settings"), "{}", detailed[0]);
    assert!(all.iter().all(|r| r.name.as_deref() == Some(fingerprint.as_str())), "one issue");
    tokio::task::spawn_blocking(move || drop(sdk)).await.unwrap();
    s.stop();
}

/// An overloaded server answers `503` with `Retry-After: 5`: the SDK keeps the events and waits
/// that long, longer than its own back-off (here 400 ms), before it sends them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_waits_as_long_as_an_overloaded_server_asks_then_sends() {
    // Memory over the ceiling (64 MB, under what the test process holds): ingest is refused.
    let s = TestServer::start_with(time::OffsetDateTime::now_utc(), |c| c.limits.memory_mb = 64).await;
    obscura::admin::set_speed(&*s.server_meta(), SITE, true, 100).unwrap();
    let queue = tempfile::tempdir().unwrap();
    let (dir, base) = (queue.path().to_path_buf(), s.base.clone());
    let app = tokio::task::spawn_blocking(move || {
        let obscura = Obscura::start(config(&base, &dir)).unwrap();
        obscura.span("checkout.render", Duration::from_millis(120), true);
        assert!(matches!(obscura.flush(), Err(Error::Unreachable(e)) if e.contains("503")));
        obscura
    })
    .await
    .unwrap();
    let refused_at = std::time::Instant::now();
    s.pipeline.admission().set_memory_ceiling(0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(s.store.count_events().await.unwrap(), 0, "not sent again before the server's wait is over");
    let mut stored = 0;
    for _ in 0..100 {
        stored = s.store.count_events().await.unwrap();
        if stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 1, "sent by itself once the wait was over");
    assert!(refused_at.elapsed() >= Duration::from_millis(4_500), "{:?}", refused_at.elapsed());
    tokio::task::spawn_blocking(move || drop(app)).await.unwrap();
}
