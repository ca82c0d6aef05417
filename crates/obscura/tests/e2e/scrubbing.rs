//! P1 end to end: the operator's scrub rules apply at ingest, per site and per field, on top of
//! the built-in ones; `obscura scrub` shows what a text would become.

use std::io::Write;

use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_obscura");
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn rules() -> Vec<obscura_privacy::scrub::RuleSpec> {
    serde_json::from_value(json!([
        {"name": "order", "pattern": "ORD-[0-9]{6}", "fields": ["url"], "sites": [SITE]},
        {"name": "customer", "keys": ["customer"], "action": "hash"},
    ]))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p01_site_scrub_rules_apply_at_ingest() {
    let s = TestServer::start_with(datetime!(2026-07-01 10:00 UTC), |c| c.scrub.rules = rules()).await;
    let body = json!({"site": SITE, "kind": "event", "name": "checkout",
        "url": format!("https://{SITE}/orders/ORD-123456/paid"),
        "props": {"note": "customer=alice called from +49 30 1234567", "ref": "ORD-654321"}});
    assert_eq!(s.send([127, 0, 0, 2], UA, body).await, reqwest::StatusCode::NO_CONTENT);
    let text: String = s
        .stored_rows()
        .await
        .into_iter()
        .map(|row| format!("{} {}", row.path, row.props.unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("/orders/[order]/paid"), "the URL rule applies to the path: {text}");
    assert!(text.contains("ORD-654321"), "the URL-only rule leaves properties alone: {text}");
    assert!(text.contains("customer=[hash:") && !text.contains("alice"), "{text}");
    assert!(text.contains("[phone]"), "built-in rules still apply: {text}");
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p01_site_scrub_rules_apply_to_speed_labels() {
    let rules = serde_json::from_value(json!([{"name": "user", "pattern": "user-[a-z]+", "sites": [SITE]}])).unwrap();
    let s = TestServer::start_with(datetime!(2026-07-01 10:00 UTC), |c| c.scrub.rules = rules).await;
    obscura::admin::set_speed(&*s.server_meta(), SITE, true, 100).unwrap();
    let beacon = json!({"site": SITE, "url": format!("https://{SITE}/profile"), "vitals": {"lcp": 900},
        "lcp_element": "main>img#user-jane.avatar"});
    let status = reqwest::Client::new()
        .post(format!("{}/api/vitals", s.base))
        .header("user-agent", UA)
        .body(beacon.to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    let labels: Vec<String> = s.stored_rows().await.into_iter().filter_map(|r| r.props).collect();
    assert_eq!(labels.len(), 1, "{labels:?}");
    assert!(labels[0].contains("[user]") && !labels[0].contains("jane"), "the site's rule applies: {labels:?}");
    s.stop();
}

#[test]
fn p01_obscura_scrub_shows_the_result_and_the_findings() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("obscura.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nmaster_key_file = \"{}\"\n[[scrub.rules]]\nname = \"order\"\npattern = \"ORD-[0-9]{{6}}\"\nsites = [\"{SITE}\"]\n",
            dir.path().join("data").display(),
            dir.path().join("keys/master.key").display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "scrub", "--site", SITE, "--field", "url"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"mail jane@example.com about ORD-123456\nnothing here\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "mail [email] about [order]");
    assert!(
        lines[1].trim_start().starts_with("email") && lines[1].contains("\"jane@example.com\" -> [email]"),
        "{text}"
    );
    assert!(lines[2].trim_start().starts_with("order") && lines[2].contains("-> [order]"), "{text}");
    assert_eq!(lines[3], "nothing here");
    // A broken rule is refused with the reason.
    std::fs::write(&config, "[[scrub.rules]]\nname = \"bad\"\npattern = \"(\"\n").unwrap();
    let out = std::process::Command::new(BIN).args(["--config", config.to_str().unwrap(), "scrub"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("scrub rule `bad` invalid pattern"));
}
