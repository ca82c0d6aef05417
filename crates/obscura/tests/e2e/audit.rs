//! P12: every read of data by a person or token, and every admin action, lands in the
//! hash-chained audit log; `obscura audit verify` catches a tampered record.

use std::process::Command;

use obscura_store::audit::AuditLog;
use obscura_store::crypto::{MasterKeySource, load_master_key};
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_obscura");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_records_every_api_read_with_actor_site_and_query() {
    let s = TestServer::start(datetime!(2026-09-01 10:00 UTC)).await;
    s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=7d")).await;
    s.api(&format!("/api/v1/stats/breakdown?site={SITE}&dimension=country&filters=page==/x")).await;
    let key = s.master_key();
    let log = AuditLog::open(&s.data_dir, key).unwrap();
    let records = log.read_all().unwrap();
    let token_id = &s.token[..12];
    let reads: Vec<_> = records.iter().filter(|r| r.action == "read").collect();
    assert_eq!(reads.len(), 2, "{records:?}");
    assert!(reads.iter().all(|r| r.actor == format!("token:{token_id}") && r.site.as_deref() == Some(SITE)));
    assert!(reads[1].detail.contains("dimension=country") && reads[1].detail.contains("filters=page==/x"));
    assert_eq!(log.verify().unwrap(), records.len() as u64);
    s.stop();
}

fn cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("OBSCURA_DATA_DIR", dir.join("data"))
        .env("OBSCURA_MASTER_KEY_FILE", dir.join("master.key"))
        .env("OBSCURA_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn audit_cli_records_admin_actions_and_verify_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    assert!(cli(dir.path(), &["site", "add", "audited.example"]).status.success());
    assert!(cli(dir.path(), &["token", "add", "--name", "reporting"]).status.success());
    let list = String::from_utf8(cli(dir.path(), &["audit", "list"]).stdout).unwrap();
    assert!(list.contains("site.add") && list.contains("audited.example") && list.contains("token.add"), "{list}");
    let ok = cli(dir.path(), &["audit", "verify"]);
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact: 2 records"));

    // Someone holding the master key rewrites the first record: the chain shows it.
    let key = load_master_key(&MasterKeySource::File(dir.path().join("master.key")), &dir.path().join("data")).unwrap();
    let log = AuditLog::open(&dir.path().join("data"), key).unwrap();
    let mut first = log.read_all().unwrap()[0].clone();
    first.site = Some("innocent.example".into());
    let text = std::fs::read_to_string(log.path()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[0] = log.seal_line(&first).unwrap();
    std::fs::write(log.path(), lines.join("\n") + "\n").unwrap();
    let bad = cli(dir.path(), &["audit", "verify"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("record 1 was altered"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
