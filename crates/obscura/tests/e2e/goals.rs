//! Goals: set with the command line, counted in the API and the dashboard's Goals panel.

use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestClient, TestServer};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_count_conversions_visitors_and_rates_in_the_api_and_dashboard() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let obscura = |args: &[&str]| s.cli(args);
    for args in [
        &["goal", "add", SITE, "--name", "Thanks", "--page", "/thanks"][..],
        &["goal", "add", SITE, "--name", "Blog", "--page", "/blog/", "--contains"],
        &["goal", "add", SITE, "--name", "Pro signup", "--event", "signup", "--property", "plan=pro"],
    ] {
        let out = obscura(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let twice = obscura(&["goal", "add", SITE, "--name", "Thanks", "--page", "/other"]);
    assert!(!twice.status.success() && String::from_utf8_lossy(&twice.stderr).contains("already has a goal named"));
    let bad = obscura(&["goal", "add", SITE, "--name", "X", "--page", "no-slash"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("starts with `/`"));
    let listed = String::from_utf8(obscura(&["goal", "list", SITE]).stdout).unwrap();
    assert!(listed.contains("Pro signup\tevent signup with plan = pro"), "{listed}");
    s.reload_metadata();

    let page = |path: &str| json!({"site": SITE, "url": format!("https://{SITE}{path}")});
    let signup = |plan: &str| json!({"site": SITE, "kind": "event", "name": "signup", "url": format!("https://{SITE}/"), "props": {"plan": plan}});
    for (ip, body) in [
        ([127, 0, 0, 2], page("/")),
        ([127, 0, 0, 2], page("/thanks")),
        ([127, 0, 0, 3], page("/blog/one")),
        ([127, 0, 0, 3], signup("pro")),
        ([127, 0, 0, 4], page("/")),
        ([127, 0, 0, 4], signup("free")),
    ] {
        assert_eq!(s.send(ip, FIREFOX, body).await, 204);
    }
    let found = s.api(&format!("/api/v1/stats/goals?site={SITE}&range=today")).await;
    let rows: Vec<(String, u64, u64, f64)> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_owned(),
                g["conversions"].as_u64().unwrap(),
                g["visitors"].as_u64().unwrap(),
                g["conversion_rate"].as_f64().unwrap(),
            )
        })
        .collect();
    let expected = [("Thanks", 1, 1, 33.3), ("Blog", 1, 1, 33.3), ("Pro signup", 1, 1, 33.3)];
    assert_eq!(rows, expected.map(|(n, c, v, r)| (n.to_owned(), c, v, r)), "{found}");

    let owner = TestClient::sign_in(&s.base, "owner", &s.password).await;
    let (_, html) = owner.get(&format!("/?site={SITE}&range=today")).await;
    let panel = html.split("id=\"goals\"").nth(1).expect("the Goals panel");
    assert!(panel.contains("Pro signup") && panel.contains("33.3%"), "{}", &panel[..500.min(panel.len())]);

    assert!(obscura(&["goal", "remove", SITE, "Blog"]).status.success());
    s.reload_metadata();
    let found = s.api(&format!("/api/v1/stats/goals?site={SITE}&range=today")).await;
    assert_eq!(found["results"].as_array().unwrap().len(), 2);
    s.stop();
}
