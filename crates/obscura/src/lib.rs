//! The `obscura` binary's library half: configuration, wiring, administration, the demo and the
//! benchmark harness. `main.rs` is only the command line.

#![warn(missing_docs)]

pub mod admin;
pub mod app;
pub mod bench;
pub mod classify;
pub mod config;
pub mod crash_bench;
pub mod demo;
pub mod errors_bench;
pub mod export;
pub mod http_server;
pub mod import;
pub mod load_profile;
pub mod maintenance;
pub mod sample_log;
pub mod site_archive;
pub mod speed_bench;
pub mod tls;
pub mod traffic;
