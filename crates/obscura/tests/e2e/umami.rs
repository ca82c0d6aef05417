//! Umami's own Node client (`@umami/node`, fetched by `scripts/fetch-data`) pointed at Obscura:
//! what a site switching from Umami keeps, and what P4 forbids it to keep.

use serde_json::{Value, json};

use crate::harness::{SITE, TestServer};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// Runs Umami's Node client against `base`: a page view, a custom event and an identify call.
/// Returns each answer's status and body.
fn run_umami_client(base: &str) -> Value {
    let client = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles/umami-node.js");
    assert!(client.exists(), "{} is needed (scripts/fetch-data gets it from npm)", client.display());
    let script = r#"
const { Umami } = require(process.argv[1]);
const umami = new Umami();
umami.init({ websiteId: process.argv[3], hostUrl: process.argv[2], userAgent: process.argv[4] });
(async () => {
  const answers = [];
  for (const send of [
    () => umami.track({ hostname: process.argv[3], url: '/pricing?utm_source=news', referrer: 'https://news.example/', screen: '1920x1080', title: 'Pricing for jane@example.com' }),
    () => umami.track('signup', { plan: 'pro' }),
    () => umami.identify({ email: 'jane@example.com', id: 'user-42' }),
  ]) {
    const res = await send();
    answers.push({ status: res.status, body: await res.json() });
  }
  console.log(JSON.stringify(answers));
})();
"#;
    let out = std::process::Command::new("node")
        .args(["-e", script])
        .arg(&client)
        .arg(base)
        .arg(SITE)
        .arg(FIREFOX)
        .output()
        .expect("node runs (scripts/test installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn umami_node_client_reports_to_obscura_and_identities_are_not_kept() {
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    let base = s.base.clone();
    let answers = tokio::task::spawn_blocking(move || run_umami_client(&base)).await.unwrap();
    let token = answers[0]["body"]["cache"].as_str().unwrap_or_else(|| panic!("a cache token: {answers}")).to_owned();
    for a in answers.as_array().unwrap() {
        assert_eq!((a["status"].as_u64(), a["body"]["cache"].as_str()), (Some(200), Some(token.as_str())), "{answers}");
    }

    let q = format!("site={SITE}&range=today");
    let pages = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=page")).await;
    assert_eq!(pages["results"][0]["value"], "/pricing", "{pages}");
    let campaign = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=utm_source")).await;
    assert_eq!(campaign["results"][0]["value"], "news", "{campaign}");
    let plan = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=prop:plan")).await;
    assert_eq!(plan["results"][0]["value"], "pro", "{plan}");
    let rows = s.stored_rows().await;
    assert_eq!(rows.len(), 2, "identify keeps nothing");
    let stored = format!("{rows:?}");
    assert!(!stored.contains("jane") && !stored.contains("user-42"), "no identity is stored: {stored}");

    // The token round trip: Umami's clients send it back with every request.
    let post = |body: Value, ua: &str, cache: Option<&str>| {
        let mut req = reqwest::Client::new().post(format!("{}/api/send", s.base)).header("user-agent", ua).json(&body);
        if let Some(c) = cache {
            req = req.header("x-umami-cache", c);
        }
        req.send()
    };
    let page = |path: &str| json!({"type": "event", "payload": {"website": SITE, "hostname": SITE, "url": path}});
    let again = post(page("/docs"), FIREFOX, Some(&token)).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["cache"], token.as_str());
    // Robots are answered as Umami answers them, and kept apart.
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let robot = post(page("/robots"), googlebot, None).await.unwrap();
    assert_eq!(robot.json::<Value>().await.unwrap(), json!({"beep": "boop"}));
    let automated = s.api(&format!("/api/v1/stats/automated?{q}")).await;
    assert_eq!(automated["hits"], 1, "{automated}");
    // Bad input: 400 saying what is wrong; an unknown site: 404.
    let bad = post(json!({"type": "click", "payload": {"website": SITE}}), FIREFOX, None).await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("field `type`"));
    let unknown =
        post(json!({"type": "event", "payload": {"website": "elsewhere.example"}}), FIREFOX, None).await.unwrap();
    assert_eq!(unknown.status(), 404);
    s.stop();
}
