//! Administration from the command line. Every action goes through the admin service
//! ([`obscura_admin::AdminService`]), which holds the rules and writes the audit entries; this
//! module only adds what a terminal needs.
//!
//! The free functions fill a fresh data folder without an audit trail: the demo, the
//! benchmarks and tests use them before anyone uses the folder. The `obscura` commands use
//! [`cli`], which audits every action as `cli`.

use std::io::Read;

use anyhow::Context;
use obscura_admin::{Actor, AdminService};
use obscura_store::audit::AuditTrail;
use obscura_store::meta::{MetadataStore, Role, Site, TokenScope};

fn now_ms() -> i64 {
    obscura_model::Clock::now_ms(&obscura_model::SystemClock)
}

/// Actions of the `obscura` command line, recorded in the audit log.
pub fn cli<'a>(meta: &'a dyn MetadataStore, audit: &'a dyn AuditTrail) -> AdminService<'a> {
    AdminService::new(meta, audit, Actor::Cli, now_ms())
}

fn seeding(meta: &dyn MetadataStore) -> AdminService<'_> {
    AdminService::seeding(meta, now_ms())
}

/// Reads a password from standard input (one line; the line break is not part of it).
pub fn read_password_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).context("cannot read the password from standard input")?;
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}

/// Adds a site.
pub fn add_site(
    meta: &dyn MetadataStore,
    domain: &str,
    respect_dnt: bool,
    retention_days: u32,
) -> anyhow::Result<Site> {
    Ok(seeding(meta).add_site(domain, respect_dnt, retention_days)?)
}

/// Switches a site's speed beacons on or off, keeping `sample_percent` of them.
pub fn set_speed(meta: &dyn MetadataStore, domain: &str, on: bool, sample_percent: u8) -> anyhow::Result<()> {
    Ok(seeding(meta).set_speed(domain, on, sample_percent)?)
}

/// Adds a goal to a site.
pub fn add_goal(meta: &dyn MetadataStore, domain: &str, goal: obscura_store::meta::Goal) -> anyhow::Result<()> {
    Ok(seeding(meta).add_goal(domain, goal)?)
}

/// Adds a funnel to a site.
pub fn add_funnel(meta: &dyn MetadataStore, domain: &str, funnel: obscura_store::meta::Funnel) -> anyhow::Result<()> {
    Ok(seeding(meta).add_funnel(domain, funnel)?)
}

/// Sets how many days a site's per-event data is kept.
pub fn set_retention(meta: &dyn MetadataStore, domain: &str, days: u32) -> anyhow::Result<()> {
    Ok(seeding(meta).set_retention(domain, days)?)
}

/// Adds a user; returns the password (generated unless given).
pub fn add_user(
    meta: &dyn MetadataStore,
    username: &str,
    role: Role,
    password: Option<String>,
) -> anyhow::Result<String> {
    add_user_with_sites(meta, username, role, password, &[])
}

/// Adds a user who, as a viewer, reads only `site_domains`.
pub fn add_user_with_sites(
    meta: &dyn MetadataStore,
    username: &str,
    role: Role,
    password: Option<String>,
    site_domains: &[String],
) -> anyhow::Result<String> {
    Ok(seeding(meta).add_user(username, role, password, site_domains)?)
}

/// Creates a shared read-only link to `domain`'s dashboard; returns its id and token.
pub fn add_share(
    meta: &dyn MetadataStore,
    domain: &str,
    password: Option<&str>,
    expires_days: Option<u32>,
) -> anyhow::Result<(String, String)> {
    Ok(seeding(meta).add_share(domain, password, expires_days)?)
}

/// Revokes a shared link by its id.
pub fn revoke_share(meta: &dyn MetadataStore, id: &str) -> anyhow::Result<()> {
    Ok(seeding(meta).revoke_share(id)?)
}

/// Adds an API token; returns the secret, shown once.
pub fn add_token(
    meta: &dyn MetadataStore,
    name: &str,
    scope: TokenScope,
    site_domains: &[String],
    expires_days: Option<u32>,
) -> anyhow::Result<String> {
    Ok(seeding(meta).add_token(name, scope, site_domains, expires_days)?.1)
}
