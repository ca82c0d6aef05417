//! Which content-delivery provider served a resource: from its host name (a built-in map of
//! public CDN hosts, then the site's own rules) or, where a response exposes it, from the
//! names in its `Server-Timing` header.
//!
//! Host names match on whole labels, the longest suffix winning (`cdnjs.cloudflare.com` is
//! cdnjs, `www.cloudflare.com` Cloudflare, `notcloudflare.com` nobody). Provider names are a
//! small fixed set of labels, so they are safe dashboard dimensions; nothing of the resource's
//! URL but its host is looked at.

use std::collections::HashMap;

/// Public CDN hosts (suffixes on label boundaries) and their providers.
const BUILT_IN: &[(&str, &str)] = &[
    // Global providers.
    ("cloudflare.com", "Cloudflare"),
    ("cloudflare.net", "Cloudflare"),
    ("cloudflareinsights.com", "Cloudflare"),
    ("cf-ipfs.com", "Cloudflare"),
    ("pages.dev", "Cloudflare"),
    ("workers.dev", "Cloudflare"),
    ("r2.dev", "Cloudflare"),
    ("cdnjs.cloudflare.com", "cdnjs"),
    ("jsdelivr.net", "jsDelivr"),
    ("unpkg.com", "unpkg"),
    ("fastly.net", "Fastly"),
    ("fastlylb.net", "Fastly"),
    ("fastly-edge.com", "Fastly"),
    ("akamai.net", "Akamai"),
    ("akamaihd.net", "Akamai"),
    ("akamaized.net", "Akamai"),
    ("akamaiedge.net", "Akamai"),
    ("edgekey.net", "Akamai"),
    ("edgesuite.net", "Akamai"),
    ("cloudfront.net", "Amazon CloudFront"),
    ("googleapis.com", "Google"),
    ("gstatic.com", "Google"),
    ("googleusercontent.com", "Google"),
    ("azureedge.net", "Azure"),
    ("azurefd.net", "Azure"),
    ("msecnd.net", "Azure"),
    ("aspnetcdn.com", "Azure"),
    ("b-cdn.net", "Bunny"),
    ("kxcdn.com", "KeyCDN"),
    ("stackpathcdn.com", "StackPath"),
    // Providers common in China.
    ("bootcdn.net", "BootCDN"),
    ("bootcss.com", "BootCDN"),
    ("staticfile.org", "Staticfile"),
    ("staticfile.net", "Staticfile"),
    ("bdstatic.com", "Baidu CDN"),
    ("bdimg.com", "Baidu CDN"),
    ("bcebos.com", "Baidu CDN"),
    ("alicdn.com", "Alibaba Cloud CDN"),
    ("alikunlun.com", "Alibaba Cloud CDN"),
    ("aliyuncs.com", "Alibaba Cloud CDN"),
    ("qcloudcdn.com", "Tencent Cloud CDN"),
    ("myqcloud.com", "Tencent Cloud CDN"),
    ("gtimg.com", "Tencent Cloud CDN"),
    ("gtimg.cn", "Tencent Cloud CDN"),
    ("qiniucdn.com", "Qiniu"),
    ("clouddn.com", "Qiniu"),
    ("qnssl.com", "Qiniu"),
    ("wscdns.com", "Wangsu"),
    ("lxdns.com", "Wangsu"),
    ("chinanetcenter.com", "Wangsu"),
    ("bytecdntp.com", "Volcengine"),
    ("bytecdn.cn", "Volcengine"),
    ("volccdn.com", "Volcengine"),
    ("pstatp.com", "Volcengine"),
    ("upaiyun.com", "UPYUN"),
    ("upcdn.net", "UPYUN"),
    ("baomitu.com", "360 CDN"),
];

/// `Server-Timing` metric names that only one provider sends.
const SERVER_TIMING: &[(&str, &str)] = &[
    ("cfrequestduration", "Cloudflare"),
    ("cfl4", "Cloudflare"),
    ("cfedge", "Cloudflare"),
    ("cforigin", "Cloudflare"),
    ("cdn-rid", "Amazon CloudFront"),
    ("cdn-pop", "Amazon CloudFront"),
    ("cdn-upstream-fbl", "Amazon CloudFront"),
    ("cdn-downstream-fbl", "Amazon CloudFront"),
    ("ak_p", "Akamai"),
];

/// The longest a provider name from the configuration may be.
const MAX_NAME: usize = 40;

/// Maps hosts to CDN providers: the built-in list, overridden by the installation's rules, and
/// those by a site's own.
#[derive(Clone, Debug, Default)]
pub struct CdnMap {
    /// Host suffix → provider, built-in and configured together (configured ones replace).
    suffixes: HashMap<String, String>,
    /// Site domain → host suffix → provider: hosts only that site's pages name this way.
    sites: HashMap<String, HashMap<String, String>>,
}

/// A host rule from the configuration that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CdnRuleError {
    /// The host is not a host name (`cdn.example.com` or `*.example.com`).
    #[error("CDN rule host {0:?} must be a host name like cdn.example.com or *.example.com")]
    Host(String),
    /// The provider name is empty, too long or has characters other than letters, digits,
    /// spaces and `.-_`.
    #[error("CDN provider name {0:?} must be 1 to 40 letters, digits, spaces or .-_")]
    Provider(String),
    /// Site rules named something that is not a site's domain.
    #[error("CDN rules are for {0:?}, which is not a site's domain like example.com")]
    Site(String),
}

impl CdnMap {
    /// The built-in list of public CDN hosts.
    pub fn built_in() -> CdnMap {
        CdnMap {
            suffixes: BUILT_IN.iter().map(|(host, provider)| ((*host).to_owned(), (*provider).to_owned())).collect(),
            sites: HashMap::new(),
        }
    }

    /// The built-in list with `rules` (host or `*.suffix` → provider) added, a rule replacing a
    /// built-in entry for the same host. A rule covers its host and every host under it.
    pub fn with_rules<'a>(rules: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<CdnMap, CdnRuleError> {
        let mut map = CdnMap::built_in();
        add_rules(&mut map.suffixes, rules)?;
        Ok(map)
    }

    /// Adds `rules` (as for [`CdnMap::with_rules`]) that hold only for the pages of `site` (a
    /// domain): a host the site serves from its own or a contracted CDN, which would mean
    /// nothing, or something else, on other sites.
    pub fn with_site_rules<'a>(
        mut self,
        site: &str,
        rules: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<CdnMap, CdnRuleError> {
        let site = site.trim_end_matches('.').to_ascii_lowercase();
        if !is_host_name(&site) {
            return Err(CdnRuleError::Site(site));
        }
        add_rules(self.sites.entry(site).or_default(), rules)?;
        Ok(self)
    }

    /// The provider serving `host` (a host name, possibly with a port or a trailing dot), if
    /// it is a known CDN host.
    pub fn provider_of_host(&self, host: &str) -> Option<&str> {
        self.provider_for_site("", host)
    }

    /// The provider serving `host` on the pages of `site`: the site's own rules first, then
    /// the installation's and the built-in ones. The longest matching suffix wins.
    pub fn provider_for_site(&self, site: &str, host: &str) -> Option<&str> {
        let host = host.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()).map_or(host, |(h, _)| h);
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if !is_host_name(&host) {
            return None;
        }
        let own = self.sites.get(site);
        // Longest suffix first: the host itself, then without its first label, and so on.
        let mut rest = host.as_str();
        loop {
            if let Some(provider) = own.and_then(|o| o.get(rest)).or_else(|| self.suffixes.get(rest)) {
                return Some(provider);
            }
            rest = rest.split_once('.')?.1;
        }
    }

    /// The provider whose signature is among the metric names of a `Server-Timing` header.
    pub fn provider_of_server_timing(&self, header: &str) -> Option<&'static str> {
        header
            .split(',')
            .filter_map(|metric| metric.split(';').next())
            .map(|name| name.trim().to_ascii_lowercase())
            .find_map(|name| {
                SERVER_TIMING.iter().find(|(signature, _)| *signature == name).map(|(_, provider)| *provider)
            })
    }
}

/// Checks `rules` (host or `*.suffix` → provider name) and adds them to `suffixes`.
fn add_rules<'a>(
    suffixes: &mut HashMap<String, String>,
    rules: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), CdnRuleError> {
    for (host, provider) in rules {
        let bare = host.strip_prefix("*.").unwrap_or(host).trim_end_matches('.').to_ascii_lowercase();
        if !is_host_name(&bare) {
            return Err(CdnRuleError::Host(host.to_owned()));
        }
        let provider = provider.trim();
        let plain = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_');
        if provider.is_empty() || provider.chars().count() > MAX_NAME || !provider.chars().all(plain) {
            return Err(CdnRuleError::Provider(provider.to_owned()));
        }
        suffixes.insert(bare, provider.to_owned());
    }
    Ok(())
}

/// Whether `host` is a plain DNS name of at least two labels (letters, digits, `-`).
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdn_hosts_match_on_whole_labels_and_the_longest_suffix_wins() {
        let map = CdnMap::built_in();
        let cases = [
            ("cdnjs.cloudflare.com", Some("cdnjs")),
            ("www.cloudflare.com", Some("Cloudflare")),
            ("cdn.jsdelivr.net", Some("jsDelivr")),
            ("fastly.jsdelivr.net:443", Some("jsDelivr")),
            ("d111111abcdef8.cloudfront.net.", Some("Amazon CloudFront")),
            ("FONTS.GSTATIC.COM", Some("Google")),
            ("cdn.bootcdn.net", Some("BootCDN")),
            ("lf3-cdn-tos.bytecdntp.com", Some("Volcengine")),
            ("g.alicdn.com", Some("Alibaba Cloud CDN")),
            ("notcloudflare.com", None),
            ("cloudflare.com.evil.example", None),
            ("example.com", None),
            ("localhost", None),
            ("", None),
            ("a..cloudfront.net", None),
            ("[::1]:8080", None),
        ];
        for (host, expected) in cases {
            assert_eq!(map.provider_of_host(host), expected, "{host}");
        }
    }

    #[test]
    fn cdn_site_rules_add_hosts_and_replace_built_in_ones() {
        let map =
            CdnMap::with_rules([("*.static.example.cn", "Own edge"), ("cdn.jsdelivr.net", "jsDelivr China")]).unwrap();
        assert_eq!(map.provider_of_host("img.static.example.cn"), Some("Own edge"));
        assert_eq!(map.provider_of_host("static.example.cn"), Some("Own edge"));
        assert_eq!(map.provider_of_host("cdn.jsdelivr.net"), Some("jsDelivr China"));
        assert_eq!(map.provider_of_host("fastly.jsdelivr.net"), Some("jsDelivr"));
        assert_eq!(
            CdnMap::with_rules([("http://x.example", "X")]).unwrap_err(),
            CdnRuleError::Host("http://x.example".into())
        );
        assert!(matches!(CdnMap::with_rules([("x.example", "<script>")]), Err(CdnRuleError::Provider(_))));
        assert!(matches!(CdnMap::with_rules([("x.example", "a".repeat(41).as_str())]), Err(CdnRuleError::Provider(_))));
    }

    #[test]
    fn cdn_site_rules_hold_for_their_site_only() {
        let map = CdnMap::with_rules([("assets.shared.example", "Shared CDN")])
            .unwrap()
            .with_site_rules("Shop.Example", [("*.img.shop.example", "Shop edge"), ("cdn.jsdelivr.net", "Mirror")])
            .unwrap();
        assert_eq!(map.provider_for_site("shop.example", "a.img.shop.example"), Some("Shop edge"));
        assert_eq!(map.provider_for_site("blog.example", "a.img.shop.example"), None, "another site's rule");
        assert_eq!(map.provider_for_site("shop.example", "cdn.jsdelivr.net"), Some("Mirror"), "the site's rule first");
        assert_eq!(map.provider_for_site("blog.example", "cdn.jsdelivr.net"), Some("jsDelivr"));
        assert_eq!(map.provider_for_site("shop.example", "assets.shared.example"), Some("Shared CDN"));
        assert_eq!(map.provider_for_site("shop.example", "fastly.jsdelivr.net"), Some("jsDelivr"));
        assert!(matches!(CdnMap::built_in().with_site_rules("not a site", []), Err(CdnRuleError::Site(_))));
        assert!(matches!(CdnMap::built_in().with_site_rules("a.example", [("x", "X")]), Err(CdnRuleError::Host(_))));
    }

    #[test]
    fn cdn_server_timing_names_tell_the_provider() {
        let map = CdnMap::built_in();
        assert_eq!(
            map.provider_of_server_timing("cfL4;desc=\"?proto=TCP\", cfRequestDuration;dur=12.5"),
            Some("Cloudflare")
        );
        assert_eq!(
            map.provider_of_server_timing("cdn-upstream-layer;desc=\"EDGE\",cdn-rid;desc=\"abc\""),
            Some("Amazon CloudFront")
        );
        assert_eq!(map.provider_of_server_timing("ak_p; desc=\"1_2_3\";dur=1"), Some("Akamai"));
        assert_eq!(map.provider_of_server_timing("db;dur=53, app;dur=47.2"), None);
        assert_eq!(map.provider_of_server_timing(""), None);
    }
}
