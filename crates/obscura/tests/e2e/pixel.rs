//! The pixel tag (`GET /p.gif`): page views from pages without JavaScript, through the same
//! privacy path, answered with a GIF that no cache keeps.

use crate::harness::{SITE, TestServer};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pixel_tag_counts_page_views_and_answers_a_gif_no_cache_keeps() {
    let s = TestServer::start(time::macros::datetime!(2026-07-01 09:00 UTC)).await;
    let get = |query: &str, referer: Option<&str>, ip: [u8; 4]| {
        let mut req =
            TestServer::client_from(ip).get(format!("{}/p.gif?{query}", s.base)).header("user-agent", FIREFOX);
        if let Some(r) = referer {
            req = req.header("referer", r);
        }
        req.send()
    };
    let page = format!(
        "site={SITE}&url=https%3A%2F%2F{SITE}%2Fno-script%3Femail%3Djane%40example.com&r=https%3A%2F%2Fnews.example%2F"
    );
    let res = get(&page, None, [127, 0, 0, 2]).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        (res.headers()["content-type"].to_str().unwrap(), res.headers()["cache-control"].to_str().unwrap()),
        ("image/gif", "no-store")
    );
    assert!(res.bytes().await.unwrap().starts_with(b"GIF89a"));
    // Without `url`, the page is the one the browser names in `Referer`.
    let res =
        get(&format!("site={SITE}"), Some(&format!("https://{SITE}/from-referer")), [127, 0, 0, 3]).await.unwrap();
    assert_eq!(res.status(), 200);

    let q = format!("site={SITE}&range=today");
    let pages = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=page")).await;
    let mut paths: Vec<&str> =
        pages["results"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
    paths.sort();
    assert_eq!(paths, ["/from-referer", "/no-script"], "the query string and its e-mail address are gone: {pages}");
    let sources = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=referrer")).await;
    assert!(sources.to_string().contains("news.example"), "{sources}");

    // Refused: still a GIF (no broken image on the page), with the status and the reason.
    let res = get("url=https://shop.example/", None, [127, 0, 0, 4]).await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers()["x-obscura-error"].to_str().unwrap().contains("missing parameter `site`"));
    assert_eq!(res.headers()["content-type"], "image/gif");
    let res = get("site=elsewhere.example&url=https://elsewhere.example/", None, [127, 0, 0, 4]).await.unwrap();
    assert_eq!(res.status(), 404);
    // Do-Not-Track is honoured as for every other hit.
    let res = TestServer::client_from([127, 0, 0, 5])
        .get(format!("{}/p.gif?site={SITE}&url=https://{SITE}/private", s.base))
        .header("user-agent", FIREFOX)
        .header("dnt", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let agg = s.api(&format!("/api/v1/stats/aggregate?{q}")).await;
    assert_eq!(agg["results"]["pageviews"].as_u64(), Some(2), "{agg}");
    s.stop();
}
