//! Administration from the command line: sites, users, API tokens.

use std::io::Read;

use anyhow::{Context, bail};
use obscura_store::meta::{MetaStore, Role, Site, TokenScope, User, normalize_domain};
use obscura_web::accounts::hash_password;

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn add_site(meta: &MetaStore, domain: &str, respect_dnt: bool, retention_days: u32) -> anyhow::Result<Site> {
    meta.update(|m| {
        let id = m.add_site(domain, now_ms(), retention_days)?.id;
        let site = m.sites.iter_mut().find(|s| s.id == id).expect("just added");
        site.respect_dnt = respect_dnt;
        Ok(site.clone())
    })
}

/// Sets how many days a site's per-event data is kept.
pub fn set_retention(meta: &MetaStore, domain: &str, days: u32) -> anyhow::Result<()> {
    let days = obscura_store::meta::check_retention(days)?;
    let domain = normalize_domain(domain);
    meta.update(|m| {
        let site = m.sites.iter_mut().find(|s| s.domain == domain).with_context(|| format!("no site {domain}"))?;
        site.retention_days = days;
        Ok(())
    })
}

pub fn random_password() -> String {
    // 16 characters from an unambiguous alphabet: ~90 bits.
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..16).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

/// Adds a user; returns the password (generated unless given). Viewers read only `sites`.
pub fn add_user(meta: &MetaStore, username: &str, role: Role, password: Option<String>) -> anyhow::Result<String> {
    add_user_with_sites(meta, username, role, password, &[])
}

pub fn add_user_with_sites(
    meta: &MetaStore,
    username: &str,
    role: Role,
    password: Option<String>,
    site_domains: &[String],
) -> anyhow::Result<String> {
    if username.is_empty() || username.len() > 64 || username.contains(char::is_whitespace) {
        bail!("user names have 1 to 64 characters and no spaces");
    }
    let password = password.unwrap_or_else(random_password);
    if password.chars().count() < 10 {
        bail!("passwords need at least 10 characters");
    }
    let hash = hash_password(&password)?;
    meta.update(|m| {
        if m.users.iter().any(|u| u.username == username) {
            bail!("user {username} already exists");
        }
        if m.users.is_empty() && role != Role::Owner {
            bail!("the first user must be an owner (--role owner)");
        }
        let sites = site_domains
            .iter()
            .map(|d| m.site_by_domain(d).map(|s| s.id).with_context(|| format!("unknown site {d:?}")))
            .collect::<anyhow::Result<Vec<u32>>>()?;
        if role == Role::Viewer && sites.is_empty() {
            bail!("a viewer needs at least one site (--site example.com)");
        }
        m.users.push(User { username: username.to_owned(), password_hash: hash, role, sites, created_ms: now_ms() });
        Ok(())
    })?;
    Ok(password)
}

pub fn read_password_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).context("cannot read the password from standard input")?;
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}

/// Creates a shared read-only link to `domain`'s dashboard; returns its id and token.
pub fn add_share(meta: &MetaStore, domain: &str, password: Option<&str>, expires_days: Option<u32>) -> anyhow::Result<(String, String)> {
    if password.is_some_and(|p| p.chars().count() < 10) {
        bail!("link passwords need at least 10 characters");
    }
    let now = now_ms();
    meta.update(|m| {
        let site = m.site_by_domain(domain).map(|s| s.id).with_context(|| format!("unknown site {domain:?}"))?;
        let expires = expires_days.map(|d| now + i64::from(d) * 86_400_000);
        let (token, share) = obscura_web::shares::new_share(site, password, now, expires)?;
        let id = share.id.clone();
        m.shares.push(share);
        Ok((id, token))
    })
}

/// Revokes a shared link by its id.
pub fn revoke_share(meta: &MetaStore, id: &str) -> anyhow::Result<()> {
    meta.update(|m| {
        let before = m.shares.len();
        m.shares.retain(|s| s.id != id);
        if m.shares.len() == before {
            bail!("no shared link with id {id:?} (see `obscura share list`)");
        }
        Ok(())
    })
}

/// Removes an API token by its id (the `obs_…` prefix shown by `token list`).
pub fn revoke_token(meta: &MetaStore, id: &str) -> anyhow::Result<()> {
    meta.update(|m| {
        let before = m.tokens.len();
        m.tokens.retain(|t| t.id != id);
        if m.tokens.len() == before {
            bail!("no token with id {id:?} (see `obscura token list`)");
        }
        Ok(())
    })
}

/// Adds an API token; returns the secret, shown once.
pub fn add_token(
    meta: &MetaStore,
    name: &str,
    scope: TokenScope,
    site_domains: &[String],
    expires_days: Option<u32>,
) -> anyhow::Result<String> {
    let now = now_ms();
    meta.update(|m| {
        let sites = site_domains
            .iter()
            .map(|d| m.site_by_domain(d).map(|s| s.id).with_context(|| format!("unknown site {d:?}")))
            .collect::<anyhow::Result<Vec<u32>>>()?;
        let expires = expires_days.map(|d| now + i64::from(d) * 86_400_000);
        let (secret, record) = obscura_web::tokens::new_token(name, scope, sites, now, expires);
        m.tokens.push(record);
        Ok(secret)
    })
}
