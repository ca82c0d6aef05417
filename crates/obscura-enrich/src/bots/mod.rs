//! Telling people from automated processes (P5): each signal in its own module, weighed by
//! [`decision::Classifier`] into `human`, `suspicious` or `automated` with its reasons.

pub mod client_hints;
pub mod decision;
pub mod ja4;
pub mod networks;
pub mod signals;
pub mod user_agents;

pub use decision::{Classifier, Decision, Evidence, Reason, Reasons, Verdict};
