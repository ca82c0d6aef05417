//! `obscura classify`: request descriptions as JSON lines in, one decision per line out — for
//! operators checking why traffic was counted as automated, and for testing the classifier on
//! a corpus.
//!
//! A line: `{"user_agent": "…", "hints": {"sec-ch-ua": "…", "sec-ch-ua-mobile": "?0",
//! "sec-ch-ua-platform": "\"Windows\""}, "secure": true, "ja4": "t13d…", "signals": 1,
//! "asn": 16509, "events_last_minute": 3, "views_without_engagement": 1}`; every field but `user_agent` may
//! be left out, and what is left out counts as not observed (`"hints": {}` means "observed:
//! none sent").

use std::io::{BufRead, Write};

use obscura_enrich::bots::signals::BrowserSignals;
use obscura_enrich::bots::{Classifier, Evidence, Verdict};
use obscura_enrich::user_agent::ClientHints;
use serde::Deserialize;

/// The longest line read; longer ones are reported as errors.
const MAX_LINE: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    user_agent: String,
    #[serde(default)]
    hints: Option<Hints>,
    #[serde(default)]
    secure: bool,
    #[serde(default)]
    ja4: Option<String>,
    #[serde(default)]
    signals: Option<u32>,
    #[serde(default)]
    asn: Option<u32>,
    #[serde(default)]
    events_last_minute: Option<u32>,
    #[serde(default)]
    views_without_engagement: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hints {
    #[serde(rename = "sec-ch-ua", default)]
    ua: Option<String>,
    #[serde(rename = "sec-ch-ua-mobile", default)]
    mobile: Option<String>,
    #[serde(rename = "sec-ch-ua-platform", default)]
    platform: Option<String>,
}

/// How many lines got each verdict, and how many could not be read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Lines classified `human`.
    pub human: u64,
    /// Lines classified `suspicious`.
    pub suspicious: u64,
    /// Lines classified `automated`.
    pub automated: u64,
    /// Lines that are not a request description.
    pub errors: u64,
}

/// Classifies every line of `input`, writing one JSON object per line to `output`: the
/// decision (`line`, `verdict`, `reasons`) or, for a line that cannot be read, `line` and
/// `error`. Empty lines are skipped.
pub fn run(classifier: &Classifier, input: impl BufRead, mut output: impl Write) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    for (n, line) in input.split(b'\n').enumerate() {
        let line = line?;
        let number = n + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = if line.len() > MAX_LINE {
            Err(format!("the line is longer than {MAX_LINE} bytes"))
        } else {
            serde_json::from_slice::<Request>(&line).map_err(|e| e.to_string())
        };
        let answer = match parsed {
            Ok(r) => {
                let hints = r.hints.map(|h| ClientHints {
                    ua: h.ua,
                    mobile: h.mobile,
                    platform: h.platform,
                    ..ClientHints::default()
                });
                let evidence = Evidence {
                    user_agent: &r.user_agent,
                    hints: hints.as_ref(),
                    secure: r.secure,
                    ja4: r.ja4.as_deref(),
                    signals: r.signals.map(BrowserSignals::from_bits),
                    asn: r.asn,
                    events_last_minute: r.events_last_minute,
                    views_without_engagement: r.views_without_engagement,
                };
                let d = classifier.classify(&evidence);
                match d.verdict {
                    Verdict::Human => tally.human += 1,
                    Verdict::Suspicious => tally.suspicious += 1,
                    Verdict::Automated => tally.automated += 1,
                }
                serde_json::json!({ "line": number, "verdict": d.verdict, "reasons": d.reasons.names() })
            }
            Err(e) => {
                tally.errors += 1;
                serde_json::json!({ "line": number, "error": e })
            }
        };
        writeln!(output, "{answer}")?;
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use obscura_enrich::bots::user_agents::RobotNames;

    #[test]
    fn classify_prints_a_decision_per_line_and_reports_bad_lines() {
        let classifier = Classifier::new(RobotNames::new(&["Googlebot".to_owned()], &[]).unwrap());
        let input = concat!(
            r#"{"user_agent":"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}"#,
            "\n",
            r#"{"user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","hints":{"sec-ch-ua":"\"Chromium\";v=\"131\"","sec-ch-ua-mobile":"?0","sec-ch-ua-platform":"\"Windows\""},"secure":true,"signals":0}"#,
            "\n",
            "\n",
            r#"{"user_agent":"Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36","asn":16509}"#,
            "\n",
            "not json\n",
            r#"{"user_agent":"x","colour":"red"}"#,
            "\n",
        );
        let mut out = Vec::new();
        let tally = run(&classifier, input.as_bytes(), &mut out).unwrap();
        assert_eq!(tally, Tally { human: 1, suspicious: 1, automated: 1, errors: 2 });
        let lines: Vec<serde_json::Value> =
            String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["verdict"], "automated");
        assert_eq!(lines[0]["reasons"][0], "robot_user_agent");
        assert_eq!((lines[1]["line"].as_u64(), lines[1]["verdict"].as_str()), (Some(2), Some("human")));
        assert_eq!((lines[2]["line"].as_u64(), lines[2]["reasons"][0].as_str()), (Some(4), Some("hosting_network")));
        assert!(lines[3]["error"].as_str().unwrap().contains("expected"), "{}", lines[3]);
        assert!(lines[4]["error"].as_str().unwrap().contains("colour"), "unknown fields are named: {}", lines[4]);
    }
}
