//! The privacy boundary's text functions on any text: the scrubber's entry points, the built-in
//! and configured rules, the page-URL normaliser and the referrer classifier. The text is taken
//! as a page URL, a referrer and a site's domain alike.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use obscura_privacy::page_url::{normalize_page, normalize_page_keeping, scrub_page_path, scrub_property_value};
use obscura_privacy::referrer::{Source, classify};
use obscura_privacy::scrub::{self, ActionKind, Field, RuleSpec, SiteRules, cards, checksum};

/// Configured rules of every finder and action, one limited to a site, as `[[scrub.rules]]`
/// would hold them.
fn site_rules() -> &'static SiteRules {
    static RULES: OnceLock<SiteRules> = OnceLock::new();
    RULES.get_or_init(|| {
        let rule = |name: &str, action| RuleSpec {
            name: name.into(),
            builtin: None,
            pattern: None,
            keys: Vec::new(),
            action,
            placeholder: None,
            fields: Vec::new(),
            sites: Vec::new(),
        };
        let specs = [
            RuleSpec { keys: vec!["customer".into(), "order_id".into()], ..rule("customer", ActionKind::Mask) },
            RuleSpec { pattern: Some(r"\bACC-(\d{4,})\b".into()), ..rule("account", ActionKind::Hash) },
            RuleSpec {
                builtin: Some("email".into()),
                fields: vec![Field::Error, Field::Log],
                ..rule("mail", ActionKind::Remove)
            },
            RuleSpec {
                pattern: Some("(?i)internal-[a-z]+".into()),
                placeholder: Some("[internal]".into()),
                sites: vec!["shop.example".into()],
                ..rule("internal", ActionKind::Replace)
            },
        ];
        SiteRules::new(&specs).expect("the rules compile")
    })
}

fuzz_target!(
    init: {
        let _ = site_rules();
    },
    |data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        let text = text.as_ref();

        let _ = scrub::report(text);
        let cleaned = scrub::scrub_text(text);
        let _ = scrub::scrub_label(text);
        let _ = scrub::scrub_user_agent_label(text);
        let _ = scrub::digest_label(text);
        let _ = scrub::reference_label(text);
        let _ = scrub::scrub_url_part(text);
        let _ = scrub::scrub_lines(text.lines());
        for site in ["shop.example", text] {
            if let Some(rules) = site_rules().for_site(site) {
                for field in Field::ALL {
                    let _ = rules.apply(&cleaned, field);
                }
            }
        }
        let _ = (checksum::luhn(text), checksum::iban_mod97(text), checksum::cn_resident_id(text));
        let _ = (cards::brand(text), cards::is_card_number(text));

        let _ = scrub_page_path(text);
        let _ = scrub_property_value(text);
        let _ = normalize_page_keeping(text, &["via", "ref", "source"]);
        let has_utm = normalize_page(text).is_ok_and(|page| page.has_utm());
        let _ = classify(Some(text), "example.com", has_utm);
        let _ = classify(Some("https://www.google.com/search?q=x"), text, false);
        let _ = Source::parse(text);
    }
);
