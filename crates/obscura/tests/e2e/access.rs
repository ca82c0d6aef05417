//! P15 (no back doors): every route is declared in one table; without credentials every
//! non-public one refuses, and the public ones are exactly the expected few.

use obscura_web::routes::{Access, table};
use time::macros::datetime;

use crate::harness::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p15_every_non_public_route_refuses_without_credentials() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut public = Vec::new();
    for (spec, _) in table() {
        if spec.access == Access::Public {
            public.push(format!("{} {}", spec.method, spec.path));
            continue;
        }
        let method = reqwest::Method::from_bytes(spec.method.as_bytes()).unwrap();
        let res = client.request(method, format!("{}{}", s.base, spec.path)).send().await.unwrap();
        let status = res.status().as_u16();
        let to_login = status == 303 && res.headers().get("location").is_some_and(|l| l == "/login");
        assert!(
            status == 401 || status == 403 || to_login,
            "{} {} answered {status} without credentials",
            spec.method,
            spec.path
        );
        // A forged session cookie is no better than none.
        let method = reqwest::Method::from_bytes(spec.method.as_bytes()).unwrap();
        let res = client
            .request(method, format!("{}{}", s.base, spec.path))
            .header("cookie", "obscura_session=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
            .header("authorization", "Bearer obs_forged")
            .send()
            .await
            .unwrap();
        assert!(matches!(res.status().as_u16(), 401 | 403 | 303), "{} {} accepted forged credentials", spec.method, spec.path);
    }
    public.sort();
    assert_eq!(
        public,
        vec!["GET /health", "GET /js/obscura.js", "GET /login", "GET /static/app.css", "POST /api/event"],
        "the public routes are the ingest endpoint, the tracker, login, health and the stylesheet"
    );
    // Routes not in the table do not exist.
    for path in ["/admin", "/debug", "/api/v1/users", "/.env"] {
        assert_eq!(client.get(format!("{}{path}", s.base)).send().await.unwrap().status(), 404, "{path}");
    }
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_login_and_logout_refuse_missing_or_stale_tokens() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // Login without the form's CSRF cookie: refused even with the right password.
    let res = client
        .post(format!("{}/login", s.base))
        .form(&[("username", "owner"), ("password", s.password.as_str()), ("csrf", "made-up")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A proper login.
    let login = client.get(format!("{}/login", s.base)).send().await.unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = login.text().await.unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let ok = client
        .post(format!("{}/login", s.base))
        .header("cookie", &cookie)
        .form(&[("username", "owner"), ("password", s.password.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let session = ok.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    // Logout needs the session's CSRF token: a missing or wrong one is refused, the session stays.
    let bad = client.post(format!("{}/logout", s.base)).header("cookie", &session).form(&[("csrf", "stale")]).send().await.unwrap();
    assert_eq!(bad.status(), 403);
    let page = client.get(format!("{}/", s.base)).header("cookie", &session).send().await.unwrap();
    assert_eq!(page.status(), 200, "a refused logout must not end the session");
    let html = page.text().await.unwrap();
    let token = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let out = client.post(format!("{}/logout", s.base)).header("cookie", &session).form(&[("csrf", token.as_str())]).send().await.unwrap();
    assert_eq!(out.status(), 303);
    let after = client.get(format!("{}/", s.base)).header("cookie", &session).send().await.unwrap();
    assert_eq!(after.status(), 303, "the session ended");
    s.stop();
}
