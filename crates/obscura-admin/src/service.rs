//! [`AdminService`]: every administrative action, its rules, its metadata change and its audit
//! entry, in one place.

use obscura_store::audit::{AuditEntry, AuditTrail};
use obscura_store::meta::{
    Collection, DetailKind, DiagnosticsRequest, Funnel, Goal, IssueStatus, MAX_OPEN_DIAGNOSTICS, Metadata,
    MetadataStore, Role, Site, TokenScope, User, normalize_domain,
};

use crate::credentials::{self, hash_password, random_password};
use crate::{AdminError, rules};

/// Who acts: the command line (the machine's operator, with an owner's powers) or a signed-in
/// user with their role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// `obscura …` on the server's machine.
    Cli,
    /// A user of the web pages.
    User {
        /// Their user name.
        name: String,
        /// Their role.
        role: Role,
    },
}

impl Actor {
    fn role(&self) -> Role {
        match self {
            Actor::Cli => Role::Owner,
            Actor::User { role, .. } => *role,
        }
    }

    /// How the audit log names the actor.
    fn audit_name(&self) -> String {
        match self {
            Actor::Cli => "cli".to_owned(),
            Actor::User { name, .. } => format!("user:{name}"),
        }
    }
}

/// A site's settings page: what is collected, the privacy-signal switch and, when given, a new
/// retention.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    /// The collection switches.
    pub collect: Collection,
    /// Whether Global Privacy Control and Do-Not-Track are honoured.
    pub respect_dnt: bool,
    /// Days of per-event data to keep; `None` leaves it unchanged.
    pub retention_days: Option<u32>,
}

/// Administrative actions on the metadata, taken by one actor at one moment.
pub struct AdminService<'a> {
    meta: &'a dyn MetadataStore,
    audit: Option<&'a dyn AuditTrail>,
    actor: Actor,
    now_ms: i64,
}

impl<'a> AdminService<'a> {
    /// Actions by `actor` at `now_ms`, each recorded in `audit`.
    pub fn new(meta: &'a dyn MetadataStore, audit: &'a dyn AuditTrail, actor: Actor, now_ms: i64) -> Self {
        Self { meta, audit: Some(audit), actor, now_ms }
    }

    /// Actions that leave no audit entry, for filling a fresh data folder (the demo, the
    /// benchmarks and tests) before anyone uses it.
    pub fn seeding(meta: &'a dyn MetadataStore, now_ms: i64) -> Self {
        Self { meta, audit: None, actor: Actor::Cli, now_ms }
    }

    /// Adds a site with the default collection settings.
    pub fn add_site(&self, domain: &str, respect_dnt: bool, retention_days: u32) -> Result<Site, AdminError> {
        let retention_days = rules::retention_days(retention_days)?;
        let site = self.update(|m| {
            if let Some(existing) = m.site_by_domain(domain) {
                return Err(AdminError::Conflict(format!("site {} already exists", existing.domain)));
            }
            let mut site =
                m.add_site(domain, self.now_ms, retention_days).map_err(|e| AdminError::Invalid(e.to_string()))?;
            site.respect_dnt = respect_dnt;
            let stored = m.sites.iter_mut().find(|s| s.id == site.id).expect("just added");
            stored.respect_dnt = respect_dnt;
            Ok(site)
        })?;
        let detail = format!("respect_dnt={} retention_days={}", site.respect_dnt, site.retention_days);
        self.record("site.add", Some(&site.domain), &detail);
        Ok(site)
    }

    /// Sets how many days a site keeps per-event data.
    pub fn set_retention(&self, domain: &str, days: u32) -> Result<(), AdminError> {
        let days = rules::retention_days(days)?;
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            site.retention_days = days;
            Ok(site.domain.clone())
        })?;
        self.record("site.retention", Some(&domain), &format!("retention_days={days}"));
        Ok(())
    }

    /// Switches a site's speed beacons on or off, keeping `sample_percent` (1 to 100) of them.
    pub fn set_speed(&self, domain: &str, on: bool, sample_percent: u8) -> Result<(), AdminError> {
        if !(1..=100).contains(&sample_percent) {
            return Err(AdminError::Invalid(format!(
                "the share of speed beacons kept must be 1 to 100 percent, not {sample_percent}"
            )));
        }
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            site.collect.performance = on;
            site.collect.performance_sample_percent = sample_percent;
            Ok(site.domain.clone())
        })?;
        self.record("site.speed", Some(&domain), &format!("performance={on} sample_percent={sample_percent}"));
        Ok(())
    }

    /// Saves a site's settings page.
    pub fn update_site_settings(&self, domain: &str, settings: SiteSettings) -> Result<(), AdminError> {
        let retention_days = settings.retention_days.map(rules::retention_days).transpose()?;
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            site.collect = settings.collect.clone();
            site.respect_dnt = settings.respect_dnt;
            if let Some(days) = retention_days {
                site.retention_days = days;
            }
            Ok(site.domain.clone())
        })?;
        let detail = format!(
            "{domain}: respect_dnt={} retention_days={retention_days:?} {:?}",
            settings.respect_dnt, settings.collect
        );
        self.record("site.settings", Some(&domain), &detail);
        Ok(())
    }

    /// Adds a user with a `role`, reading only `site_domains` if a viewer; returns the
    /// password, generated unless given. Hashes the password: slow on purpose.
    pub fn add_user(
        &self,
        username: &str,
        role: Role,
        password: Option<String>,
        site_domains: &[String],
    ) -> Result<String, AdminError> {
        let username = rules::username(username)?;
        rules::may_grant(self.actor.role(), role)?;
        let password = password.unwrap_or_else(random_password);
        rules::password(&password, "passwords")?;
        let hash = hash_password(&password).map_err(|e| AdminError::storage(&e))?;
        self.update(|m| {
            if m.users.iter().any(|u| u.username == username) {
                return Err(AdminError::Conflict(format!("user {username} already exists")));
            }
            if m.users.is_empty() && role != Role::Owner {
                return Err(AdminError::Invalid("the first user must be an owner (--role owner)".into()));
            }
            let sites = site_ids(m, site_domains)?;
            if role == Role::Viewer && sites.is_empty() {
                return Err(AdminError::Invalid("a viewer needs at least one site".into()));
            }
            let user = User {
                username: username.to_owned(),
                password_hash: hash.clone(),
                role,
                sites,
                created_ms: self.now_ms,
            };
            m.users.push(user);
            Ok(())
        })?;
        self.record("user.add", None, &format!("{username} ({role:?}) sites {site_domains:?}"));
        Ok(password)
    }

    /// Removes a user (not oneself; owners only by owners). Their sessions are the caller's
    /// to end.
    pub fn remove_user(&self, username: &str) -> Result<(), AdminError> {
        if matches!(&self.actor, Actor::User { name, .. } if name == username) {
            return Err(AdminError::Invalid("you cannot remove yourself".into()));
        }
        self.update(|m| {
            let user = m.users.iter().find(|u| u.username == username);
            let user = user.ok_or_else(|| AdminError::NotFound(format!("no user {username:?}")))?;
            rules::may_remove(self.actor.role(), user.role)?;
            m.users.retain(|u| u.username != username);
            Ok(())
        })?;
        self.record("user.remove", None, username);
        Ok(())
    }

    /// Adds an API token; returns its id and its secret (shown once).
    pub fn add_token(
        &self,
        name: &str,
        scope: TokenScope,
        site_domains: &[String],
        expires_days: Option<u32>,
    ) -> Result<(String, String), AdminError> {
        let name = rules::token_name(name)?;
        let expires_days = rules::expiry_days(expires_days)?;
        let (secret, id) = self.update(|m| {
            let sites = site_ids(m, site_domains)?;
            let expires = rules::expires_ms(self.now_ms, expires_days);
            let (secret, record) = credentials::new_token(name, scope, sites, self.now_ms, expires);
            let id = record.id.clone();
            m.tokens.push(record);
            Ok((secret, id))
        })?;
        let expiry = expires_days.map_or("no expiry".to_owned(), |d| format!("expires in {d} days"));
        self.record("token.add", None, &format!("{id} {name} ({scope:?}, sites {site_domains:?}, {expiry})"));
        Ok((id, secret))
    }

    /// Removes an API token by its id (the `obs_…` prefix shown in lists).
    pub fn revoke_token(&self, id: &str) -> Result<(), AdminError> {
        self.update(|m| {
            let before = m.tokens.len();
            m.tokens.retain(|t| t.id != id);
            if m.tokens.len() == before {
                return Err(AdminError::NotFound(format!("no token with id {id:?}")));
            }
            Ok(())
        })?;
        self.record("token.revoke", None, id);
        Ok(())
    }

    /// Makes a shared read-only link to a site's dashboard; returns its id and token (shown
    /// once). A password, if any, is hashed: slow on purpose.
    pub fn add_share(
        &self,
        domain: &str,
        password: Option<&str>,
        expires_days: Option<u32>,
    ) -> Result<(String, String), AdminError> {
        if let Some(password) = password {
            rules::password(password, "link passwords")?;
        }
        let expires_days = rules::expiry_days(expires_days)?;
        // Reread: a site added by another process a moment ago must be found.
        let site = self.meta.reload().site_by_domain(domain).map(|s| s.id);
        let site = site.ok_or_else(|| AdminError::NotFound(format!("no site {domain:?}")))?;
        let expires = rules::expires_ms(self.now_ms, expires_days);
        let (token, share) =
            credentials::new_share(site, password, self.now_ms, expires).map_err(|e| AdminError::storage(&e))?;
        let id = share.id.clone();
        let domain = self.update(|m| {
            // The site may have gone while the password was hashed.
            let current = m.site(site).map(|s| s.domain.clone());
            let current = current.ok_or_else(|| AdminError::NotFound(format!("no site {domain:?}")))?;
            m.shares.push(share.clone());
            Ok(current)
        })?;
        let detail = format!("{domain}: {id} password={} expires_days={expires_days:?}", password.is_some());
        self.record("share.add", Some(&domain), &detail);
        Ok((id, token))
    }

    /// Revokes a shared link by its id.
    pub fn revoke_share(&self, id: &str) -> Result<(), AdminError> {
        let domain = self.update(|m| {
            let share = m.shares.iter().find(|s| s.id == id);
            let share = share.ok_or_else(|| AdminError::NotFound(format!("no shared link with id {id:?}")))?;
            let domain = m.site(share.site).map_or_else(|| "?".to_owned(), |s| s.domain.clone());
            m.shares.retain(|s| s.id != id);
            Ok(domain)
        })?;
        self.record("share.revoke", Some(&domain), &format!("{domain}: {id}"));
        Ok(())
    }

    /// Makes a new DSN key for a site, with which Sentry SDKs and the tracker's error part
    /// report; the old key stops working. Returns the key.
    pub fn new_error_key(&self, domain: &str) -> Result<String, AdminError> {
        let key = obscura_store::meta::new_error_key();
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            site.error_key = Some(key.clone());
            Ok(site.domain.clone())
        })?;
        self.record("site.dsn", Some(&domain), &format!("{domain}: a new DSN key"));
        Ok(key)
    }

    /// Adds a goal to a site: a page reached or a custom event sent.
    pub fn add_goal(&self, domain: &str, goal: Goal) -> Result<(), AdminError> {
        let goal = rules::goal(goal)?;
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            if site.goals.iter().any(|g| g.name == goal.name) {
                return Err(AdminError::Invalid(format!("{} already has a goal named {:?}", site.domain, goal.name)));
            }
            if site.goals.len() >= rules::MAX_GOALS {
                return Err(AdminError::Invalid(format!("a site has at most {} goals", rules::MAX_GOALS)));
            }
            site.goals.push(goal.clone());
            Ok(site.domain.clone())
        })?;
        self.record("goal.add", Some(&domain), &format!("{:?}: {:?}", goal.name, goal.target));
        Ok(())
    }

    /// Adds a funnel to a site: 2 to 8 ordered steps.
    pub fn add_funnel(&self, domain: &str, funnel: Funnel) -> Result<(), AdminError> {
        let funnel = rules::funnel(funnel)?;
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            if site.funnels.iter().any(|f| f.name == funnel.name) {
                return Err(AdminError::Invalid(format!(
                    "{} already has a funnel named {:?}",
                    site.domain, funnel.name
                )));
            }
            if site.funnels.len() >= rules::MAX_GOALS {
                return Err(AdminError::Invalid(format!("a site has at most {} funnels", rules::MAX_GOALS)));
            }
            site.funnels.push(funnel.clone());
            Ok(site.domain.clone())
        })?;
        self.record("funnel.add", Some(&domain), &format!("{:?}: {:?}", funnel.name, funnel.steps));
        Ok(())
    }

    /// Removes a site's funnel by name.
    pub fn remove_funnel(&self, domain: &str, name: &str) -> Result<(), AdminError> {
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            let before = site.funnels.len();
            site.funnels.retain(|f| f.name != name);
            if site.funnels.len() == before {
                return Err(AdminError::NotFound(format!("{} has no funnel named {name:?}", site.domain)));
            }
            Ok(site.domain.clone())
        })?;
        self.record("funnel.remove", Some(&domain), &format!("{name:?}"));
        Ok(())
    }

    /// Removes a site's goal by name.
    pub fn remove_goal(&self, domain: &str, name: &str) -> Result<(), AdminError> {
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            let before = site.goals.len();
            site.goals.retain(|g| g.name != name);
            if site.goals.len() == before {
                return Err(AdminError::NotFound(format!("{} has no goal named {name:?}", site.domain)));
            }
            Ok(site.domain.clone())
        })?;
        self.record("goal.remove", Some(&domain), &format!("{name:?}"));
        Ok(())
    }

    /// Marks an issue of a site open, resolved or ignored.
    pub fn set_issue_status(&self, domain: &str, fingerprint: &str, status: IssueStatus) -> Result<(), AdminError> {
        rules::issue(fingerprint)?;
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            let (id, domain) = (site.id, site.domain.clone());
            m.set_issue_status(id, fingerprint, status, self.now_ms);
            Ok(domain)
        })?;
        self.record("issue.status", Some(&domain), &format!("{domain}: {fingerprint} {}", status.as_str()));
        Ok(())
    }

    /// Opens a diagnostics request on an issue: clients that meet it are told, ask the person
    /// with `purpose`, and with their consent send the detail in `wants`, for `days` days or
    /// `max_reports` reports. Returns the request's id.
    pub fn open_diagnostics(
        &self,
        domain: &str,
        fingerprint: &str,
        purpose: &str,
        wants: &[DetailKind],
        days: u32,
        max_reports: u32,
    ) -> Result<String, AdminError> {
        rules::issue(fingerprint)?;
        let purpose = purpose.trim();
        if purpose.is_empty() || purpose.chars().count() > 500 {
            return Err(AdminError::Invalid(
                "the purpose, shown to the person asked, takes 1 to 500 characters".into(),
            ));
        }
        if wants.is_empty() {
            return Err(AdminError::Invalid("ask for breadcrumbs, extra context or both".into()));
        }
        if !(1..=90).contains(&days) || !(1..=1000).contains(&max_reports) {
            return Err(AdminError::Invalid(format!(
                "a diagnostics request runs 1 to 90 days and takes 1 to 1000 reports, not {days} days and {max_reports}"
            )));
        }
        let id = hex::encode(rand::random::<[u8; 8]>());
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            let (site_id, domain) = (site.id, site.domain.clone());
            let now = self.now_ms;
            if m.open_diagnostics(site_id, fingerprint, now).is_some() {
                return Err(AdminError::Conflict("this issue has an open diagnostics request already".into()));
            }
            if m.diagnostics.iter().filter(|d| d.site == site_id && d.is_open(now)).count() >= MAX_OPEN_DIAGNOSTICS {
                return Err(AdminError::Invalid(format!(
                    "a site has at most {MAX_OPEN_DIAGNOSTICS} open diagnostics requests"
                )));
            }
            // Requests that ended a retention ago say nothing anyone can still read.
            m.diagnostics.retain(|d| d.is_open(now) || now - d.expires_ms < 90 * 86_400_000);
            m.diagnostics.push(DiagnosticsRequest {
                id: id.clone(),
                site: site_id,
                fingerprint: fingerprint.to_owned(),
                purpose: purpose.to_owned(),
                wants: wants.to_vec(),
                created_ms: now,
                expires_ms: now + i64::from(days) * 86_400_000,
                max_reports,
                received: 0,
                tokens: Vec::new(),
                closed: false,
            });
            Ok(domain)
        })?;
        let kinds: Vec<&str> = wants.iter().map(|w| w.as_str()).collect();
        let detail =
            format!("{domain}: {fingerprint} {id} wants {} for {days} days, {max_reports} reports", kinds.join("+"));
        self.record("diagnostics.open", Some(&domain), &detail);
        Ok(id)
    }

    /// Closes a diagnostics request: no more consents or reports for it.
    pub fn close_diagnostics(&self, domain: &str, id: &str) -> Result<(), AdminError> {
        let domain = self.update(|m| {
            let site = site_mut(m, domain)?;
            let (site_id, domain) = (site.id, site.domain.clone());
            let request = m
                .diagnostics
                .iter_mut()
                .find(|d| d.site == site_id && d.id == id)
                .ok_or_else(|| AdminError::NotFound(format!("no diagnostics request {id:?}")))?;
            request.closed = true;
            request.tokens.clear();
            Ok(domain)
        })?;
        self.record("diagnostics.close", Some(&domain), &format!("{domain}: {id}"));
        Ok(())
    }

    /// One metadata change: rule failures inside come back as they are, anything else is a
    /// storage failure. Nothing is written when the change fails.
    fn update<R>(&self, mut change: impl FnMut(&mut Metadata) -> Result<R, AdminError>) -> Result<R, AdminError> {
        self.meta.update(|m| change(m).map_err(anyhow::Error::from)).map_err(AdminError::from_update)
    }

    /// Records a done action. The action stands even when its entry cannot be written: failing
    /// it then would hide a change already saved (a new password or token shown nowhere, a removed
    /// user's sessions left open), so the failure goes to the server's log for the operator.
    fn record(&self, action: &str, site: Option<&str>, detail: &str) {
        let Some(audit) = self.audit else { return };
        let actor = self.actor.audit_name();
        let entry = AuditEntry { ts_ms: self.now_ms, actor: &actor, action, site, detail };
        if let Err(e) = audit.append(entry) {
            tracing::error!(action, "done, but the audit log could not be written: {e:#}");
        }
    }
}

fn site_mut<'m>(m: &'m mut Metadata, domain: &str) -> Result<&'m mut Site, AdminError> {
    let wanted = normalize_domain(domain);
    m.sites.iter_mut().find(|s| s.domain == wanted).ok_or_else(|| AdminError::NotFound(format!("no site {domain:?}")))
}

fn site_ids(m: &Metadata, domains: &[String]) -> Result<Vec<u32>, AdminError> {
    domains
        .iter()
        .map(|d| m.site_by_domain(d).map(|s| s.id).ok_or_else(|| AdminError::Invalid(format!("unknown site {d:?}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use obscura_store::audit::AuditLog;
    use obscura_store::crypto::Key;
    use obscura_store::meta::MetaStore;

    use super::*;

    struct Folder {
        _dir: tempfile::TempDir,
        meta: MetaStore,
        audit: AuditLog,
    }

    fn folder() -> Folder {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = Key::random();
        let meta = MetaStore::open(dir.path(), key.clone()).expect("metadata");
        let audit = AuditLog::open(dir.path(), key).expect("audit log");
        Folder { _dir: dir, meta, audit }
    }

    fn admin_user(f: &Folder) -> AdminService<'_> {
        AdminService::new(&f.meta, &f.audit, Actor::User { name: "ada".into(), role: Role::Admin }, 1_000)
    }

    #[test]
    fn admin_actions_follow_one_set_of_rules_and_leave_audit_entries() {
        let f = folder();
        let cli = AdminService::new(&f.meta, &f.audit, Actor::Cli, 1_000);
        assert!(
            matches!(cli.add_user("ana", Role::Viewer, None, &[]), Err(AdminError::Invalid(m)) if m.contains("first user"))
        );
        cli.add_user("olga", Role::Owner, Some("owner password".into()), &[]).expect("first owner");
        let site = cli.add_site("Example.COM", false, 30).expect("site");
        assert_eq!((site.domain.as_str(), site.respect_dnt), ("example.com", false));
        assert!(matches!(cli.add_site("example.com", true, 30), Err(AdminError::Conflict(_))));
        assert!(matches!(cli.add_site("not a domain", true, 30), Err(AdminError::Invalid(_))));

        let admin = admin_user(&f);
        assert_eq!(
            admin.add_user("otto", Role::Owner, None, &[]),
            Err(AdminError::Forbidden("only owners make owners".into()))
        );
        assert!(matches!(admin.add_user("vera", Role::Viewer, None, &[]), Err(AdminError::Invalid(_))));
        assert!(matches!(
            admin.add_user("vera", Role::Viewer, None, &["nowhere.example".into()]),
            Err(AdminError::Invalid(_))
        ));
        let password = admin.add_user(" vera ", Role::Viewer, None, &["example.com".into()]).expect("viewer");
        assert_eq!(password.chars().count(), 16);
        assert!(matches!(admin.add_user("vera", Role::Analyst, None, &[]), Err(AdminError::Conflict(_))));
        assert_eq!(admin.remove_user("olga"), Err(AdminError::Forbidden("only owners remove owners".into())));
        assert!(matches!(admin.remove_user("ada"), Err(AdminError::Invalid(_))));
        assert!(matches!(admin.remove_user("nobody"), Err(AdminError::NotFound(_))));
        admin.remove_user("vera").expect("remove");

        assert!(matches!(admin.add_token(" ", TokenScope::Read, &[], None), Err(AdminError::Invalid(_))));
        assert!(matches!(admin.add_token("ci", TokenScope::Read, &[], Some(0)), Err(AdminError::Invalid(_))));
        let (token_id, secret) =
            admin.add_token("ci", TokenScope::Read, &["example.com".into()], Some(30)).expect("token");
        assert!(secret.starts_with(&token_id));
        assert!(matches!(admin.revoke_token("obs_nope"), Err(AdminError::NotFound(_))));
        admin.revoke_token(&token_id).expect("revoke token");

        assert!(matches!(admin.add_share("example.com", Some("short"), None), Err(AdminError::Invalid(_))));
        assert!(matches!(admin.add_share("nowhere.example", None, None), Err(AdminError::NotFound(_))));
        let (share_id, _) = admin.add_share("example.com", None, Some(7)).expect("share");
        admin.revoke_share(&share_id).expect("revoke share");
        assert!(matches!(admin.revoke_share(&share_id), Err(AdminError::NotFound(_))));

        assert!(matches!(admin.set_retention("example.com", 0), Err(AdminError::Invalid(_))));
        admin.set_retention("example.com", 90).expect("retention");
        assert_eq!(f.meta.get().site_by_domain("example.com").map(|s| s.retention_days), Some(90));

        let actions: Vec<(String, String)> =
            f.audit.read_all().expect("audit").into_iter().map(|r| (r.actor, r.action)).collect();
        let expected = [
            ("cli", "user.add"),
            ("cli", "site.add"),
            ("user:ada", "user.add"),
            ("user:ada", "user.remove"),
            ("user:ada", "token.add"),
            ("user:ada", "token.revoke"),
            ("user:ada", "share.add"),
            ("user:ada", "share.revoke"),
            ("user:ada", "site.retention"),
        ];
        let expected: Vec<(String, String)> = expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(actions, expected, "refused actions leave no entry");
    }

    #[test]
    fn seeding_leaves_no_audit_entry() {
        let f = folder();
        let seed = AdminService::seeding(&f.meta, 0);
        seed.add_site("example.com", true, 30).expect("site");
        seed.add_user("olga", Role::Owner, None, &[]).expect("owner");
        assert!(f.audit.read_all().expect("audit").is_empty());
    }
}
