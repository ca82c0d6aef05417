//! P8: Obscura's own access log holds every request (full IP included) encrypted, shows it to
//! owners only with every view audited, and destroys each line within 73 hours.

use time::macros::datetime;

use crate::harness::{TestServer, files_under, login};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p08_access_log_is_encrypted_owner_only_audited_and_purged_within_73h() {
    let s = TestServer::start(datetime!(2026-06-01 10:00 UTC)).await;
    let marker = "p08-marker-7f3a";
    let res = TestServer::client_from([127, 0, 0, 3])
        .get(format!("{}/{marker}?q=1", s.base))
        .header("user-agent", "p08-agent")
        .header("x-forwarded-for", "198.51.100.9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let lines = s.access_log().read(datetime!(2026-06-01 09:00 UTC)).unwrap();
    let line = lines.iter().find(|l| l.path.contains(marker)).expect("the request is logged");
    // Without trusted proxies the forwarded header is recorded but not believed.
    assert_eq!((line.ip.as_str(), line.status, line.user_agent.as_str()), ("127.0.0.3", 404, "p08-agent"));
    assert_eq!(line.forwarded, "198.51.100.9");
    assert_eq!(line.path, format!("/{marker}"), "query strings are not logged");
    for f in files_under(&s.data_dir) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(marker.len()).any(|w| w == marker.as_bytes()), "plaintext request in {}", f.display());
    }

    // Owners see it, and their view is audited; others may not.
    let client = reqwest::Client::new();
    let owner = login(&s.base, "owner", &s.password).await.unwrap();
    let page = client.get(format!("{}/logs", s.base)).header("cookie", &owner).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(marker));
    let records = obscura_store::audit::AuditLog::open(&s.data_dir, s.master_key()).unwrap().read_all().unwrap();
    assert!(records.iter().any(|r| r.action == "logs.read" && r.actor == "user:owner"));
    let admin_password = obscura::admin::add_user(&s.meta(), "ann", obscura_store::meta::Role::Admin, None).unwrap();
    s.reload_metadata();
    let admin = login(&s.base, "ann", &admin_password).await.unwrap();
    let refused = client.get(format!("{}/logs", s.base)).header("cookie", &admin).send().await.unwrap();
    assert_eq!(refused.status(), 403);

    // 71 hours on, the line is still there; 72 hours after its hour began, it is destroyed.
    s.clock.set(datetime!(2026-06-04 09:00 UTC));
    s.maintenance.run_once().await;
    assert!(s.access_log().read(datetime!(2026-06-01 00:00 UTC)).unwrap().iter().any(|l| l.path.contains(marker)));
    s.clock.set(datetime!(2026-06-04 10:00 UTC));
    s.maintenance.run_once().await;
    let left = s.access_log().read(datetime!(2026-06-01 00:00 UTC)).unwrap();
    assert!(!left.iter().any(|l| l.path.contains(marker)), "a line older than 72 hours survived");
    assert!(!s.data_dir.join("access-log/2026-06-01T10.log").exists());
    s.stop();
}
