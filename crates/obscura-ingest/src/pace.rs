//! How many hits one client sent in the current minute, and how many page views in a row without
//! an engagement beacon: more than people make is a signal of an automated process (P5,
//! `too_many_events`, `no_engagement`). A client is told apart by a hash of its site,
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

/// What a hit was, as the pace counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaceHit {
    /// A page view: one more without engagement until a beacon comes.
    Pageview,
    /// An engagement beacon: the client showed a page to someone.
    Engagement,
    /// Anything else (a custom event).
    Other,
}

impl PaceHit {
    /// What a hit of `kind` counts as.
    pub fn of(kind: obscura_model::EventKind) -> Self {
        match kind {
            obscura_model::EventKind::Pageview => PaceHit::Pageview,
            obscura_model::EventKind::Engagement => PaceHit::Engagement,
            _ => PaceHit::Other,
        }
    }
}

/// What the table knows of a client after one more hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its hits in this minute, this one included.
    pub this_minute: u32,
    /// Its page views since its last engagement beacon (or its first hit), this one included.
    pub views_without_engagement: u32,
}

/// A client's counts.
#[derive(Clone, Copy, Debug)]
struct Client {
    minute: i64,
    this_minute: u32,
    views_without_engagement: u32,
}

/// The per-client counts.
#[derive(Debug, Default)]
pub struct Pace {
    /// Keyed at random when the process starts.
    key: std::collections::hash_map::RandomState,
    /// Client hash → its counts.
    clients: Mutex<HashMap<u64, Client>>,
}

impl Pace {
    /// Counts a hit of the client (`site`, `ip`, `user_agent`) at `unix_ms`.
    pub fn count(&self, site: u32, ip: IpAddr, user_agent: &str, unix_ms: i64, hit: PaceHit) -> Seen {
        let (client, minute) = (self.key.hash_one((site, ip.to_canonical(), user_agent)), unix_ms.div_euclid(60_000));
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&client) {
            clients.retain(|_, c| c.minute == minute);
            if clients.len() >= MAX_CLIENTS {
                clients.clear();
            }
        }
        let entry = clients.entry(client).or_insert(Client { minute, this_minute: 0, views_without_engagement: 0 });
        if entry.minute != minute {
            (entry.minute, entry.this_minute) = (minute, 0);
        }
        entry.this_minute = entry.this_minute.saturating_add(1);
        match hit {
            PaceHit::Pageview => entry.views_without_engagement = entry.views_without_engagement.saturating_add(1),
            PaceHit::Engagement => entry.views_without_engagement = 0,
            PaceHit::Other => {}
        }
        Seen { this_minute: entry.this_minute, views_without_engagement: entry.views_without_engagement }
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
        let minute = |ip, ua, site, ms| pace.count(site, ip, ua, ms, PaceHit::Other).this_minute;
        assert_eq!(minute(a, "UA", 1, 0), 1);
        assert_eq!(minute(b, "UA", 1, 59_999), 2, "the same address, as a dual-stack socket shows it");
        assert_eq!(minute(a, "other UA", 1, 1), 1, "another browser on the address");
        assert_eq!(minute(a, "UA", 2, 1), 1, "another site");
        assert_eq!(minute(a, "UA", 1, 60_000), 1, "a new minute");
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            pace.count(1, a, &i.to_string(), 120_000, PaceHit::Pageview);
        }
        assert!(pace.clients() <= MAX_CLIENTS, "{}", pace.clients());
    }

    #[test]
    fn bots_pace_counts_page_views_until_an_engagement_beacon_across_minutes() {
        let pace = Pace::default();
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let views = |ms, hit| pace.count(1, a, "UA", ms, hit).views_without_engagement;
        assert_eq!(views(0, PaceHit::Pageview), 1);
        assert_eq!(views(1, PaceHit::Other), 1, "a custom event is no engagement");
        assert_eq!(views(61_000, PaceHit::Pageview), 2, "page views in a row, whatever the minute");
        assert_eq!(views(62_000, PaceHit::Engagement), 0);
        assert_eq!(views(63_000, PaceHit::Pageview), 1);
        assert_eq!(pace.count(1, a, "other UA", 63_000, PaceHit::Pageview).views_without_engagement, 1);
    }
}
