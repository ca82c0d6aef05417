//! P5: the JA4 fingerprint of real TLS clients — curl (OpenSSL), a rustls client and headless
//! Chromium — read by Obscura's TLS port equals what an independent implementation (the
//! `ja4plus` package from PyPI, installed by `scripts/test-venv`) computes from the same
//! ClientHello bytes, captured on their way by a relay between client and server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::TestServer;
use crate::tls::TestPki;

/// A TCP relay in front of `upstream` that keeps each connection's first bytes from the
/// client: the TLS record(s) holding its ClientHello, as they crossed the wire.
async fn recording_relay(upstream: String) -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hellos = Arc::new(Mutex::new(Vec::new()));
    let kept = hellos.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                // Read whole records until the handshake message they carry is complete.
                let mut first = Vec::new();
                let mut buf = [0u8; 4096];
                while !record_complete(&first) {
                    let n = client.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    first.extend_from_slice(&buf[..n]);
                }
                server.write_all(&first).await.unwrap();
                kept.lock().unwrap().push(first);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (addr, hellos)
}

/// Whether `bytes` hold a first TLS record and the handshake message it starts, whole.
fn record_complete(bytes: &[u8]) -> bool {
    let mut message_len = None;
    let (mut at, mut carried) = (0, 0);
    while bytes.len() >= at + 5 {
        let len = usize::from(u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]));
        if bytes.len() < at + 5 + len {
            return false;
        }
        if message_len.is_none() && len >= 4 {
            let h = &bytes[at + 5..];
            message_len = Some(4 + (usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3])));
        }
        carried += len;
        at += 5 + len;
        if message_len.is_some_and(|m| carried >= m) {
            return true;
        }
    }
    false
}

/// The JA4 that `ja4plus` computes from a captured ClientHello record.
fn independent_ja4(record: &[u8]) -> String {
    let venv = std::env::var_os("OBSCURA_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/obscura-venv"));
    let python = venv.join("bin/python");
    assert!(python.exists(), "{} is missing; scripts/test-venv installs ja4plus there", python.display());
    let program = "import sys\nfrom ja4plus.utils.tls_utils import parse_tls_handshake\nfrom ja4plus import generate_ja4\n\
                   print(generate_ja4(parse_tls_handshake(bytes.fromhex(sys.argv[1]))))";
    let hex: String = record.iter().map(|b| format!("{b:02x}")).collect();
    let out = std::process::Command::new(python).args(["-c", program, &hex]).output().unwrap();
    assert!(out.status.success(), "ja4plus failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The JA4 values of the access log's lines for requests to `path`.
fn logged_ja4(s: &TestServer, path: &str) -> Vec<String> {
    let since = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    s.access_log().read(since).unwrap().into_iter().filter(|l| l.path == path).map(|l| l.ja4).collect()
}

async fn eventually_logged(s: &TestServer, path: &str) -> Vec<String> {
    for _ in 0..50 {
        let found = logged_ja4(s, path);
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no access-log line for {path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ja4_of_curl_rustls_and_chromium_matches_an_independent_implementation() {
    let pki = TestPki::new();
    let s = TestServer::start_with(time::OffsetDateTime::now_utc(), |c| c.tls = Some(pki.tls(false, None))).await;
    let (relay, hellos) = recording_relay(s.base.trim_start_matches("http://").to_owned()).await;
    let mut checked = Vec::new();

    // curl, on OpenSSL.
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(pki.path("ca.pem"))
        .arg(format!("https://localhost:{}/health?client=curl", relay.rsplit(':').next().unwrap()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "204", "{}", String::from_utf8_lossy(&out.stderr));
    checked.push(("curl", "/health", hellos.lock().unwrap().pop().unwrap()));

    // A rustls client.
    let tcp = tokio::net::TcpStream::connect(&relay).await.unwrap();
    let connector = pki.client(&[&rustls::version::TLS13]);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /privacy HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    assert!(response.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&response[..40.min(response.len())]));
    checked.push(("rustls", "/privacy", hellos.lock().unwrap().pop().unwrap()));

    // Headless Chromium, trusting nothing but told to accept the test certificate.
    let (_driver, browser, _profile) =
        crate::chromium::start_browser_with(&["--ignore-certificate-errors".to_owned()]).await;
    hellos.lock().unwrap().clear();
    browser.goto(&format!("https://localhost:{}/privacy.json", relay.rsplit(':').next().unwrap())).await.unwrap();
    let logged = eventually_logged(&s, "/privacy.json").await;
    // Chromium may open more than one connection (and resume a session on the second, which
    // changes its fingerprint): each logged value must be one computed from a captured hello.
    let computed: Vec<String> = hellos.lock().unwrap().iter().map(|h| independent_ja4(h)).collect();
    assert!(!computed.is_empty(), "Chromium connected through the relay");
    for ja4 in &logged {
        assert!(computed.contains(ja4), "chromium: Obscura logged {ja4}, ja4plus computed {computed:?}");
    }
    assert!(
        logged[0].starts_with("t13d") && logged[0].contains("h2_"),
        "Chromium offers TLS 1.3 and h2: {}",
        logged[0]
    );

    for (client, path, hello) in checked {
        let expected = independent_ja4(&hello);
        assert!(expected.starts_with("t1"), "{client}: ja4plus read {expected}");
        let logged = eventually_logged(&s, path).await;
        assert_eq!(
            logged,
            std::slice::from_ref(&expected),
            "{client}: Obscura logged {logged:?}, ja4plus computed {expected}"
        );
    }
    s.stop();
}

/// `GET /api/v1/ingest/status` over TLS with the read token.
async fn ingest_status(pki: &TestPki, addr: &str, token: &str) -> serde_json::Value {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = pki.client(&[&rustls::version::TLS13]).connect(name, tcp).await.unwrap();
    let request = format!(
        "GET /api/v1/ingest/status HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ja4_bad_client_hellos_fail_the_handshake_and_are_counted() {
    let pki = TestPki::new();
    let s = TestServer::start_with(time::OffsetDateTime::now_utc(), |c| c.tls = Some(pki.tls(false, None))).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let before = ingest_status(&pki, &addr, &s.token).await["tls"]["handshakes_failed"].as_u64().unwrap();
    // A truncated hello, a garbled one and plain HTTP: each ends its connection, none the server.
    let garbage: [&[u8]; 3] =
        [&[22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3], &[22, 3, 1, 0, 4, 9, 9, 9, 9], b"GET / HTTP/1.1\r\n\r\n"];
    for bytes in garbage {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(bytes).await.unwrap();
        tcp.shutdown().await.unwrap();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
    }
    let (head, _, _) = crate::tls::https_get(&pki.client(&[&rustls::version::TLS13]), &addr, "/health").await.unwrap();
    assert!(head.starts_with("HTTP/1.1 2"), "the server still answers: {head}");
    let status = ingest_status(&pki, &addr, &s.token).await;
    assert_eq!(status["tls"]["handshakes_failed"].as_u64(), Some(before + 3), "{status}");
    assert!(status["tls"]["handshakes"].as_u64().unwrap() >= 1, "{status}");
    s.stop();
}
