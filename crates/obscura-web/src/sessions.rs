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
/// Failed logins allowed per address within [`LOCKOUT`] before further attempts are refused.
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
    failures: Mutex<HashMap<IpAddr, (u32, OffsetDateTime)>>,
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

    /// Whether `ip` is locked out after too many failed logins.
    pub fn locked_out(&self, ip: IpAddr, now: OffsetDateTime) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.get(&ip).is_some_and(|(n, since)| *n >= MAX_FAILURES && now - *since < LOCKOUT)
    }

    pub fn record_failure(&self, ip: IpAddr, now: OffsetDateTime) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let entry = failures.entry(ip).or_insert((0, now));
        if now - entry.1 >= LOCKOUT {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    pub fn clear_failures(&self, ip: IpAddr) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&ip);
    }
}
