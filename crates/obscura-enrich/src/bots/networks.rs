//! Hosting networks: autonomous systems of datacenters and clouds, where scripts and headless
//! browsers run and few people browse from. A visit from one is one signal, never a verdict on
//! its own: cloud desktops and company proxies live there too.

use std::collections::BTreeSet;

/// The default list (AS numbers with their holders), for networks that are clearly clouds or
/// hosting providers. Networks that also carry people's traffic are left out on purpose:
/// Google's own AS 15169 (its VPNs), Cloudflare, Akamai and Fastly (iCloud Private Relay, WARP),
/// and hosts of consumer VPNs such as M247.
pub const DEFAULT_HOSTING_ASNS: [(u32, &str); 21] = [
    (16509, "Amazon AWS"),
    (14618, "Amazon AWS"),
    (396982, "Google Cloud"),
    (8075, "Microsoft Azure"),
    (14061, "DigitalOcean"),
    (16276, "OVHcloud"),
    (24940, "Hetzner"),
    (213230, "Hetzner"),
    (63949, "Linode / Akamai Connected Cloud"),
    (20473, "Vultr"),
    (31898, "Oracle Cloud"),
    (51167, "Contabo"),
    (12876, "Scaleway"),
    (197540, "netcup"),
    (45102, "Alibaba Cloud"),
    (37963, "Alibaba Cloud"),
    (132203, "Tencent Cloud"),
    (45090, "Tencent Cloud"),
    (36351, "IBM Cloud"),
    (136907, "Huawei Cloud"),
    (60781, "Leaseweb"),
];

/// The hosting networks a server treats as such.
#[derive(Clone, Debug)]
pub struct HostingNetworks(BTreeSet<u32>);

impl Default for HostingNetworks {
    fn default() -> Self {
        HostingNetworks(DEFAULT_HOSTING_ASNS.iter().map(|(asn, _)| *asn).collect())
    }
}

impl HostingNetworks {
    /// Exactly `asns` (a configuration's list replaces the default).
    pub fn new(asns: impl IntoIterator<Item = u32>) -> Self {
        HostingNetworks(asns.into_iter().collect())
    }

    /// Whether AS `asn` is a hosting network.
    pub fn contains(&self, asn: u32) -> bool {
        self.0.contains(&asn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_hosting_networks_default_to_clouds_and_leave_peoples_networks_out() {
        let default = HostingNetworks::default();
        assert!(default.contains(16509) && default.contains(14061) && default.contains(24940));
        for people in [15169, 13335, 20940, 54113, 9009, 3320, 4134] {
            assert!(!default.contains(people), "AS{people} carries people's traffic");
        }
        let mine = HostingNetworks::new([64512]);
        assert!(mine.contains(64512) && !mine.contains(16509), "a configured list replaces the default");
    }
}
