//! Error reports from a real client no one here wrote: Sentry's Rust SDK (`sentry` crate),
//! pointed at Obscura by its DSN alone. Its reports form issues (the same bug from another
//! line is one issue, another exception type another); planted personal data — an e-mail in a
//! message, a card number in a breadcrumb, a home directory in a frame, the user block — is
//! absent from storage; the issue can be resolved, and a new report reopens it.

use std::sync::Arc;
use std::time::Duration;

use sentry::protocol::{Breadcrumb, Event, Exception, Frame, Level, Stacktrace, User};
use time::macros::datetime;

use crate::harness::{SITE, TestClient, TestServer};

/// An exception of `kind` raised in `pay` at `line` of a file under a home directory.
fn exception_event(kind: &str, line: u64) -> Event<'static> {
    Event {
        level: Level::Error,
        exception: vec![Exception {
            ty: kind.to_owned(),
            value: Some("payment failed for jane@example.com".to_owned()),
            stacktrace: Some(Stacktrace {
                frames: vec![
                    Frame {
                        function: Some("main".into()),
                        abs_path: Some("/home/jdoe/shop/src/main.rs".into()),
                        lineno: Some(3),
                        in_app: Some(true),
                        ..Frame::default()
                    },
                    Frame {
                        function: Some("shop::checkout::pay".into()),
                        abs_path: Some("/home/jdoe/shop/src/checkout.rs".into()),
                        lineno: Some(line),
                        in_app: Some(true),
                        ..Frame::default()
                    },
                ],
                ..Stacktrace::default()
            }),
            ..Exception::default()
        }]
        .into(),
        ..Event::default()
    }
}

/// Sends `events` through Sentry's own client to `dsn`, with a user block and a breadcrumb
/// planted in the scope, and waits until they are delivered.
async fn send_with_sentry(dsn: String, events: Vec<Event<'static>>) {
    tokio::task::spawn_blocking(move || {
        let mut options = sentry::ClientOptions::default();
        options.dsn = Some(dsn.parse().expect("a DSN"));
        options.release = Some("shop@1.4.2".into());
        options.environment = Some("production".into());
        options.send_default_pii = true;
        // As `sentry::init` does: the default transport (here the `ureq` one) and integrations.
        let client = Arc::new(sentry::Client::from(sentry::apply_defaults(options)));
        assert!(client.is_enabled(), "the SDK takes Obscura's DSN");
        let hub = sentry::Hub::new(Some(client.clone()), Arc::new(sentry::Scope::default()));
        hub.configure_scope(|scope| {
            scope.set_user(Some(User {
                email: Some("jane@example.com".into()),
                ip_address: Some(sentry::protocol::IpAddress::Auto),
                ..User::default()
            }));
            scope.set_tag("tenant", "acme");
        });
        hub.add_breadcrumb(Breadcrumb {
            message: Some("paid with 4111 1111 1111 1111".into()),
            ..Breadcrumb::default()
        });
        for event in events {
            hub.capture_event(event);
        }
        assert!(client.flush(Some(Duration::from_secs(10))), "the SDK delivered its reports");
    })
    .await
    .expect("the SDK thread");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p01_sentry_sdk_reports_form_issues_without_personal_data() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let dsn = s.dsn();

    let message = Event {
        level: Level::Warning,
        message: Some("order 1234 failed for jane@example.com".into()),
        ..Event::default()
    };
    send_with_sentry(
        dsn.clone(),
        vec![
            exception_event("CardDeclined", 42),
            exception_event("CardDeclined", 57),
            exception_event("Timeout", 42),
            message,
        ],
    )
    .await;

    let issues = s.api(&format!("/api/v1/stats/issues?site={SITE}&range=today")).await;
    let issues = issues["results"].as_array().expect("issues").clone();
    let titles: Vec<(String, u64)> =
        issues.iter().map(|i| (i["title"].as_str().unwrap().to_owned(), i["events"].as_u64().unwrap())).collect();
    assert_eq!(issues.len(), 3, "{titles:?}");
    assert_eq!(titles[0], ("CardDeclined: payment failed for [email]".to_owned(), 2), "one bug from two lines");
    assert!(titles.contains(&("Timeout: payment failed for [email]".to_owned(), 1)), "{titles:?}");
    assert!(titles.contains(&("order 1234 failed for [email]".to_owned(), 1)), "{titles:?}");
    let declined = &issues[0];
    assert_eq!(declined["status"], "open");
    let frames = declined["frames"].as_str().unwrap();
    assert!(frames.starts_with("shop::checkout::pay (/home/[user]/shop/src/checkout.rs:"), "innermost first: {frames}");
    assert_eq!(declined["culprit"], "shop::checkout::pay (/home/[user]/shop/src/checkout.rs)");

    let rows = s.stored_rows().await;
    assert_eq!(rows.iter().filter(|r| r.kind == 4).count(), 4);
    let stored = format!("{rows:?}");
    for planted in ["jane", "4111", "jdoe", "acme", "{{auto}}", "127.0.0.1"] {
        assert!(!stored.contains(planted), "{planted} reached storage: {stored}");
    }
    assert!(stored.contains("shop@1.4.2") && stored.contains("production"), "release and environment are kept");
    let releases = s.api(&format!("/api/v1/stats/errors?site={SITE}&range=today&dimension=prop:release")).await;
    assert_eq!(releases["results"][0]["value"], "shop@1.4.2");
    assert_eq!(releases["results"][0]["events"], 4);
    let visits = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today")).await;
    assert_eq!(visits["results"]["visitors"], 0, "reports are not visitors: {visits}");

    // The Errors tab lists them; resolving hides the issue until a new report reopens it.
    let owner = TestClient::sign_in(&s.base, "owner", &s.password).await;
    let (status, page) = owner.get(&format!("/errors?site={SITE}&range=today")).await;
    assert_eq!(status, 200);
    assert!(page.contains("CardDeclined: payment failed for [email]"), "{page}");
    let fingerprint = declined["fingerprint"].as_str().unwrap().to_owned();
    let (status, detail) = owner.get(&format!("/errors/{fingerprint}?site={SITE}&range=today")).await;
    assert_eq!(status, 200);
    assert!(detail.contains("checkout.rs") && detail.contains("shop@1.4.2"), "{detail}");
    let (status, _) =
        owner.post_form(&format!("/errors/{fingerprint}/status?site={SITE}"), &[("status", "resolved")]).await;
    assert_eq!(status, 303);
    let open = s.api(&format!("/api/v1/stats/issues?site={SITE}&range=today&status=open")).await;
    assert_eq!(open["results"].as_array().unwrap().len(), 2, "the resolved issue is not open: {open}");
    s.clock.set(datetime!(2026-08-01 10:05 UTC));
    send_with_sentry(dsn, vec![exception_event("CardDeclined", 60)]).await;
    let again = s.api(&format!("/api/v1/stats/issues?site={SITE}&range=today&status=open")).await;
    let regressed: Vec<&serde_json::Value> =
        again["results"].as_array().unwrap().iter().filter(|i| i["fingerprint"] == fingerprint.as_str()).collect();
    assert_eq!(regressed.len(), 1, "{again}");
    assert_eq!(regressed[0]["status"], "regressed");
    assert_eq!(regressed[0]["events"], 3);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_bad_sentry_requests_are_clear_4xx_and_a_busy_site_is_told_when_to_come_back() {
    let s = TestServer::start_with(datetime!(2026-08-01 10:00 UTC), |c| c.limits.errors_per_minute = 2).await;
    let site = s.server_meta().get().site_by_domain(SITE).cloned().expect("the test site");
    let key = site.error_key.clone().expect("a DSN key");
    let client = reqwest::Client::new();
    let post = |path: String, body: Vec<u8>, headers: Vec<(&'static str, String)>| {
        let mut request = client.post(format!("{}{path}", s.base)).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move {
            let res = request.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let envelope = |key: &str| {
        format!("{{\"dsn\":\"http://{key}@o.example/{}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"hi\"}}\n", site.id)
            .into_bytes()
    };
    let path = format!("/api/{}/envelope/", site.id);
    assert_eq!(post(path.clone(), envelope(&key), vec![]).await.0, 200, "the envelope's DSN is enough");
    let (status, body) = post(path.clone(), envelope("0000"), vec![]).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) =
        post(path.clone(), envelope(&key), vec![("x-sentry-auth", "Sentry sentry_key=other".into())]).await;
    assert!(status == 403 && body.contains("two different DSN keys"), "{status} {body}");
    let (status, body) = post("/api/77/envelope/".into(), envelope(&key), vec![]).await;
    assert!(status == 404 && body.contains("no project"), "{status} {body}");
    let truncated = format!("{{\"dsn\":\"http://{key}@o.example/1\"}}\n{{\"type\":\"event\",\"length\":90}}\n{{}}");
    let (status, body) = post(path.clone(), truncated.into_bytes(), vec![]).await;
    assert!(status == 400 && body.contains("only 2 bytes follow"), "{status} {body}");
    // A gzip bomb: 4 KiB that expand past the limit.
    let bomb = {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 5 << 20]).unwrap();
        gz.finish().unwrap()
    };
    let (status, body) = post(path.clone(), bomb, vec![("content-encoding", "gzip".into())]).await;
    assert!(status == 413 && body.contains("expands to over"), "{status} {body}");
    let store = format!("/api/{}/store/?sentry_key={key}", site.id);
    let (status, body) = post(store, b"{\"message\": nope}".to_vec(), vec![]).await;
    assert!(status == 400 && body.contains("event:"), "{status} {body}");
    // Two reports a minute: the first envelope took one, this one the other, the next waits.
    assert_eq!(post(path.clone(), envelope(&key), vec![]).await.0, 200);
    let res = client.post(format!("{}{path}", s.base)).body(envelope(&key)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(res.headers()["retry-after"], "30");
    assert_eq!(res.headers()["x-sentry-rate-limits"], "30::key");
    assert_eq!(res.headers()["access-control-allow-origin"], "*", "browser SDKs can read the answer");
    // Consents are metadata writes: they share the ceiling.
    let consent = format!("{}/api/{}/diagnostics/00000000000000d1/consent?sentry_key={key}", s.base, site.id);
    let res = client.post(consent).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert!(res.headers().contains_key("retry-after"));
    s.stop();
}

/// P7 over HTTP: a consent token keeps one report's detail, once, for its own issue's request;
/// reused or for another issue it is refused, the detail stripped and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p07_consent_tokens_keep_detail_once_and_only_for_their_issue() {
    use std::sync::atomic::Ordering;
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let site = s.server_meta().get().site_by_domain(SITE).cloned().expect("the test site");
    let key = site.error_key.clone().expect("a DSN key");
    let client = reqwest::Client::new();
    let report = |kind: &str, token: Option<&str>| {
        let url = format!(
            "{}/api/{}/store/?sentry_key={key}{}",
            s.base,
            site.id,
            token.map(|t| format!("&obscura_consent={t}")).unwrap_or_default()
        );
        let body = format!(
            r#"{{"exception":[{{"type":"{kind}","value":"boom"}}],"breadcrumbs":[{{"category":"ui.click","message":"button#pay"}}]}}"#
        );
        let request = client.post(url).body(body);
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let consent = |request: &str| {
        let url = format!("{}/api/{}/diagnostics/{request}/consent?sentry_key={key}", s.base, site.id);
        let request = client.post(url);
        async move {
            let res = request.send().await.unwrap();
            (res.status().as_u16(), res.json::<serde_json::Value>().await.unwrap())
        }
    };

    let first = report("CardDeclined", None).await;
    assert_eq!(first["detail"], "stripped: no consent token came with it");
    assert!(first.get("diagnostics").is_none(), "no request is open yet");
    report("Timeout", None).await;
    let issues = s.api(&format!("/api/v1/stats/issues?site={SITE}&range=today")).await;
    let fingerprint = |t: &str| {
        issues["results"].as_array().unwrap().iter().find(|i| i["type"] == t).unwrap()["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let declined = fingerprint("CardDeclined");
    assert_ne!(declined, fingerprint("Timeout"));
    let meta = s.server_meta();
    let admin = obscura_admin::AdminService::seeding(&*meta, obscura_model::unix_ms(datetime!(2026-08-01 10:00 UTC)));
    let wants = [obscura_store::meta::DetailKind::Breadcrumbs];
    let request = admin.open_diagnostics(SITE, &declined, "Why is the card declined?", &wants, 7, 10).unwrap();

    let offered = report("CardDeclined", None).await;
    assert_eq!(offered["diagnostics"]["request"], request.as_str(), "{offered}");
    assert_eq!(offered["diagnostics"]["purpose"], "Why is the card declined?");
    assert_eq!(offered["diagnostics"]["wants"], serde_json::json!(["breadcrumbs"]));

    let (status, granted) = consent(&request).await;
    assert_eq!(status, 200, "{granted}");
    let token = granted["token"].as_str().unwrap().to_owned();
    let kept = report("CardDeclined", Some(&token)).await;
    assert_eq!(kept["detail"], format!("kept with consent for diagnostics request {request}"));
    let again = report("CardDeclined", Some(&token)).await;
    assert_eq!(again["detail"], "stripped: the consent token is unknown, used already or expired");
    let (_, other) = consent(&request).await;
    let elsewhere = report("Timeout", other["token"].as_str()).await;
    assert_eq!(elsewhere["detail"], "stripped: the consent token is for another issue");
    assert_eq!(consent("0000000000000000").await.0, 404);
    let wrong_key = client.post(format!("{}/api/{}/diagnostics/{request}/consent?sentry_key=00", s.base, site.id));
    assert_eq!(wrong_key.send().await.unwrap().status().as_u16(), 403);

    let rows = s.stored_rows().await;
    let detailed: Vec<&String> =
        rows.iter().filter_map(|r| r.props.as_ref()).filter(|p| p.contains("\u{1}detail\u{2}")).collect();
    assert_eq!(detailed.len(), 1, "one report kept its detail");
    assert!(
        detailed[0].contains("button#pay") && detailed[0].contains(&format!("\u{1}diagnostics\u{2}{request}\u{1}"))
    );
    assert_eq!(s.pipeline.counters.consent_refused.load(Ordering::Relaxed), 2);
    assert_eq!(s.pipeline.counters.error_detail_consented.load(Ordering::Relaxed), 1);
    assert_eq!(
        meta.get()
            .open_diagnostics(site.id, &declined, obscura_model::unix_ms(datetime!(2026-08-01 10:00 UTC)))
            .unwrap()
            .received,
        1
    );
    s.stop();
}
