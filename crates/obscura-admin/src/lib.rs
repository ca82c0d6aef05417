//! Administration: sites, users and roles, API tokens, shared links and retention, with every
//! rule that governs them and the audit entry each action leaves.
//!
//! The command line and the web pages both act through [`AdminService`]; neither holds a copy
//! of a rule. Failures are an [`AdminError`], which the CLI prints and the web layer maps to a
//! status in one place.

#![warn(missing_docs)]

pub mod credentials;
pub mod error;
pub mod rules;
pub mod service;

pub use error::AdminError;
pub use service::{Actor, AdminService, SiteSettings};
