//! What the fuzz targets share: fixtures built once per process (so a run measures the code under
//! test, not its setup), the mode byte of targets with several entry points, and the privacy
//! boundary a decoded hit goes through next in the pipeline.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use obscura_enrich::UaParser;
use obscura_enrich::bots::Classifier;
use obscura_enrich::bots::user_agents::RobotNames;
use obscura_ingest::decode::RequestContext;
use obscura_ingest::desensitize::{desensitize, measurements};
use obscura_ingest::enricher::Enrichment;
use obscura_model::{Event, RawHit};
use obscura_privacy::page_url::normalize_page;
use obscura_privacy::{SaltRing, VisitorHash};

/// The request every decoder sees, as in the decoders' own tests: noon on 2026-01-01, from
/// 198.51.100.1, no headers.
pub fn ctx() -> &'static RequestContext {
    static CTX: OnceLock<RequestContext> = OnceLock::new();
    CTX.get_or_init(|| RequestContext {
        received_at: time::macros::datetime!(2026-01-01 12:00 UTC),
        ip: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
        headers: Default::default(),
        opted_out: false,
        ja4: None,
    })
}

/// Splits the input of a target with `modes` entry points into the mode and the rest. The first
/// byte picks the mode: `'0'` mode 0, `'1'` mode 1, …, so seeds stay readable; any other byte
/// picks some mode too, so no input is wasted.
pub fn mode(data: &[u8], modes: usize) -> Option<(usize, &[u8])> {
    let (&first, rest) = data.split_first()?;
    Some((usize::from(first.wrapping_sub(b'0')) % modes, rest))
}

/// The visitor hash of every fuzzed hit: made with a real salt, its value does not matter.
fn visitor() -> VisitorHash {
    static VISITOR: OnceLock<VisitorHash> = OnceLock::new();
    *VISITOR.get_or_init(|| SaltRing::new().visitor_hash(ctx().received_at, 1, ctx().ip, ""))
}

/// A decoded hit through the privacy boundary as the pipeline takes it next (without enrichment
/// databases, stores or site settings): page URL normalised, every text scrubbed. `None` where
/// the pipeline refuses the hit's URL.
pub fn event_of(mut hit: RawHit) -> Option<Event> {
    hit.site = 1;
    let page = normalize_page(&hit.url).ok()?;
    Some(desensitize(hit, page, Enrichment::default(), visitor()))
}

/// [`event_of`], then one event per measurement, as for a speed beacon or an application batch.
pub fn desensitize_hit(mut hit: RawHit) {
    let measures = std::mem::take(&mut hit.measures);
    if let Some(event) = event_of(hit) {
        let _ = measurements(event, measures);
    }
}

/// A file of the enrichment data `scripts/fetch-data` puts in `datafiles/`, when it is there.
/// Targets that read it fall back to the built-in rules without it: a finding in the uap-core
/// or robot-list paths reproduces only where the files are.
fn datafile(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datafiles").join(name);
    path.is_file().then_some(path)
}

/// The built-in User-Agent rules.
pub fn builtin_parser() -> &'static UaParser {
    static BUILTIN: OnceLock<UaParser> = OnceLock::new();
    BUILTIN.get_or_init(UaParser::builtin)
}

/// The uap-core rules (`datafiles/regexes.yaml`), when installed: what most servers run.
pub fn uap_parser() -> Option<&'static UaParser> {
    static UAP: OnceLock<Option<UaParser>> = OnceLock::new();
    UAP.get_or_init(|| datafile("regexes.yaml").and_then(|path| UaParser::from_yaml_file(&path).ok())).as_ref()
}

/// The bot classifier, over the robot lists when installed, else over none.
pub fn classifier() -> &'static Classifier {
    static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();
    CLASSIFIER.get_or_init(|| {
        let crawlers = datafile("crawler-user-agents.json");
        let isbot = datafile("isbot-patterns.json");
        let robots = RobotNames::open(crawlers.as_deref(), isbot.as_deref()).unwrap_or_else(|_| RobotNames::empty());
        Classifier::new(robots)
    })
}
