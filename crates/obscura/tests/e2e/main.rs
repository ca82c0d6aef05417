//! End-to-end tests: a real server on loopback, real HTTP, the real encrypted store.

mod access;
mod access_log;
mod admin_web;
mod audit;
mod bad_input;
mod chromium;
mod clickhouse_backend;
mod durability;
mod hardening;
mod hardening_audit;
mod hardening_web;
mod harness;
mod outbound;
mod overview;
mod policy;
mod privacy;
mod real_data;
mod repository_docs;
mod retention;
mod scrubbing;
mod several_nodes;
mod startup;
mod stats_api;
mod storage_conformance;
mod tls;
