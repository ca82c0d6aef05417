//! `obscura`: privacy-first analytics in one binary.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use obscura_model::SystemClock;
use obscura_store::meta::{Role, TokenScope};

/// mimalloc: glibc malloc contends between threads under ingest load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use obscura::config::Config;
use obscura::{admin, app, bench, demo};

#[derive(Parser)]
#[command(name = "obscura", version, about = "Privacy-first analytics, performance monitoring and error reporting")]
struct Cli {
    /// Configuration file (default: ./obscura.toml if present).
    #[arg(long, global = true, env = "OBSCURA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Where events are stored (overrides `backend` in the configuration).
        #[arg(long, value_enum)]
        backend: Option<obscura::config::Backend>,
    },
    /// Run a demo: a fresh store with a demo site and 30 days of generated traffic.
    Demo(demo::DemoArgs),
    /// Manage sites.
    #[command(subcommand)]
    Site(SiteCmd),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// A site's goals: pages reached and custom events sent, counted as conversions.
    #[command(subcommand)]
    Goal(GoalCmd),
    /// A site's funnels: 2 to 8 steps taken in order within a visit.
    #[command(subcommand)]
    Funnel(FunnelCmd),
    /// Check the configuration, the master key and the data files.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Shared read-only links to a site's dashboard.
    #[command(subcommand)]
    Share(ShareCmd),
    /// The audit log of data reads and admin actions.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Scrub text from stdin, line by line, and show what was found: for testing scrub rules.
    Scrub {
        /// Also apply this site's configured rules (`[[scrub.rules]]`).
        #[arg(long)]
        site: Option<String>,
        /// The field the text stands for, for rules limited to some fields.
        #[arg(long, default_value = "property", value_parser = parse_field)]
        field: obscura_privacy::scrub::Field,
    },
    /// Classify requests as human, suspicious or automated: request descriptions as JSON lines
    /// on stdin (`{"user_agent": …, "hints": {…}, "ja4": …, "signals": …, "asn": …}`), one
    /// decision with its reasons per line on stdout.
    Classify,
    /// Show Obscura's own access log (kept 72 hours, encrypted); the reading is audited.
    Logs {
        /// How many hours back (at most 73: older lines no longer exist).
        #[arg(long, default_value_t = 24)]
        hours: i64,
        /// Only requests from this IP address.
        #[arg(long)]
        ip: Option<String>,
    },
    /// Import a site's history: access logs (`obscura import logs`), Plausible's CSV export
    /// (`obscura import plausible`), Umami's data export (`obscura import umami`), another
    /// Obscura's full-site export (`obscura import obscura`). The server must be stopped while importing.
    #[command(subcommand)]
    Import(obscura::import::ImportCmd),
    /// Export a breakdown or time series as CSV or Parquet (`obscura export table`), or a whole
    /// site for another installation (`obscura export site`). The server must be stopped.
    #[command(subcommand)]
    Export(obscura::export::ExportCmd),
    /// Benchmarks (figures go in BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

/// `--field url|referrer|event_name|property|error|log`.
fn parse_field(name: &str) -> Result<obscura_privacy::scrub::Field, String> {
    use obscura_privacy::scrub::Field;
    Field::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
        let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        format!("one of {}", names.join(", "))
    })
}

#[derive(Subcommand)]
enum FunnelCmd {
    /// Add a funnel: `--step page=/pricing --step event=signup,plan=pro` (2 to 8 steps, in
    /// order; `page~=text` for any path containing the text).
    Add {
        /// The site's domain.
        site: String,
        /// The funnel's name, as the dashboard shows it.
        #[arg(long)]
        name: String,
        /// A step, in order (repeat 2 to 8 times).
        #[arg(long = "step", required = true)]
        steps: Vec<String>,
    },
    /// List a site's funnels.
    List {
        /// The site's domain.
        site: String,
    },
    /// Remove a funnel by name.
    Remove {
        /// The site's domain.
        site: String,
        /// The funnel's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum GoalCmd {
    /// Add a goal: `--page /thanks` (or `--page /blog/ --contains`), or `--event signup`
    /// (with `--property plan=pro`).
    Add {
        /// The site's domain.
        site: String,
        /// The goal's name, as the dashboard shows it.
        #[arg(long)]
        name: String,
        /// A page view of this path reaches it.
        #[arg(long, conflicts_with = "event", required_unless_present = "event")]
        page: Option<String>,
        /// Any path containing `--page` reaches it, not only that path.
        #[arg(long, requires = "page")]
        contains: bool,
        /// A custom event of this name reaches it.
        #[arg(long)]
        event: Option<String>,
        /// Only events with this property value (`key=value`).
        #[arg(long, requires = "event")]
        property: Option<String>,
    },
    /// List a site's goals.
    List {
        /// The site's domain.
        site: String,
    },
    /// Remove a goal by name.
    Remove {
        /// The site's domain.
        site: String,
        /// The goal's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum SiteCmd {
    /// Add a site by its domain.
    Add {
        domain: String,
        /// Count visitors who send Global Privacy Control or Do-Not-Track (not recommended).
        #[arg(long)]
        ignore_dnt: bool,
        /// Days to keep per-event data (default: `retention_days` of the configuration, 30).
        #[arg(long)]
        retention_days: Option<u32>,
    },
    /// Set how many days a site keeps per-event data; older days are destroyed within the hour.
    Retention { domain: String, days: u32 },
    /// Accept speed beacons (web vitals, CDN timings) of the tracker's performance part for a
    /// site, keeping a share of them on busy sites; `--off` stops accepting them.
    Speed {
        domain: String,
        /// Stop accepting speed beacons.
        #[arg(long)]
        off: bool,
        /// Percent of speed beacons kept (1 to 100).
        #[arg(long, default_value_t = 100)]
        sample: u8,
    },
    /// Print the DSN with which Sentry SDKs report a site's errors (`--new`: make a new key; the
    /// old one stops working).
    Dsn {
        domain: String,
        /// Make a new key.
        #[arg(long)]
        new: bool,
    },
    /// List sites.
    List,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user. The first user must be an owner. Prints a generated password unless
    /// --password-stdin is given.
    Add {
        username: String,
        #[arg(long, default_value = "owner", value_parser = ["owner", "admin", "analyst", "viewer"])]
        role: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Sites a viewer may read (repeatable).
        #[arg(long = "site")]
        sites: Vec<String>,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an API token; it is shown once.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "read", value_parser = ["read", "ingest", "admin"])]
        scope: String,
        /// Limit the token to these sites (repeatable); default all.
        #[arg(long = "site")]
        sites: Vec<String>,
        /// Expire after this many days.
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List tokens (ids, names, scopes; never the secrets).
    List,
    /// Revoke a token by its id.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum ShareCmd {
    /// Create a link; its URL is shown once.
    Add {
        #[arg(long)]
        site: String,
        /// Also require a password, read from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Expire after this many days.
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List links (ids, sites, expiry; never the tokens).
    List,
    /// Revoke a link by its id.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the hash chain of every record; exits non-zero if a record was altered or removed.
    Verify,
    /// Print the last records.
    List {
        #[arg(long, default_value_t = 50)]
        last: usize,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Load everything the server would load and report problems.
    Check,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OBSCURA_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Records an administrative action taken from the command line.
fn record(
    audit: &dyn obscura_store::audit::AuditTrail,
    action: &str,
    site: Option<&str>,
    detail: &str,
) -> anyhow::Result<()> {
    let ts_ms = obscura_model::Clock::now_ms(&SystemClock);
    audit.append(obscura_store::audit::AuditEntry { ts_ms, actor: "cli", action, site, detail })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Demo(args) = cli.command {
        return runtime()?.block_on(demo::run(args));
    }
    if let Command::Bench(cmd) = cli.command {
        return runtime()?.block_on(bench::run(cmd));
    }
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Import(cmd) => runtime()?.block_on(async {
            app::without_huge_pages();
            let app = app::open(&config, Arc::new(SystemClock)).await?;
            obscura::import::run(app, cmd).await
        }),
        Command::Export(cmd) => runtime()?.block_on(async {
            app::without_huge_pages();
            let app = app::open(&config, Arc::new(SystemClock)).await?;
            obscura::export::run(app, cmd).await
        }),
        Command::Serve { backend } => runtime()?.block_on(async {
            if let Some(backend) = backend {
                config.backend = backend;
                config.validate()?;
            }
            let app = app::open(&config, Arc::new(SystemClock)).await?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let scheme = if app.tls.is_some() { "https" } else { "http" };
            tracing::info!("Obscura listening on {scheme}://{}", listener.local_addr()?);
            app::serve(app, listener).await
        }),
        Command::Site(SiteCmd::Add { domain, ignore_dnt, retention_days }) => {
            let (meta, audit) = app::open_meta(&config)?;
            let site = admin::cli(&*meta, &*audit).add_site(
                &domain,
                !ignore_dnt,
                retention_days.unwrap_or(config.retention_days),
            )?;
            println!("added site {} (id {})", site.domain, site.id);
            println!(
                "tracker: <script defer data-site=\"{}\" src=\"http://{}/js/obscura.js\"></script>",
                site.domain, config.listen
            );
            Ok(())
        }
        Command::Site(SiteCmd::Retention { domain, days }) => {
            let (meta, audit) = app::open_meta(&config)?;
            admin::cli(&*meta, &*audit).set_retention(&domain, days)?;
            println!("{domain} keeps per-event data {days} days");
            Ok(())
        }
        Command::Site(SiteCmd::Speed { domain, off, sample }) => {
            let (meta, audit) = app::open_meta(&config)?;
            admin::cli(&*meta, &*audit).set_speed(&domain, !off, sample)?;
            if off {
                println!("{domain} no longer accepts speed beacons");
            } else {
                println!(
                    "{domain} accepts speed beacons, keeping {sample}% of them; add /js/perf.js beside the tracker"
                );
            }
            Ok(())
        }
        Command::Site(SiteCmd::Dsn { domain, new }) => {
            let (meta, audit) = app::open_meta(&config)?;
            let existing = meta.get().site_by_domain(&domain).map(|s| s.error_key.clone());
            let key = match existing {
                None => anyhow::bail!("no site {domain:?}: add it with `obscura site add {domain}`"),
                Some(Some(key)) if !new => key,
                Some(_) => admin::cli(&*meta, &*audit).new_error_key(&domain)?,
            };
            let id = meta.get().site_by_domain(&domain).map_or(0, |s| s.id);
            let base = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen));
            let (scheme, host) = base.split_once("://").unwrap_or(("http", base.as_str()));
            println!("{scheme}://{key}@{}/{id}", host.trim_end_matches('/'));
            Ok(())
        }
        Command::Site(SiteCmd::List) => {
            for s in &app::open_meta(&config)?.0.get().sites {
                println!("{}\t{}\trespect_dnt={}\tretention_days={}", s.id, s.domain, s.respect_dnt, s.retention_days);
            }
            Ok(())
        }
        Command::User(UserCmd::Add { username, role, password_stdin, sites }) => {
            let role = Role::parse(&role).expect("clap restricts the values");
            let given = if password_stdin { Some(admin::read_password_stdin()?) } else { None };
            let (meta, audit) = app::open_meta(&config)?;
            let password = admin::cli(&*meta, &*audit).add_user(&username, role, given.clone(), &sites)?;
            println!("added user {username}");
            if given.is_none() {
                println!("password (shown once): {password}");
            }
            Ok(())
        }
        Command::Goal(GoalCmd::Add { site, name, page, contains, event, property }) => {
            use obscura_store::meta::{Goal, GoalTarget};
            let target = match (page, event) {
                (Some(path), _) => GoalTarget::Page { path, contains },
                (None, Some(name)) => {
                    let property = property.as_deref().map(obscura_admin::rules::property).transpose()?;
                    GoalTarget::Event { name, property }
                }
                (None, None) => anyhow::bail!("a goal needs --page or --event"),
            };
            let (meta, audit) = app::open_meta(&config)?;
            admin::cli(&*meta, &*audit).add_goal(&site, Goal { name: name.clone(), target })?;
            println!("goal {name:?} added to {site}");
            Ok(())
        }
        Command::Goal(GoalCmd::List { site }) => {
            let (meta, _) = app::open_meta(&config)?;
            let meta = meta.get();
            let found = meta.site_by_domain(&site).ok_or_else(|| anyhow::anyhow!("no site {site:?}"))?;
            for g in &found.goals {
                println!("{}\t{}", g.name, g.target);
            }
            Ok(())
        }
        Command::Goal(GoalCmd::Remove { site, name }) => {
            let (meta, audit) = app::open_meta(&config)?;
            admin::cli(&*meta, &*audit).remove_goal(&site, &name)?;
            println!("goal {name:?} removed from {site}");
            Ok(())
        }
        Command::Funnel(FunnelCmd::Add { site, name, steps }) => {
            let steps = steps.iter().map(|s| obscura_admin::rules::target(s)).collect::<Result<Vec<_>, _>>()?;
            let (meta, audit) = app::open_meta(&config)?;
            admin::cli(&*meta, &*audit).add_funnel(&site, obscura_store::meta::Funnel { name: name.clone(), steps })?;
            println!("funnel {name:?} added to {site}");
            Ok(())
        }
        Command::Funnel(FunnelCmd::List { site }) => {
            let (meta, _) = app::open_meta(&config)?;
            let meta = meta.get();
            let found = meta.site_by_domain(&site).ok_or_else(|| anyhow::anyhow!("no site {site:?}"))?;
            for f in &found.funnels {
                let steps: Vec<String> = f.steps.iter().map(ToString::to_string).collect();
                println!("{}\t{}", f.name, steps.join(" → "));
            }
            Ok(())
        }
        Command::Funnel(FunnelCmd::Remove { site, name }) => {
            let (meta, audit) = app::open_meta(&config)?;
            admin::cli(&*meta, &*audit).remove_funnel(&site, &name)?;
            println!("funnel {name:?} removed from {site}");
            Ok(())
        }
        Command::Token(TokenCmd::Add { name, scope, sites, expires_days }) => {
            let scope = match scope.as_str() {
                "ingest" => TokenScope::Ingest,
                "admin" => TokenScope::Admin,
                _ => TokenScope::Read,
            };
            let (meta, audit) = app::open_meta(&config)?;
            let (_, secret) = admin::cli(&*meta, &*audit).add_token(&name, scope, &sites, expires_days)?;
            println!("token (shown once, stored only as a hash): {secret}");
            Ok(())
        }
        Command::Token(TokenCmd::List) => {
            let (meta, _) = app::open_meta(&config)?;
            for t in &meta.get().tokens {
                let expires = t.expires_ms.map_or("never".to_owned(), obscura_model::format_ms);
                println!("{}\t{}\t{:?}\tsites {:?}\texpires {expires}", t.id, t.name, t.scope, t.sites);
            }
            Ok(())
        }
        Command::Token(TokenCmd::Revoke { id }) => {
            let (meta, audit) = app::open_meta(&config)?;
            admin::cli(&*meta, &*audit).revoke_token(&id)?;
            println!("revoked {id}");
            Ok(())
        }
        Command::Scrub { site, field } => scrub_stdin(&config, site.as_deref(), field),
        Command::Classify => {
            let robots = config.enrich.robot_names()?;
            if robots.patterns() == 0 {
                eprintln!("warning: no robot User-Agent lists (run scripts/fetch-data, or set [enrich] robot_lists)");
            }
            let classifier = obscura_enrich::bots::Classifier::new(robots);
            let tally = obscura::classify::run(&classifier, std::io::stdin().lock(), std::io::stdout().lock())?;
            eprintln!(
                "{} human, {} suspicious, {} automated, {} lines not read",
                tally.human, tally.suspicious, tally.automated, tally.errors
            );
            if tally.errors > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Config(ConfigCmd::Check) => {
            println!("listen: {}", config.listen);
            println!("data folder: {}", config.data_dir.display());
            let (meta, audit) = app::open_meta(&config)?;
            println!("audit log: {} records, chain intact", audit.verify()?);
            println!(
                "master key: ok ({})",
                if config.master_key_hex.is_some() {
                    "OBSCURA_MASTER_KEY".to_owned()
                } else {
                    config.master_key_file.display().to_string()
                }
            );
            let m = meta.get();
            println!("metadata: ok ({} sites, {} users, {} tokens)", m.sites.len(), m.users.len(), m.tokens.len());
            let enricher = app::load_enricher(&config)?;
            println!("geo databases: {:?}", config.enrich.geo_databases);
            println!("network operator databases: {:?}", config.enrich.asn_databases);
            println!(
                "user agents: {}",
                if enricher.user_agents.is_builtin() {
                    "built-in parser (no regexes.yaml)".to_owned()
                } else {
                    format!("{:?}", config.enrich.user_agent_regexes)
                }
            );
            if m.users.is_empty() {
                println!("warning: no users yet; create the first owner with `obscura user add NAME`");
            }
            println!("configuration ok");
            Ok(())
        }
        Command::Share(ShareCmd::Add { site, password_stdin, expires_days }) => {
            let password = if password_stdin { Some(admin::read_password_stdin()?) } else { None };
            let (meta, audit) = app::open_meta(&config)?;
            let (id, token) = admin::cli(&*meta, &*audit).add_share(&site, password.as_deref(), expires_days)?;
            println!("shared link {id} (shown once): http://{}/share/{token}", config.listen);
            Ok(())
        }
        Command::Share(ShareCmd::List) => {
            let (meta, _) = app::open_meta(&config)?;
            let m = meta.get();
            for s in &m.shares {
                let site = m.site(s.site).map_or("?", |s| s.domain.as_str());
                let expires = s.expires_ms.map_or("never".to_owned(), obscura_model::format_ms);
                println!("{}\t{site}\tpassword={}\texpires {expires}", s.id, s.password_hash.is_some());
            }
            Ok(())
        }
        Command::Share(ShareCmd::Revoke { id }) => {
            let (meta, audit) = app::open_meta(&config)?;
            admin::cli(&*meta, &*audit).revoke_share(&id)?;
            println!("revoked {id}");
            Ok(())
        }
        Command::Audit(AuditCmd::Verify) => {
            let (_, audit) = app::open_meta(&config)?;
            let n = audit.verify()?;
            println!("audit log intact: {n} records");
            Ok(())
        }
        Command::Audit(AuditCmd::List { last }) => {
            let (_, audit) = app::open_meta(&config)?;
            for r in audit.read_last(last)? {
                let when = obscura_model::format_ms(r.ts_ms);
                println!(
                    "{}\t{when}\t{}\t{}\t{}\t{}",
                    r.seq,
                    r.actor,
                    r.action,
                    r.site.as_deref().unwrap_or("-"),
                    r.detail
                );
            }
            Ok(())
        }
        Command::Logs { hours, ip } => show_access_log(&config, hours, ip.as_deref()),
        Command::Demo(_) | Command::Bench(_) => unreachable!("handled above"),
    }
}

/// `obscura logs`: the access log, streamed oldest first (never held in memory whole). The
/// reading is audited, and that it was filtered by address — never the address (P2, P8).
fn show_access_log(config: &Config, hours: i64, ip: Option<&str>) -> anyhow::Result<()> {
    use std::io::Write;
    use std::ops::ControlFlow;
    let ip = ip
        .map(|text| text.trim().parse::<std::net::IpAddr>().map(|ip| ip.to_canonical().to_string()))
        .transpose()
        .map_err(|_| anyhow::anyhow!("--ip takes an IP address such as 203.0.113.7 or 2001:db8::1"))?;
    let (_, audit) = app::open_meta(config)?;
    let key = obscura_store::crypto::load_master_key(&config.master_key_source(), &config.data_dir)?;
    let log = app::open_access_log(config, key, time::OffsetDateTime::now_utc())?;
    let since = time::OffsetDateTime::now_utc() - time::Duration::hours(hours.clamp(0, 73));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut shown, mut written) = (0u64, Ok(()));
    let read = log.for_each(since, |l| {
        if ip.as_ref().is_some_and(|ip| &l.ip != ip) {
            return ControlFlow::Continue(());
        }
        shown += 1;
        let when = obscura_model::format_ms(l.ts_ms);
        let dropped = if l.dropped > 0 {
            format!("\t({} requests over budget not written before this one)", l.dropped)
        } else {
            String::new()
        };
        written = writeln!(
            out,
            "{when}\t{}\t{} {}\t{}\t{}\t{}\t{}{dropped}",
            l.ip, l.method, l.path, l.status, l.user_agent, l.referer, l.forwarded
        );
        if written.is_err() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    // Recorded even when the reading failed part-way.
    let filtered = if ip.is_some() { "yes" } else { "no" };
    record(&*audit, "logs.read", None, &format!("{hours} hours, address filter: {filtered}, {shown} lines"))?;
    read?;
    written?;
    Ok(out.flush()?)
}

/// `obscura scrub`: each input line, scrubbed, followed by one indented line per finding.
fn scrub_stdin(config: &Config, site: Option<&str>, field: obscura_privacy::scrub::Field) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let rules = config.scrub.site_rules()?;
    let extra = site.and_then(|s| rules.for_site(&s.to_lowercase()));
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let report = obscura_privacy::scrub::report(&line?);
        let mut findings = report.findings;
        let mut text = report.text;
        if let Some(extra) = extra {
            let more = extra.scrub_normalized(&text, Some(field));
            findings.extend(more.findings);
            text = more.text;
        }
        writeln!(out, "{text}")?;
        for f in findings {
            writeln!(out, "  {:<14} {:?} -> {}", f.rule, f.found, f.replacement)?;
        }
    }
    Ok(())
}
