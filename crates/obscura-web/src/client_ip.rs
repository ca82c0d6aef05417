//! The client's address (P10): the connection's peer, unless the peer is a trusted proxy; only
//! then is the one header that proxy writes believed (`X-Forwarded-For` by default, or
//! `Forwarded`): the other may be the client's own and is never read. Walking the header's hops
//! from the nearest (rightmost) back, trusted proxies are skipped and the first other address is
//! the client's. With no trusted proxies configured (the default), no header is believed.
//!
//! Every address leaves here canonical: on a dual-stack listener an IPv4 client arrives as
//! `::ffff:a.b.c.d`, and left so it would share one IPv6 /64 with every other IPv4 client in the
//! login limit, the visitor hash, geo lookups and the access log.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::state::AppState;

/// The proxies believed and the header they write.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    /// Addresses and ranges of the proxies whose header is believed; empty believes none.
    pub nets: Vec<IpNet>,
    /// The forwarding header those proxies write.
    pub header: ProxyHeader,
    /// The header in which those proxies pass the JA4 fingerprint of the client's TLS
    /// connection, when they terminate TLS and compute it (P5); `None` believes none.
    pub ja4_header: Option<axum::http::HeaderName>,
}

/// Which header the trusted proxies write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For` (the default).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded`.
    Forwarded,
}

/// The client's address for a request from `peer` (see [`resolve`]); `None` when the peer is unknown.
pub fn client_ip(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    Some(resolve(&state.trusted_proxies, peer?.ip(), headers))
}

/// The client address given the peer and the trusted proxies, IPv4-mapped addresses as IPv4.
pub fn resolve(trusted: &TrustedProxies, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    forwarded_client(trusted, peer.to_canonical(), headers).to_canonical()
}

/// The JA4 fingerprint a trusted proxy passed for the client's TLS connection: only from a
/// trusted peer, only in the configured header, and only in a fingerprint's form.
pub fn proxied_ja4(trusted: &TrustedProxies, peer: IpAddr, headers: &HeaderMap) -> Option<String> {
    let name = trusted.ja4_header.as_ref()?;
    if !trusted.nets.iter().any(|net| net.contains(&peer.to_canonical())) {
        return None;
    }
    let value = headers.get(name)?.to_str().ok()?.trim();
    obscura_enrich::bots::ja4::is_fingerprint(value).then(|| value.to_owned())
}

fn forwarded_client(trusted: &TrustedProxies, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.nets.iter().any(|net| net.contains(&ip.to_canonical()));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = match trusted.header {
        ProxyHeader::XForwardedFor => x_forwarded_for_hops(headers),
        ProxyHeader::Forwarded => forwarded_hops(headers),
    }
    .unwrap_or_default();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => client = *ip,
            Some(ip) => return *ip,
            // An unparseable hop (`unknown`, an obfuscated name): nothing before it can be trusted.
            None => return client,
        }
    }
    client
}

fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> Option<Vec<&'a str>> {
    let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    (!values.is_empty()).then_some(values)
}

fn x_forwarded_for_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let values = header_values(headers, "x-forwarded-for")?;
    Some(values.iter().flat_map(|v| v.split(',')).map(|hop| parse_node(hop.trim())).collect())
}

fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let values = header_values(headers, "forwarded")?;
    let mut hops = Vec::new();
    for element in values.iter().flat_map(|v| v.split(',')) {
        let node = element.split(';').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"'))
        });
        hops.push(node.and_then(parse_node));
    }
    Some(hops)
}

/// `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]`, `[2001:db8::1]:5678` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.parse::<SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusting(header: ProxyHeader) -> TrustedProxies {
        TrustedProxies { nets: vec!["10.0.0.0/8".parse().unwrap()], header, ja4_header: None }
    }

    #[test]
    fn bots_ja4_is_taken_from_a_trusted_proxy_only_in_its_header_and_form() {
        const JA4: &str = "t13d1516h2_8daaf6152771_02713d6af862";
        let trusted = TrustedProxies {
            ja4_header: Some(axum::http::HeaderName::from_static("x-ja4")),
            ..trusting(ProxyHeader::XForwardedFor)
        };
        let h = headers(&[("x-ja4", JA4)]);
        assert_eq!(proxied_ja4(&trusted, ip("10.0.0.1"), &h).as_deref(), Some(JA4));
        assert_eq!(proxied_ja4(&trusted, ip("203.0.113.1"), &h), None, "a client cannot send its own");
        assert_eq!(proxied_ja4(&trusting(ProxyHeader::XForwardedFor), ip("10.0.0.1"), &h), None, "none configured");
        assert_eq!(proxied_ja4(&trusted, ip("10.0.0.1"), &headers(&[("x-ja4", "curl please")])), None, "not a JA4");
        assert_eq!(proxied_ja4(&trusted, ip("10.0.0.1"), &headers(&[("x-ja3", JA4)])), None, "another header");
    }

    #[test]
    fn p10_forwarded_headers_are_ignored_without_trusted_proxies() {
        let h = headers(&[("x-forwarded-for", "198.51.100.7"), ("forwarded", "for=198.51.100.8")]);
        assert_eq!(resolve(&TrustedProxies::default(), ip("203.0.113.1"), &h), ip("203.0.113.1"));
    }

    #[test]
    fn p10_trusted_proxy_headers_give_the_client() {
        let trusted = trusting(ProxyHeader::XForwardedFor);
        let xff = headers(&[("x-forwarded-for", "198.51.100.7, 10.0.0.5")]);
        assert_eq!(resolve(&trusted, ip("10.0.0.1"), &xff), ip("198.51.100.7"));
        // A client cannot spoof by prepending: the first untrusted hop from the right wins.
        let spoof = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7")]);
        assert_eq!(resolve(&trusted, ip("10.0.0.1"), &spoof), ip("198.51.100.7"));
        // The header the proxy does not write is the client's own: never read.
        let fwd = headers(&[("forwarded", r#"for="[2001:db8::7]:4711";proto=https, for=10.0.0.9"#)]);
        assert_eq!(resolve(&trusted, ip("10.0.0.1"), &fwd), ip("10.0.0.1"));
        let trusted_fwd = trusting(ProxyHeader::Forwarded);
        assert_eq!(resolve(&trusted_fwd, ip("10.0.0.1"), &fwd), ip("2001:db8::7"));
        // From an untrusted peer the headers mean nothing.
        assert_eq!(resolve(&trusted, ip("203.0.113.1"), &xff), ip("203.0.113.1"));
        // Nothing forwarded: the proxy itself.
        assert_eq!(resolve(&trusted, ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        let unknown = headers(&[("forwarded", "for=unknown, for=10.0.0.9")]);
        assert_eq!(resolve(&trusted_fwd, ip("10.0.0.1"), &unknown), ip("10.0.0.9"));
    }

    #[test]
    fn hardening_ipv4_mapped_clients_are_normalised() {
        // A dual-stack listener sees IPv4 peers as IPv4-mapped IPv6 addresses.
        let mapped = ip("::ffff:198.51.100.7");
        assert_eq!(resolve(&TrustedProxies::default(), mapped, &HeaderMap::new()), ip("198.51.100.7"));
        // A trusted proxy reached over IPv4 on a dual-stack listener is still trusted, and the
        // addresses its header names are normalised too.
        let trusted = trusting(ProxyHeader::XForwardedFor);
        let xff = headers(&[("x-forwarded-for", "::ffff:203.0.113.9")]);
        assert_eq!(resolve(&trusted, ip("::ffff:10.0.0.1"), &xff), ip("203.0.113.9"));
        let trusted_fwd = trusting(ProxyHeader::Forwarded);
        let unknown = headers(&[("forwarded", r#"for=unknown, for="[::ffff:10.0.0.9]""#)]);
        assert_eq!(resolve(&trusted_fwd, ip("10.0.0.1"), &unknown), ip("10.0.0.9"));
        // Real IPv6 addresses are left alone.
        assert_eq!(resolve(&TrustedProxies::default(), ip("2001:db8::1"), &HeaderMap::new()), ip("2001:db8::1"));
    }
}
