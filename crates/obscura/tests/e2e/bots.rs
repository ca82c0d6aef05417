//! P5: the robot lists against User-Agents labelled elsewhere (`scripts/bot-corpus`): robots
//! from Matomo Device Detector's fixtures, people from a snapshot of real browsers' traffic
//! (npm `user-agents`) and from Matomo's browser fixtures. The classifier is built from other
//! lists (crawler-user-agents, isbot), so this measures it on data it was not made from.

use obscura_enrich::bots::{Classifier, Evidence, Verdict};

fn datafile(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles").join(name)
}

#[derive(serde::Deserialize)]
struct Labelled {
    user_agent: String,
    label: String,
    source: String,
    weight: f64,
}

#[test]
fn bots_corpus_robots_are_caught_and_people_are_not() {
    let corpus = datafile("bot-corpus.jsonl");
    assert!(corpus.exists(), "{} is missing: scripts/bot-corpus assembles it", corpus.display());
    let config = obscura::config::EnrichConfig {
        robot_lists: vec![datafile("crawler-user-agents.json"), datafile("isbot-patterns.json")],
        ..Default::default()
    };
    let robots = config.robot_names().unwrap();
    assert!(robots.patterns() > 1500, "both lists are loaded: {} patterns", robots.patterns());
    let classifier = Classifier::new(robots);
    // Per source: (weight classified as people, total weight, a few misread examples).
    let mut tally: std::collections::BTreeMap<String, (f64, f64, Vec<String>)> = Default::default();
    for line in std::fs::read_to_string(&corpus).unwrap().lines() {
        let l: Labelled = serde_json::from_str(line).unwrap();
        let verdict = classifier.classify(&Evidence { user_agent: &l.user_agent, ..Evidence::default() }).verdict;
        let right = (verdict == Verdict::Human) == (l.label == "person");
        let t = tally.entry(l.source).or_default();
        t.1 += l.weight;
        if right {
            t.0 += l.weight;
        } else if t.2.len() < 5 {
            t.2.push(l.user_agent);
        }
    }
    let share = |source: &str| {
        let (right, all, wrong) = &tally[source];
        eprintln!("{source}: {:.3}% right; e.g. wrong: {wrong:?}", 100.0 * right / all);
        right / all
    };
    let robots_caught = share("matomo-bots");
    let people_in_traffic = share("user-agents");
    let people_in_fixtures = share("matomo-browsers");
    assert!(robots_caught >= 0.99, "robot recall {:.2}% (target ≥ 99%)", robots_caught * 100.0);
    assert!(
        1.0 - people_in_traffic <= 0.001,
        "people misread {:.3}% of traffic (target ≤ 0.1%)",
        (1.0 - people_in_traffic) * 100.0
    );
    // Matomo's browser fixtures include rare and old devices whose names trip generic patterns
    // ("Discovery", "nook browser"): a bound against regressions, not the target.
    assert!(
        1.0 - people_in_fixtures <= 0.02,
        "people misread {:.2}% of Matomo's browsers",
        (1.0 - people_in_fixtures) * 100.0
    );
}
