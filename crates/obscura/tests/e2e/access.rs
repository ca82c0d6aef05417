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
        vec!["GET /health", "GET /js/obscura.js", "GET /login", "GET /static/app.css", "GET /static/app.js", "POST /api/event"],
        "the public routes are the ingest endpoint, the tracker, login, health and the static assets"
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_viewer_reads_only_assigned_sites_analyst_reads_all() {
    use obscura_store::meta::Role;
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let meta = obscura_store::meta::MetaStore::open(
        &s.data_dir,
        obscura_store::crypto::load_master_key(
            &obscura_store::crypto::MasterKeySource::File(s.dir.path().join("keys/master.key")),
            &s.data_dir,
        )
        .unwrap(),
    )
    .unwrap();
    obscura::admin::add_site(&meta, "other.example", true).unwrap();
    let pw = "viewer password 1".to_owned();
    obscura::admin::add_user_with_sites(&meta, "vera", Role::Viewer, Some(pw.clone()), &["other.example".into()]).unwrap();
    obscura::admin::add_user(&meta, "ana", Role::Analyst, Some("analyst password".into())).unwrap();
    assert!(obscura::admin::add_user(&meta, "nobody", Role::Viewer, Some("viewer password 2".into())).is_err(), "a viewer needs a site");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the server rereads metadata each second

    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |cookie: String, site: &'static str| {
        let (client, base) = (client.clone(), s.base.clone());
        async move {
            client.get(format!("{base}/api/v1/stats/aggregate?site={site}")).header("cookie", cookie).send().await.unwrap().status().as_u16()
        }
    };
    let vera = crate::harness::login(&s.base, "vera", &pw).await.expect("viewer logs in");
    assert_eq!(get(vera.clone(), "other.example").await, 200);
    assert_eq!(get(vera.clone(), "shop.example").await, 403, "a viewer may not read an unassigned site");
    let page = client.get(format!("{}/", s.base)).header("cookie", &vera).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("other.example") && !page.contains("shop.example"), "the viewer's site list holds only their site");
    let forced = client.get(format!("{}/?site=shop.example", s.base)).header("cookie", &vera).send().await.unwrap();
    assert_eq!(forced.status(), 403);

    let ana = crate::harness::login(&s.base, "ana", "analyst password").await.expect("analyst logs in");
    assert_eq!(get(ana.clone(), "shop.example").await, 200);
    assert_eq!(get(ana, "other.example").await, 200);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_password_change_and_logout_everywhere_end_sessions() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let laptop = crate::harness::login(&s.base, "owner", &s.password).await.unwrap();
    let phone = crate::harness::login(&s.base, "owner", &s.password).await.unwrap();
    let account = client.get(format!("{}/account", s.base)).header("cookie", &laptop).send().await.unwrap().text().await.unwrap();
    let csrf = crate::harness::csrf_in(&account);
    let wrong = client
        .post(format!("{}/account/password", s.base))
        .header("cookie", &laptop)
        .form(&[("csrf", csrf.as_str()), ("current", "not it"), ("new", "a brand new password")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let changed = client
        .post(format!("{}/account/password", s.base))
        .header("cookie", &laptop)
        .form(&[("csrf", csrf.as_str()), ("current", s.password.as_str()), ("new", "a brand new password")])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 303);
    for cookie in [&laptop, &phone] {
        let res = client.get(format!("{}/", s.base)).header("cookie", cookie).send().await.unwrap();
        assert_eq!(res.status(), 303, "every session ends when the password changes");
    }
    assert!(crate::harness::login(&s.base, "owner", &s.password).await.is_none(), "the old password no longer works");
    let fresh = crate::harness::login(&s.base, "owner", "a brand new password").await.unwrap();
    let other = crate::harness::login(&s.base, "owner", "a brand new password").await.unwrap();
    let account = client.get(format!("{}/account", s.base)).header("cookie", &fresh).send().await.unwrap().text().await.unwrap();
    let out = client
        .post(format!("{}/account/logout-all", s.base))
        .header("cookie", &fresh)
        .form(&[("csrf", crate::harness::csrf_in(&account))])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let res = client.get(format!("{}/", s.base)).header("cookie", &other).send().await.unwrap();
    assert_eq!(res.status(), 303, "logout everywhere ends the other device's session too");
    s.stop();
}
