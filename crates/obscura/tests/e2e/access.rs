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
        for method in spec.method.split('|') {
            let path = spec
                .path
                .replace("{token}", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
                .replace("{domain}", "shop.example")
                .replace("{fingerprint}", "0123456789abcdef");
            if spec.access == Access::Public {
                public.push(format!("{method} {}", spec.path));
                continue;
            }
            let request = |cookie: bool| {
                let mut r = client
                    .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", s.base));
                if cookie {
                    r = r
                        .header(
                            "cookie",
                            "obscura_session=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                        )
                        .header("authorization", "Bearer obs_forged");
                }
                r.send()
            };
            for forged in [false, true] {
                let res = request(forged).await.unwrap();
                let status = res.status().as_u16();
                let to_login = status == 303 && res.headers().get("location").is_some_and(|l| l == "/login");
                // A shared link with an unknown token does not exist.
                let unknown_share = spec.access == Access::ShareToken && status == 404;
                assert!(
                    status == 401 || status == 403 || to_login || unknown_share,
                    "{method} {} answered {status} (forged credentials: {forged})",
                    spec.path
                );
            }
        }
    }
    public.sort();
    assert_eq!(
        public,
        vec![
            "GET /api/openapi.json",
            "GET /health",
            "GET /js/errors.js",
            "GET /js/obscura.js",
            "GET /js/perf.js",
            "GET /login",
            "GET /p.gif",
            "GET /privacy",
            "GET /privacy.json",
            "GET /ready",
            "GET /static/app.css",
            "GET /static/app.js",
            "OPTIONS /api/app",
            "OPTIONS /api/event",
            "OPTIONS /api/send",
            "OPTIONS /api/vitals",
            "OPTIONS /api/{project}/diagnostics/{request}/consent",
            "OPTIONS /api/{project}/envelope/",
            "OPTIONS /api/{project}/store/",
            "POST /api/app",
            "POST /api/event",
            "POST /api/send",
            "POST /api/vitals",
            "POST /api/{project}/diagnostics/{request}/consent",
            "POST /api/{project}/envelope/",
            "POST /api/{project}/store/",
            "POST /login",
        ],
        "the public routes are the ingest endpoints, the tracker and its performance part, login, health, the API's description and the static assets"
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
    let bad = client
        .post(format!("{}/logout", s.base))
        .header("cookie", &session)
        .form(&[("csrf", "stale")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    let page = client.get(format!("{}/", s.base)).header("cookie", &session).send().await.unwrap();
    assert_eq!(page.status(), 200, "a refused logout must not end the session");
    let html = page.text().await.unwrap();
    let token = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let out = client
        .post(format!("{}/logout", s.base))
        .header("cookie", &session)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let after = client.get(format!("{}/", s.base)).header("cookie", &session).send().await.unwrap();
    assert_eq!(after.status(), 303, "the session ended");
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_viewer_reads_only_assigned_sites_analyst_reads_all() {
    use obscura_store::meta::Role;
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let meta = s.meta();
    obscura::admin::add_site(&meta, "other.example", true, 30).unwrap();
    let pw = "viewer password 1".to_owned();
    obscura::admin::add_user_with_sites(&meta, "vera", Role::Viewer, Some(pw.clone()), &["other.example".into()])
        .unwrap();
    obscura::admin::add_user(&meta, "ana", Role::Analyst, Some("analyst password".into())).unwrap();
    assert!(
        obscura::admin::add_user(&meta, "nobody", Role::Viewer, Some("viewer password 2".into())).is_err(),
        "a viewer needs a site"
    );
    s.reload_metadata();

    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |cookie: String, site: &'static str| {
        let (client, base) = (client.clone(), s.base.clone());
        async move {
            client
                .get(format!("{base}/api/v1/stats/aggregate?site={site}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let vera = crate::harness::login(&s.base, "vera", &pw).await.expect("viewer logs in");
    assert_eq!(get(vera.clone(), "other.example").await, 200);
    assert_eq!(get(vera.clone(), "shop.example").await, 403, "a viewer may not read an unassigned site");
    let page = client.get(format!("{}/", s.base)).header("cookie", &vera).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("other.example") && !page.contains("shop.example"),
        "the viewer's site list holds only their site"
    );
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
    let account =
        client.get(format!("{}/account", s.base)).header("cookie", &laptop).send().await.unwrap().text().await.unwrap();
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
    let account =
        client.get(format!("{}/account", s.base)).header("cookie", &fresh).send().await.unwrap().text().await.unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_links_open_logged_out_with_password_expiry_and_revocation() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let meta = s.meta();
    obscura::admin::add_site(&meta, "other.example", true, 30).unwrap();
    let (open_id, open) = obscura::admin::add_share(&meta, crate::harness::SITE, None, None).unwrap();
    let (_, locked) = obscura::admin::add_share(&meta, crate::harness::SITE, Some("share password"), None).unwrap();
    let (_, expiring) = obscura::admin::add_share(&meta, crate::harness::SITE, None, Some(1)).unwrap();
    s.reload_metadata();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |path: String, cookie: Option<String>| {
        let (client, base) = (client.clone(), s.base.clone());
        async move {
            let mut r = client.get(format!("{base}{path}"));
            if let Some(c) = cookie {
                r = r.header("cookie", c);
            }
            let res = r.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };

    let (status, html) = get(format!("/share/{open}"), None).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("data-metric=\"visitors\"")
            && html.contains("Shared read-only view")
            && !html.contains("/logout")
    );
    assert!(html.contains(&format!("/share/{open}?")), "links stay inside the shared view");
    // The link shows its own site only, whatever the URL asks for.
    let (_, html) = get(format!("/share/{open}?site=other.example"), None).await;
    assert!(html.contains("shop.example") && !html.contains("other.example"));

    // A protected link asks for its password (a form with its own CSRF token).
    let ask = client.get(format!("{}/share/{locked}", s.base)).send().await.unwrap();
    assert_eq!(ask.status(), 401);
    let csrf_cookie = ask.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = crate::harness::csrf_in(&ask.text().await.unwrap());
    let post = |password: &'static str, with_csrf: bool| {
        let mut r = client.post(format!("{}/share/{locked}", s.base));
        if with_csrf {
            r = r.header("cookie", &csrf_cookie);
        }
        r.form(&[("password", password), ("csrf", csrf.as_str())]).send()
    };
    assert_eq!(post("share password", false).await.unwrap().status(), 403, "no CSRF cookie, no grant");
    assert_eq!(post("nope", true).await.unwrap().status(), 401);
    let right = post("share password", true).await.unwrap();
    assert_eq!(right.status(), 303);
    let grant = right.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(get(format!("/share/{locked}"), Some(grant)).await.0, 200);

    // Expiry and revocation.
    // Expiry counts from the wall clock at creation; move the server's clock past it.
    s.clock.set(time::OffsetDateTime::now_utc() + time::Duration::days(2));
    assert_eq!(get(format!("/share/{expiring}"), None).await.0, 410);
    obscura::admin::revoke_share(&meta, &open_id).unwrap();
    s.reload_metadata();
    assert_eq!(get(format!("/share/{open}"), None).await.0, 404);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_collection_switches_limit_what_is_looked_up_and_stored() {
    use serde_json::json;
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let owner = crate::harness::login(&s.base, "owner", &s.password).await.unwrap();
    let settings_url = format!("{}/sites/{}/settings", s.base, crate::harness::SITE);
    let html = client.get(&settings_url).header("cookie", &owner).send().await.unwrap().text().await.unwrap();
    let csrf = crate::harness::csrf_in(&html);
    // Locations only to the country, no referrer, no engaged time.
    let saved = client
        .post(&settings_url)
        .header("cookie", &owner)
        .form(&[
            ("csrf", csrf.as_str()),
            ("respect_dnt", "on"),
            ("device", "on"),
            ("screen", "on"),
            ("network", "on"),
            ("frequency", "on"),
            ("geo", "country"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 303);
    // Retention (P13) is a per-site setting; bad values are refused with a reason.
    let retention = |days: &'static str| {
        client
            .post(&settings_url)
            .header("cookie", &owner)
            .form(&[
                ("csrf", csrf.as_str()),
                ("geo", "country"),
                ("device", "on"),
                ("screen", "on"),
                ("network", "on"),
                ("frequency", "on"),
                ("respect_dnt", "on"),
                ("retention_days", days),
            ])
            .send()
    };
    let refused = retention("0").await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("retention must be a number of days from 1 to 3650"));
    assert_eq!(retention("45").await.unwrap().status(), 303);
    assert_eq!(s.meta().get().site_by_domain(crate::harness::SITE).unwrap().retention_days, 45);
    let stale = client
        .post(&settings_url)
        .header("cookie", &owner)
        .form(&[("csrf", "stale"), ("geo", "off")])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 403);

    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let site = crate::harness::SITE;
    let pv = json!({"site": site, "url": format!("https://{site}/"), "referrer": "https://www.google.com/"});
    assert_eq!(s.send([127, 0, 0, 2], ua, pv).await, reqwest::StatusCode::NO_CONTENT);
    let engagement = json!({"site": site, "kind": "engagement", "url": format!("https://{site}/"), "engaged_ms": 5000});
    assert_eq!(
        s.send([127, 0, 0, 2], ua, engagement).await,
        reqwest::StatusCode::ACCEPTED,
        "engaged time is not collected"
    );

    let q = format!("site={site}&range=today");
    let countries = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=country")).await;
    assert_eq!(countries["results"][0]["value"], "DE");
    // What is not collected shows only as the row without a value.
    for (dim, missing) in [("province", "(unknown)"), ("referrer", "(none)")] {
        let rows = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension={dim}")).await;
        let values: Vec<&str> =
            rows["results"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
        assert_eq!(values, [missing], "{dim} must not be stored: {rows}");
    }
    let agg = s.api(&format!("/api/v1/stats/aggregate?{q}")).await;
    assert_eq!(agg["results"]["pageviews"], 1);

    // Settings are for admins and owners.
    let meta = s.meta();
    obscura::admin::add_user(&meta, "ana", obscura_store::meta::Role::Analyst, Some("analyst password".into()))
        .unwrap();
    s.reload_metadata();
    let ana = crate::harness::login(&s.base, "ana", "analyst password").await.unwrap();
    assert_eq!(client.get(&settings_url).header("cookie", &ana).send().await.unwrap().status(), 403);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_page_for_owners_and_tokens_created_and_revoked_in_the_ui() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let owner = crate::harness::login(&s.base, "owner", &s.password).await.unwrap();
    let page =
        client.get(format!("{}/tokens", s.base)).header("cookie", &owner).send().await.unwrap().text().await.unwrap();
    let csrf = crate::harness::csrf_in(&page);
    let created = client
        .post(format!("{}/tokens", s.base))
        .header("cookie", &owner)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "grafana"),
            ("scope", "read"),
            ("site", crate::harness::SITE),
            ("expires_days", "30"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret = created.split("<code>").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("obs_"), "{created}");
    let read = |token: String| {
        let base = s.base.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{base}/api/v1/stats/aggregate?site={}", crate::harness::SITE))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(read(secret.clone()).await, 200, "the token made in the UI works");
    let revoke = client
        .post(format!("{}/tokens/revoke", s.base))
        .header("cookie", &owner)
        .form(&[("csrf", csrf.as_str()), ("id", &secret[..12])])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 303);
    assert_eq!(read(secret).await, 401, "a revoked token is refused at once");

    let audit =
        client.get(format!("{}/audit", s.base)).header("cookie", &owner).send().await.unwrap().text().await.unwrap();
    assert!(audit.contains("Chain intact") && audit.contains("token.add") && audit.contains("token.revoke"), "{audit}");
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_admin_manages_users_and_shared_links_in_the_ui() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let owner = crate::harness::login(&s.base, "owner", &s.password).await.unwrap();
    let page =
        client.get(format!("{}/users", s.base)).header("cookie", &owner).send().await.unwrap().text().await.unwrap();
    let csrf = crate::harness::csrf_in(&page);
    let added = client
        .post(format!("{}/users", s.base))
        .header("cookie", &owner)
        .form(&[("csrf", csrf.as_str()), ("username", "adam"), ("role", "admin"), ("sites", "")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let password = added.split("<code>").nth(1).unwrap().split('<').next().unwrap().to_owned();
    let adam = crate::harness::login(&s.base, "adam", &password).await.expect("the new admin logs in");
    // An admin may not make owners nor remove them.
    let page =
        client.get(format!("{}/users", s.base)).header("cookie", &adam).send().await.unwrap().text().await.unwrap();
    let adam_csrf = crate::harness::csrf_in(&page);
    let owner_attempt = client
        .post(format!("{}/users", s.base))
        .header("cookie", &adam)
        .form(&[("csrf", adam_csrf.as_str()), ("username", "eve"), ("role", "owner"), ("sites", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(owner_attempt.status(), 403);
    let remove_owner = client
        .post(format!("{}/users/remove", s.base))
        .header("cookie", &adam)
        .form(&[("csrf", adam_csrf.as_str()), ("username", "owner")])
        .send()
        .await
        .unwrap();
    assert_eq!(remove_owner.status(), 403);

    // The admin makes a shared link from the site's settings.
    let settings = format!("{}/sites/{}/settings", s.base, crate::harness::SITE);
    let page = client.get(&settings).header("cookie", &adam).send().await.unwrap().text().await.unwrap();
    let made = client
        .post(format!("{}/sites/{}/shares", s.base, crate::harness::SITE))
        .header("cookie", &adam)
        .form(&[("csrf", crate::harness::csrf_in(&page).as_str()), ("password", ""), ("expires_days", "7")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let link = made.split("<code>").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(link.starts_with("/share/"));
    assert_eq!(reqwest::get(format!("{}{link}", s.base)).await.unwrap().status(), 200, "the link opens logged out");

    // The owner removes the admin: their session ends.
    let page =
        client.get(format!("{}/users", s.base)).header("cookie", &owner).send().await.unwrap().text().await.unwrap();
    let removed = client
        .post(format!("{}/users/remove", s.base))
        .header("cookie", &owner)
        .form(&[("csrf", crate::harness::csrf_in(&page).as_str()), ("username", "adam")])
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 303);
    assert_eq!(client.get(format!("{}/users", s.base)).header("cookie", &adam).send().await.unwrap().status(), 303);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_export_csv_for_tokens_and_analysts_not_viewers_and_sites_added_in_the_ui() {
    use serde_json::json;
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let site = crate::harness::SITE;
    for path in ["/", "/=SUM(A1)", "/a,b"] {
        let body = json!({"site": site, "url": format!("https://{site}{path}")});
        assert_eq!(s.send([127, 0, 0, 2], "Mozilla/5.0 Firefox/133.0", body).await, reqwest::StatusCode::NO_CONTENT);
    }
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let csv = client
        .get(format!("{}/api/v1/export.csv?site={site}&range=today&dimension=page", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("page,visitors,visits,pageviews,events\n"), "{text}");
    assert!(text.contains("\"/a,b\",1,"), "values with commas are quoted: {text}");
    assert!(!text.contains("\n=") && !text.contains(",="), "formulas are defused: {text}");

    // Owners add sites in the UI; viewers may not export.
    let owner = crate::harness::login(&s.base, "owner", &s.password).await.unwrap();
    let page =
        client.get(format!("{}/sites", s.base)).header("cookie", &owner).send().await.unwrap().text().await.unwrap();
    let added = client
        .post(format!("{}/sites", s.base))
        .header("cookie", &owner)
        .form(&[("csrf", crate::harness::csrf_in(&page).as_str()), ("domain", "www.New-Site.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 303);
    assert_eq!(added.headers()["location"], "/sites/new-site.example/settings");
    let meta = s.meta();
    obscura::admin::add_user_with_sites(
        &meta,
        "vera",
        obscura_store::meta::Role::Viewer,
        Some("viewer password".into()),
        &[site.into()],
    )
    .unwrap();
    s.reload_metadata();
    let vera = crate::harness::login(&s.base, "vera", "viewer password").await.unwrap();
    let refused = client
        .get(format!("{}/api/v1/export.csv?site={site}&dimension=page", s.base))
        .header("cookie", &vera)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let allowed = client
        .get(format!("{}/api/v1/export.csv?site={site}&dimension=page", s.base))
        .header("cookie", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_hsts_and_secure_cookies_when_served_over_https() {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let plain = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let res = client.get(format!("{}/login", plain.base)).send().await.unwrap();
    assert!(res.headers().get("strict-transport-security").is_none(), "no HSTS over plain HTTP");
    assert!(!res.headers()["set-cookie"].to_str().unwrap().contains("Secure"));
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'")
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers().get("referrer-policy").is_some());
    plain.stop();

    let https = TestServer::start_with(datetime!(2026-08-01 10:00 UTC), |c| {
        c.public_url = Some("https://stats.example.com".into())
    })
    .await;
    let res = client.get(format!("{}/login", https.base)).send().await.unwrap();
    assert!(res.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
    assert!(res.headers()["set-cookie"].to_str().unwrap().ends_with("; Secure"));
    https.stop();
}
