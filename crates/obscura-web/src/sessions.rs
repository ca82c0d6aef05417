//! Dashboard login sessions (the only cookies Obscura sets, P4).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use obscura_store::meta::Role;
use time::{Duration, OffsetDateTime};

/// The name of the session cookie.
pub const COOKIE: &str = "obscura_session";
/// How long a session lasts from login (the cookie's `Max-Age` is the same).
pub const SESSION_LIFETIME: Duration = Duration::days(7);
/// Sessions one user may hold at once; logging in beyond it ends the one closest to expiry.
pub const MAX_SESSIONS_PER_USER: usize = 50;

/// A signed-in user's session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The user it belongs to.
    pub username: String,
    /// The user's role when they logged in.
    pub role: Role,
    /// Sent back in every form; a state-changing request without it is refused.
    pub csrf: String,
    /// When the session ends.
    pub expires: OffsetDateTime,
}

/// Every live session, in memory only (a restart logs everyone out), each under the hash of its cookie
/// value.
#[derive(Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<String, Session>>,
}

fn hash(token: &str) -> String {
    obscura_admin::credentials::secret_digest(token)
}

pub use obscura_admin::credentials::random_token;

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
        let session =
            Session { username: username.to_owned(), role, csrf: random_token(), expires: now + SESSION_LIFETIME };
        let mut map = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.expires > now);
        let theirs = map.values().filter(|s| s.username == username).count();
        if theirs >= MAX_SESSIONS_PER_USER {
            let oldest = map
                .iter()
                .filter(|(_, s)| s.username == username)
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone());
            if let Some(key) = oldest {
                map.remove(&key);
            }
        }
        map.insert(hash(&token), session);
        token
    }

    /// The unexpired session the request's session cookie names, if any.
    pub fn get(&self, headers: &HeaderMap, now: OffsetDateTime) -> Option<Session> {
        let token = cookie(headers, COOKIE)?;
        let map = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&hash(&token)).filter(|s| s.expires > now).cloned()
    }

    /// Ends the session the request's session cookie names (logout); does nothing without one.
    pub fn end(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers, COOKIE) {
            self.by_hash.lock().unwrap_or_else(|e| e.into_inner()).remove(&hash(&token));
        }
    }

    /// Ends every session of `username` (logout everywhere, password change).
    pub fn end_all(&self, username: &str) {
        self.by_hash.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, s| s.username != username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardening_sessions_per_user_are_bounded() {
        let sessions = Sessions::default();
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let first = sessions.create("alice", Role::Owner, now);
        for i in 1..=MAX_SESSIONS_PER_USER as i64 {
            sessions.create("alice", Role::Owner, now + Duration::seconds(i));
        }
        sessions.create("bob", Role::Viewer, now);
        let map = sessions.by_hash.lock().unwrap();
        assert_eq!(map.values().filter(|s| s.username == "alice").count(), MAX_SESSIONS_PER_USER);
        assert!(!map.contains_key(&hash(&first)), "the session closest to expiry ended");
        assert_eq!(map.values().filter(|s| s.username == "bob").count(), 1);
    }
}
