//! The enrich step: coarse facts looked up from the IP and the request headers, in memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use obscura_enrich::{AsnDb, ClientHints, Device, Geo, GeoDb, UaParser};
use obscura_model::raw::RawHeaders;
use obscura_store::meta::{Collection, GeoLevel};

/// The enrichment databases (each optional; missing ones yield "unknown").
pub struct Enricher {
    pub user_agents: UaParser,
    pub geo: GeoDb,
    pub networks: AsnDb,
    /// Parsed User-Agents: a few thousand distinct strings cover nearly all traffic, and the
    /// uap-core regexes cost far more than a lookup.
    device_cache: Mutex<HashMap<String, Device>>,
}

/// Distinct User-Agent/Client-Hint combinations kept before the cache starts over.
const DEVICE_CACHE_ENTRIES: usize = 20_000;

/// What enrichment found. Nothing finer than a province; no trace of the IP itself.
#[derive(Clone, Debug, Default)]
pub struct Enrichment {
    pub geo: Geo,
    pub network: Option<String>,
    pub device: Device,
}

impl Enricher {
    pub fn empty() -> Self {
        Self::new(UaParser::builtin(), GeoDb::empty(), AsnDb::empty())
    }

    pub fn new(user_agents: UaParser, geo: GeoDb, networks: AsnDb) -> Self {
        Enricher { user_agents, geo, networks, device_cache: Mutex::new(HashMap::new()) }
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
        let mut cache = self.device_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= DEVICE_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, device.clone());
        device
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
