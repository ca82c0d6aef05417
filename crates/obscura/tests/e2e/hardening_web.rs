//! Hardening of the web layer: shared-link tokens stay out of the audit log, IPv4 clients of a
//! dual-stack listener are told apart, a lockout cannot keep the owner out, shared-link
//! passwords are rate-limited, and ingest counters are scoped to the token's sites.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use obscura::{admin, app};
use obscura_model::ManualClock;
use obscura_store::audit::AuditLog;
use obscura_store::meta::{Role, TokenScope};
use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

/// A client whose connections come from `ip`, following no redirects.
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// One login through the form from `ip`; returns the status (303 on success).
async fn login_from(base: &str, ip: [u8; 4], username: &str, password: &str) -> u16 {
    crate::harness::submit_login(&client_from(ip), base, username, password).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_share_views_audit_the_link_id_not_the_token() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let (id, token) = admin::add_share(&s.meta(), SITE, None, None).unwrap();
    s.reload_metadata();
    let client = client_from([127, 0, 0, 2]);
    for query in ["", "?range=7d&filters=page==/x"] {
        let res = client.get(format!("{}/share/{token}{query}", s.base)).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let records = AuditLog::open(&s.data_dir, s.master_key()).unwrap().read_all().unwrap();
    let views: Vec<_> = records.iter().filter(|r| r.actor == format!("share:{id}")).collect();
    assert_eq!(views.len(), 2, "{records:?}");
    assert!(
        views.iter().all(|r| r.site.as_deref() == Some(SITE) && r.detail.starts_with("dashboard /share/…?")),
        "{views:?}"
    );
    for record in &records {
        let text = format!("{record:?}");
        assert!(!text.contains(&token) && !text.contains(&token[..16]), "the token leaked into {text}");
    }
    s.stop();
}

/// A server on `[::]:0` (dual-stack: IPv4 clients arrive as `::ffff:a.b.c.d`) with an owner;
/// returns its base URL over IPv4, the owner's password and what to stop it with.
async fn start_dual_stack()
-> (String, String, tokio::task::JoinHandle<anyhow::Result<()>>, Arc<dyn obscura_store::EventStore>, tempfile::TempDir)
{
    let dir = tempfile::tempdir().unwrap();
    let mut config = obscura::config::Config {
        data_dir: dir.path().join("data"),
        master_key_file: dir.path().join("keys/master.key"),
        ..Default::default()
    };
    config.enrich.geo_databases = vec![crate::harness::geo_fixture(dir.path())];
    config.enrich.asn_databases = vec![];
    let clock = Arc::new(ManualClock::new(datetime!(2026-08-01 10:00 UTC)));
    let app = app::open(&config, clock).await.unwrap();
    admin::add_site(&*app.meta, SITE, true, 30).unwrap();
    let password = admin::add_user(&*app.meta, "owner", Role::Owner, None).unwrap();
    let store = app.store.clone();
    let listener = tokio::net::TcpListener::bind("[::]:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(app::serve(app, listener));
    let base = format!("http://{}", SocketAddr::from(([127, 0, 0, 1], port)));
    for _ in 0..100 {
        if reqwest::get(format!("{base}/health")).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (base, password, server, store, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_dual_stack_listener_keeps_ipv4_clients_apart() {
    let (base, password, server, store, _dir) = start_dual_stack().await;
    // One IPv4 address guesses until it is locked out...
    for _ in 0..5 {
        assert_eq!(login_from(&base, [127, 0, 0, 2], "nobody", "guess").await, 401);
    }
    assert_eq!(login_from(&base, [127, 0, 0, 2], "nobody", "guess").await, 429);
    // ...which locks out no other IPv4 address.
    assert_eq!(login_from(&base, [127, 0, 0, 3], "owner", &password).await, 303);
    server.abort();
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_login_lockout_lets_the_owner_in_from_a_clean_network() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    for _ in 0..5 {
        assert_eq!(login_from(&s.base, [127, 0, 0, 2], "owner", "wrong password").await, 401);
    }
    // The guessing address is refused, even with the right password...
    assert_eq!(login_from(&s.base, [127, 0, 0, 2], "owner", &s.password).await, 429);
    // ...but the owner, from elsewhere, logs in.
    assert_eq!(login_from(&s.base, [127, 0, 0, 3], "owner", &s.password).await, 303);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_share_password_attempts_are_limited() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let (_, token) = admin::add_share(&s.meta(), SITE, Some("share password"), None).unwrap();
    s.reload_metadata();
    let attempt = |ip: [u8; 4], password: &'static str| {
        let (base, token) = (s.base.clone(), token.clone());
        async move {
            let client = client_from(ip);
            let ask = client.get(format!("{base}/share/{token}")).send().await.unwrap();
            assert_eq!(ask.status(), 401);
            let csrf_cookie = ask.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
            let csrf = crate::harness::csrf_in(&ask.text().await.unwrap());
            let res = client
                .post(format!("{base}/share/{token}"))
                .header("cookie", csrf_cookie)
                .form(&[("password", password), ("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.headers().get("set-cookie").map(|c| c.to_str().unwrap().to_owned()))
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt([127, 0, 0, 2], "guess").await.0, 401);
    }
    assert_eq!(attempt([127, 0, 0, 2], "share password").await.0, 429, "the guessing address is stopped");
    let (status, grant) = attempt([127, 0, 0, 3], "share password").await;
    assert_eq!(status, 303, "a viewer from elsewhere still gets in");
    let grant = grant.unwrap();
    assert!(grant.contains("Max-Age=43200"), "the grant expires: {grant}");
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_ingest_status_shows_only_the_tokens_sites() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let meta = s.meta();
    admin::add_site(&meta, "other.example", true, 30).unwrap();
    let limited = admin::add_token(&meta, "limited", TokenScope::Read, &[SITE.to_owned()], None).unwrap();
    s.reload_metadata();
    let ua = "Mozilla/5.0 Firefox/133.0";
    let ok = reqwest::StatusCode::NO_CONTENT;
    assert_eq!(s.send([127, 0, 0, 2], ua, json!({"site": SITE, "url": format!("https://{SITE}/")})).await, ok);
    for path in ["/a", "/b"] {
        assert_eq!(
            s.send([127, 0, 0, 2], ua, json!({"site": "other.example", "url": format!("https://other.example{path}")}))
                .await,
            ok
        );
    }
    let bad = s
        .send([127, 0, 0, 2], ua, json!({"site": "other.example", "kind": "event", "url": "https://other.example/"}))
        .await;
    assert_eq!(bad, reqwest::StatusCode::BAD_REQUEST);

    let status = |token: String| {
        let base = s.base.clone();
        async move {
            let res = reqwest::Client::new()
                .get(format!("{base}/api/v1/ingest/status"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let mine = status(limited).await;
    assert_eq!((mine["stored"].as_u64(), mine["rejected"].as_u64()), (Some(1), Some(0)), "{mine}");
    assert_eq!(mine["sites"].as_object().unwrap().keys().collect::<Vec<_>>(), [SITE], "{mine}");
    let all = status(s.token.clone()).await;
    assert_eq!((all["stored"].as_u64(), all["rejected"].as_u64()), (Some(3), Some(1)), "{all}");
    assert_eq!(all["sites"]["other.example"]["stored"], 2, "{all}");
    s.stop();
}
