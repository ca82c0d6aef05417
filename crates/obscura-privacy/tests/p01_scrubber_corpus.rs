//! P1 at scale: the scrubber against a labelled corpus that `scripts/pii-corpus` generates with
//! Faker (en_US, zh_CN, de_DE, fr_FR, en_GB) into `datafiles/pii-corpus.jsonl`.
//!
//! Each personal-data sample lists the values that must not survive; each technical sample
//! (stack traces, URLs, UUIDs, versions, timestamps, hashes, and long numbers that are not
//! personal: epoch times, order numbers, addresses, ids, counters, sizes, operator names and
//! device models) must come out unchanged. Device models marked `user_agent_label` go through
//! the User-Agent label scrubber, as ingest does.
//! Targets: recall ≥ 99 %, false redaction of technical strings ≤ 1 %.

use std::collections::BTreeMap;
use std::path::PathBuf;

use obscura_privacy::scrub::{normalize, scrub_text, scrub_url_part, scrub_user_agent_label};
use serde::Deserialize;

const MIN_RECALL: f64 = 0.99;
const MAX_FALSE_REDACTION: f64 = 0.01;

#[derive(Deserialize)]
struct Sample {
    id: String,
    kind: String,
    #[serde(rename = "type")]
    kind_of_data: String,
    field: String,
    text: String,
    secrets: Vec<String>,
}

fn corpus() -> Vec<Sample> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles/pii-corpus.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; generate it with scripts/pii-corpus (scripts/test does)", path.display()));
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))).collect()
}

/// Scrubs a sample the way ingest does: URLs as a path plus form-encoded query values.
fn scrub(sample: &Sample, part: impl Fn(&str) -> String) -> String {
    if sample.field == "url" {
        let (path, query) = sample.text.split_once('?').unwrap_or((&sample.text, ""));
        let mut out = part(path);
        if !query.is_empty() {
            out.push('?');
            out.push_str(&part(&query.replace('+', " ")));
        }
        out
    } else {
        part(&sample.text)
    }
}

#[derive(Default)]
struct Tally {
    total: usize,
    missed: usize,
}

#[test]
fn p01_scrubber_recall_and_false_redactions_on_labelled_corpus() {
    let samples = corpus();
    let mut pii: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut technical: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for sample in &samples {
        let out = match sample.field.as_str() {
            "url" => scrub(sample, |t| scrub_url_part(t).into_string()),
            "user_agent_label" => scrub_user_agent_label(&sample.text).into_string(),
            _ => scrub(sample, |t| scrub_text(t).into_string()),
        };
        let (tally, failed) = if sample.kind == "pii" {
            assert!(!sample.secrets.is_empty(), "{} has no secrets", sample.id);
            let leaked: Vec<&String> = sample.secrets.iter().filter(|s| out.contains(&*normalize::fold(s))).collect();
            (pii.entry(&sample.kind_of_data).or_default(), !leaked.is_empty())
        } else {
            // Unchanged apart from normalisation (decoding, full-width forms).
            let expected = scrub(sample, |t| normalize::fold(&normalize::percent_decode(t)).into_owned());
            let changed = out != expected;
            (technical.entry(&sample.kind_of_data).or_default(), changed)
        };
        tally.total += 1;
        if failed {
            tally.missed += 1;
            misses.push(format!("{}: {:?} -> {:?}", sample.id, sample.text, out));
        }
    }
    let rate = |m: &BTreeMap<&str, Tally>| {
        let total: usize = m.values().map(|t| t.total).sum();
        let missed: usize = m.values().map(|t| t.missed).sum();
        (total, missed)
    };
    println!("personal data (recall):");
    for (name, t) in &pii {
        println!(
            "  {name:<14} {:>5} samples  recall {:.2} %",
            t.total,
            100.0 * (1.0 - t.missed as f64 / t.total as f64)
        );
    }
    println!("technical strings (false redactions):");
    for (name, t) in &technical {
        println!("  {name:<14} {:>5} samples  changed {:.2} %", t.total, 100.0 * t.missed as f64 / t.total as f64);
    }
    let (pii_total, pii_missed) = rate(&pii);
    let (tech_total, tech_changed) = rate(&technical);
    let recall = 1.0 - pii_missed as f64 / pii_total as f64;
    let false_redaction = tech_changed as f64 / tech_total as f64;
    println!(
        "overall: recall {:.2} % of {pii_total}; false redaction {:.2} % of {tech_total}",
        100.0 * recall,
        100.0 * false_redaction
    );
    // Every miss goes to a file for review; the first few are printed.
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    if std::fs::create_dir_all(&artifacts).is_ok() {
        let _ = std::fs::write(artifacts.join("p01-scrubber-misses.txt"), misses.join("\n"));
    }
    for miss in misses.iter().take(20) {
        println!("  {miss}");
    }
    assert!(pii_total >= 1000 && tech_total >= 500, "corpus too small: {pii_total} + {tech_total}");
    assert!(recall >= MIN_RECALL, "recall {recall:.4} below {MIN_RECALL}");
    assert!(false_redaction <= MAX_FALSE_REDACTION, "false redaction {false_redaction:.4} above {MAX_FALSE_REDACTION}");
}
