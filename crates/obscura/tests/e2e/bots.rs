//! P5: the robot lists against User-Agents labelled elsewhere (`scripts/bot-corpus`): robots
//! from Matomo Device Detector's fixtures, people from a snapshot of real browsers' traffic
//! (npm `user-agents`) and from Matomo's browser fixtures. The classifier is built from other
//! lists (crawler-user-agents, isbot), so this measures it on data it was not made from.

use obscura_enrich::bots::{Classifier, Evidence, Verdict};

fn datafile(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles").join(name)
}

#[derive(serde::Deserialize)]
struct Labelled {
    user_agent: String,
    label: String,
    source: String,
    weight: f64,
}

#[test]
fn bots_corpus_robots_are_caught_and_people_are_not() {
    let corpus = datafile("bot-corpus.jsonl");
    assert!(corpus.exists(), "{} is missing: scripts/bot-corpus assembles it", corpus.display());
    let config = obscura::config::EnrichConfig {
        robot_lists: vec![datafile("crawler-user-agents.json"), datafile("isbot-patterns.json")],
        ..Default::default()
    };
    let robots = config.robot_names().unwrap();
    assert!(robots.patterns() > 1500, "both lists are loaded: {} patterns", robots.patterns());
    let classifier = Classifier::new(robots);
    // Per source: (weight classified as people, total weight, a few misread examples).
    let mut tally: std::collections::BTreeMap<String, (f64, f64, Vec<String>)> = Default::default();
    for line in std::fs::read_to_string(&corpus).unwrap().lines() {
        let l: Labelled = serde_json::from_str(line).unwrap();
        let verdict = classifier.classify(&Evidence { user_agent: &l.user_agent, ..Evidence::default() }).verdict;
        let right = (verdict == Verdict::Human) == (l.label == "person");
        let t = tally.entry(l.source).or_default();
        t.1 += l.weight;
        if right {
            t.0 += l.weight;
        } else if t.2.len() < 5 {
            t.2.push(l.user_agent);
        }
    }
    let share = |source: &str| {
        let (right, all, wrong) = &tally[source];
        eprintln!("{source}: {:.3}% right; e.g. wrong: {wrong:?}", 100.0 * right / all);
        right / all
    };
    let robots_caught = share("matomo-bots");
    let people_in_traffic = share("user-agents");
    let people_in_fixtures = share("matomo-browsers");
    assert!(robots_caught >= 0.99, "robot recall {:.2}% (target ≥ 99%)", robots_caught * 100.0);
    assert!(
        1.0 - people_in_traffic <= 0.001,
        "people misread {:.3}% of traffic (target ≤ 0.1%)",
        (1.0 - people_in_traffic) * 100.0
    );
    // Matomo's browser fixtures include rare and old devices whose names trip generic patterns
    // ("Discovery", "nook browser"): a bound against regressions, not the target.
    assert!(
        1.0 - people_in_fixtures <= 0.02,
        "people misread {:.2}% of Matomo's browsers",
        (1.0 - people_in_fixtures) * 100.0
    );
}

/// P5 end to end: a person, a robot that names itself, a headless browser and a browser the
/// tracker found driven by WebDriver send page views; only the person's count as people's, the
/// rest are kept apart and shown — in the API with their reasons and in the dashboard's panel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p05_automated_hits_are_kept_apart_and_shown_with_their_reasons() {
    use crate::harness::{SITE, TestClient, TestServer};
    use serde_json::json;

    let s = TestServer::start(time::macros::datetime!(2026-07-01 09:00 UTC)).await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let page = |path: &str| json!({"site": SITE, "url": format!("https://{SITE}{path}")});
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let headless =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";
    let mut driven = page("/driven");
    driven["signals"] = json!(1);
    for (ip, ua, body) in [
        ([127, 0, 0, 2], firefox, page("/")),
        ([127, 0, 0, 3], googlebot, page("/robots-see-this")),
        ([127, 0, 0, 4], headless, page("/")),
        ([127, 0, 0, 5], firefox, driven),
    ] {
        assert_eq!(s.send(ip, ua, body).await, reqwest::StatusCode::NO_CONTENT, "answered as people are");
    }

    let people = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today")).await;
    assert_eq!((people["results"]["pageviews"].as_u64(), people["results"]["visitors"].as_u64()), (Some(1), Some(1)));
    let pages = s.api(&format!("/api/v1/stats/breakdown?site={SITE}&range=today&dimension=page")).await;
    assert!(!pages.to_string().contains("robots-see-this"), "no robot's page among people's: {pages}");

    let apart = s.api(&format!("/api/v1/stats/automated?site={SITE}&range=today")).await;
    assert_eq!(apart["hits"].as_u64(), Some(3), "{apart}");
    assert_eq!(apart["share_percent"].as_f64(), Some(75.0));
    let reasons: Vec<&str> =
        apart["reasons"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
    assert!(reasons.contains(&"webdriver"), "{reasons:?}");
    // The robot lists name Googlebot where they are installed; the User-Agent's own markers do anyway.
    assert!(reasons.iter().any(|r| ["robot_user_agent", "automation_user_agent"].contains(r)), "{reasons:?}");
    let status = s.api("/api/v1/ingest/status").await;
    assert_eq!((status["stored"].as_u64(), status["automated"].as_u64()), (Some(1), Some(3)), "{status}");

    let owner = TestClient::sign_in(&s.base, "owner", &s.password).await;
    let (_, html) = owner.get(&format!("/?site={SITE}&range=today")).await;
    let panel = html.split("id=\"automated\"").nth(1).expect("the dashboard shows the automated traffic panel");
    assert!(panel.contains("<strong>3</strong>") && panel.contains("75.0%"), "{panel}");
    assert!(panel.contains("webdriver"), "its reasons");

    // The switch counts them into people's figures: page views and their clients' visitors, by page.
    let all = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today&automated=include")).await;
    assert_eq!(
        (all["results"]["pageviews"].as_u64(), all["results"]["visitors"].as_u64()),
        (Some(4), Some(4)),
        "{all}"
    );
    assert_eq!(all["results"]["visits"].as_u64(), Some(1), "automated hits make no visits");
    let pages =
        s.api(&format!("/api/v1/stats/breakdown?site={SITE}&range=today&dimension=page&automated=include")).await;
    let views = |page: &str| {
        pages["results"].as_array().unwrap().iter().find(|r| r["value"] == page).map(|r| r["pageviews"].clone())
    };
    assert_eq!((views("/"), views("/robots-see-this")), (Some(json!(2)), Some(json!(1))), "{pages}");
    let series =
        s.api(&format!("/api/v1/stats/timeseries?site={SITE}&range=today&interval=hour&automated=include")).await;
    let in_series: u64 = series["results"].as_array().unwrap().iter().map(|p| p["pageviews"].as_u64().unwrap()).sum();
    assert_eq!(in_series, 4, "{series}");
    let refused = reqwest::Client::new()
        .get(format!("{}/api/v1/stats/aggregate?site={SITE}&automated=maybe", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("`automated` must be `include` or `exclude`"));

    let switch =
        panel.split("id=\"automated-switch\" href=\"").nth(1).and_then(|h| h.split('"').next()).expect("the switch");
    let (_, html) = owner.get(&switch.replace("&amp;", "&")).await;
    assert!(html.contains("Automated traffic counted in"), "the dashboard says so");
    let pageviews = html.split("data-metric=\"pageviews\"").nth(1).expect("the page views figure");
    assert!(pageviews.contains("<div class=\"value\">4</div>"), "{}", &pageviews[..200.min(pageviews.len())]);
}
