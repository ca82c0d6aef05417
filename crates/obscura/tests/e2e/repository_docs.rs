//! PROMISES.md and ARCHITECTURE.md stay true: the promise list matches the tests named after
//! the promises, and every crate depends only on the crates ARCHITECTURE.md allows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Functions named `pNN_…` in the workspace's sources, by promise number.
fn promise_tests_in_code() -> BTreeMap<u32, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&repository().join("crates"), &mut files);
    let mut found: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for line in text.lines() {
            let Some(rest) =
                line.trim_start().strip_prefix("fn ").or_else(|| line.trim_start().strip_prefix("async fn "))
            else {
                continue;
            };
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if let Some(number) = promise_number(&name) {
                found.entry(number).or_default().insert(name);
            }
        }
    }
    found
}

/// `p13_…` → 13.
fn promise_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('p')?.get(..2)?;
    let number = digits.parse().ok()?;
    name[3..].starts_with('_').then_some(number)
}

/// The tests PROMISES.md lists under each `## PNN` heading (the first name in backticks on each
/// `- ` line).
fn promise_tests_listed(text: &str) -> BTreeMap<u32, BTreeSet<String>> {
    let mut listed: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## P") {
            let number: String = heading.chars().take_while(char::is_ascii_digit).collect();
            current = Some(number.parse::<u32>().expect("a promise number after ## P"));
            listed.entry(current.expect("just set")).or_default();
        } else if let (Some(promise), Some(item)) = (current, line.strip_prefix("- `")) {
            let name = item.split('`').next().expect("a name in backticks");
            listed.entry(promise).or_default().insert(name.to_owned());
        }
    }
    listed
}

#[test]
fn promises_md_lists_exactly_the_tests_named_after_each_promise() {
    let text = std::fs::read_to_string(repository().join("PROMISES.md")).expect("PROMISES.md at the repository root");
    let listed = promise_tests_listed(&text);
    let in_code = promise_tests_in_code();
    assert_eq!(
        listed.keys().copied().collect::<Vec<_>>(),
        (1..=16).collect::<Vec<_>>(),
        "one section per promise, P1 to P16"
    );
    assert!(in_code.values().map(BTreeSet::len).sum::<usize>() >= 40, "the source walk finds the promise tests");
    for promise in 1..=16 {
        let listed = listed.get(&promise).cloned().unwrap_or_default();
        let in_code = in_code.get(&promise).cloned().unwrap_or_default();
        let missing: Vec<_> = in_code.difference(&listed).collect();
        let stale: Vec<_> = listed.difference(&in_code).collect();
        assert!(missing.is_empty(), "P{promise}: tests named after it but not in PROMISES.md: {missing:?}");
        assert!(
            stale.is_empty(),
            "P{promise}: listed in PROMISES.md but no such test (or under another promise): {stale:?}"
        );
    }
}

/// The `obscura-*` crates under `[dependencies]` of each workspace crate.
fn internal_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(repository().join("crates")).expect("crates folder").flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let table: toml::Table = text.parse().expect("valid Cargo.toml");
        let name = table["package"]["name"].as_str().expect("package name").to_owned();
        let deps = table.get("dependencies").and_then(|d| d.as_table()).cloned().unwrap_or_default();
        let internal = deps.keys().filter(|k| k.starts_with("obscura")).cloned().collect();
        out.insert(name, internal);
    }
    out
}

/// The ```deps block of ARCHITECTURE.md: crate → crates it may depend on.
fn allowed_dependencies(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let block = text.split("```deps\n").nth(1).expect("a ```deps block").split("```").next().expect("closed block");
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (name, allowed) = line.split_once(':').expect("`crate: allowed, …`");
            let allowed = allowed.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
            (name.trim().to_owned(), allowed)
        })
        .collect()
}

#[test]
fn architecture_md_allows_every_dependency_between_the_crates() {
    let text =
        std::fs::read_to_string(repository().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md at the repository root");
    let allowed = allowed_dependencies(&text);
    let actual = internal_dependencies();
    assert!(actual.len() >= 9, "the workspace's crates are found: {:?}", actual.keys());
    assert_eq!(
        allowed.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>(),
        "every crate, and only those, in the block"
    );
    for (name, deps) in &actual {
        let not_allowed: Vec<_> = deps.difference(&allowed[name]).collect();
        assert!(not_allowed.is_empty(), "{name} depends on {not_allowed:?}, which ARCHITECTURE.md does not allow");
    }
}

/// The lines of the fenced block of ARCHITECTURE.md tagged `tag`.
fn block<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    let start = format!("```{tag}\n");
    let block = text.split(start.as_str()).nth(1).expect("the block").split("```").next().expect("closed block");
    block.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

#[test]
fn architecture_md_web_feature_modules_import_no_other_feature_module() {
    let text = std::fs::read_to_string(repository().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let features = block(&text, "web-features");
    let src = repository().join("crates/obscura-web/src");
    for feature in &features {
        let file = src.join(format!("{feature}.rs"));
        let mut files = Vec::new();
        if file.exists() {
            files.push(file);
        } else {
            rust_files(&src.join(feature), &mut files);
        }
        assert!(!files.is_empty(), "web feature module {feature} not found");
        for path in files {
            let code = std::fs::read_to_string(&path).expect("readable source");
            for other in features.iter().filter(|other| *other != feature) {
                for reference in [format!("crate::{other}::"), format!("crate::{other};"), format!("crate::{{{other}")]
                {
                    assert!(!code.contains(&reference), "{} refers to the feature module {other}", path.display());
                }
            }
        }
    }
}

#[test]
fn repository_docs_name_only_files_that_exist() {
    for doc in ["PROMISES.md", "ARCHITECTURE.md"] {
        let text = std::fs::read_to_string(repository().join(doc)).expect("the document");
        let paths: Vec<&str> = text.split('`').filter(|part| part.starts_with("crates/")).collect();
        assert!(paths.len() >= 5, "{doc} names files");
        for path in paths {
            let path = path.trim_end_matches('/');
            assert!(repository().join(path).exists(), "{doc} names {path}, which does not exist");
        }
    }
}

#[test]
fn repository_docs_checks_find_what_they_look_for() {
    assert_eq!(promise_number("p02_salts_destroyed_after_48h"), Some(2));
    assert_eq!(promise_number("hardening_p02_x"), None);
    assert_eq!(promise_number("p1_x"), None);
    let listed = promise_tests_listed("## P1 — a\n- `p01_a` — `x.rs`\n## P2 — b\n**Proved by:** none\n");
    assert_eq!(listed[&1], BTreeSet::from(["p01_a".to_owned()]));
    assert!(listed[&2].is_empty());
    let allowed = allowed_dependencies("x\n```deps\na:\nb: a, c\n```\n");
    assert!(allowed["a"].is_empty());
    assert_eq!(allowed["b"], BTreeSet::from(["a".to_owned(), "c".to_owned()]));
}
