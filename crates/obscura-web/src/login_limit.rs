//! Limits on password guessing, for dashboard logins and protected shared links alike.
//!
//! Failed attempts are counted per network (an IPv4 address, an IPv6 /64, and also the IPv6 /48
//! around it, since one holder of a /48 has 65,536 /64s) and per account (a user name, or a
//! shared link). A network over its limit is refused outright. An account over its limit only
//! refuses networks that have been failing themselves: the rightful user, from a network that has
//! not been guessing, still gets in, so nobody can lock an owner out from afar.
//!
//! Both tables are bounded; when one is full, expired entries go first, then those with the
//! fewest failures (oldest first) that are not over a limit, so a flood of fresh addresses or
//! names cannot push out the count of a network that keeps guessing or the lock on an account.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// Failed attempts allowed per address (an IPv6 /64) or per account within [`WINDOW`].
pub const MAX_FAILURES: u32 = 5;
/// Failed attempts allowed per IPv6 /48 within [`WINDOW`]: several /64s of one holder.
pub const MAX_FAILURES_PER_48: u32 = 4 * MAX_FAILURES;
/// While an account is over its limit, networks with more failures than this may not try it.
/// One is tolerated: the rightful user may mistype once while under attack.
pub const TOLERATED_NETWORK_FAILURES: u32 = 1;
/// How long failures are remembered, counted from a key's first failure.
pub const WINDOW: Duration = Duration::minutes(15);
/// Networks tracked at most (IPv4 addresses, IPv6 /64s and /48s together).
pub const MAX_NETWORKS: usize = 20_000;
/// Accounts (user names, shared links) tracked at most.
pub const MAX_ACCOUNTS: usize = 10_000;

/// Why an attempt is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client's network failed too often.
    Network,
    /// The account is under attack and this network has been failing.
    Account,
}

/// Failure counts per key, bounded.
struct Failures {
    entries: HashMap<String, Entry>,
    capacity: usize,
}

#[derive(Clone, Copy)]
struct Entry {
    count: u32,
    since: OffsetDateTime,
    limit: u32,
}

impl Failures {
    fn new(capacity: usize) -> Self {
        Failures { entries: HashMap::new(), capacity }
    }

    fn count(&self, key: &str, now: OffsetDateTime) -> u32 {
        self.entries.get(key).filter(|e| now - e.since < WINDOW).map_or(0, |e| e.count)
    }

    fn add(&mut self, key: String, limit: u32, now: OffsetDateTime) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        let entry = self.entries.entry(key).or_insert(Entry { count: 0, since: now, limit });
        if now - entry.since >= WINDOW {
            *entry = Entry { count: 0, since: now, limit };
        }
        entry.count += 1;
    }

    /// Takes back one counted attempt (it turned out to be a success).
    fn forgive(&mut self, key: &str) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.count = entry.count.saturating_sub(1);
        }
    }

    fn make_room(&mut self, now: OffsetDateTime) {
        self.entries.retain(|_, e| now - e.since < WINDOW && e.count > 0);
        if self.entries.len() < self.capacity {
            return;
        }
        // Entries under their limit with the fewest failures, oldest first; locked entries last.
        let victim =
            self.entries.iter().min_by_key(|(_, e)| (e.count >= e.limit, e.count, e.since)).map(|(k, _)| k.clone());
        if let Some(key) = victim {
            self.entries.remove(&key);
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Counts failed password attempts; see the module documentation for the rules.
pub struct AttemptLimiter {
    networks: Mutex<Failures>,
    accounts: Mutex<Failures>,
}

impl Default for AttemptLimiter {
    fn default() -> Self {
        AttemptLimiter::with_capacity(MAX_NETWORKS, MAX_ACCOUNTS)
    }
}

impl AttemptLimiter {
    /// A limiter tracking at most `networks` networks and `accounts` accounts (the default: [`MAX_NETWORKS`]
    /// and [`MAX_ACCOUNTS`]).
    pub fn with_capacity(networks: usize, accounts: usize) -> Self {
        AttemptLimiter { networks: Mutex::new(Failures::new(networks)), accounts: Mutex::new(Failures::new(accounts)) }
    }

    /// Counts an attempt from `ip` on `account` (`user:<name>` or `share:<id>`) unless it is
    /// refused. Counting before the password is checked means parallel guesses cannot slip past
    /// the limit; [`AttemptLimiter::succeeded`] takes a right guess back.
    pub fn try_attempt(&self, ip: IpAddr, account: &str, now: OffsetDateTime) -> Result<(), Refusal> {
        let keys = network_keys(ip);
        let mut networks = self.networks.lock().unwrap_or_else(|e| e.into_inner());
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if keys.iter().any(|(key, limit)| networks.count(key, now) >= *limit) {
            return Err(Refusal::Network);
        }
        let account = account_key(account);
        let network_failures = networks.count(&keys[0].0, now);
        if accounts.count(&account, now) >= MAX_FAILURES && network_failures > TOLERATED_NETWORK_FAILURES {
            return Err(Refusal::Account);
        }
        for (key, limit) in keys {
            networks.add(key, limit, now);
        }
        accounts.add(account, MAX_FAILURES, now);
        Ok(())
    }

    /// A right password: its own attempt is not held against the network or the account.
    /// Earlier failures still count.
    pub fn succeeded(&self, ip: IpAddr, account: &str) {
        let mut networks = self.networks.lock().unwrap_or_else(|e| e.into_inner());
        for (key, _) in network_keys(ip) {
            networks.forgive(&key);
        }
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).forgive(&account_key(account));
    }

    /// Entries held: (networks, accounts).
    pub fn tracked(&self) -> (usize, usize) {
        (
            self.networks.lock().unwrap_or_else(|e| e.into_inner()).len(),
            self.accounts.lock().unwrap_or_else(|e| e.into_inner()).len(),
        )
    }
}

/// Accounts are keyed by a digest: a user name typed at the login form may be of any length.
fn account_key(account: &str) -> String {
    hex::encode(&Sha256::digest(account.as_bytes())[..16])
}

/// The networks an attempt counts against, with their limits; the narrowest first. IPv6
/// clients often hold a whole /64, and their provider's customer a /48.
fn network_keys(ip: IpAddr) -> Vec<(String, u32)> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => vec![(format!("{v4}"), MAX_FAILURES)],
        IpAddr::V6(v6) => {
            let s = v6.segments();
            vec![
                (format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]), MAX_FAILURES),
                (format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]), MAX_FAILURES_PER_48),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-01-01 12:00 UTC);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn login_limit_counts_attempts_and_a_success_does_not_wipe_failures() {
        let l = AttemptLimiter::default();
        let ip = ip("198.51.100.4");
        for _ in 0..4 {
            assert!(l.try_attempt(ip, "user:victim", NOW).is_ok());
        }
        // The attacker logs into an account of their own: only that attempt is forgiven.
        assert!(l.try_attempt(ip, "user:attacker", NOW).is_ok());
        l.succeeded(ip, "user:attacker");
        assert!(l.try_attempt(ip, "user:victim", NOW).is_ok());
        assert_eq!(l.try_attempt(ip, "user:victim", NOW), Err(Refusal::Network), "locked after five failures");
        assert_eq!(l.try_attempt(ip, "user:someone-else", NOW), Err(Refusal::Network));
        assert!(l.try_attempt(ip, "user:victim", NOW + WINDOW).is_ok(), "the lock ends");
        // IPv6 addresses of one /64 share a counter.
        let v6 = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
        for i in 0..5 {
            assert!(l.try_attempt(v6(i), &format!("user:u{i}"), NOW).is_ok());
        }
        assert_eq!(l.try_attempt(v6(99), "user:someone", NOW), Err(Refusal::Network));
    }

    #[test]
    fn hardening_login_lockout_refuses_failing_networks_not_the_rightful_user() {
        let l = AttemptLimiter::default();
        // Five wrong passwords for the owner, from two attacking addresses.
        for attacker in ["203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2"] {
            assert!(l.try_attempt(ip(attacker), "user:owner", NOW).is_ok());
        }
        // The attacking networks may not go on guessing the owner's password...
        assert_eq!(l.try_attempt(ip("203.0.113.1"), "user:owner", NOW), Err(Refusal::Account));
        assert_eq!(l.try_attempt(ip("203.0.113.2"), "user:owner", NOW), Err(Refusal::Account));
        // ...but the owner, from a network that has not been failing, still gets to try,
        // even after one typo.
        let home = ip("192.0.2.10");
        assert!(l.try_attempt(home, "user:owner", NOW).is_ok());
        assert!(l.try_attempt(home, "user:owner", NOW).is_ok());
        l.succeeded(home, "user:owner");
        // A shared link's attempts are an account of their own.
        assert!(l.try_attempt(ip("203.0.113.2"), "share:abc", NOW).is_ok());
    }

    #[test]
    fn hardening_login_limit_counts_per_ipv6_48() {
        let l = AttemptLimiter::default();
        // One failure from each of many /64s of the same /48.
        let in_48 = |subnet: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 7, subnet, 0, 0, 0, 1));
        for subnet in 0..MAX_FAILURES_PER_48 as u16 {
            assert!(l.try_attempt(in_48(subnet), &format!("user:u{subnet}"), NOW).is_ok());
        }
        assert_eq!(l.try_attempt(in_48(999), "user:fresh", NOW), Err(Refusal::Network), "the /48 is over its limit");
        let other_48 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 8, 0, 0, 0, 0, 1));
        assert!(l.try_attempt(other_48, "user:fresh", NOW).is_ok());
    }

    #[test]
    fn hardening_login_limiter_is_bounded_and_keeps_locks() {
        let l = AttemptLimiter::with_capacity(50, 20);
        // An account under attack from two addresses...
        for attacker in ["198.51.100.1", "198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.2"] {
            assert!(l.try_attempt(ip(attacker), "user:owner", NOW).is_ok());
        }
        // ...then a flood of fresh addresses and names.
        for i in 0..1000u32 {
            let addr = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            let _ = l.try_attempt(addr, &format!("user:flood{i}"), NOW + Duration::seconds(1));
        }
        let (networks, accounts) = l.tracked();
        assert!(networks <= 50 && accounts <= 20, "{networks} networks, {accounts} accounts");
        // The owner's lock and the attackers' counts survived the flood.
        assert_eq!(l.try_attempt(ip("198.51.100.1"), "user:owner", NOW), Err(Refusal::Account));
        assert_eq!(l.try_attempt(ip("198.51.100.2"), "user:owner", NOW), Err(Refusal::Account));
    }
}
