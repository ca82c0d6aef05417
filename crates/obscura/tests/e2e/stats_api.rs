//! The stats API against a small fixed data set whose numbers are computed by hand.

use serde_json::{Value, json};
use time::Duration;
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

/// Visitor A (127.0.0.2, Berlin, Firefox): 12:00 `/` from Google, 12:05 `/pricing`,
/// 12:06 signup {plan: pro}; then 13:00 `/` again (55 minutes later: a new visit).
/// Visitor B (127.0.0.6, Paris, Chrome): 12:10 `/blog` from Hacker News.
/// Visitor C (127.0.0.7, Paris, iPhone): 12:20 `/` from a newsletter campaign, 12:21 engagement.
async fn load_fixture(s: &TestServer) {
    let day = datetime!(2026-03-10 00:00 UTC);
    let at = |h: i64, m: i64| day + Duration::hours(h) + Duration::minutes(m);
    let pv = |path: &str, referrer: Option<&str>| {
        json!({"site": SITE, "kind": "pageview", "url": format!("https://{SITE}{path}"), "referrer": referrer,
               "screen_width": 1440, "returning": false, "visit_count": "1"})
    };
    let steps: Vec<(time::OffsetDateTime, [u8; 4], &str, Value)> = vec![
        (at(12, 0), [127, 0, 0, 2], FIREFOX, pv("/", Some("https://www.google.com/"))),
        (at(12, 5), [127, 0, 0, 2], FIREFOX, pv("/pricing", None)),
        (
            at(12, 6),
            [127, 0, 0, 2],
            FIREFOX,
            json!({"site": SITE, "kind": "event", "name": "signup", "url": format!("https://{SITE}/pricing"), "props": {"plan": "pro"}}),
        ),
        (at(12, 10), [127, 0, 0, 6], CHROME, pv("/blog", Some("https://news.ycombinator.com/item?id=1"))),
        (at(12, 20), [127, 0, 0, 7], IPHONE, pv("/?utm_source=newsletter&utm_medium=email&utm_campaign=launch", None)),
        (
            at(12, 21),
            [127, 0, 0, 7],
            IPHONE,
            json!({"site": SITE, "kind": "engagement", "url": format!("https://{SITE}/"), "engaged_ms": 30000}),
        ),
        (at(13, 0), [127, 0, 0, 2], FIREFOX, pv("/", None)),
    ];
    for (t, ip, ua, body) in steps {
        s.clock.set(t);
        assert_eq!(s.send(ip, ua, body).await, reqwest::StatusCode::NO_CONTENT);
    }
    s.clock.set(at(18, 0));
}

fn rows(v: &Value) -> Vec<(String, u64, u64)> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["value"].as_str().unwrap().to_owned(), r["visitors"].as_u64().unwrap(), r["pageviews"].as_u64().unwrap())
        })
        .collect()
}

fn q(extra: &str) -> String {
    format!("site={SITE}&range=custom&from=2026-03-10&to=2026-03-10{extra}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_api_matches_hand_computed_numbers() {
    let s = TestServer::start(datetime!(2026-03-10 11:00 UTC)).await;
    load_fixture(&s).await;

    let agg = s.api(&format!("/api/v1/stats/aggregate?{}", q("&compare=previous"))).await;
    let r = &agg["results"];
    assert_eq!(r["visitors"], 3, "{agg}");
    assert_eq!(r["visits"], 4, "{agg}");
    assert_eq!(r["pageviews"], 5, "{agg}");
    assert_eq!(r["views_per_visit"], 1.25, "{agg}");
    // Bounces: A's second visit, B, C — 3 of 4 visits.
    assert_eq!(r["bounce_rate"], 75.0, "{agg}");
    // Durations: A1 6 min, A2 0, B 0, C 1 min → 420 s / 4 visits.
    assert_eq!(r["visit_duration"], 105.0, "{agg}");
    assert_eq!(agg["previous"]["visits"], 0);

    let pages = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=page"))).await;
    assert_eq!(rows(&pages), vec![("/".into(), 2, 3), ("/blog".into(), 1, 1), ("/pricing".into(), 1, 1)]);

    let sources = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=source"))).await;
    let mut src: Vec<_> = rows(&sources).into_iter().map(|(v, visitors, _)| (v, visitors)).collect();
    src.sort();
    assert_eq!(src, vec![("campaign".into(), 1), ("direct".into(), 1), ("search".into(), 1), ("social".into(), 1)]);

    let referrers = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=referrer"))).await;
    let mut refs: Vec<_> = rows(&referrers).into_iter().map(|(v, _, _)| v).collect();
    refs.sort();
    // Visits without a referrer (A's second, C's) show as "(none)", so the breakdown adds up.
    assert_eq!(refs, vec!["(none)", "google.com", "news.ycombinator.com"]);

    let campaigns = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=utm_campaign"))).await;
    assert_eq!(rows(&campaigns), vec![("(none)".into(), 2, 3), ("launch".into(), 1, 1)]);

    let countries = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=country"))).await;
    assert!(countries["attribution"].as_str().unwrap().contains("DB-IP"));
    assert_eq!(
        rows(&countries).iter().map(|(v, n, _)| (v.as_str(), *n)).collect::<Vec<_>>(),
        vec![("FR", 2), ("DE", 1)]
    );
    let provinces = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=province"))).await;
    assert_eq!(
        rows(&provinces).iter().map(|(v, n, _)| (v.as_str(), *n)).collect::<Vec<_>>(),
        vec![("Ile-de-France", 2), ("Berlin", 1)]
    );
    let continents = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=continent"))).await;
    assert_eq!(rows(&continents)[0].0, "EU");

    let entry = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=entry_page"))).await;
    assert_eq!(rows(&entry).iter().map(|(v, n, _)| (v.as_str(), *n)).collect::<Vec<_>>(), vec![("/", 2), ("/blog", 1)]);
    let exit = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=exit_page"))).await;
    let mut exits: Vec<_> = exit["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["value"].as_str().unwrap().to_owned(), r["visits"].as_u64().unwrap()))
        .collect();
    exits.sort();
    assert_eq!(exits, vec![("/".into(), 2), ("/blog".into(), 1), ("/pricing".into(), 1)]);
    let flow =
        s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=previous_page&filters=page==/pricing"))).await;
    assert_eq!(rows(&flow)[0].0, "/");

    let events = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=event"))).await;
    assert_eq!(events["results"][0]["value"], "signup");
    assert_eq!(events["results"][0]["events"], 1);
    let plans = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=prop:plan"))).await;
    assert_eq!(plans["results"][0]["value"], "pro");

    let browsers = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=browser"))).await;
    let mut b: Vec<_> = rows(&browsers).into_iter().map(|(v, _, _)| v).collect();
    b.sort();
    assert_eq!(b, vec!["Chrome", "Firefox", "Safari"]);
    let devices = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=device_type"))).await;
    let mut d: Vec<_> = rows(&devices).into_iter().map(|(v, n, _)| (v, n)).collect();
    d.sort();
    assert_eq!(d, vec![("desktop".into(), 2), ("mobile".into(), 1)]);
    let visitor_type = s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=visitor_type"))).await;
    assert_eq!(rows(&visitor_type)[0].0, "new");
    assert_eq!(rows(&visitor_type)[0].1, 3);

    let series = s.api(&format!("/api/v1/stats/timeseries?{}", q("&interval=hour"))).await;
    let points = series["results"].as_array().unwrap();
    assert_eq!(points.len(), 24);
    assert_eq!(points[12]["date"], "2026-03-10T12:00:00Z");
    assert_eq!((points[12]["visits"].as_u64(), points[12]["pageviews"].as_u64()), (Some(3), Some(4)));
    assert_eq!((points[13]["visits"].as_u64(), points[13]["pageviews"].as_u64()), (Some(1), Some(1)));
    assert_eq!(points[11]["visits"], 0);

    let fr = s.api(&format!("/api/v1/stats/aggregate?{}", q("&filters=country==FR"))).await;
    assert_eq!((fr["results"]["visitors"].as_u64(), fr["results"]["pageviews"].as_u64()), (Some(2), Some(2)));
    let not_fr = s.api(&format!("/api/v1/stats/aggregate?{}", q("&filters=country!=FR"))).await;
    assert_eq!(not_fr["results"]["pageviews"], 3);
    let search = s.api(&format!("/api/v1/stats/aggregate?{}", q("&filters=source==search"))).await;
    assert_eq!((search["results"]["visits"].as_u64(), search["results"]["pageviews"].as_u64()), (Some(1), Some(2)));
    let entered_home = s.api(&format!("/api/v1/stats/aggregate?{}", q("&filters=entry_page==/"))).await;
    // A1, A2 and C entered on `/`.
    assert_eq!(entered_home["results"]["visits"], 3);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_api_same_numbers_from_day_files_and_rollups() {
    // Once the day is over it moves to its encrypted Parquet file and gets a rollup; unfiltered
    // whole-day views then read the rollup. Every answer must stay the same.
    let s = TestServer::start(datetime!(2026-03-10 11:00 UTC)).await;
    load_fixture(&s).await;
    let views: Vec<String> = [
        "/api/v1/stats/aggregate?",
        "/api/v1/stats/timeseries?",
        "/api/v1/stats/breakdown?dimension=page&",
        "/api/v1/stats/breakdown?dimension=entry_page&",
        "/api/v1/stats/breakdown?dimension=exit_page&",
        "/api/v1/stats/breakdown?dimension=source&",
        "/api/v1/stats/breakdown?dimension=country&",
        "/api/v1/stats/breakdown?dimension=browser&",
        "/api/v1/stats/breakdown?dimension=event&",
        "/api/v1/stats/breakdown?dimension=prop:plan&",
        "/api/v1/stats/breakdown?dimension=page&filters=country==FR&",
    ]
    .iter()
    .map(|v| format!("{v}{}", q("")))
    .collect();
    let mut before = Vec::new();
    for v in &views {
        before.push(s.api(v).await);
    }
    s.clock.set(datetime!(2026-03-11 00:30 UTC));
    let store = s.embedded().clone();
    use obscura_store::EventStore;
    s.wait_rolled_up(time::macros::date!(2026 - 03 - 10)).await;
    assert!(store.hot_days().is_empty(), "the finished day should have been flushed");
    assert_eq!(
        store.rollup_days().await.unwrap(),
        vec![time::macros::date!(2026 - 03 - 10)],
        "the finished day is rolled up"
    );
    for (v, expected) in views.iter().zip(before) {
        assert_eq!(s.api(v).await, expected, "{v} changed after the day was flushed and rolled up");
    }
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_destroying_a_day_removes_its_key_files_and_numbers() {
    use obscura_store::EventStore;
    let s = TestServer::start(datetime!(2026-03-10 11:00 UTC)).await;
    load_fixture(&s).await;
    s.clock.set(datetime!(2026-03-11 00:30 UTC));
    let store = s.embedded().clone();
    let day = time::macros::date!(2026 - 03 - 10);
    s.wait_rolled_up(day).await;
    assert!(store.keyring().get(day).is_some());
    store.destroy_day(day).await.unwrap();
    assert!(store.keyring().get(day).is_none(), "the day's key is destroyed");
    assert!(!store.days().await.unwrap().contains(&day) && store.rollup_days().await.unwrap().is_empty());
    let leftovers: Vec<_> = crate::harness::files_under(&s.data_dir)
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("2026-03-10") && !f.to_string_lossy().contains("access-log"))
        .collect();
    assert!(leftovers.is_empty(), "files of the destroyed day remain: {leftovers:?}");
    let agg = s.api(&format!("/api/v1/stats/aggregate?{}", q(""))).await;
    assert_eq!(agg["results"]["pageviews"], 0);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_continue_across_a_server_restart() {
    let s = TestServer::start(datetime!(2026-03-10 12:00 UTC)).await;
    let pv = |path: &str| json!({"site": SITE, "url": format!("https://{SITE}{path}")});
    assert_eq!(s.send([127, 0, 0, 2], FIREFOX, pv("/")).await, reqwest::StatusCode::NO_CONTENT);
    let s = s.restart().await;
    s.clock.set(datetime!(2026-03-10 12:10 UTC));
    assert_eq!(s.send([127, 0, 0, 2], FIREFOX, pv("/pricing")).await, reqwest::StatusCode::NO_CONTENT);
    let agg = s.api(&format!("/api/v1/stats/aggregate?{}", q(""))).await;
    assert_eq!((agg["results"]["visits"].as_u64(), agg["results"]["pageviews"].as_u64()), (Some(1), Some(2)), "{agg}");
    assert_eq!(agg["results"]["bounce_rate"], 0.0);
    let flow =
        s.api(&format!("/api/v1/stats/breakdown?{}", q("&dimension=previous_page&filters=page==/pricing"))).await;
    assert_eq!(flow["results"][0]["value"], "/", "{flow}");
    s.stop();
}
