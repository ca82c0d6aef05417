//! P9: the server makes no outbound connection of its own. It runs a full workload (demo data
//! generation, ingest, queries, the dashboard, the policy) under `strace -f -e connect`; every
//! connection it opens must be to loopback or a local socket.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_obscura");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p09_server_opens_no_outbound_connections() {
    assert!(
        Command::new("strace").arg("-V").output().is_ok_and(|o| o.status.success()),
        "strace is needed: `apt-get install strace` (scripts/test installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("connect.trace");
    let port = free_port();
    let datafiles = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles");
    // The demo: generates 3 days of traffic through the real pipeline, then serves.
    let mut server = Command::new("strace")
        .args(["-f", "-e", "trace=connect", "-o"])
        .arg(&trace)
        .arg(BIN)
        .args(["demo", "--days", "3", "--visitors-per-day", "200", "--listen", &format!("127.0.0.1:{port}"), "--dir"])
        .arg(dir.path().join("demo"))
        .env("OBSCURA_DATAFILES", &datafiles)
        .env("OBSCURA_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so the stop signal reaches strace and the server alike.
        .process_group(0)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..600 {
        if reqwest::get(format!("{base}/health")).await.is_ok_and(|r| r.status() == 204) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the demo server did not come up");
    let client = reqwest::Client::new();
    for i in 0..50 {
        let body = format!(
            r#"{{"site":"demo.obscura.test","url":"https://demo.obscura.test/p{i}","referrer":"https://www.google.com/"}}"#
        );
        let res = client
            .post(format!("{base}/api/event"))
            .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    for path in ["/privacy", "/privacy.json", "/js/obscura.js", "/login"] {
        assert!(client.get(format!("{base}{path}")).send().await.unwrap().status().is_success(), "{path}");
    }
    // Let the writer and maintenance run a moment, then stop.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    unsafe { libc::kill(-(server.id() as i32), libc::SIGTERM) };
    for _ in 0..100 {
        if server.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if server.try_wait().unwrap().is_none() {
        unsafe { libc::kill(-(server.id() as i32), libc::SIGKILL) };
        let _ = server.wait();
    }

    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.contains("+++ exited") || text.contains("+++ killed"), "strace traced nothing: {text}");
    let connects: Vec<&str> = text.lines().filter(|l| l.contains("connect(")).collect();
    let outside: Vec<&&str> = connects
        .iter()
        .filter(|l| {
            let local = l.contains("AF_UNIX")
                || l.contains("inet_addr(\"127.")
                || l.contains("inet_pton(AF_INET6, \"::1\"")
                || l.contains("AF_UNSPEC");
            !local
        })
        .collect();
    assert!(outside.is_empty(), "outbound connections: {outside:#?}");
    eprintln!("{} connect calls, all local", connects.len());
}
