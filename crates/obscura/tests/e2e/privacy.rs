//! Privacy promises proven end to end: P2 (IPs never stored; salts destroyed after 48 h) and
//! P12 (nothing under the data folder is plaintext).

use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestServer, files_under};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every value of every stored row, decrypted through the store.
async fn decrypted_text(s: &TestServer) -> String {
    s.stored_rows().await.iter().map(|row| format!("{row:?}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p02_ip_never_reaches_the_store_and_p12_no_plaintext_on_disk() {
    let s = TestServer::start(datetime!(2026-04-01 10:00 UTC)).await;
    let marker = "PLAINTEXTMARKER7f3a";
    let body = json!({
        "site": SITE, "kind": "event", "name": format!("{marker}-event"),
        "url": format!("https://{SITE}/{marker}/from/203.0.113.77?utm_campaign={marker}&email=jane@example.com#frag"),
        "props": {"note": format!("{marker} written by jane.doe@example.com from 198.51.100.23"), "ip": "127.0.0.3"}
    });
    assert_eq!(s.send([127, 0, 0, 3], UA, body).await, reqwest::StatusCode::NO_CONTENT);
    let pv = json!({"site": SITE, "url": format!("https://{SITE}/{marker}/page"), "referrer": format!("https://blog.example.net/{marker}")});
    assert_eq!(s.send([127, 0, 0, 3], UA, pv).await, reqwest::StatusCode::NO_CONTENT);

    // Decrypted, the store holds the events but no IP or e-mail: not the sender's, not the ones in text.
    let text = decrypted_text(&s).await;
    assert!(text.contains(marker), "the marker itself is analytics data and must be stored: {text}");
    for forbidden in ["127.0.0.3", "203.0.113.77", "198.51.100.23", "jane@example.com", "jane.doe@example.com"] {
        assert!(!text.contains(forbidden), "{forbidden} reached the store: {text}");
    }
    assert!(text.contains("[ip]") && text.contains("[email]"), "scrubbed placeholders expected: {text}");

    // Hot tier (write-ahead log) on disk: no marker in any file.
    let scan = |when: &str| {
        let files = files_under(&s.data_dir);
        assert!(!files.is_empty());
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            assert!(!contains(&bytes, marker.as_bytes()), "{when}: plaintext marker in {}", f.display());
            assert!(!contains(&bytes, b"shop.example"), "{when}: plaintext site name in {}", f.display());
        }
    };
    scan("write-ahead log");

    // After the day is flushed to its Parquet file: still nothing in plaintext.
    s.clock.set(datetime!(2026-04-02 00:10 UTC));
    s.wait_flushed().await;
    assert!(s.embedded().hot_days().is_empty());
    assert!(files_under(&s.data_dir).iter().any(|f| f.extension().is_some_and(|e| e == "parquet")));
    scan("day files");
    let text = decrypted_text(&s).await;
    assert!(text.contains(marker) && !text.contains("127.0.0.3"));
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p02_visitor_hash_changes_daily_and_old_salts_are_gone_from_disk() {
    let s = TestServer::start(datetime!(2026-05-01 09:00 UTC)).await;
    let pv = || json!({"site": SITE, "url": format!("https://{SITE}/")});
    assert_eq!(s.send([127, 0, 0, 2], UA, pv()).await, reqwest::StatusCode::NO_CONTENT);
    s.clock.set(datetime!(2026-05-02 09:00 UTC));
    assert_eq!(s.send([127, 0, 0, 2], UA, pv()).await, reqwest::StatusCode::NO_CONTENT);
    let visitors: std::collections::HashSet<u64> = s.stored_rows().await.iter().map(|r| r.visitor).collect();
    let distinct = visitors.len();
    assert_eq!(distinct, 2, "the same visitor on two days must hash differently");

    // The salts file holds a salt of 2026-05-01 until 48 h after that day began, then never again.
    // Salts live beside the keyring, outside the data folder: backups hold none.
    assert!(!s.data_dir.join("salts").exists());
    let salts = s.keyring_path().with_file_name("salts");
    let before = std::fs::read(&salts).unwrap();
    s.clock.set(datetime!(2026-05-03 00:00 UTC));
    assert_eq!(s.send([127, 0, 0, 2], UA, pv()).await, reqwest::StatusCode::NO_CONTENT);
    let after = std::fs::read(&salts).unwrap();
    assert_ne!(before, after, "the salts file must be rewritten when a salt expires");
    let key = s.master_key();
    let doc = obscura_store::sealed_json::SealedJson::new(salts, b"obscura salts v1", key);
    let stored: Vec<(String, String)> = doc.load().unwrap();
    let days: Vec<&str> = stored.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(days, vec!["2026-05-02", "2026-05-03"], "no salt older than 48 h may exist");
    // Nor in memory; and maintenance destroys it without any traffic arriving.
    assert_eq!(
        s.maintenance.pipeline.salt_days(),
        [time::macros::date!(2026 - 05 - 02), time::macros::date!(2026 - 05 - 03)]
    );
    s.clock.set(datetime!(2026-05-04 00:00 UTC));
    s.maintenance.run_once().await;
    assert_eq!(
        s.maintenance.pipeline.salt_days(),
        [time::macros::date!(2026 - 05 - 03), time::macros::date!(2026 - 05 - 04)]
    );
    let stored: Vec<(String, String)> = doc.load().unwrap();
    assert_eq!(stored.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(), ["2026-05-03", "2026-05-04"]);
    s.stop();
}

/// P12 for every kind of data Obscura writes: events and their properties, the write-ahead log,
/// day files, rollups, kept aggregates, the access log, metadata (sites, users, tokens), the
/// audit log, salts and the keyrings. Each holds a marker, each is shown to hold it when read
/// through Obscura, and no file under the data folder or the key folder holds it in plaintext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p12_every_kind_of_data_is_encrypted_at_rest() {
    let s = TestServer::start(datetime!(2026-04-01 10:00 UTC)).await;
    let marker = "p12mark9q";
    let site = format!("{marker}.example");
    let meta = s.meta();
    obscura::admin::add_site(&meta, &site, true, 1).unwrap();
    obscura::admin::add_user(&meta, &format!("{marker}-user"), obscura_store::meta::Role::Analyst, None).unwrap();
    obscura::admin::add_token(&meta, &format!("{marker}-token"), obscura_store::meta::TokenScope::Read, &[], None)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    for i in 0..6 {
        let ua = format!("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.{i}");
        let body = json!({"site": site, "kind": "event", "name": format!("{marker}-event"),
            "url": format!("https://{site}/{marker}-page"), "props": {"plan": format!("{marker}-prop")}});
        assert_eq!(s.send([127, 0, 0, 2], &ua, body).await, reqwest::StatusCode::NO_CONTENT);
        let pv = json!({"site": site, "url": format!("https://{site}/{marker}-page")});
        assert_eq!(s.send([127, 0, 0, 2], &ua, pv).await, reqwest::StatusCode::NO_CONTENT);
    }
    let _ = reqwest::get(format!("{}/{marker}-request", s.base)).await.unwrap();
    let day = format!("site={site}&range=custom&from=2026-04-01&to=2026-04-01");
    let pages = format!("/api/v1/stats/breakdown?dimension=page&{day}");

    let scan = |when: &str| {
        let mut files = files_under(&s.data_dir);
        files.extend(files_under(s.keyring_path().parent().unwrap()));
        assert!(files.len() > 5, "{when}: too few files to mean anything: {files:?}");
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            assert!(!contains(&bytes, marker.as_bytes()), "{when}: plaintext marker in {}", f.display());
        }
    };
    // Write-ahead log, metadata, access log, audit log, salts, keyring.
    assert!(s.api(&pages).await.to_string().contains(&format!("{marker}-page")));
    scan("write-ahead log");

    // Day files and rollups.
    s.clock.set(datetime!(2026-04-02 00:30 UTC));
    s.wait_rolled_up(time::macros::date!(2026 - 04 - 01)).await;
    assert!(s.store.rollup_days().await.unwrap().contains(&time::macros::date!(2026 - 04 - 01)));
    let text = decrypted_text(&s).await;
    assert!(text.contains(&format!("{marker}-prop")) && text.contains(&format!("{marker}-event")));
    scan("day files and rollups");

    // Kept aggregates, once the 1-day retention has passed.
    s.clock.set(datetime!(2026-04-02 01:00 UTC));
    let report = s.maintenance.enforce_retention().await.unwrap();
    assert!(!report.destroyed_days.is_empty() || !report.purged.is_empty(), "{report:?}");
    assert!(s.api(&pages).await.to_string().contains(&format!("{marker}-page")), "the aggregates keep the page");
    scan("aggregates");

    // The other kinds were really written, with the marker, and read back decrypted.
    let audit = obscura_store::audit::AuditLog::open(&s.data_dir, s.master_key()).unwrap().read_all().unwrap();
    assert!(audit.iter().any(|r| r.site.as_deref() == Some(site.as_str())), "the audit log holds the site");
    let logged = s.access_log().read(datetime!(2026-04-01 00:00 UTC)).unwrap();
    assert!(logged.iter().any(|l| l.path.contains(marker)), "the access log holds the request");
    let m = s.meta().get().clone();
    assert!(m.users.iter().any(|u| u.username.contains(marker)) && m.tokens.iter().any(|t| t.name.contains(marker)));
    s.stop();
}

/// P2 and P8 after everything a person does: ingest, logging in, reading the access log filtered
/// by address in the dashboard and on the command line, admin commands, a shared link. The
/// client's address then exists only in the access log: not in the events, the metadata or the
/// 365-day audit log, decrypted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p02_client_address_is_in_no_store_but_the_access_log_after_cli_and_ui_actions() {
    // The command line reads the access log at the real time, so the server runs at it too.
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    let (ip, forwarded) = ("127.0.0.3", "198.51.100.9");
    let client = TestServer::client_from([127, 0, 0, 3]);
    for body in [
        json!({"site": SITE, "url": format!("https://{SITE}/p02")}),
        json!({"site": SITE, "kind": "event", "name": "signup", "url": format!("https://{SITE}/p02")}),
    ] {
        let res = client
            .post(format!("{}/api/event", s.base))
            .header("user-agent", UA)
            .header("x-forwarded-for", forwarded)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    // The dashboard: a failed login, a login, the overview, the access log filtered by address.
    assert!(crate::harness::login(&s.base, "owner", "wrong password").await.is_none());
    let owner = crate::harness::login(&s.base, "owner", &s.password).await.unwrap();
    for path in ["/".to_owned(), format!("/logs?ip={ip}"), format!("/logs?ip=::ffff:{ip}")] {
        let res = client.get(format!("{}{path}", s.base)).header("cookie", &owner).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.unwrap();
        if path.starts_with("/logs") {
            assert!(
                html.contains("/p02") || html.contains("/api/event"),
                "the filtered log shows the address's requests"
            );
        }
    }
    // The command line.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_obscura"))
            .args(args)
            .env("OBSCURA_DATA_DIR", &s.data_dir)
            .env("OBSCURA_MASTER_KEY_FILE", s.dir.path().join("keys/master.key"))
            .env("OBSCURA_LOG", "warn")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let logs = cli(&["logs", "--ip", ip]);
    assert!(logs.contains("/api/event"), "the command line finds the address's requests: {logs}");
    cli(&["site", "add", "other.example"]);
    cli(&["token", "add", "--name", "p02"]);
    let shared = cli(&["share", "add", "--site", SITE]);
    let token = shared.split("/share/").nth(1).unwrap().trim();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let view = client.get(format!("{}/share/{token}", s.base)).send().await.unwrap();
    assert_eq!(view.status(), 200);

    let mut stores = vec![("events", decrypted_text(&s).await)];
    stores.push(("metadata", serde_json::to_string(&*s.meta().get()).unwrap()));
    let audit = obscura_store::audit::AuditLog::open(&s.data_dir, s.master_key()).unwrap().read_all().unwrap();
    assert!(
        audit.iter().any(|r| r.action == "logs.read" && r.actor == "cli")
            && audit.iter().any(|r| r.action == "logs.read" && r.actor == "user:owner")
    );
    stores.push(("audit log", serde_json::to_string(&audit).unwrap()));
    for (name, text) in &stores {
        for secret in [ip, forwarded, token] {
            assert!(!text.contains(secret), "{secret} is in the {name}: {text}");
        }
    }
    // The access log is where addresses belong, and where it is kept 73 hours at most.
    let lines = s.access_log().read(obscura_model::Clock::now(s.clock.as_ref()) - time::Duration::hours(1)).unwrap();
    assert!(lines.iter().any(|l| l.ip == ip));
    assert!(lines.iter().all(|l| !l.path.contains(token)), "the shared link's token is not logged");
    s.stop();
}
