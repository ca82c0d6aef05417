//! Enrichment: turning a request's User-Agent, Client Hints and IP address into the coarse,
//! low-cardinality facts a dashboard shows — browser, operating system, device, continent,
//! country, province and network operator — and a resource's host into the CDN provider that
//! served it.
//!
//! Everything here is a pure lookup that runs in memory while a hit is being desensitized. The
//! IP address is only ever used as a key: the modules return nothing finer than a province (no
//! city, postcode or coordinates) and nothing about the address itself, so enrichment cannot
//! become a side channel for identifying a visitor.
//!
//! All databases are optional. When a file is not installed the corresponding lookup degrades to
//! "unknown" (or, for user agents, to a small built-in rule set) instead of failing the request.

#![warn(missing_docs)]

pub mod bots;
pub mod cdn;
pub mod geo;
pub mod network;
pub mod user_agent;

pub use cdn::CdnMap;
pub use geo::{Geo, GeoDb, continent_of};
pub use network::AsnDb;
pub use user_agent::{ACCEPT_CH, ClientHints, Device, DeviceType, UaParser};
