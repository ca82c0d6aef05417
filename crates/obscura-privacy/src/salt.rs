//! Daily visitor salts and the visitor hash (P2).
//!
//! A visitor is counted by `HMAC-SHA256(salt_of_the_day, site ‖ IP ‖ User-Agent)`, cut to 64 bits.
//! Each UTC day gets a fresh random salt; a salt is destroyed 48 hours after its day began, so the
//! same visitor on different days hashes differently and, once the salt is gone, no one — the
//! operator included — can recompute a hash from an IP. Time is injected so tests can run days in
//! milliseconds.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::{Date, Duration, OffsetDateTime};

/// How long a salt lives, counted from the start of its day.
pub const SALT_LIFETIME: Duration = Duration::hours(48);

/// A 64-bit keyed hash that counts one visitor within one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VisitorHash(u64);

impl VisitorHash {
    /// The hash as a number; it identifies no one once the day's salt is destroyed.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The live salts, at most two: today's and yesterday's.
#[derive(Default)]
pub struct SaltRing {
    salts: BTreeMap<Date, [u8; 32]>,
}

impl SaltRing {
    /// An empty ring, with no salts; [`SaltRing::ensure_today`] creates them.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the ring from persisted salts, destroying any that have expired at `now`.
    pub fn restore(entries: impl IntoIterator<Item = (Date, [u8; 32])>, now: OffsetDateTime) -> Self {
        let mut ring = SaltRing { salts: entries.into_iter().collect() };
        ring.rotate(now);
        ring
    }

    /// Destroys every salt whose lifetime is over; returns the days destroyed.
    pub fn rotate(&mut self, now: OffsetDateTime) -> Vec<Date> {
        let expired: Vec<Date> =
            self.salts.keys().copied().filter(|day| day.midnight().assume_utc() + SALT_LIFETIME <= now).collect();
        for day in &expired {
            if let Some(mut salt) = self.salts.remove(day) {
                wipe(&mut salt);
            }
        }
        expired
    }

    /// Today's salt, created on first use. Returns whether a new salt was made (so it can be persisted).
    pub fn ensure_today(&mut self, now: OffsetDateTime) -> bool {
        let today = now.date();
        if self.salts.contains_key(&today) {
            return false;
        }
        self.salts.insert(today, rand::random());
        true
    }

    /// The visitor hash for a hit received at `now`. Creates today's salt if needed.
    pub fn visitor_hash(&mut self, now: OffsetDateTime, site: u32, ip: IpAddr, user_agent: &str) -> VisitorHash {
        self.ensure_today(now);
        let salt = &self.salts[&now.date()];
        let mut mac = Hmac::<Sha256>::new_from_slice(salt).expect("HMAC takes any key length");
        mac.update(&site.to_be_bytes());
        match ip {
            IpAddr::V4(v4) => mac.update(&v4.octets()),
            IpAddr::V6(v6) => mac.update(&v6.octets()),
        }
        mac.update(&[0]);
        mac.update(user_agent.as_bytes());
        let digest = mac.finalize().into_bytes();
        VisitorHash(u64::from_be_bytes(digest[..8].try_into().expect("digest is 32 bytes")))
    }

    /// The days whose salts are alive, oldest first.
    pub fn days(&self) -> Vec<Date> {
        self.salts.keys().copied().collect()
    }

    /// The live salts, for encrypted persistence.
    pub fn entries(&self) -> impl Iterator<Item = (Date, &[u8; 32])> {
        self.salts.iter().map(|(d, s)| (*d, s))
    }
}

impl Drop for SaltRing {
    fn drop(&mut self) {
        for salt in self.salts.values_mut() {
            wipe(salt);
        }
    }
}

/// A one-off key for visitor and visit numbers that move between installations (a full-site
/// export and its import): each side re-keys the numbers with a key of its own that is never
/// stored and is wiped when dropped, so numbers in an export file cannot be matched with the
/// ones stored on either side. Within one key a number keeps its identity: a visitor stays one
/// visitor, a visit one visit.
pub struct Rekey([u8; 32]);

impl Rekey {
    /// A fresh random key.
    pub fn new() -> Self {
        Rekey(rand::random())
    }

    /// `number` under this key; `domain` keeps visitor and visit numbers apart.
    pub fn number(&self, domain: &str, number: u64) -> u64 {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(&number.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        u64::from_be_bytes(digest[..8].try_into().expect("digest is 32 bytes"))
    }

    /// A visitor number from elsewhere as this installation's daily visitor hash.
    pub fn visitor(&self, number: u64) -> VisitorHash {
        VisitorHash(self.number("visitor", number))
    }
}

impl Default for Rekey {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Rekey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites a salt in place; volatile writes so the compiler cannot drop them as dead stores.
fn wipe(bytes: &mut [u8; 32]) {
    for b in bytes.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p02_rekeyed_numbers_keep_identity_under_one_key_and_differ_between_keys() {
        let (one, other) = (Rekey::new(), Rekey::new());
        assert_eq!(one.visitor(42), one.visitor(42));
        assert_ne!(one.visitor(42), one.visitor(43));
        assert_ne!(one.visitor(42).get(), 42);
        assert_ne!(one.visitor(42), other.visitor(42));
        assert_ne!(one.number("visit", 42), one.number("visitor", 42));
    }
    use time::macros::datetime;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));

    #[test]
    fn p02_same_visitor_same_day_hashes_equal() {
        let mut ring = SaltRing::new();
        let a = ring.visitor_hash(datetime!(2026-03-01 08:00 UTC), 1, IP, "UA");
        let b = ring.visitor_hash(datetime!(2026-03-01 23:59 UTC), 1, IP, "UA");
        assert_eq!(a, b);
        let other_site = ring.visitor_hash(datetime!(2026-03-01 09:00 UTC), 2, IP, "UA");
        assert_ne!(a, other_site);
    }

    #[test]
    fn p02_same_visitor_different_days_hashes_differ() {
        let mut ring = SaltRing::new();
        let day1 = ring.visitor_hash(datetime!(2026-03-01 12:00 UTC), 1, IP, "UA");
        let day2 = ring.visitor_hash(datetime!(2026-03-02 12:00 UTC), 1, IP, "UA");
        assert_ne!(day1, day2);
    }

    #[test]
    fn p02_salts_destroyed_after_48h() {
        let mut ring = SaltRing::new();
        ring.ensure_today(datetime!(2026-03-01 00:00 UTC));
        ring.ensure_today(datetime!(2026-03-02 00:00 UTC));
        assert!(ring.rotate(datetime!(2026-03-02 23:59:59 UTC)).is_empty());
        assert_eq!(ring.rotate(datetime!(2026-03-03 00:00 UTC)), vec![time::macros::date!(2026 - 03 - 01)]);
        assert_eq!(ring.days(), vec![time::macros::date!(2026 - 03 - 02)]);
        let restored = SaltRing::restore(
            ring.entries().map(|(d, s)| (d, *s)).collect::<Vec<_>>(),
            datetime!(2026-03-04 00:00 UTC),
        );
        assert!(restored.days().is_empty(), "a restored ring must not revive an expired salt");
    }
}
