//! The admin pages act through the admin service, and its errors reach the browser as one
//! status each: invalid 400, forbidden 403, not found 404, conflict 409.

use obscura_store::meta::Role;
use time::macros::datetime;

use crate::harness::{TestClient, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_web_errors_map_to_one_status_each_and_actions_are_audited() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    obscura::admin::add_user(&s.meta(), "ada", Role::Admin, Some("admin password".into())).unwrap();
    obscura::admin::add_user(&s.meta(), "ana", Role::Analyst, Some("analyst password".into())).unwrap();
    s.reload_metadata();
    let admin = TestClient::sign_in(&s.base, "ada", "admin password").await;
    let analyst = TestClient::sign_in(&s.base, "ana", "analyst password").await;

    // Role guards: an analyst may not see the admin pages; an admin may not see the audit log.
    assert_eq!(analyst.get("/users").await.0, 403);
    assert_eq!(admin.get("/users").await.0, 200);
    assert_eq!(admin.get("/audit").await.0, 403);
    // The session reads the API too, and every read is audited.
    let (status, sites) = analyst.api("/api/v1/sites").await;
    assert_eq!(status, 200, "{sites}");
    assert!(sites.to_string().contains(crate::harness::SITE), "{sites}");

    // Each kind of refusal has its status, with the reason in the body.
    let (status, body) = admin.post_form("/users", &[("username", "ana"), ("role", "analyst"), ("sites", "")]).await;
    assert_eq!((status, body.as_str()), (409, "user ana already exists"));
    let (status, body) = admin.post_form("/users", &[("username", "otto"), ("role", "owner"), ("sites", "")]).await;
    assert_eq!((status, body.as_str()), (403, "only owners make owners"));
    let (status, body) = admin.post_form("/users", &[("username", "a b"), ("role", "viewer"), ("sites", "")]).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = admin.post_form("/users/remove", &[("username", "nobody")]).await;
    assert_eq!((status, body.as_str()), (404, "no user \"nobody\""));
    let (status, _) =
        admin.post_form("/tokens", &[("name", "ci"), ("scope", "read"), ("site", ""), ("expires_days", "0")]).await;
    assert_eq!(status, 400);
    let (status, _) = admin.post_form("/tokens/revoke", &[("id", "obs_nope")]).await;
    assert_eq!(status, 404);
    // A form that does not parse says what is missing.
    let (status, body) = admin.post_form("/users", &[("username", "vic"), ("sites", "")]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("role"), "{body}");

    // Done actions go to the audit log as the signed-in user; refused ones leave nothing.
    let (status, page) = admin.post_form("/users", &[("username", "vic"), ("role", "analyst"), ("sites", "")]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Password (shown once)"));
    let records = obscura_store::audit::AuditLog::open(&s.data_dir, s.master_key()).unwrap().read_all().unwrap();
    let by_ada: Vec<&str> =
        records.iter().filter(|r| r.actor == "user:ada").map(|r| r.action.as_str()).filter(|a| *a != "read").collect();
    assert_eq!(by_ada, ["user.add"]);
}
