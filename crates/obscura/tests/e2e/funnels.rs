//! Funnels: set with the command line, counted step by step in the API and drawn in the
//! dashboard's Funnels panel.

use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestClient, TestServer};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funnels_count_visits_step_by_step_with_their_drop_off() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let obscura = |args: &[&str]| s.cli(args);
    let add = [
        "funnel",
        "add",
        SITE,
        "--name",
        "Checkout",
        "--step",
        "page=/",
        "--step",
        "page=/pricing",
        "--step",
        "event=signup,plan=pro",
    ];
    let out = obscura(&add);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let one_step = obscura(&["funnel", "add", SITE, "--name", "Short", "--step", "page=/"]);
    assert!(String::from_utf8_lossy(&one_step.stderr).contains("2 to 8 steps"));
    let bad_step = obscura(&["funnel", "add", SITE, "--name", "Bad", "--step", "page=/", "--step", "click=buy"]);
    assert!(String::from_utf8_lossy(&bad_step.stderr).contains("a step is `page=/path`"));
    let listed = String::from_utf8(obscura(&["funnel", "list", SITE]).stdout).unwrap();
    assert!(listed.contains("Checkout\tpage / → page /pricing → event signup with plan = pro"), "{listed}");
    s.reload_metadata();

    let page = |path: &str| json!({"site": SITE, "url": format!("https://{SITE}{path}")});
    let signup = json!({"site": SITE, "kind": "event", "name": "signup", "url": format!("https://{SITE}/pricing"), "props": {"plan": "pro"}});
    // Four visits start on `/`; two go on to `/pricing`; one signs up. One visit reads
    // `/pricing` first and `/` after, which is not the funnel's order.
    for (ip, body) in [
        ([127, 0, 0, 2], page("/")),
        ([127, 0, 0, 2], page("/pricing")),
        ([127, 0, 0, 2], signup.clone()),
        ([127, 0, 0, 3], page("/")),
        ([127, 0, 0, 3], page("/pricing")),
        ([127, 0, 0, 4], page("/")),
        ([127, 0, 0, 5], page("/pricing")),
        ([127, 0, 0, 5], page("/")),
    ] {
        assert_eq!(s.send(ip, FIREFOX, body).await, 204);
        s.clock.advance(time::Duration::seconds(10));
    }
    let found = s.api(&format!("/api/v1/stats/funnels?site={SITE}&range=today")).await;
    let steps: Vec<(u64, f64, f64)> = found["results"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["visits"].as_u64().unwrap(), s["of_first"].as_f64().unwrap(), s["dropped"].as_f64().unwrap()))
        .collect();
    assert_eq!(steps, [(4, 100.0, 0.0), (2, 50.0, 50.0), (1, 25.0, 50.0)], "{found}");

    let owner = TestClient::sign_in(&s.base, "owner", &s.password).await;
    let (_, html) = owner.get(&format!("/?site={SITE}&range=today")).await;
    let panel = html.split("id=\"funnels\"").nth(1).expect("the Funnels panel");
    assert!(
        panel.contains("Checkout")
            && panel.contains("width:50%")
            && panel.contains("50.0%")
            && panel.contains("dropped")
    );

    assert!(obscura(&["funnel", "remove", SITE, "Checkout"]).status.success());
    s.reload_metadata();
    assert!(
        s.api(&format!("/api/v1/stats/funnels?site={SITE}&range=today")).await["results"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    s.stop();
}
