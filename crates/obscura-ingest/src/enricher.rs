//! The enrich step: coarse facts looked up from the IP and the request headers, in memory.

use std::net::IpAddr;

use obscura_enrich::{AsnDb, ClientHints, Device, Geo, GeoDb, UaParser};
use obscura_model::raw::RawHeaders;

/// The enrichment databases (each optional; missing ones yield "unknown").
pub struct Enricher {
    pub user_agents: UaParser,
    pub geo: GeoDb,
    pub networks: AsnDb,
}

/// What enrichment found. Nothing finer than a province; no trace of the IP itself.
#[derive(Clone, Debug, Default)]
pub struct Enrichment {
    pub geo: Geo,
    pub network: Option<String>,
    pub device: Device,
}

impl Enricher {
    pub fn empty() -> Self {
        Enricher { user_agents: UaParser::builtin(), geo: GeoDb::empty(), networks: AsnDb::empty() }
    }

    pub fn enrich(&self, ip: IpAddr, headers: &RawHeaders) -> Enrichment {
        let hints = ClientHints {
            ua: headers.ch_ua.clone(),
            mobile: headers.ch_ua_mobile.clone(),
            platform: headers.ch_ua_platform.clone(),
            model: headers.ch_ua_model.clone(),
            platform_version: headers.ch_ua_platform_version.clone(),
        };
        Enrichment {
            geo: self.geo.lookup(ip),
            network: self.networks.lookup(ip),
            device: self.user_agents.parse(&headers.user_agent, &hints),
        }
    }
}
