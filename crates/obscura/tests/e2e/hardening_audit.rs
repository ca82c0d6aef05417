//! The audit chain stays whole while the server and CLI commands write it at the same time.

use std::path::Path;
use std::process::Command;

use obscura_store::audit::AuditLog;
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_obscura");

fn cli(data_dir: &Path, key_file: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("OBSCURA_DATA_DIR", data_dir)
        .env("OBSCURA_MASTER_KEY_FILE", key_file)
        .env("OBSCURA_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_audit_chain_survives_concurrent_cli_and_server() {
    let s = TestServer::start(datetime!(2026-09-01 10:00 UTC)).await;
    let (data_dir, key_file) = (s.data_dir.clone(), s.dir.path().join("keys/master.key"));
    let cli_actions = {
        let (data_dir, key_file) = (data_dir.clone(), key_file.clone());
        std::thread::spawn(move || {
            for i in 0..4 {
                let site = format!("concurrent{i}.example");
                let added = cli(&data_dir, &key_file, &["site", "add", &site]);
                assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
                let token = cli(&data_dir, &key_file, &["token", "add", "--name", &format!("concurrent{i}")]);
                assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
            }
        })
    };
    // Audited reads, two at a time, for as long as the commands run.
    let (aggregate, breakdown) = (
        format!("/api/v1/stats/aggregate?site={SITE}&range=7d"),
        format!("/api/v1/stats/breakdown?site={SITE}&dimension=page"),
    );
    let mut reads = 0;
    while !cli_actions.is_finished() {
        tokio::join!(s.api(&aggregate), s.api(&breakdown));
        reads += 2;
    }
    cli_actions.join().unwrap();
    assert!(reads > 0);

    let verify = cli(&data_dir, &key_file, &["audit", "verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let records = AuditLog::open(&data_dir, s.master_key()).unwrap().read_all().unwrap();
    assert_eq!(records.iter().filter(|r| r.action == "read").count(), reads, "every read recorded once");
    assert_eq!(records.iter().filter(|r| r.actor == "cli").count(), 8, "every command recorded once");
    s.stop();
}
