//! The stats API against its own OpenAPI document, by schemathesis (from PyPI, installed by
//! `scripts/test-venv`): generated requests, valid and not, must never meet a server error, an
//! undocumented status or an answer that breaks the document.

use std::path::PathBuf;

use crate::harness::{SITE, TestServer};

/// schemathesis' command, in its own virtualenv (or named by `OBSCURA_SCHEMATHESIS`).
fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("OBSCURA_SCHEMATHESIS") {
        return path.into();
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    let venv = std::env::var_os("OBSCURA_API_VENV")
        .map_or_else(|| PathBuf::from(home).join(".cache/obscura-venv-schemathesis"), PathBuf::from);
    venv.join("bin/schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_schemathesis_finds_no_server_error_or_schema_violation() {
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    for path in ["/", "/pricing", "/docs"] {
        let event = serde_json::json!({"site": SITE, "url": format!("https://shop.example{path}")});
        assert!(s.send([127, 0, 0, 1], firefox, event).await.is_success());
    }
    let doc: serde_json::Value =
        reqwest::get(format!("{}/api/openapi.json", s.base)).await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/api/v1/stats/breakdown"]["get"].is_object(), "{doc}");

    let program = schemathesis();
    assert!(program.exists(), "{} is missing; scripts/test-venv installs schemathesis there", program.display());
    // The site is the server's, so that requests reach the queries rather than a 404; every
    // other parameter is generated, valid and not.
    let config = s.dir.path().join("schemathesis.toml");
    std::fs::write(&config, format!("[parameters]\n\"query.site\" = \"{SITE}\"\n")).unwrap();
    let (base, token) = (s.base.clone(), s.token.clone());
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(program)
            .arg("--config-file")
            .arg(&config)
            .args(["run", &format!("{base}/api/openapi.json")])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance"])
            .args(["--max-examples", "40", "--seed", "1", "--no-color"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "schemathesis found problems:\n{report}");
    // Shown with `--nocapture`: what was tried.
    eprintln!("{report}");
    assert!(report.contains("passed"), "{report}");
    assert!(!report.contains("Missing test data"), "requests must reach the queries: {report}");
    s.stop();
}
