//! Scrubbing rules as data: what to find, what to do with it, and where the rule applies.
//!
//! The built-in rules are one per [`Kind`], each replacing its findings with the kind's typed
//! placeholder. Operators add their own in the configuration, for every site or for some:
//!
//! ```toml
//! [[scrub.rules]]
//! name = "order numbers"
//! pattern = "ORD-[0-9]{6}"      # or: keys = ["customer"], or: builtin = "phone"
//! action = "hash"               # replace (default) | remove | mask | hash
//! fields = ["url", "property"]  # default: every field
//! sites = ["shop.example"]      # default: every site
//! ```

use regex::Regex;
use serde::Deserialize;

use super::detect::Kind;

/// Where a piece of text came from. Rules may be limited to some fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Page path and kept query values.
    Url,
    /// Referrer host.
    Referrer,
    /// Custom event names.
    EventName,
    /// Event property keys and values.
    Property,
    /// Error messages and stack frames.
    Error,
    /// Log lines.
    Log,
}

impl Field {
    /// Every field.
    pub const ALL: [Field; 6] =
        [Field::Url, Field::Referrer, Field::EventName, Field::Property, Field::Error, Field::Log];

    /// The name used in the configuration (`fields = ["event_name"]`).
    pub fn name(self) -> &'static str {
        match self {
            Field::Url => "url",
            Field::Referrer => "referrer",
            Field::EventName => "event_name",
            Field::Property => "property",
            Field::Error => "error",
            Field::Log => "log",
        }
    }
}

/// What happens to a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Replace with a typed placeholder such as `[email]`.
    #[default]
    Replace,
    /// Remove the text.
    Remove,
    /// Replace every letter and digit with `*`, keeping separators (`***-**-****`).
    Mask,
    /// Replace with a keyed hash (`[hash:1f2e3d4c]`): equal values stay equal within one run of
    /// the server, but the key is never stored, so the value cannot be recovered or recomputed.
    Hash,
}

/// One rule as written in the configuration. Exactly one of `builtin`, `pattern` and `keys`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The rule's name (must not be blank), shown in reports and errors; gives the default placeholder.
    pub name: String,
    /// A built-in kind (`email`, `phone`, `card`, …).
    #[serde(default)]
    pub builtin: Option<String>,
    /// A regular expression; the whole match, or its first capture group if it has one.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Key names whose value is found: `customer=…`, `customer: …`, `"customer": "…"`.
    #[serde(default)]
    pub keys: Vec<String>,
    /// What to do with a finding; `replace` by default.
    #[serde(default)]
    pub action: ActionKind,
    /// The replacement for `action = "replace"`; defaults to `[<name>]` or the kind's own.
    #[serde(default)]
    pub placeholder: Option<String>,
    /// The fields the rule applies to; empty means every field.
    #[serde(default)]
    pub fields: Vec<Field>,
    /// The sites the rule applies to; empty means every site. Read by the caller.
    #[serde(default)]
    pub sites: Vec<String>,
}

/// What a rule looks for.
#[derive(Debug, Clone)]
pub enum Finder {
    /// A built-in detector.
    Builtin(Kind),
    /// A regular expression (from `pattern` or `keys`): its first capture group, or the whole match.
    Pattern(Regex),
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule's name, reported with each finding.
    pub name: String,
    /// What the rule looks for.
    pub finder: Finder,
    /// What happens to what it finds.
    pub action: ActionKind,
    /// The replacement text used by [`ActionKind::Replace`].
    pub placeholder: String,
    /// Empty: every field.
    pub fields: Vec<Field>,
}

impl Rule {
    /// The built-in rule for `kind`: replace with the kind's placeholder, in every field.
    pub fn builtin(kind: Kind) -> Rule {
        Rule {
            name: kind.name().to_owned(),
            finder: Finder::Builtin(kind),
            action: ActionKind::Replace,
            placeholder: kind.placeholder().to_owned(),
            fields: Vec::new(),
        }
    }

    /// Whether the rule applies to text from `field`; `None` matches only rules for every field.
    pub fn applies_to(&self, field: Option<Field>) -> bool {
        match field {
            None => self.fields.is_empty(),
            Some(f) => self.fields.is_empty() || self.fields.contains(&f),
        }
    }

    /// Compiles a configured rule, with an error that says what to fix.
    pub fn compile(spec: &RuleSpec) -> Result<Rule, RuleError> {
        let name = spec.name.trim();
        if name.is_empty() {
            return Err(RuleError::new(&spec.name, "needs a name"));
        }
        let given = [spec.builtin.is_some(), spec.pattern.is_some(), !spec.keys.is_empty()];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(RuleError::new(name, "needs exactly one of `builtin`, `pattern` or `keys`"));
        }
        let (finder, default_placeholder) = if let Some(builtin) = &spec.builtin {
            let kind = Kind::from_name(builtin).ok_or_else(|| {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                RuleError::new(name, &format!("unknown builtin `{builtin}`; known: {}", known.join(", ")))
            })?;
            (Finder::Builtin(kind), kind.placeholder().to_owned())
        } else if let Some(pattern) = &spec.pattern {
            let re = Regex::new(pattern).map_err(|e| RuleError::new(name, &format!("invalid pattern: {e}")))?;
            if re.is_match("") {
                return Err(RuleError::new(name, "pattern matches empty text"));
            }
            (Finder::Pattern(re), format!("[{}]", slug(name)))
        } else {
            let keys: Vec<String> = spec.keys.iter().map(|k| regex::escape(k.trim())).collect();
            if keys.iter().any(String::is_empty) {
                return Err(RuleError::new(name, "has an empty key name"));
            }
            let re = Regex::new(&format!(r#"(?i)\b(?:{})["']?\s*[:=]\s*["']?([^\s"'&,;<>{{}}\]\[]+)"#, keys.join("|")))
                .map_err(|e| RuleError::new(name, &format!("invalid key names: {e}")))?;
            (Finder::Pattern(re), format!("[{}]", slug(name)))
        };
        Ok(Rule {
            name: name.to_owned(),
            finder,
            action: spec.action,
            placeholder: spec.placeholder.clone().unwrap_or(default_placeholder),
            fields: spec.fields.clone(),
        })
    }
}

/// `order numbers` → `order-numbers`, for placeholders.
fn slug(name: &str) -> String {
    name.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join("-")
}

/// A configured scrub rule that cannot be compiled, and why.
#[derive(Debug, thiserror::Error)]
#[error("scrub rule `{name}` {problem}")]
pub struct RuleError {
    /// The name of the rule at fault.
    pub name: String,
    /// What is wrong, worded to follow the name (`needs a name`).
    pub problem: String,
}

impl RuleError {
    fn new(name: &str, problem: &str) -> Self {
        RuleError { name: name.to_owned(), problem: problem.to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rules are written as JSON here; serde reads them the same way as from TOML.
    fn spec(json: &str) -> RuleSpec {
        serde_json::from_str(json).expect("valid rule")
    }

    #[test]
    fn scrub_rules_compile_with_default_placeholders() {
        let rule = Rule::compile(&spec(r#"{"name": "Order numbers", "pattern": "ORD-[0-9]{6}"}"#)).unwrap();
        assert_eq!(rule.placeholder, "[order-numbers]");
        let rule = Rule::compile(&spec(r#"{"name": "phones", "builtin": "phone", "action": "mask"}"#)).unwrap();
        assert_eq!(rule.placeholder, "[phone]");
        assert_eq!(rule.action, ActionKind::Mask);
    }

    #[test]
    fn scrub_rules_errors_say_what_to_fix() {
        let err = |json: &str| Rule::compile(&spec(json)).unwrap_err().to_string();
        assert_eq!(err(r#"{"name": "x"}"#), "scrub rule `x` needs exactly one of `builtin`, `pattern` or `keys`");
        assert!(err(r#"{"name": "x", "builtin": "fax"}"#).contains("unknown builtin `fax`; known: private_key"));
        assert!(err(r#"{"name": "x", "pattern": "("}"#).contains("invalid pattern"));
        assert_eq!(err(r#"{"name": "x", "pattern": "a*"}"#), "scrub rule `x` pattern matches empty text");
        assert!(serde_json::from_str::<RuleSpec>(r#"{"name": "x", "pattern": "a", "colour": 1}"#).is_err());
    }
}
