//! The PII scrubber: every piece of free text passes through here before it may be stored (P1).
//!
//! Analytics payloads are written by site owners, and they leak personal data by accident:
//! an e-mail address in a page path, a phone number in an event property, a token in an error
//! message. The scrubber works in three steps, each in its own module:
//! - [`normalize`]: percent-decoding, full-width forms, control characters, so that encodings
//!   do not hide anything;
//! - [`detect`]: built-in detectors, one per kind of personal data, with checksum validation
//!   where the format has one (Luhn, IBAN mod-97, Chinese resident-ID check character);
//! - [`rules`]: rules as data (what to find, what to do, where), built-in and configured.
//!
//! It is deliberately greedy: a false positive costs one mangled label, a false negative puts
//! personal data on disk. Shapes that look numeric but carry no personal data (dates, times,
//! UUIDs, hashes, version numbers) are recognised and left alone, because they are everywhere
//! in error messages.

pub mod cards;
pub mod checksum;
pub mod detect;
pub mod normalize;
pub mod rules;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::LazyLock;

use hmac::{Hmac, Mac};
use regex::Regex;
use sha2::Sha256;

use crate::clean::Clean;
pub use detect::Kind;
pub use rules::{ActionKind, Field, Rule, RuleError, RuleSpec};

/// Longest free text (event property values, error messages) that is kept, in chars.
pub const MAX_TEXT_CHARS: usize = 500;
/// Longest label (event names, property keys, browser names, countries) that is kept, in chars.
pub const MAX_LABEL_CHARS: usize = 100;

/// The built-in rules, one per kind.
static BUILTIN: LazyLock<Scrubber> =
    LazyLock::new(|| Scrubber::new(Kind::ALL.into_iter().map(Rule::builtin).collect()));

/// The built-in rules for names taken from a User-Agent: everything but the shape-only kinds
/// (plates, long numbers), which product names and model codes (`SM-G991B`, `5GNET`) resemble.
static USER_AGENT_LABEL: LazyLock<Scrubber> = LazyLock::new(|| {
    Scrubber::new(
        Kind::ALL.into_iter().filter(|k| !matches!(k, Kind::Plate | Kind::Number)).map(Rule::builtin).collect(),
    )
});

/// Words after which the keyword-based detectors look for a value, and the prefixes of the
/// shapes they find; text without any of them skips those detectors, which keeps ingest fast.
static KEYWORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)bearer|basic|pass|pwd|secret|token|key|auth|sess|sid|cred|home/|users|plate|",
        r"kennzeichen|nummernschild|immatric|plaque|registration|reg|anpr|imei|meid|lat|lng|lon|pasap|",
        r"eyJ|[sprw]k_|AKIA|gh[pousr]_|xox|AIza|glpat|sk-|-----|contraseña|密码|口令|护照|车牌"
    ))
    .expect("valid keyword regex")
});

/// One finding: which rule matched where (in the normalised text), and what replaced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Name of the rule that matched (a built-in kind's name, or the configured rule's).
    pub rule: String,
    /// Byte range of the match in the normalised text.
    pub range: Range<usize>,
    /// The matched text itself: personal data, so for reports only; never store or log it.
    pub found: String,
    /// What replaced the match (placeholder, mask, hash, or empty when removed).
    pub replacement: String,
}

/// The result of scrubbing with findings (their ranges refer to the normalised input).
#[derive(Debug, Clone)]
pub struct Scrubbed {
    /// The text with every finding replaced; not cut to length.
    pub text: String,
    /// What was replaced, in order of position.
    pub findings: Vec<Finding>,
}

/// An ordered list of rules. Where two rules claim overlapping text, the earlier rule wins.
#[derive(Debug, Clone)]
pub struct Scrubber {
    rules: Vec<Rule>,
    hash_key: [u8; 32],
}

impl Scrubber {
    /// A scrubber with these rules and a random hash key that is never stored.
    pub fn new(rules: Vec<Rule>) -> Scrubber {
        Scrubber { rules, hash_key: rand::random() }
    }

    /// The built-in rules.
    pub fn builtin() -> &'static Scrubber {
        &BUILTIN
    }

    /// A scrubber of configured rules only (they run after the built-in ones).
    pub fn from_specs(specs: &[RuleSpec]) -> Result<Scrubber, RuleError> {
        let rules = specs.iter().map(Rule::compile).collect::<Result<_, _>>()?;
        Ok(Scrubber::new(rules))
    }

    /// The rules, in the order they apply.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether there are no rules (scrubbing then changes nothing).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies the rules to already normalised text. `field: None` applies only rules that
    /// apply to every field.
    pub fn scrub_normalized(&self, text: &str, field: Option<Field>) -> Scrubbed {
        let mut claimed: Vec<(Range<usize>, usize)> = Vec::new();
        let profile = detect::Profile::of(text);
        let keywords = !text.is_ascii() || KEYWORDS.is_match(text);
        let mut walls = None;
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.applies_to(field) {
                continue;
            }
            let found = match &rule.finder {
                rules::Finder::Builtin(kind) if !kind.may_occur(&profile, keywords) => continue,
                rules::Finder::Builtin(kind) => {
                    let walls = walls.get_or_insert_with(|| detect::walls(text));
                    kind.find(text, walls)
                }
                rules::Finder::Pattern(re) => re
                    .captures_iter(text)
                    .filter_map(|c| c.get(1).or_else(|| c.get(0)))
                    .map(|m| m.range())
                    .filter(|r| !r.is_empty())
                    .collect(),
            };
            for r in found {
                if !claimed.iter().any(|(c, _)| c.start < r.end && r.start < c.end) {
                    claimed.push((r, index));
                }
            }
        }
        claimed.sort_by_key(|(r, _)| r.start);
        let mut out = String::with_capacity(text.len());
        let mut findings = Vec::with_capacity(claimed.len());
        let mut last = 0;
        for (r, index) in claimed {
            let rule = &self.rules[index];
            let found = &text[r.clone()];
            let replacement = self.redact(rule, found);
            out.push_str(&text[last..r.start]);
            out.push_str(&replacement);
            last = r.end;
            findings.push(Finding { rule: rule.name.clone(), range: r, found: found.to_owned(), replacement });
        }
        out.push_str(&text[last..]);
        Scrubbed { text: out, findings }
    }

    fn redact(&self, rule: &Rule, found: &str) -> String {
        match rule.action {
            ActionKind::Replace => rule.placeholder.clone(),
            ActionKind::Remove => String::new(),
            ActionKind::Mask => found.chars().map(|c| if c.is_alphanumeric() { '*' } else { c }).collect(),
            ActionKind::Hash => {
                let mut mac = Hmac::<Sha256>::new_from_slice(&self.hash_key).expect("HMAC takes keys of any length");
                mac.update(found.as_bytes());
                let tag = mac.finalize().into_bytes();
                format!("[hash:{}]", hex::encode(&tag[..4]))
            }
        }
    }

    /// Applies these (configured) rules to text the built-in rules already scrubbed.
    pub fn apply(&self, text: &Clean, field: Field) -> Clean {
        if self.rules.is_empty() {
            return text.clone();
        }
        Clean::wrap(self.scrub_normalized(text.as_str(), Some(field)).text)
    }
}

/// The configured rules of every site: those without a `sites` list apply everywhere; a site's
/// own rules apply after those, in the order written.
#[derive(Debug, Clone, Default)]
pub struct SiteRules {
    everywhere: Option<Scrubber>,
    by_site: HashMap<String, Scrubber>,
}

impl SiteRules {
    /// Compiles the configured rules (`[[scrub.rules]]`), grouped by site; fails on the first invalid one.
    pub fn new(specs: &[RuleSpec]) -> Result<SiteRules, RuleError> {
        let general: Vec<RuleSpec> = specs.iter().filter(|s| s.sites.is_empty()).cloned().collect();
        let mut by_site = HashMap::new();
        let sites: std::collections::BTreeSet<&String> = specs.iter().flat_map(|s| &s.sites).collect();
        for site in sites {
            let own: Vec<RuleSpec> =
                specs.iter().filter(|s| s.sites.is_empty() || s.sites.contains(site)).cloned().collect();
            by_site.insert(crate::page_url::normalize_host(site), Scrubber::from_specs(&own)?);
        }
        let everywhere = Scrubber::from_specs(&general)?;
        Ok(SiteRules { everywhere: (!everywhere.is_empty()).then_some(everywhere), by_site })
    }

    /// The rules for `site` (its domain, in any spelling: `WWW.Shop.example.` is `shop.example`).
    pub fn for_site(&self, site: &str) -> Option<&Scrubber> {
        self.by_site.get(&crate::page_url::normalize_host(site)).or(self.everywhere.as_ref())
    }
}

/// Normalises and scrubs with the built-in rules, reporting what was found. For free text;
/// see [`scrub_text`].
pub fn report(input: &str) -> Scrubbed {
    BUILTIN.scrub_normalized(&normalize_text(input), None)
}

fn normalize_text(input: &str) -> String {
    normalize::fold(&normalize::percent_decode(input)).into_owned()
}

/// Scrubs free text such as an event property value or an error message.
///
/// The text is normalised (percent-decoded, full-width forms folded, control characters
/// dropped), personal data is replaced by typed placeholders, and the result is cut to
/// [`MAX_TEXT_CHARS`] chars.
pub fn scrub_text(input: &str) -> Clean {
    let text = BUILTIN.scrub_normalized(&normalize_text(input), None).text;
    Clean::wrap(normalize::truncate_chars(text, MAX_TEXT_CHARS))
}

/// A digest in hexadecimal, such as an error issue's fingerprint (a hash of text already
/// scrubbed): kept as it is when it is one (1 to 64 hexadecimal digits, lower-cased), since a
/// hash that happens to hold only decimal digits must not be taken for a number to remove;
/// anything else is scrubbed as a label.
pub fn digest_label(hex: &str) -> Clean {
    if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Clean::wrap(hex.to_ascii_lowercase())
    } else {
        scrub_label(hex)
    }
}

/// The most characters [`scrub_lines`] keeps.
pub const MAX_LINES_CHARS: usize = 4_000;

/// Scrubs lines such as a stack's frames one by one, each like [`scrub_text`] (newlines inside
/// a line become spaces), and joins them with newlines, keeping whole lines while they fit in
/// [`MAX_LINES_CHARS`]: put the lines that matter most first.
pub fn scrub_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Clean {
    let mut out = String::new();
    for line in lines {
        let scrubbed = scrub_text(&line.replace(['\n', '\r'], " ")).into_string();
        if out.chars().count() + scrubbed.chars().count() + 1 > MAX_LINES_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&scrubbed);
    }
    Clean::wrap(out)
}

/// Scrubs a short label such as an event name, a property key or a browser name.
///
/// Like [`scrub_text`], and also trims, collapses runs of whitespace to one space and cuts the
/// result to [`MAX_LABEL_CHARS`] chars.
pub fn scrub_label(input: &str) -> Clean {
    // Collapse before scrubbing so that `4111  1111 ...` is seen as the single number it is.
    let text = normalize::collapse_whitespace(&normalize_text(input));
    let text = BUILTIN.scrub_normalized(&text, None).text;
    Clean::wrap(normalize::truncate_chars(text, MAX_LABEL_CHARS).trim_end().to_owned())
}

/// Scrubs a name that a User-Agent parser captured from the request (browser, operating
/// system, device brand and model).
///
/// The parser's rules pick product names out of the header, but the captured text is still
/// request input, so strong personal data (e-mail addresses, cards, phone numbers, tokens) is
/// replaced as in [`scrub_label`]. Plates and long numbers are not looked for: model codes
/// such as `SM-G991B`, `CPH2211` or `2201117TG` have their shape and are kept.
pub fn scrub_user_agent_label(input: &str) -> Clean {
    let text = normalize::collapse_whitespace(&normalize_text(input));
    let text = USER_AGENT_LABEL.scrub_normalized(&text, None).text;
    Clean::wrap(normalize::truncate_chars(text, MAX_LABEL_CHARS).trim_end().to_owned())
}

/// A value read from the bundled reference databases (country and province names from the
/// geo database, network operator names from the ASN database).
///
/// These are data, not visitor input: no detector runs, so an operator such as
/// `5GNET INTERNET` is kept as it is. Control characters are still dropped, whitespace is
/// collapsed and the value is cut to [`MAX_LABEL_CHARS`] chars, as for any label. Never pass
/// request input here.
pub fn reference_label(value: &str) -> Clean {
    let folded: String = normalize::fold(value).chars().filter(|c| !c.is_control()).collect();
    let text = normalize::collapse_whitespace(&folded);
    Clean::wrap(normalize::truncate_chars(text, MAX_LABEL_CHARS).trim_end().to_owned())
}

/// Scrubs a URL path or a decoded query value. `+` is left alone because it is literal in
/// paths; callers decode form-encoded query values themselves.
pub fn scrub_url_part(input: &str) -> Clean {
    scrub_text(input)
}

#[cfg(test)]
mod tests;
