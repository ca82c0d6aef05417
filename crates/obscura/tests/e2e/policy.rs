//! P16: the policy tells the truth — generated from the running configuration, "last updated"
//! moves exactly when a configuration change changes the text, with working HTTP caching.

use time::macros::datetime;

use crate::harness::{SITE, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p16_policy_follows_configuration_with_last_updated_etag_and_304() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    let client = reqwest::Client::new();
    let fetch = |path: String, etag: Option<String>| {
        let (client, base) = (client.clone(), s.base.clone());
        async move {
            let mut r = client.get(format!("{base}{path}"));
            if let Some(e) = etag {
                r = r.header("if-none-match", e);
            }
            let res = r.send().await.unwrap();
            let status = res.status().as_u16();
            let header = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
            let (etag, modified, cache) = (header("etag"), header("last-modified"), header("cache-control"));
            (status, etag, modified, cache, res.text().await.unwrap())
        }
    };
    let site_json = format!("/privacy.json?site={SITE}");
    let (status, etag, modified, cache, body) = fetch(site_json.clone(), None).await;
    assert_eq!(status, 200);
    assert_eq!(cache.as_deref(), Some("no-cache"));
    assert!(modified.unwrap().contains("01 Aug 2026"));
    let inv: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(inv["last_updated"], "2026-08-01");
    assert_eq!(inv["collected"]["location"], "continent, country and province/state");
    let etag = etag.unwrap();
    assert_eq!(fetch(site_json.clone(), Some(etag.clone())).await.0, 304, "unchanged: 304 on If-None-Match");

    // Days pass without a change: same text, same date.
    s.clock.set(datetime!(2026-08-05 09:00 UTC));
    let (_, same_etag, _, _, body) = fetch(site_json.clone(), None).await;
    assert_eq!(same_etag.as_deref(), Some(etag.as_str()));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["last_updated"], "2026-08-01");

    // The operator collects less: the text, its ETag and its date change.
    let meta = s.meta();
    meta.update(|m| {
        let site = m.sites.iter_mut().find(|x| x.domain == SITE).unwrap();
        site.collect.geo = obscura_store::meta::GeoLevel::Country;
        site.collect.referrer = false;
        Ok(())
    })
    .unwrap();
    s.reload_metadata();
    let (status, new_etag, modified, _, body) = fetch(site_json.clone(), Some(etag.clone())).await;
    assert_eq!(status, 200, "a changed policy is sent again");
    assert_ne!(new_etag.as_deref(), Some(etag.as_str()));
    assert!(modified.unwrap().contains("05 Aug 2026"));
    let inv: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(inv["last_updated"], "2026-08-05");
    assert_eq!(inv["collected"]["location"], "continent and country");
    assert_eq!(inv["collected"]["referrer"], "not collected");

    // The HTML page says the same; the instance-wide policy did not change.
    let (_, _, _, _, html) = fetch(format!("/privacy?site={SITE}"), None).await;
    assert!(html.contains("Last updated 2026-08-05") && html.contains("continent and country"));
    let (_, _, _, _, defaults) = fetch("/privacy.json".into(), None).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&defaults).unwrap()["last_updated"],
        "2026-08-05",
        "first asked today"
    );
    assert_eq!(fetch("/privacy.json?site=unknown.example".into(), None).await.0, 404);
    s.stop();
}
