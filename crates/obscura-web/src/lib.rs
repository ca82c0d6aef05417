//! The HTTP face of Obscura: ingest endpoints, the tracker script, the stats API, login and the
//! overview page. Every route is declared once, with who may use it, in [`routes`].

#![warn(missing_docs)]
// Handlers' helpers return the response to send when a request stops early (`Result<T,
// Response>`): boxing it would add an allocation to every early answer for nothing.
#![allow(clippy::result_large_err)]

pub mod accounts;
pub mod admin_errors;
pub mod api_error;
pub mod audit;
pub mod automated;
pub mod client_ip;
pub mod connection;
pub mod dashboard;
pub mod errors;
pub mod errors_api;
pub mod exports;
pub mod extract;
pub mod funnels;
pub mod goals;
pub mod headers;
pub mod ingest_http;
pub mod layout;
pub mod login_limit;
pub mod metrics;
pub mod openapi;
pub mod overview;
pub mod password_hashing;
pub mod policy;
pub mod request_log;
pub mod routes;
pub mod sessions;
pub mod settings;
pub mod shares;
pub mod speed;
pub mod speed_api;
pub mod speed_query;
pub mod state;
pub mod stats_api;
pub mod stats_query;
pub mod tokens;
pub mod tracker;
pub mod traffic;

pub use routes::router;
pub use state::AppState;
