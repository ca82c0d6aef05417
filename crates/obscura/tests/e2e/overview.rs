//! The overview page: login, then the headline numbers of the stats API on the page.

use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

fn field<'a>(html: &'a str, metric: &str) -> &'a str {
    let start = html.find(&format!("data-metric=\"{metric}\"")).unwrap_or_else(|| panic!("no {metric} in page"));
    let rest = &html[start..];
    let v = rest.find("class=\"value\">").unwrap() + "class=\"value\">".len();
    let end = rest[v..].find('<').unwrap();
    &rest[v..v + end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_requires_login_and_shows_the_api_numbers() {
    let s = TestServer::start(datetime!(2026-07-01 09:00 UTC)).await;
    for (i, path) in ["/", "/a", "/b"].iter().enumerate() {
        let ua = format!("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/13{i}.0");
        let body = json!({"site": SITE, "url": format!("https://{SITE}{path}")});
        assert_eq!(s.send([127, 0, 0, 2], &ua, body).await, reqwest::StatusCode::NO_CONTENT);
    }
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = client.get(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 303, "the overview needs a login");
    assert_eq!(res.headers()["location"], "/login");
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));

    // Log in: the form's CSRF value must match its cookie.
    let login = client.get(format!("{}/login", s.base)).send().await.unwrap();
    let csrf_cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = login.text().await.unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let wrong = client
        .post(format!("{}/login", s.base))
        .header("cookie", &csrf_cookie)
        .form(&[("username", "owner"), ("password", "wrong password"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = client
        .post(format!("{}/login", s.base))
        .header("cookie", &csrf_cookie)
        .form(&[("username", "owner"), ("password", s.password.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let session = ok.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert!(ok.headers()["set-cookie"].to_str().unwrap().contains("HttpOnly; SameSite=Strict"));

    let page =
        client.get(format!("{}/?site={SITE}&range=today", s.base)).header("cookie", &session).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let api = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today")).await;
    assert_eq!(field(&html, "visitors"), api["results"]["visitors"].to_string());
    assert_eq!(field(&html, "pageviews"), "3");
    assert!(html.contains("/a") && html.contains("/b"), "top pages are listed");
    s.stop();
}
