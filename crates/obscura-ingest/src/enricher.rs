//! The enrich step: coarse facts looked up from the IP and the request headers, in memory.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use obscura_enrich::{AsnDb, ClientHints, Device, Geo, GeoDb, UaParser};
use obscura_model::raw::RawHeaders;
use obscura_store::meta::{Collection, GeoLevel};

/// The enrichment databases (each optional; missing ones yield "unknown").
pub struct Enricher {
    /// Parses User-Agent strings and Client Hints into a [`Device`].
    pub user_agents: UaParser,
    /// IP-to-location databases: continent, country and province.
    pub geo: GeoDb,
    /// IP-to-network-operator databases: who operates the autonomous system an address belongs to.
    pub networks: AsnDb,
    /// Parsed User-Agents: a few thousand distinct strings cover nearly all traffic, and the
    /// uap-core regexes cost far more than a lookup. Least recently used first out, so a flood
    /// of random User-Agents cannot push the common ones out all at once.
    device_cache: Mutex<LruCache<String, Device>>,
}

/// Distinct User-Agent/Client-Hint combinations kept by default.
pub const DEVICE_CACHE_ENTRIES: usize = 20_000;

/// What enrichment found. Nothing finer than a province; no trace of the IP itself.
#[derive(Clone, Debug, Default)]
pub struct Enrichment {
    /// Continent, country and province, limited to the site's geo level; empty when unknown or off.
    pub geo: Geo,
    /// Organisation operating the visitor's network, e.g. `Deutsche Telekom AG`; `None` if unknown or off.
    pub network: Option<String>,
    /// Browser, OS and device; all unknown when the site does not collect devices.
    pub device: Device,
}

impl Enricher {
    /// An enricher with no databases: built-in User-Agent rules, and geo and network always unknown.
    pub fn empty() -> Self {
        Self::new(UaParser::builtin(), GeoDb::empty(), AsnDb::empty())
    }

    /// Builds an enricher from its databases, caching up to [`DEVICE_CACHE_ENTRIES`] parsed User-Agents.
    pub fn new(user_agents: UaParser, geo: GeoDb, networks: AsnDb) -> Self {
        Self::with_cache_entries(user_agents, geo, networks, DEVICE_CACHE_ENTRIES)
    }

    /// Like [`Enricher::new`], keeping at most `entries` parsed User-Agents.
    pub fn with_cache_entries(user_agents: UaParser, geo: GeoDb, networks: AsnDb, entries: usize) -> Self {
        let entries = NonZeroUsize::new(entries).unwrap_or(NonZeroUsize::MIN);
        Enricher { user_agents, geo, networks, device_cache: Mutex::new(LruCache::new(entries)) }
    }

    /// Parsed User-Agents held now.
    pub fn cached_devices(&self) -> usize {
        self.device_cache.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn device(&self, headers: &RawHeaders) -> Device {
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            headers.user_agent,
            headers.ch_ua.as_deref().unwrap_or(""),
            headers.ch_ua_mobile.as_deref().unwrap_or(""),
            headers.ch_ua_platform.as_deref().unwrap_or(""),
            headers.ch_ua_model.as_deref().unwrap_or(""),
            headers.ch_ua_platform_version.as_deref().unwrap_or(""),
        );
        if let Some(found) = self.device_cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return found.clone();
        }
        let hints = ClientHints {
            ua: headers.ch_ua.clone(),
            mobile: headers.ch_ua_mobile.clone(),
            platform: headers.ch_ua_platform.clone(),
            model: headers.ch_ua_model.clone(),
            platform_version: headers.ch_ua_platform_version.clone(),
        };
        let device = self.user_agents.parse(&headers.user_agent, &hints);
        self.device_cache.lock().unwrap_or_else(|e| e.into_inner()).put(key, device.clone());
        device
    }

    /// The AS number of the network `ip` belongs to, when the site collects network operators
    /// (what a site switched off is not looked up): a bot signal, in memory only (P5).
    pub fn asn(&self, ip: IpAddr, collect: &Collection) -> Option<u32> {
        if collect.network { self.networks.asn(ip) } else { None }
    }

    /// Looks up only what the site collects: a switched-off dimension is never looked up.
    pub fn enrich(&self, ip: IpAddr, headers: &RawHeaders, collect: &Collection) -> Enrichment {
        let mut geo = if collect.geo == GeoLevel::Off { Geo::default() } else { self.geo.lookup(ip) };
        if collect.geo < GeoLevel::Province {
            geo.province = None;
        }
        if collect.geo < GeoLevel::Country {
            geo.country = None;
        }
        Enrichment {
            geo,
            network: if collect.network { self.networks.lookup(ip) } else { None },
            device: if collect.device { self.device(headers) } else { Device::default() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(user_agent: &str) -> RawHeaders {
        RawHeaders { user_agent: user_agent.to_owned(), ..Default::default() }
    }

    #[test]
    fn hardening_user_agent_cache_is_a_bounded_lru() {
        let enricher = Enricher::with_cache_entries(UaParser::builtin(), GeoDb::empty(), AsnDb::empty(), 50);
        let common = headers(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        );
        let expected = enricher.device(&common);
        for i in 0..10_000 {
            enricher.device(&headers(&format!("random-agent/{i}")));
            if i % 10 == 0 {
                // Real traffic keeps coming back to the common User-Agents.
                assert_eq!(enricher.device(&common).browser, expected.browser);
            }
            assert!(enricher.cached_devices() <= 50);
        }
        let cache = enricher.device_cache.lock().unwrap();
        assert!(
            cache.iter().any(|(k, _)| k.starts_with("Mozilla/5.0 (Windows")),
            "a flood of one-off User-Agents does not push out one in use"
        );
    }
}
