//! Ingest: protocol decoders into [`obscura_model::RawHit`], and the pipeline that enriches,
//! desensitizes and stores them.
//!
//! ```text
//! decode (protocol) → enrich (geo, network, device) → desensitize (the privacy boundary)
//!                   → visits (30-minute visits, flow) → store (durable before the answer)
//! ```

#![warn(missing_docs)]

pub mod admission;
pub mod decode;
pub mod desensitize;
pub mod enricher;
pub mod error;
pub mod error_limit;
pub mod grouping;
pub mod idempotency;
pub mod latency;
pub mod pace;
pub mod pipeline;
pub mod synthetic;
pub mod visits;

pub use error::IngestError;
pub use pipeline::{Outcome, Pipeline};
