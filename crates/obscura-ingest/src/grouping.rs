//! Grouping error reports into issues: reports of the same bug share a fingerprint.
//!
//! The built-in grouping uses the exception's type and its stack — each frame's module (or
//! file) and function, never line numbers, so the same bug stays one issue when code above it
//! moves. The application's own frames are used when the SDK marks any; otherwise every frame.
//! A report without a stack groups by type and its message as a template (every word with a
//! digit in it — numbers, ids, hashes — becomes `<x>`). An SDK's own `fingerprint` is
//! honoured, `{{ default }}` standing for the built-in grouping. Fingerprints are computed from
//! scrubbed text only.

use sha2::{Digest, Sha256};

/// A stack frame as grouping sees it (scrubbed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupFrame {
    /// The module, or else the file.
    pub location: Option<String>,
    /// The function.
    pub function: Option<String>,
    /// The SDK marked the frame as the application's own code.
    pub in_app: Option<bool>,
}

/// What a report is grouped by (scrubbed).
#[derive(Clone, Debug, Default)]
pub struct GroupInput<'a> {
    /// The exception type, if any.
    pub kind: Option<&'a str>,
    /// The exception value or log message.
    pub message: Option<&'a str>,
    /// The stack of the reported exception, the most recent call last.
    pub frames: &'a [GroupFrame],
    /// Where it happened (transaction or culprit).
    pub transaction: Option<&'a str>,
    /// The SDK's own fingerprint, if it sent one.
    pub sdk: &'a [String],
}

/// The report's fingerprint: 16 hex digits.
pub fn fingerprint(input: &GroupInput<'_>) -> String {
    let components = if input.sdk.is_empty() {
        default_components(input)
    } else {
        input
            .sdk
            .iter()
            .flat_map(|part| match part.replace(' ', "").as_str() {
                "{{default}}" => default_components(input),
                "{{type}}" => vec![input.kind.unwrap_or("").to_owned()],
                "{{message}}" => vec![template(input.message.unwrap_or(""))],
                "{{transaction}}" => vec![input.transaction.unwrap_or("").to_owned()],
                _ => vec![format!("sdk:{part}")],
            })
            .collect()
    };
    let mut hash = Sha256::new();
    for c in &components {
        hash.update(c.as_bytes());
        hash.update([0x1f]);
    }
    hex::encode(&hash.finalize()[..8])
}

/// The built-in grouping's components.
fn default_components(input: &GroupInput<'_>) -> Vec<String> {
    let mut out = vec![format!("type:{}", input.kind.unwrap_or(""))];
    let any_in_app = input.frames.iter().any(|f| f.in_app == Some(true));
    let frames: Vec<String> = input
        .frames
        .iter()
        .filter(|f| !any_in_app || f.in_app == Some(true))
        .map(|f| {
            format!(
                "frame:{}|{}",
                normalise_location(f.location.as_deref().unwrap_or("")),
                f.function.as_deref().unwrap_or("")
            )
        })
        .collect();
    if frames.iter().any(|f| f != "frame:|") {
        out.extend(frames);
    } else {
        out.push(format!("message:{}", template(input.message.unwrap_or(""))));
    }
    out
}

/// A module or file as grouping compares it: without query, fragment or host, and with
/// build hashes in file names (`app.3f9a2c1b.js`) as `<x>`, so a new build is the same code.
fn normalise_location(location: &str) -> String {
    let location = location.split(['?', '#']).next().unwrap_or("");
    let path = match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |at| &rest[at..]),
        None => location,
    };
    path.split('/')
        .map(|segment| segment.split('.').map(masked).collect::<Vec<_>>().join("."))
        .collect::<Vec<_>>()
        .join("/")
}

/// A message as a template: each word holding a digit becomes `<x>`.
pub fn template(message: &str) -> String {
    message.split_whitespace().map(masked).collect::<Vec<_>>().join(" ")
}

fn masked(word: &str) -> String {
    if word.chars().any(|c| c.is_ascii_digit()) { "<x>".to_owned() } else { word.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(location: &str, function: &str, in_app: Option<bool>) -> GroupFrame {
        GroupFrame { location: Some(location.into()), function: Some(function.into()), in_app }
    }

    fn of(kind: &str, message: &str, frames: &[GroupFrame]) -> String {
        fingerprint(&GroupInput { kind: Some(kind), message: Some(message), frames, ..GroupInput::default() })
    }

    #[test]
    fn grouping_same_bug_from_other_lines_and_builds_groups_together() {
        let before = [
            frame("https://shop.example/vendor.1a2b3c4d.js", "dispatch", Some(false)),
            frame("https://shop.example/app.3f9a2c1b.js?v=1", "pay", Some(true)),
        ];
        let after = [
            frame("https://cdn.example/vendor.99887766.js", "run", Some(false)),
            frame("https://shop.example/app.77aa88bb.js", "pay", Some(true)),
        ];
        assert_eq!(
            of("TypeError", "x is undefined", &before),
            of("TypeError", "x is not defined here", &after),
            "same type, same in-app frames"
        );
        assert_ne!(of("TypeError", "x", &before), of("RangeError", "x", &before), "another type is another issue");
        let other_function = [frame("https://shop.example/app.js", "refund", Some(true))];
        assert_ne!(of("TypeError", "x", &before), of("TypeError", "x", &other_function));
        assert_eq!(of("E", "", &[frame("src/a.rs", "f", None), frame("src/b.rs", "g", None)]).len(), 16);
    }

    #[test]
    fn grouping_messages_without_a_stack_group_by_template() {
        assert_eq!(of("", "order 1234 failed after 3.5s", &[]), of("", "order 98 failed after 12s", &[]));
        assert_ne!(of("", "order 1234 failed", &[]), of("", "payment 1234 failed", &[]));
        assert_eq!(template("user a3f9b2c1 not found (code 0x1f)"), "user <x> not found (code <x>");
    }

    #[test]
    fn grouping_honours_the_sdk_fingerprint_and_default() {
        let frames = [frame("app", "pay", Some(true))];
        let sdk = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let with = |parts: &[String], kind: &str| {
            fingerprint(&GroupInput { kind: Some(kind), message: None, frames: &frames, transaction: None, sdk: parts })
        };
        let own = sdk(&["payments-down"]);
        assert_eq!(with(&own, "TypeError"), with(&own, "RangeError"), "the SDK's grouping wins");
        let split = sdk(&["{{ default }}", "tenant-a"]);
        assert_ne!(with(&split, "TypeError"), with(&sdk(&["{{ default }}", "tenant-b"]), "TypeError"));
        assert_ne!(with(&split, "TypeError"), with(&split, "RangeError"), "{{ default }} keeps the built-in parts");
        assert_eq!(with(&sdk(&["{{default}}"]), "TypeError"), with(&[], "TypeError"));
    }
}
