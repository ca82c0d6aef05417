//! `obscura demo`: a working dashboard for a newcomer, with no setup.
//!
//! Makes a store in a folder (a new temporary one by default), a demo site, 30 days of
//! generated traffic (page views, speed beacons and error reports) sent through the real
//! enrich → desensitize pipeline, and a one-time admin login; then serves.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use obscura_model::{Clock, SystemClock};
use obscura_store::meta::Role;
use time::Duration;

use crate::admin;
use crate::app::{self, App};
use crate::config::Config;
use crate::traffic::TrafficGenerator;

/// The domain of the demo site.
pub const DEMO_SITE: &str = "demo.obscura.test";

/// The options of `obscura demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Folder for the demo's data and key (default: a new temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: std::net::SocketAddr,
    /// Days of generated history.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Typical visitors per weekday.
    #[arg(long, default_value_t = 600)]
    pub visitors_per_day: usize,
    /// Generate the data, print the login, and exit without serving.
    #[arg(long)]
    pub no_serve: bool,
}

/// Generates `days` days of traffic up to now (or, without `include_today`, the `days` whole
/// days before today) and imports it; returns the number of events.
pub async fn generate_history(
    app: &App,
    domain: &str,
    days: u32,
    visitors_per_day: usize,
    seed: u64,
    include_today: bool,
) -> anyhow::Result<usize> {
    let site = app.pipeline.resolve_site(domain)?;
    let now = SystemClock.now();
    let speed = site.collect.performance;
    let mut traffic = TrafficGenerator::new(domain, seed);
    if speed {
        traffic = traffic.with_speed();
    }
    let mut total = 0;
    let skip = u32::from(!include_today);
    for back in (skip..days + skip).rev() {
        let day = now.date() - Duration::days(i64::from(back));
        let visitors = traffic.visitors_for(day, visitors_per_day);
        let hits = traffic.day(day, visitors, Some(now));
        let mut events = Vec::with_capacity(hits.len());
        // About one page view in 60 meets a bug, reported as a browser SDK would.
        let reports: Vec<(obscura_ingest::decode::RequestContext, obscura_model::raw_error::RawError)> = hits
            .iter()
            .filter(|h| h.kind == obscura_model::EventKind::Pageview)
            .step_by(60)
            .map(|h| {
                let ctx = obscura_ingest::decode::RequestContext {
                    received_at: h.received_at,
                    ip: h.ip,
                    headers: h.headers.clone(),
                    opted_out: false,
                    ja4: None,
                };
                (ctx, traffic.error_report(&h.url))
            })
            .collect();
        for (ctx, report) in reports {
            events.push(
                app.pipeline.prepare_error(report, &ctx, &site).context("a generated error report was rejected")?,
            );
        }
        for hit in hits {
            if hit.kind == obscura_model::EventKind::Measure {
                events.extend(
                    app.pipeline.prepare_measures(hit, &site).context("a generated speed beacon was rejected")?,
                );
            } else {
                events.push(app.pipeline.prepare(hit, &site).context("generated traffic was rejected")?);
            }
        }
        total += events.len();
        app.store.import(events).await?;
        eprint!("\rgenerating traffic: day {}/{days}, {total} events", days + skip - back);
    }
    eprintln!();
    Ok(total)
}

/// `obscura demo`: opens a store in the folder; when it is new, adds the demo site, an owner `admin` and the
/// generated history, and prints the login once; then serves (unless `--no-serve`).
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = match args.dir {
        Some(d) => d,
        None => {
            let d = std::env::temp_dir().join(format!("obscura-demo-{}", hex_id()));
            std::fs::create_dir_all(&d)?;
            d
        }
    };
    let mut config = Config::load(None)?;
    config.listen = args.listen;
    config.data_dir = dir.join("data");
    config.master_key_file = dir.join("master.key");
    config.master_key_hex = None;
    let app = app::open(&config, Arc::new(SystemClock)).await?;
    let fresh = app.meta.get().site_by_domain(DEMO_SITE).is_none();
    let password = if fresh {
        admin::add_site(&*app.meta, DEMO_SITE, true, obscura_store::meta::DEFAULT_RETENTION_DAYS)?;
        admin::set_speed(&*app.meta, DEMO_SITE, true, 100)?;
        add_demo_goals(&*app.meta)?;
        let password = admin::add_user(&*app.meta, "admin", Role::Owner, None)?;
        let events = generate_history(&app, DEMO_SITE, args.days, args.visitors_per_day, 42, true).await?;
        eprintln!("imported {events} events for {DEMO_SITE}");
        Some(password)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (use --listen to pick another address)", config.listen))?;
    let url = format!("http://{}/", listener.local_addr()?);
    println!();
    println!("Obscura demo is ready: {url}");
    match password {
        Some(p) => println!("log in as: admin / {p}   (shown once)"),
        None => println!("log in with the admin password printed when {} was created", dir.display()),
    }
    println!("data folder: {} (encrypted; key in {})", config.data_dir.display(), config.master_key_file.display());
    println!("tracker snippet: <script defer data-site=\"{DEMO_SITE}\" src=\"{url}js/obscura.js\"></script>");
    println!("speed snippet:   <script defer data-site=\"{DEMO_SITE}\" src=\"{url}js/perf.js\"></script>");
    if args.no_serve {
        app.store.close();
        return Ok(());
    }
    app::serve(app, listener).await
}

/// The demo site's goals and funnel, so that their panels show something from the start.
fn add_demo_goals(meta: &dyn obscura_store::meta::MetadataStore) -> anyhow::Result<()> {
    use obscura_store::meta::{Funnel, Goal, GoalTarget};
    let page = |path: &str| GoalTarget::Page { path: path.into(), contains: false };
    let signup = |plan: Option<&str>| GoalTarget::Event {
        name: "signup".into(),
        property: plan.map(|p| ("plan".to_owned(), p.to_owned())),
    };
    for (name, target) in
        [("Signup", signup(None)), ("Pro plan", signup(Some("pro"))), ("Read the docs", page("/docs"))]
    {
        admin::add_goal(meta, DEMO_SITE, Goal { name: name.into(), target })?;
    }
    let steps = vec![page("/"), page("/pricing"), page("/signup"), signup(None)];
    admin::add_funnel(meta, DEMO_SITE, Funnel { name: "Signup".into(), steps })
}

fn hex_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}
