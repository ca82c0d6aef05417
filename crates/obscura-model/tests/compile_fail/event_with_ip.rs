// An Event has no field that can hold the client's IP.
use std::net::{IpAddr, Ipv4Addr};

fn leak(mut event: obscura_model::Event) -> obscura_model::Event {
    event.ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    event
}

fn main() {}
