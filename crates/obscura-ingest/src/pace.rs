//! How many hits one client sent in the current minute: more than people make is a signal of an
//! automated process (P5, `too_many_events`). A client is told apart by a hash of its site,
//! address and User-Agent under a key made at start and never stored, so the table holds
//! neither addresses nor anything that outlives the process. Bounded: at most [`MAX_CLIENTS`]
//! entries; when full, the past minutes' entries go, and if the current minute alone fills it,
//! the table starts afresh (a flood of new clients then counts from zero, never more).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;

/// Clients counted at once.
pub const MAX_CLIENTS: usize = 100_000;

/// The per-minute counts.
#[derive(Debug, Default)]
pub struct Pace {
    /// Keyed at random when the process starts.
    key: std::collections::hash_map::RandomState,
    /// Client hash → (minute, hits in it).
    clients: Mutex<HashMap<u64, (i64, u32)>>,
}

impl Pace {
    /// Counts a hit of the client (`site`, `ip`, `user_agent`) at `unix_ms`; answers its hits in
    /// that minute, this one included.
    pub fn count(&self, site: u32, ip: IpAddr, user_agent: &str, unix_ms: i64) -> u32 {
        let (client, minute) = (self.key.hash_one((site, ip.to_canonical(), user_agent)), unix_ms.div_euclid(60_000));
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&client) {
            clients.retain(|_, (m, _)| *m == minute);
            if clients.len() >= MAX_CLIENTS {
                clients.clear();
            }
        }
        let entry = clients.entry(client).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1
    }

    /// Clients counted now.
    pub fn clients(&self) -> usize {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_pace_counts_each_client_per_minute_and_stays_bounded() {
        let pace = Pace::default();
        let (a, b): (IpAddr, IpAddr) = ("203.0.113.1".parse().unwrap(), "::ffff:203.0.113.1".parse().unwrap());
        assert_eq!(pace.count(1, a, "UA", 0), 1);
        assert_eq!(pace.count(1, b, "UA", 59_999), 2, "the same address, as a dual-stack socket shows it");
        assert_eq!(pace.count(1, a, "other UA", 1), 1, "another browser on the address");
        assert_eq!(pace.count(2, a, "UA", 1), 1, "another site");
        assert_eq!(pace.count(1, a, "UA", 60_000), 1, "a new minute");
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            pace.count(1, a, &i.to_string(), 120_000);
        }
        assert!(pace.clients() <= MAX_CLIENTS, "{}", pace.clients());
    }
}
