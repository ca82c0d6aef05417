//! The traffic `obscura bench ingest` sends by default: what a public site receives, not one
//! client repeating itself. Addresses come from real public ranges of many countries (the network
//! operator database when present), behind a trusted proxy, so geo and network lookups run; over
//! a thousand distinct browser User-Agents, with Client Hints where Chromium browsers send them;
//! referrers, campaign tags, pageviews, custom events and engagement beacons in the proportions of
//! real sites; and new visitors arriving all the time, so visit state grows and is pruned.
//!
//! Every request is a pure function of its number, so any number of connections can draw from
//! the profile without sharing a random generator.

use std::net::Ipv4Addr;
use std::path::Path;

/// Events a visitor sends on average: an entry pageview, more pages, engagement, an event.
const EVENTS_PER_VISITOR: u64 = 5;

/// One browser build on one device.
#[derive(Clone, Debug)]
pub struct Browser {
    /// The `User-Agent` header.
    pub user_agent: String,
    /// `Sec-CH-UA`, `Sec-CH-UA-Mobile`, `Sec-CH-UA-Platform`, as Chromium browsers send them.
    pub hints: Option<(String, &'static str, &'static str)>,
}

/// One request of the profile.
pub struct Request<'a> {
    /// The JSON event for `POST /api/event`.
    pub body: String,
    /// The browser sending it (its User-Agent and Client Hints).
    pub browser: &'a Browser,
    /// The client's address, for the `X-Forwarded-For` header a trusted proxy would add.
    pub forwarded_for: Ipv4Addr,
}

/// The realistic load for one site: the pages, public address ranges and browsers requests are drawn from.
pub struct LoadProfile {
    site: String,
    /// Inclusive public IPv4 ranges.
    ranges: Vec<(u32, u32)>,
    browsers: Vec<Browser>,
    pages: Vec<String>,
}

/// SplitMix64: a good 64-bit mix of a counter, enough to draw independent-looking choices.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A draw in `0..n` from `seed` and a purpose `salt`.
fn draw(seed: u64, salt: u64, n: usize) -> usize {
    (mix(seed ^ mix(salt)) % n as u64) as usize
}

const REFERRERS: [&str; 12] = [
    "https://www.google.com/",
    "https://www.google.de/",
    "https://www.bing.com/",
    "https://duckduckgo.com/",
    "https://news.ycombinator.com/item?id=4242",
    "https://t.co/xyz",
    "https://www.reddit.com/r/selfhosted/comments/abc/",
    "https://www.facebook.com/",
    "https://github.com/obscura/obscura",
    "https://lobste.rs/s/abc",
    "https://www.baidu.com/link?url=x",
    "https://example-blog.net/2026/11/post",
];

const CAMPAIGNS: [&str; 4] = [
    "utm_source=newsletter&utm_medium=email&utm_campaign=launch",
    "utm_source=twitter&utm_medium=social&utm_campaign=winter",
    "utm_source=google&utm_medium=cpc&utm_campaign=brand",
    "ref=producthunt",
];

const ANDROID_MODELS: [&str; 24] = [
    "SM-S918B",
    "SM-G991B",
    "SM-A515F",
    "SM-A536B",
    "SM-G780G",
    "SM-N986B",
    "Pixel 8",
    "Pixel 7a",
    "Pixel 6",
    "Redmi Note 9 Pro",
    "M2101K6G",
    "2201117TG",
    "CPH2211",
    "CPH2451",
    "RMX3085",
    "V2130",
    "moto g(60)",
    "motorola edge 30",
    "ONEPLUS A6013",
    "LE2123",
    "HUAWEI P30",
    "VOG-L29",
    "TECNO KG5",
    "Infinix X6816",
];

impl LoadProfile {
    /// The profile for `site`, with addresses from `asn_csv` (the network operator database:
    /// `range_start,range_end,asn,organisation` lines) when it is given and readable.
    pub fn new(site: &str, asn_csv: Option<&Path>) -> Self {
        let ranges =
            asn_csv.and_then(|p| read_ranges(p).ok()).filter(|r| r.len() > 1000).unwrap_or_else(fallback_ranges);
        LoadProfile { site: site.to_owned(), ranges, browsers: browsers(), pages: pages() }
    }

    /// The browsers requests are drawn from.
    pub fn browsers(&self) -> &[Browser] {
        &self.browsers
    }

    /// How many public address ranges client addresses are drawn from.
    pub fn ranges(&self) -> usize {
        self.ranges.len()
    }

    /// Request number `n`. Visitor `n / 5` sends requests `5k … 5k+4`.
    pub fn request(&self, n: u64) -> Request<'_> {
        let visitor = n / EVENTS_PER_VISITOR;
        let step = n % EVENTS_PER_VISITOR;
        let (lo, hi) = self.ranges[draw(visitor, 1, self.ranges.len())];
        let address = lo + (mix(visitor ^ 2) % u64::from(hi - lo + 1)) as u32;
        let browser = &self.browsers[draw(visitor, 3, self.browsers.len())];
        let page = |k: u64| &self.pages[draw(visitor, 10 + k, self.pages.len())];
        let site = &self.site;
        let mobile = browser.user_agent.contains("Mobile");
        let screen =
            if mobile { 360 + draw(visitor, 4, 70) } else { [1280, 1366, 1440, 1536, 1920, 2560][draw(visitor, 4, 6)] };
        let returning = draw(visitor, 5, 3) == 0;
        let frequency = if returning {
            format!(
                r#","returning":true,"days_since_last":"{}","visit_count":"{}""#,
                ["1", "2-7", "8-30", "31+"][draw(visitor, 6, 4)],
                ["2-3", "4-9", "10+"][draw(visitor, 7, 3)]
            )
        } else {
            r#","returning":false,"visit_count":"1""#.to_owned()
        };
        let body = match step {
            0 => {
                // The entry: a referrer for six visits in ten, a campaign for one in eight.
                let referrer = match draw(visitor, 8, 10) {
                    0..=3 => String::new(),
                    _ => format!(r#","referrer":"{}""#, REFERRERS[draw(visitor, 9, REFERRERS.len())]),
                };
                let query = if draw(visitor, 20, 8) == 0 {
                    format!("?{}", CAMPAIGNS[draw(visitor, 21, CAMPAIGNS.len())])
                } else {
                    String::new()
                };
                format!(
                    r#"{{"site":"{site}","kind":"pageview","url":"https://{site}{}{query}"{referrer},"screen_width":{screen}{frequency}}}"#,
                    page(0)
                )
            }
            1 | 2 => format!(
                r#"{{"site":"{site}","kind":"pageview","url":"https://{site}{}","screen_width":{screen}{frequency}}}"#,
                page(step)
            ),
            3 => format!(
                r#"{{"site":"{site}","kind":"engagement","url":"https://{site}{}","engaged_ms":{}}}"#,
                page(2),
                2_000 + draw(visitor, 22, 120_000)
            ),
            _ if draw(visitor, 23, 5) < 2 => {
                let plan = ["free", "pro", "team"][draw(visitor, 24, 3)];
                format!(
                    r#"{{"site":"{site}","kind":"event","name":"signup","url":"https://{site}/signup","props":{{"plan":"{plan}","annual":{}}}}}"#,
                    draw(visitor, 25, 2) == 0
                )
            }
            _ => format!(
                r#"{{"site":"{site}","kind":"engagement","url":"https://{site}{}","engaged_ms":{}}}"#,
                page(1),
                1_000 + draw(visitor, 26, 60_000)
            ),
        };
        Request { body, browser, forwarded_for: Ipv4Addr::from(address) }
    }
}

/// Public IPv4 ranges from the network operator CSV (private and reserved space is not in it).
fn read_ranges(path: &Path) -> std::io::Result<Vec<(u32, u32)>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(',');
            let lo: Ipv4Addr = fields.next()?.parse().ok()?;
            let hi: Ipv4Addr = fields.next()?.parse().ok()?;
            (u32::from(hi) >= u32::from(lo)).then(|| (u32::from(lo), u32::from(hi)))
        })
        .collect())
}

/// Without the database: /16s in widely used public space of every region.
fn fallback_ranges() -> Vec<(u32, u32)> {
    crate::traffic::FIRST_OCTETS
        .iter()
        .flat_map(|&a| (0..=255u32).map(move |b| (u32::from(a) << 24 | b << 16, u32::from(a) << 24 | b << 16 | 0xFFFF)))
        .collect()
}

/// About a thousand pages: sections, articles, products and docs.
fn pages() -> Vec<String> {
    let mut pages: Vec<String> =
        ["/", "/pricing", "/about", "/contact", "/signup", "/login", "/blog", "/docs", "/changelog", "/careers"]
            .iter()
            .map(|p| (*p).to_owned())
            .collect();
    for i in 0..400 {
        pages.push(format!(
            "/blog/{}-{i}",
            ["privacy-first-analytics", "web-vitals", "self-hosting", "release-notes"][i % 4]
        ));
    }
    for i in 0..400 {
        pages.push(format!("/products/{}/{i}", ["shoes", "bags", "watches", "jackets", "lamps"][i % 5]));
    }
    for i in 0..190 {
        pages.push(format!("/docs/{}/{i}", ["api", "guides", "install", "reference"][i % 4]));
    }
    pages
}

/// Over a thousand distinct browser builds on real platforms and devices, with Client Hints
/// where Chromium browsers send them.
fn browsers() -> Vec<Browser> {
    let mut out = Vec::new();
    // Each brand with its own version: Samsung Internet 24 is built on Chromium 120.
    let brands = |name: &str, chromium: u32, v: u32| {
        format!(r#""Chromium";v="{chromium}", "Not_A Brand";v="24", "{name}";v="{v}""#)
    };
    let desktop = [
        ("Windows NT 10.0; Win64; x64", "\"Windows\""),
        ("Macintosh; Intel Mac OS X 10_15_7", "\"macOS\""),
        ("X11; Linux x86_64", "\"Linux\""),
    ];
    for v in 112..=131u32 {
        for build in [0u32, 6778, 6723, 6613] {
            for (platform, ch_platform) in desktop {
                let chrome = format!(
                    "Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{build}.{} Safari/537.36",
                    v % 7 * 13
                );
                out.push(Browser {
                    user_agent: chrome.clone(),
                    hints: Some((brands("Google Chrome", v, v), "?0", ch_platform)),
                });
                if build == 0 {
                    out.push(Browser {
                        user_agent: format!("{chrome} Edg/{v}.0.{}.{}", 2000 + v, v % 5 * 11),
                        hints: Some((brands("Microsoft Edge", v, v), "?0", ch_platform)),
                    });
                }
            }
        }
        for (i, model) in ANDROID_MODELS.iter().enumerate() {
            let android = 10 + (i as u32 + v) % 5;
            let ua = format!(
                "Mozilla/5.0 (Linux; Android {android}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36"
            );
            out.push(Browser { user_agent: ua, hints: Some((brands("Google Chrome", v, v), "?1", "\"Android\"")) });
            if v % 4 == 0 {
                let samsung = format!(
                    "Mozilla/5.0 (Linux; Android {android}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{}.0 Chrome/{v}.0.0.0 Mobile Safari/537.36",
                    v / 5
                );
                out.push(Browser {
                    user_agent: samsung,
                    hints: Some((brands("Samsung Internet", v, v / 5), "?1", "\"Android\"")),
                });
            }
        }
    }
    for v in 115..=133u32 {
        for platform in [
            "Windows NT 10.0; Win64; x64",
            "Macintosh; Intel Mac OS X 10.15",
            "X11; Linux x86_64",
            "X11; Ubuntu; Linux x86_64",
            "Android 14; Mobile",
        ] {
            out.push(Browser {
                user_agent: format!("Mozilla/5.0 ({platform}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
                hints: None,
            });
        }
    }
    for major in 16..=18u32 {
        for minor in 0..=6u32 {
            for device in ["iPhone; CPU iPhone OS", "iPad; CPU OS"] {
                out.push(Browser {
                    user_agent: format!(
                        "Mozilla/5.0 ({device} {major}_{minor} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{major}.{minor} Mobile/15E148 Safari/604.1"
                    ),
                    hints: None,
                });
            }
            out.push(Browser {
                user_agent: format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{major}.{minor} Safari/605.1.15"),
                hints: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn bench_profile_has_many_browsers_addresses_and_new_visitors() {
        let profile = LoadProfile::new("bench.example", None);
        let agents: HashSet<&str> = profile.browsers().iter().map(|b| b.user_agent.as_str()).collect();
        assert!(agents.len() >= 1000, "{} distinct User-Agents", agents.len());
        assert!(
            profile.browsers().iter().any(|b| b.hints.is_some())
                && profile.browsers().iter().any(|b| b.hints.is_none())
        );
        let requests: Vec<Request<'_>> = (0..10_000).map(|n| profile.request(n)).collect();
        let addresses: HashSet<Ipv4Addr> = requests.iter().map(|r| r.forwarded_for).collect();
        assert!(addresses.len() > 1_900, "every visitor its own address: {}", addresses.len());
        assert!(addresses.iter().all(|a| !a.is_private() && !a.is_loopback()));
        let share = |kind: &str| {
            requests.iter().filter(|r| r.body.contains(&format!(r#""kind":"{kind}""#))).count() as f64 / 10_000.0
        };
        assert!((0.55..0.65).contains(&share("pageview")), "{}", share("pageview"));
        assert!((0.25..0.35).contains(&share("engagement")), "{}", share("engagement"));
        assert!((0.05..0.12).contains(&share("event")), "{}", share("event"));
        assert!(
            requests.iter().any(|r| r.body.contains("utm_campaign"))
                && requests.iter().any(|r| r.body.contains("referrer"))
        );
        for r in requests.iter().take(50) {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap();
        }
    }

    #[test]
    fn bench_profile_browsers_are_people_to_the_classifier() {
        let classifier = obscura_enrich::bots::Classifier::new(obscura_enrich::bots::user_agents::RobotNames::empty());
        for b in browsers() {
            let hints = b.hints.as_ref().map(|(ua, mobile, platform)| obscura_enrich::ClientHints {
                ua: Some(ua.clone()),
                mobile: Some((*mobile).to_owned()),
                platform: Some((*platform).to_owned()),
                ..Default::default()
            });
            let evidence = obscura_enrich::bots::Evidence {
                user_agent: &b.user_agent,
                hints: hints.as_ref(),
                secure: true,
                ..Default::default()
            };
            let decision = classifier.classify(&evidence);
            assert_eq!(decision.verdict, obscura_enrich::bots::Verdict::Human, "{b:?}: {:?}", decision.reasons.names());
        }
    }
}
