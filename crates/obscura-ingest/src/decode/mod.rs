//! Protocol decoders. Each turns one protocol's request body into [`obscura_model::RawHit`]s;
//! nothing after decoding knows which protocol a hit came from.

pub mod native;

use std::net::IpAddr;

use obscura_model::raw::RawHeaders;
use time::OffsetDateTime;

/// What every decoder gets besides the body: when, from where, with which headers.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub received_at: OffsetDateTime,
    pub ip: IpAddr,
    pub headers: RawHeaders,
    /// `Sec-GPC: 1` or `DNT: 1` was sent.
    pub opted_out: bool,
}
