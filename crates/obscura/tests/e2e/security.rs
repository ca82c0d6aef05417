//! An attacker's requests: SQL injection in every filter and dimension (on both backends), path
//! traversal, header injection, oversized and too many headers. Every answer is a 2xx or a 4xx with a
//! reason, never a 5xx, and nothing stored changes.

use obscura::config::Backend;
use obscura_query::Dimension;
use serde_json::json;

use crate::harness::{SITE, TestServer, clickhouse_shards, unique_database};

/// Text that would change a query's meaning if it were spliced into SQL, in the dialects of
/// both backends (DataFusion, ClickHouse), including placeholder look-alikes.
const PAYLOADS: [&str; 10] = [
    "' OR '1'='1",
    "x' OR 1=1 --",
    "\"; DROP TABLE events; --",
    "') UNION SELECT * FROM events --",
    "%' OR path LIKE '%",
    "\\' OR 1=1 #",
    "1) OR (1=1",
    "/* */",
    "$1",
    "? OR 1=1",
];

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Page views from three browsers on three pages, sent as a browser would.
async fn traffic(s: &TestServer) {
    let agents = [
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    ];
    for (n, agent) in agents.iter().enumerate() {
        for page in ["/", "/pricing", "/blog/post"] {
            let hit = json!({"site": SITE, "url": format!("https://{SITE}{page}?utm_source=news"), "referrer": "https://www.google.com/"});
            assert!(s.send([127, 0, 2, n as u8 + 1], agent, hit).await.is_success());
        }
        let signup = json!({"site": SITE, "kind": "event", "name": "signup", "url": format!("https://{SITE}/"), "props": {"plan": "pro"}});
        assert!(s.send([127, 0, 2, n as u8 + 1], agent, signup).await.is_success());
    }
}

/// Status and body of a stats request with the read token.
async fn get(s: &TestServer, path: &str) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new().get(format!("{}{path}", s.base)).bearer_auth(&s.token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// Every filter operator on every dimension with every payload, and the payloads as property
/// keys: answered 200 (matching nothing, or everything for `!=`) or 400, and afterwards the
/// site's figures are what they were.
async fn injections_are_data(s: &TestServer) {
    let q = format!("site={SITE}&range=today");
    let (_, before) = get(s, &format!("/api/v1/stats/aggregate?{q}")).await;
    let total = before["results"]["pageviews"].as_u64().unwrap();
    assert_eq!(total, 9, "{before}");
    let mut names: Vec<String> = Dimension::FIXED.iter().map(|(_, n)| (*n).to_owned()).collect();
    names.push("prop:plan".into());
    let (mut answered, mut refused) = (0, 0);
    for name in &names {
        for op in ["==", "!=", "~="] {
            for payload in PAYLOADS {
                let filter = encode(&format!("{name}{op}{payload}"));
                let path = format!("/api/v1/stats/aggregate?{q}&filters={filter}");
                let (status, body) = get(s, &path).await;
                match status {
                    200 => {
                        answered += 1;
                        let pageviews = body["results"]["pageviews"].as_u64().unwrap();
                        if op == "!=" {
                            assert!(pageviews <= total, "{path}: {body}");
                        } else {
                            assert_eq!(pageviews, 0, "{path} matched rows: {body}");
                        }
                    }
                    400 => {
                        refused += 1;
                        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}: a reason: {body}");
                    }
                    other => panic!("{path} answered {other}: {body}"),
                }
            }
        }
    }
    assert!(answered > 700, "the payloads reach the queries: {answered} answered, {refused} refused");
    for payload in PAYLOADS {
        let path = format!("/api/v1/stats/breakdown?{q}&dimension={}", encode(&format!("prop:{payload}")));
        let (status, body) = get(s, &path).await;
        assert!(status == 200 || status == 400, "{path} answered {status}: {body}");
        if status == 200 {
            assert_eq!(body["results"].as_array().map(Vec::len), Some(0), "{path}: {body}");
        }
    }
    let (_, after) = get(s, &format!("/api/v1/stats/aggregate?{q}")).await;
    assert_eq!(after["results"], before["results"], "nothing stored changed");
    let (_, pages) = get(s, &format!("/api/v1/stats/breakdown?{q}&dimension=page")).await;
    assert_eq!(pages["results"].as_array().map(Vec::len), Some(3), "{pages}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_sql_injection_in_every_filter_is_data_on_the_embedded_store() {
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    traffic(&s).await;
    injections_are_data(&s).await;
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_sql_injection_in_every_filter_is_data_on_clickhouse() {
    let database = unique_database("obscura_security");
    let (shards, db) = (clickhouse_shards(), database.clone());
    let s = TestServer::start_with(time::OffsetDateTime::now_utc(), move |c| {
        c.backend = Backend::ClickHouse;
        c.clickhouse.shards = shards;
        c.clickhouse.database = db;
    })
    .await;
    traffic(&s).await;
    injections_are_data(&s).await;
    s.stop();
    crate::harness::drop_clickhouse_database(&clickhouse_shards(), &database).await;
}

/// A request written by hand, as an attacker's tool sends it; the status line's code, or 0
/// when the server closed the connection without an answer.
fn raw_request(base: &str, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_traversal_header_injection_and_oversized_headers_get_4xx_and_serving_goes_on() {
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    let base = s.base.clone();
    let secrets = ["root:x:0:0", "[clickhouse]", "listen ="];
    // Path traversal on the static files and the tracker's scripts: the paths are routes, not
    // file names, so none reaches a file.
    for path in [
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/js/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/js/..%5c..%5cobscura.toml",
        "/static/app.css/../../obscura.toml",
        "/js/obscura.js%00.txt",
        "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let (status, text) = tokio::task::spawn_blocking({
            let base = base.clone();
            move || raw_request(&base, request.as_bytes())
        })
        .await
        .unwrap();
        assert!((400..500).contains(&status), "{path} answered {status}");
        assert!(!secrets.iter().any(|s| text.contains(s)), "{path} leaked a file: {text}");
    }
    // Header injection: CR LF in query values and paths never becomes a header of the answer.
    for path in [
        format!("/p.gif?site={SITE}&url=https://{SITE}/%0d%0aSet-Cookie:%20injected=1"),
        "/login?next=%0d%0aSet-Cookie:%20injected=1".to_owned(),
        format!("/api/v1/export.csv?site={SITE}%0d%0aSet-Cookie:%20injected=1&dimension=page"),
        "/share/%0d%0aSet-Cookie:%20injected=1".to_owned(),
    ] {
        let res = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("{base}{path}"))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap();
        assert!(res.status().as_u16() < 500, "{path} answered {}", res.status());
        let injected = res.headers().get_all("set-cookie").iter().any(|v| v.as_bytes().starts_with(b"injected"));
        assert!(!injected, "{path} set a header from its input: {:?}", res.headers());
    }
    // A raw CR inside a header line is a malformed request, not a new header.
    let raw = |request: Vec<u8>| {
        let base = base.clone();
        tokio::task::spawn_blocking(move || raw_request(&base, &request))
    };
    let split = b"GET /js/obscura.js HTTP/1.1\r\nHost: localhost\r\nX-Note: a\rSet-Cookie: injected=1\r\nConnection: close\r\n\r\n";
    let (status, text) = raw(split.to_vec()).await.unwrap();
    assert!(status == 0 || (400..500).contains(&status), "answered {status}: {text}");
    assert!(!text.contains("injected"), "{text}");
    // Oversized heads are refused with 431, ordinary large cookies served; serving goes on.
    for (name, size, refused) in [("Cookie", 8_000, false), ("X-Padding", 70_000, true), ("Cookie", 200_000, true)] {
        let request = format!(
            "GET /js/obscura.js HTTP/1.1\r\nHost: localhost\r\n{name}: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(size)
        );
        let (status, _) = raw(request.into_bytes()).await.unwrap();
        assert_eq!(status, if refused { 431 } else { 200 }, "a {size}-byte {name}");
    }
    let many: String = (0..2_000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let request = format!("GET /js/obscura.js HTTP/1.1\r\nHost: localhost\r\n{many}Connection: close\r\n\r\n");
    let (status, _) = raw(request.into_bytes()).await.unwrap();
    assert_eq!(status, 431, "2,000 headers");
    let (status, _) =
        raw(b"GET /js/obscura.js HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_vec()).await.unwrap();
    assert_eq!(status, 200, "still serving");
    s.stop();
}
