//! The decision: every signal about a request weighed into `human`, `suspicious` or
//! `automated`, with the reasons kept, so the dashboard can show what was filtered and why.
//!
//! A strong reason (a robot's User-Agent, WebDriver, headless markers, the TLS fingerprint of
//! a tool under a browser's name) decides alone; weaker ones (a hosting network, missing
//! hints) only add up. The weights are in [`Reason::weight`].

use crate::bots::client_hints::{self, HintsVerdict};
use crate::bots::networks::HostingNetworks;
use crate::bots::signals::{BrowserSignals, Signal};
use crate::bots::user_agents::RobotNames;
use crate::user_agent::ClientHints;

/// What the request looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A person's browser or app.
    Human,
    /// Something is off, not enough to call it automated; kept out of people's figures.
    Suspicious,
    /// A robot, a script or an automated browser.
    Automated,
}

/// Why, one reason per signal that fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Reason {
    /// The User-Agent matches a list of robots (crawler-user-agents, isbot).
    RobotUserAgent = 0,
    /// The User-Agent names an automated or headless browser or a measuring tool.
    AutomationUserAgent = 1,
    /// The Client Hints name headless Chrome.
    HeadlessHints = 2,
    /// The Client Hints contradict the User-Agent.
    HintsContradict = 3,
    /// A Chromium User-Agent over HTTPS without the hints Chromium always sends.
    HintsMissing = 4,
    /// The TLS fingerprint is one of a known tool or library (curl, Python, Go, …) while the
    /// User-Agent claims a browser.
    Ja4OfATool = 5,
    /// The TLS fingerprint is not one of the browser family the User-Agent claims.
    Ja4NotTheBrowser = 6,
    /// The tracker: `navigator.webdriver`.
    Webdriver = 7,
    /// The tracker: the browser calls itself headless.
    HeadlessMarker = 8,
    /// The tracker: no languages.
    NoLanguages = 9,
    /// The tracker: a 0 × 0 screen.
    ZeroScreen = 10,
    /// The tracker: globals automation tools leave.
    AutomationGlobals = 11,
    /// The tracker: WebGL in software.
    SoftwareRenderer = 12,
    /// The tracker: canvas or audio missing or stubbed.
    ApisMissing = 13,
    /// More events a minute from one visitor than people make.
    TooManyEvents = 14,
    /// A visit without any engagement.
    NoEngagement = 15,
    /// The network operator is a datacenter or cloud.
    HostingNetwork = 16,
}

impl Reason {
    /// Every reason, in bit order.
    pub const ALL: [Reason; 17] = [
        Reason::RobotUserAgent,
        Reason::AutomationUserAgent,
        Reason::HeadlessHints,
        Reason::HintsContradict,
        Reason::HintsMissing,
        Reason::Ja4OfATool,
        Reason::Ja4NotTheBrowser,
        Reason::Webdriver,
        Reason::HeadlessMarker,
        Reason::NoLanguages,
        Reason::ZeroScreen,
        Reason::AutomationGlobals,
        Reason::SoftwareRenderer,
        Reason::ApisMissing,
        Reason::TooManyEvents,
        Reason::NoEngagement,
        Reason::HostingNetwork,
    ];

    /// Its name, as shown and as a dimension's value.
    pub fn name(self) -> &'static str {
        match self {
            Reason::RobotUserAgent => "robot_user_agent",
            Reason::AutomationUserAgent => "automation_user_agent",
            Reason::HeadlessHints => "headless_hints",
            Reason::HintsContradict => "hints_contradict",
            Reason::HintsMissing => "hints_missing",
            Reason::Ja4OfATool => "ja4_of_a_tool",
            Reason::Ja4NotTheBrowser => "ja4_not_the_browser",
            Reason::Webdriver => "webdriver",
            Reason::HeadlessMarker => "headless_marker",
            Reason::NoLanguages => "no_languages",
            Reason::ZeroScreen => "zero_screen",
            Reason::AutomationGlobals => "automation_globals",
            Reason::SoftwareRenderer => "software_renderer",
            Reason::ApisMissing => "apis_missing",
            Reason::TooManyEvents => "too_many_events",
            Reason::NoEngagement => "no_engagement",
            Reason::HostingNetwork => "hosting_network",
        }
    }

    /// How much it counts: 3 decides alone, 2 and 1 add up ([`AUTOMATED_AT`]).
    pub fn weight(self) -> u32 {
        match self {
            Reason::RobotUserAgent
            | Reason::AutomationUserAgent
            | Reason::HeadlessHints
            | Reason::Ja4OfATool
            | Reason::Webdriver
            | Reason::HeadlessMarker
            | Reason::AutomationGlobals => 3,
            Reason::HintsContradict | Reason::Ja4NotTheBrowser | Reason::SoftwareRenderer | Reason::TooManyEvents => 2,
            Reason::HintsMissing
            | Reason::NoLanguages
            | Reason::ZeroScreen
            | Reason::ApisMissing
            | Reason::NoEngagement
            | Reason::HostingNetwork => 1,
        }
    }

    fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// A score at or above this is `automated`; above zero, `suspicious`.
pub const AUTOMATED_AT: u32 = 3;

/// A set of reasons, storable as one number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Reasons(u32);

impl Reasons {
    /// From the stored number (unknown bits ignored).
    pub fn from_bits(bits: u32) -> Self {
        Reasons(bits & Reason::ALL.iter().fold(0, |all, r| all | r.bit()))
    }

    /// The stored number.
    pub fn bits(self) -> u32 {
        self.0
    }

    fn add(&mut self, reason: Reason) {
        self.0 |= reason.bit();
    }

    /// Whether `reason` is among them.
    pub fn has(self, reason: Reason) -> bool {
        self.0 & reason.bit() != 0
    }

    /// The reasons, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Reason> {
        Reason::ALL.into_iter().filter(move |r| self.has(*r))
    }

    /// Their names.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Reason::name).collect()
    }

    fn score(self) -> u32 {
        self.iter().map(Reason::weight).sum()
    }
}

/// The verdict and its reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Human, suspicious or automated.
    pub verdict: Verdict,
    /// Every signal that fired.
    pub reasons: Reasons,
}

/// What is known about one request; `None` where a signal was not observed.
#[derive(Clone, Debug, Default)]
pub struct Evidence<'a> {
    /// The `User-Agent` header.
    pub user_agent: &'a str,
    /// The Client Hints headers, when they could be observed.
    pub hints: Option<&'a ClientHints>,
    /// Whether the request came over HTTPS (browsers send hints only there).
    pub secure: bool,
    /// The JA4 fingerprint of its TLS connection.
    pub ja4: Option<&'a str>,
    /// The tracker's browser signals.
    pub signals: Option<BrowserSignals>,
    /// The network operator's AS number.
    pub asn: Option<u32>,
    /// Events from the same visitor in the last minute, this one included.
    pub events_last_minute: Option<u32>,
    /// Page views in a row from the same client without an engagement beacon, this one included.
    pub views_without_engagement: Option<u32>,
}

/// The JA4 fingerprints' cipher part (JA4_b) of browser families and of tools. Browsers of one
/// family share their cipher suites across versions and platforms (Chromium's BoringSSL, Firefox's
/// NSS), so the part changes rarely; tools and libraries have their own.
#[derive(Clone, Debug)]
pub struct Ja4Families {
    /// (family as the User-Agent claims it, its known JA4_b parts).
    pub browsers: Vec<(String, Vec<String>)>,
    /// JA4_b parts of tools and libraries that are not browsers.
    pub tools: Vec<String>,
}

impl Default for Ja4Families {
    fn default() -> Self {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Ja4Families {
            browsers: vec![
                ("chromium".to_owned(), own(&["8daaf6152771"])),
                ("firefox".to_owned(), own(&["5b57614c22b0"])),
            ],
            // curl and wget on OpenSSL 3, Python's requests and urllib, Node.js.
            tools: own(&["e8f1e7e78f70", "723694b0fccc", "85036bcba153", "a33745022dd6"]),
        }
    }
}

/// The family a User-Agent claims, as [`Ja4Families::browsers`] names it.
fn claimed_family(ua: &str) -> Option<&'static str> {
    if ua.contains("Firefox/") && !ua.contains("Seamonkey") {
        Some("firefox")
    } else if ua.contains("Chrome/") && !ua.contains("CriOS/") {
        Some("chromium")
    } else {
        None
    }
}

/// Weighs the signals of a request.
#[derive(Debug)]
pub struct Classifier {
    /// The robot lists.
    pub robots: RobotNames,
    /// Datacenter and cloud networks.
    pub hosting: HostingNetworks,
    /// Browser families' and tools' TLS fingerprints.
    pub ja4: Ja4Families,
    /// More events than this from one visitor in a minute is [`Reason::TooManyEvents`].
    pub max_events_per_minute: u32,
    /// More page views in a row than this without an engagement beacon is
    /// [`Reason::NoEngagement`]: the tracker sends one whenever a person leaves a page they
    /// looked at, so only clients that never show a page to anyone go on without.
    pub max_views_without_engagement: u32,
}

impl Classifier {
    /// A classifier over `robots` with the default networks, fingerprints and limits.
    pub fn new(robots: RobotNames) -> Self {
        Classifier {
            robots,
            hosting: HostingNetworks::default(),
            ja4: Ja4Families::default(),
            max_events_per_minute: 120,
            max_views_without_engagement: 20,
        }
    }

    /// The decision for `e`.
    pub fn classify(&self, e: &Evidence<'_>) -> Decision {
        let mut reasons = Reasons::default();
        let ua = e.user_agent;
        if ua.trim().is_empty() || self.robots.matches(ua) {
            reasons.add(Reason::RobotUserAgent);
        }
        if crate::user_agent::looks_automated(ua) {
            reasons.add(Reason::AutomationUserAgent);
        }
        match client_hints::check(ua, e.hints, e.secure) {
            HintsVerdict::Consistent => {}
            HintsVerdict::Missing => reasons.add(Reason::HintsMissing),
            HintsVerdict::Contradicting => reasons.add(Reason::HintsContradict),
            HintsVerdict::Headless => reasons.add(Reason::HeadlessHints),
        }
        if let Some(cipher_part) = e.ja4.and_then(|j| j.split('_').nth(1)) {
            let family = claimed_family(ua);
            if family.is_some() && self.ja4.tools.iter().any(|t| t == cipher_part) {
                reasons.add(Reason::Ja4OfATool);
            } else if let Some((_, known)) = family.and_then(|f| self.ja4.browsers.iter().find(|(name, _)| name == f))
                && !known.iter().any(|k| k == cipher_part)
            {
                reasons.add(Reason::Ja4NotTheBrowser);
            }
        }
        if let Some(signals) = e.signals {
            for signal in signals.present() {
                reasons.add(match signal {
                    Signal::Webdriver => Reason::Webdriver,
                    Signal::HeadlessMarker => Reason::HeadlessMarker,
                    Signal::NoLanguages => Reason::NoLanguages,
                    Signal::ZeroScreen => Reason::ZeroScreen,
                    Signal::AutomationGlobals => Reason::AutomationGlobals,
                    Signal::SoftwareRenderer => Reason::SoftwareRenderer,
                    Signal::ApisMissing => Reason::ApisMissing,
                });
            }
        }
        if e.events_last_minute.is_some_and(|n| n > self.max_events_per_minute) {
            reasons.add(Reason::TooManyEvents);
        }
        if e.views_without_engagement.is_some_and(|n| n > self.max_views_without_engagement) {
            reasons.add(Reason::NoEngagement);
        }
        if e.asn.is_some_and(|asn| self.hosting.contains(asn)) {
            reasons.add(Reason::HostingNetwork);
        }
        let verdict = match reasons.score() {
            0 => Verdict::Human,
            s if s < AUTOMATED_AT => Verdict::Suspicious,
            _ => Verdict::Automated,
        };
        Decision { verdict, reasons }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const CHROME_JA4: &str = "t13d1516h2_8daaf6152771_02713d6af862";

    fn classifier() -> Classifier {
        Classifier::new(RobotNames::new(&["Googlebot".to_owned()], &["bot\\b".to_owned()]).unwrap())
    }

    fn chrome_hints() -> ClientHints {
        ClientHints {
            ua: Some(r#""Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24""#.into()),
            mobile: Some("?0".into()),
            platform: Some("\"Windows\"".into()),
            ..ClientHints::default()
        }
    }

    #[test]
    fn bots_decision_a_normal_browser_is_human() {
        let hints = chrome_hints();
        let e = Evidence {
            user_agent: CHROME,
            hints: Some(&hints),
            secure: true,
            ja4: Some(CHROME_JA4),
            signals: Some(BrowserSignals::from_bits(0)),
            asn: Some(3320),
            events_last_minute: Some(4),
            views_without_engagement: Some(1),
        };
        let d = classifier().classify(&e);
        assert_eq!((d.verdict, d.reasons.names()), (Verdict::Human, vec![]));
        let only_ua = classifier().classify(&Evidence { user_agent: CHROME, ..Evidence::default() });
        assert_eq!(only_ua.verdict, Verdict::Human, "what was not observed counts for nothing");
    }

    #[test]
    fn bots_decision_strong_reasons_decide_alone_and_weak_ones_add_up() {
        let c = classifier();
        let robot =
            c.classify(&Evidence { user_agent: "Mozilla/5.0 (compatible; Googlebot/2.1)", ..Evidence::default() });
        assert_eq!(
            (robot.verdict, robot.reasons.names()),
            (Verdict::Automated, vec!["robot_user_agent", "automation_user_agent"])
        );
        let empty = c.classify(&Evidence { user_agent: "", ..Evidence::default() });
        assert_eq!(empty.verdict, Verdict::Automated, "no User-Agent at all");
        let driven = c.classify(&Evidence {
            user_agent: CHROME,
            signals: Some(BrowserSignals::from_bits(Signal::Webdriver.bit())),
            ..Evidence::default()
        });
        assert_eq!((driven.verdict, driven.reasons.names()), (Verdict::Automated, vec!["webdriver"]));
        let curl_as_chrome = c.classify(&Evidence {
            user_agent: CHROME,
            ja4: Some("t13d3112h2_e8f1e7e78f70_b26ce05bbdd6"),
            ..Evidence::default()
        });
        assert_eq!(curl_as_chrome.reasons.names(), ["ja4_of_a_tool"]);
        assert_eq!(curl_as_chrome.verdict, Verdict::Automated);
        let odd_tls = c.classify(&Evidence {
            user_agent: CHROME,
            ja4: Some("t13d1715h2_5b57614c22b0_3d5424432f57"),
            ..Evidence::default()
        });
        assert_eq!((odd_tls.verdict, odd_tls.reasons.names()), (Verdict::Suspicious, vec!["ja4_not_the_browser"]));
        let cloud = c.classify(&Evidence { user_agent: CHROME, asn: Some(16509), ..Evidence::default() });
        assert_eq!((cloud.verdict, cloud.reasons.names()), (Verdict::Suspicious, vec!["hosting_network"]));
        let hints = ClientHints::default();
        let cloud_without_hints = c.classify(&Evidence {
            user_agent: CHROME,
            hints: Some(&hints),
            secure: true,
            asn: Some(16509),
            views_without_engagement: Some(40),
            ..Evidence::default()
        });
        assert_eq!(cloud_without_hints.verdict, Verdict::Automated, "{:?}", cloud_without_hints.reasons.names());
        let busy = c.classify(&Evidence { user_agent: CHROME, events_last_minute: Some(500), ..Evidence::default() });
        assert_eq!(busy.reasons.names(), ["too_many_events"]);
        let unseen =
            |n| c.classify(&Evidence { user_agent: CHROME, views_without_engagement: Some(n), ..Evidence::default() });
        assert_eq!((unseen(20).verdict, unseen(21).reasons.names()), (Verdict::Human, vec!["no_engagement"]));
    }

    #[test]
    fn bots_decision_reasons_round_trip_as_a_number() {
        let d = classifier().classify(&Evidence { user_agent: "x bot", asn: Some(14061), ..Evidence::default() });
        let back = Reasons::from_bits(d.reasons.bits() | 1 << 31);
        assert_eq!(back, d.reasons, "unknown bits are ignored");
        assert!(back.has(Reason::RobotUserAgent) && back.has(Reason::HostingNetwork));
        assert_eq!(
            Reason::ALL.iter().map(|r| r.name()).collect::<std::collections::BTreeSet<_>>().len(),
            Reason::ALL.len()
        );
    }
}
