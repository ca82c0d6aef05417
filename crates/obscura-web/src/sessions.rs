//! Dashboard login sessions (the only cookies Obscura sets, P4) and the login rate limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::HeaderMap;
use obscura_store::meta::Role;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

pub const COOKIE: &str = "obscura_session";
pub const SESSION_LIFETIME: Duration = Duration::days(7);
/// Login attempts allowed per address (or user name) within [`LOCKOUT`] before further attempts are
/// refused; successful ones are not counted.
pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::minutes(15);

#[derive(Clone, Debug)]
pub struct Session {
    pub username: String,
    pub role: Role,
    /// Sent back in every form; a state-changing request without it is refused.
    pub csrf: String,
    pub expires: OffsetDateTime,
}

#[derive(Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<String, Session>>,
    /// Login attempts per network and per user name: (count, since).
    failures: Mutex<HashMap<String, (u32, OffsetDateTime)>>,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The value of cookie `name` in a request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

impl Sessions {
    /// Starts a session; returns the cookie value (only its hash is kept).
    pub fn create(&self, username: &str, role: Role, now: OffsetDateTime) -> String {
        let token = random_token();
        let session = Session { username: username.to_owned(), role, csrf: random_token(), expires: now + SESSION_LIFETIME };
        let mut map = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.expires > now);
        map.insert(hash(&token), session);
        token
    }

    pub fn get(&self, headers: &HeaderMap, now: OffsetDateTime) -> Option<Session> {
        let token = cookie(headers, COOKIE)?;
        let map = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&hash(&token)).filter(|s| s.expires > now).cloned()
    }

    pub fn end(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers, COOKIE) {
            self.by_hash.lock().unwrap_or_else(|e| e.into_inner()).remove(&hash(&token));
        }
    }

    /// Ends every session of `username` (logout everywhere, password change).
    pub fn end_all(&self, username: &str) {
        self.by_hash.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, s| s.username != username);
    }

    /// Counts a login attempt from `ip` for `username`, unless either is locked out (then
    /// returns false). Counting before the password is checked means parallel guesses cannot
    /// slip past the limit.
    pub fn try_attempt(&self, ip: IpAddr, username: &str, now: OffsetDateTime) -> bool {
        let keys = [network_key(ip), format!("user:{username}")];
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > 10_000 {
            failures.retain(|_, (_, since)| now - *since < LOCKOUT);
        }
        for key in &keys {
            if let Some((n, since)) = failures.get(key) {
                if *n >= MAX_FAILURES && now - *since < LOCKOUT {
                    return false;
                }
            }
        }
        for key in keys {
            let entry = failures.entry(key).or_insert((0, now));
            if now - entry.1 >= LOCKOUT {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
        true
    }

    /// A successful login: its own attempt is not held against the address, and the user's
    /// count starts over. Earlier failures from the address still count.
    pub fn attempt_succeeded(&self, ip: IpAddr, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = failures.get_mut(&network_key(ip)) {
            entry.0 = entry.0.saturating_sub(1);
        }
        failures.remove(&format!("user:{username}"));
    }
}

/// IPv6 clients often hold a whole /64: count attempts per /64, per address for IPv4.
fn network_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_limit_counts_attempts_and_a_success_does_not_wipe_failures() {
        let s = Sessions::default();
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let ip: IpAddr = "198.51.100.4".parse().unwrap();
        for _ in 0..4 {
            assert!(s.try_attempt(ip, "victim", now));
        }
        // The attacker logs into an account of their own: only that attempt is forgiven.
        assert!(s.try_attempt(ip, "attacker", now));
        s.attempt_succeeded(ip, "attacker");
        assert!(s.try_attempt(ip, "victim", now));
        assert!(!s.try_attempt(ip, "victim", now), "locked after five failures");
        assert!(!s.try_attempt("198.51.100.5".parse().unwrap(), "victim", now), "the user name is locked too");
        assert!(s.try_attempt(ip, "victim", now + LOCKOUT), "the lock ends");
        // IPv6 addresses of one /64 share a counter.
        let v6 = |last: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
        for i in 0..5 {
            assert!(s.try_attempt(v6(i), &format!("u{i}"), now));
        }
        assert!(!s.try_attempt(v6(99), "someone", now));
    }
}
