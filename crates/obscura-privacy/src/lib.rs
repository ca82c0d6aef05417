//! The privacy boundary: what may pass from a request into storage, and how.
//!
//! Everything here turns data that can identify a person into data that cannot:
//! the scrubber and the URL/referrer normalisers produce [`Clean`] text (the only text type
//! storage accepts), and [`salt`] turns (site, IP, User-Agent) into a visitor hash that cannot be
//! recomputed once the day's salt is destroyed (P2).

#![warn(missing_docs)]

pub mod clean;
pub mod page_url;
pub mod referrer;
pub mod salt;
pub mod scrub;

pub use clean::Clean;
pub use salt::{Rekey, SaltRing, VisitorHash};
