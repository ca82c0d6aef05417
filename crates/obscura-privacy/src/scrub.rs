//! The PII scrubber: every piece of free text passes through here before it may be stored.
//!
//! Analytics payloads are written by site owners, and they leak personal data by accident:
//! an e-mail address in a page path, a phone number in an event property, a client IP in an
//! error message. The scrubber replaces the common shapes of such data with fixed placeholders
//! (`[email]`, `[ip]`, `[number]`) and returns a [`Clean`], the only text type storage takes.
//!
//! It is deliberately greedy: a false positive costs one mangled label, a false negative puts
//! personal data on disk. A few harmless shapes that would otherwise be caught as long numbers
//! (dates, times, UUIDs) are recognised and left alone, because they are everywhere in error
//! messages and carry no personal data.

use std::net::Ipv6Addr;
use std::ops::Range;
use std::sync::LazyLock;

use percent_encoding::percent_decode_str;
use regex::Regex;

use crate::clean::Clean;

/// Longest free text (event property values, error messages) that is kept, in chars.
pub const MAX_TEXT_CHARS: usize = 500;
/// Longest label (event names, property keys, browser names, countries) that is kept, in chars.
pub const MAX_LABEL_CHARS: usize = 100;

const EMAIL_PLACEHOLDER: &str = "[email]";
const IP_PLACEHOLDER: &str = "[ip]";
const NUMBER_PLACEHOLDER: &str = "[number]";
const PLACEHOLDERS: [&str; 3] = [EMAIL_PLACEHOLDER, IP_PLACEHOLDER, NUMBER_PLACEHOLDER];

/// How many rounds of percent-decoding URL parts get: double-encoded text (`%2540`) must not
/// hide an address from the scrubber.
const MAX_DECODE_ROUNDS: usize = 3;

/// `local@domain.tld`. The top-level label must start with a letter so that package specs
/// such as `lodash@4.17.21` are not taken for addresses.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[\w.+%-]+@(?:[\w-]+\.)+\p{L}[\w-]*").expect("valid e-mail regex")
});

/// A candidate IPv6 address (with an optional dotted IPv4 tail); validated by `check_ipv6`.
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,8}(?:\.[0-9]{1,3}){0,3}")
        .expect("valid IPv6 regex")
});

/// A candidate IPv4 address; validated by `check_ipv4`.
static IPV4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}").expect("valid IPv4 regex"));

/// Nine or more digits, with at most one separator between digits: a space (also the
/// no-break and thin spaces used to group digits), `.`, `-`, `+` (a form-encoded space), or
/// parentheses around an area code as in `(415) 555-0132` or `+44 (0)20 7946 0958`.
/// A leading `+` belongs to the number.
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\+?\(?\d(?:(?:[ .+\-\x{A0}\x{2009}\x{202F}]|\)[ \-]?| ?\()?\d){8,}")
        .expect("valid number regex")
});

/// Shapes that look like long numbers but are not personal data; validated before use.
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
        .expect("valid UUID regex")
});
static ISO_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").expect("valid date regex"));
static DOTTED_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}").expect("valid dotted date regex")
});
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:[.,][0-9]{1,9})?").expect("valid time regex")
});

/// Scrubs free text such as an event property value or an error message.
///
/// Control characters are dropped (tabs and line breaks become spaces), personal data is
/// replaced by placeholders, and the result is cut to [`MAX_TEXT_CHARS`] chars.
pub fn scrub_text(input: &str) -> Clean {
    let text = scrub(&strip_controls(input));
    Clean::wrap(truncate_chars(text, MAX_TEXT_CHARS))
}

/// Scrubs a short label such as an event name, a property key or a browser name.
///
/// Like [`scrub_text`], and also trims, collapses runs of whitespace to one space and cuts the
/// result to [`MAX_LABEL_CHARS`] chars.
pub fn scrub_label(input: &str) -> Clean {
    // Collapse before scrubbing so that `4111  1111 ...` is seen as the single number it is.
    let text = collapse_whitespace(&strip_controls(input));
    let text = truncate_chars(scrub(&text), MAX_LABEL_CHARS);
    Clean::wrap(text.trim_end().to_owned())
}

/// Scrubs a URL path or a query value.
///
/// The input is percent-decoded first (invalid UTF-8 is replaced), so that `jane%40example.com`
/// is recognised as an address; then it is scrubbed like [`scrub_text`]. `+` is left alone
/// because it is literal in paths; callers decode form-encoded query values themselves.
pub fn scrub_url_part(input: &str) -> Clean {
    let text = scrub(&strip_controls(&percent_decode(input)));
    Clean::wrap(truncate_chars(text, MAX_TEXT_CHARS))
}

/// Replaces every kind of personal data we recognise. Order matters: addresses first, because
/// they may contain digits; IPv6 before IPv4, because of IPv4-mapped forms (`::ffff:1.2.3.4`);
/// IPv4 before numbers, because dotted addresses also look like long numbers.
fn scrub(text: &str) -> String {
    // Fast path: every pattern needs an `@`, two colons (IPv6) or four digits (IPv4, numbers);
    // most labels and paths have none, and skipping the regexes keeps ingest fast.
    // Non-ASCII text (full-width digits, other scripts' digits and at-signs) always takes the
    // full path.
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let colons = text.bytes().filter(|b| *b == b':').count();
    if text.is_ascii() && digits < 4 && colons < 2 && !text.contains('@') {
        return text.to_owned();
    }
    let text = replace_ranges(
        text,
        &find_checked(text, &EMAIL, check_email),
        EMAIL_PLACEHOLDER,
    );
    let text = replace_ranges(
        &text,
        &find_checked(&text, &IPV6, check_ipv6),
        IP_PLACEHOLDER,
    );
    let text = replace_ranges(
        &text,
        &find_checked(&text, &IPV4, check_ipv4),
        IP_PLACEHOLDER,
    );
    replace_numbers(&text)
}

/// Decodes `%XX` escapes, repeatedly, until the text no longer changes.
fn percent_decode(input: &str) -> String {
    let mut text = input.to_owned();
    if !text.contains('%') {
        return text;
    }
    for _ in 0..MAX_DECODE_ROUNDS {
        let decoded = percent_decode_str(&text).decode_utf8_lossy().into_owned();
        if decoded == text {
            break;
        }
        text = decoded;
    }
    text
}

/// Drops ASCII control characters. Tabs and line breaks become spaces so that the words on
/// either side do not run together.
fn strip_controls(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if c.is_ascii_control() => None,
            c => Some(c),
        })
        .collect()
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `text` to at most `max` chars, without leaving half a placeholder (`[num`) behind.
fn truncate_chars(mut text: String, max: usize) -> String {
    let Some((cut, _)) = text.char_indices().nth(max) else {
        return text;
    };
    let mut end = cut;
    for placeholder in PLACEHOLDERS {
        for k in 1..placeholder.len() {
            let Some(start) = cut.checked_sub(k) else {
                break;
            };
            // `get` is None when `start` is not a char boundary, i.e. not a placeholder start.
            if text
                .get(start..)
                .is_some_and(|rest| rest.starts_with(placeholder))
            {
                end = end.min(start);
            }
        }
    }
    text.truncate(end);
    text
}

/// What to do with a regex candidate.
enum Verdict {
    /// Replace this range (the candidate, possibly shortened at its end).
    Replace(Range<usize>),
    /// Not a match; look again from the next char, as a real match may start inside.
    Retry,
    /// Not a match, and nothing inside it is either; continue after it.
    Skip,
}

/// Finds the non-overlapping ranges of `re` that `check` accepts, left to right.
///
/// The `regex` crate has no look-around, so boundary rules and validation (is every octet at
/// most 255?) live in `check` instead of in the patterns.
fn find_checked(
    text: &str,
    re: &Regex,
    check: impl Fn(&str, Range<usize>) -> Verdict,
) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut pos = 0;
    while pos <= text.len() {
        let Some(m) = re.find_at(text, pos) else {
            break;
        };
        pos = match check(text, m.range()) {
            Verdict::Replace(r) if !r.is_empty() && r.start >= m.start() && r.end <= m.end() => {
                let end = r.end;
                found.push(r);
                end
            }
            Verdict::Skip if m.end() > m.start() => m.end(),
            _ => next_char(text, m.start()),
        };
    }
    found
}

/// The byte index after the char at `i`, or past the end when there is none.
fn next_char(text: &str, i: usize) -> usize {
    text[i..]
        .chars()
        .next()
        .map_or(text.len() + 1, |c| i + c.len_utf8())
}

fn replace_ranges(text: &str, ranges: &[Range<usize>], with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for r in ranges {
        out.push_str(&text[last..r.start]);
        out.push_str(with);
        last = r.end;
    }
    out.push_str(&text[last..]);
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// True when `text[r]` is a token of its own: not glued to a letter or digit, and not
/// continued through one of `seps` by another digit (`1.2.3.4.5` holds no IPv4 address).
fn isolated(text: &str, r: &Range<usize>, seps: &[char]) -> bool {
    clear_before(text, r.start, seps) && clear_after(text, r.end, seps)
}

fn clear_before(text: &str, start: usize, seps: &[char]) -> bool {
    clear_side(text[..start].chars().rev(), seps)
}

fn clear_after(text: &str, end: usize, seps: &[char]) -> bool {
    clear_side(text[end..].chars(), seps)
}

/// `chars` walks away from a token; checks that the token does not continue that way.
fn clear_side(mut chars: impl Iterator<Item = char>, seps: &[char]) -> bool {
    match chars.next() {
        None => true,
        Some(c) if is_word(c) => false,
        Some(c) if seps.contains(&c) => !chars.next().is_some_and(|d| d.is_numeric()),
        Some(_) => true,
    }
}

fn check_email(text: &str, r: Range<usize>) -> Verdict {
    let domain = text[r.clone()].rsplit('@').next().unwrap_or_default();
    let first_label = domain.split('.').next().unwrap_or_default();
    // Retina asset names such as `icon@2x.png` are file names, not addresses.
    let is_scale = first_label.len() > 1
        && first_label.ends_with('x')
        && first_label[..first_label.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_digit());
    if is_scale {
        Verdict::Skip
    } else {
        Verdict::Replace(r)
    }
}

fn check_ipv6(text: &str, mut r: Range<usize>) -> Verdict {
    // `2001:db8::1: connection refused` - the colon after the address is punctuation.
    let candidate = &text[r.clone()];
    if candidate.ends_with(':') && !candidate.ends_with("::") {
        r.end -= 1;
    }
    let candidate = &text[r.clone()];
    let groups: usize = candidate
        .split(':')
        .filter(|g| !g.is_empty())
        .map(|g| if g.contains('.') { 2 } else { 1 })
        .sum();
    // At least three groups: short forms like `fe80::1` or `::1` identify no one, and times
    // such as `12:30:45` fail to parse as addresses.
    if groups >= 3 && candidate.parse::<Ipv6Addr>().is_ok() && isolated(text, &r, &[]) {
        Verdict::Replace(r)
    } else {
        Verdict::Retry
    }
}

fn check_ipv4(text: &str, r: Range<usize>) -> Verdict {
    let octets_ok = text[r.clone()].split('.').all(|o| o.parse::<u8>().is_ok());
    if octets_ok && isolated(text, &r, &['.']) {
        Verdict::Replace(r)
    } else {
        Verdict::Retry
    }
}

/// A UUID is kept only if it has a hex letter: an all-digit "UUID" may well be a number.
fn check_uuid(text: &str, r: Range<usize>) -> Verdict {
    let has_letter = text[r.clone()].bytes().any(|b| b.is_ascii_alphabetic());
    if has_letter && isolated(text, &r, &['-']) {
        Verdict::Replace(r)
    } else {
        Verdict::Retry
    }
}

/// Splits `text[r]` on `sep` into numbers; None if a part is not one.
fn parts(text: &str, r: &Range<usize>, seps: &[char]) -> Option<Vec<u32>> {
    text[r.clone()]
        .split(seps)
        .map(|p| p.parse().ok())
        .collect()
}

fn check_iso_date(text: &str, r: Range<usize>) -> Verdict {
    match parts(text, &r, &['-']).as_deref() {
        Some([_, m, d]) if (1..=12).contains(m) && (1..=31).contains(d) => {}
        _ => return Verdict::Retry,
    }
    if isolated(text, &r, &['-', '.']) {
        Verdict::Replace(r)
    } else {
        Verdict::Retry
    }
}

fn check_dotted_date(text: &str, r: Range<usize>) -> Verdict {
    match parts(text, &r, &['.']).as_deref() {
        Some([d, m, _]) if (1..=31).contains(d) && (1..=12).contains(m) => {}
        _ => return Verdict::Retry,
    }
    if isolated(text, &r, &['-', '.']) {
        Verdict::Replace(r)
    } else {
        Verdict::Retry
    }
}

fn check_time(text: &str, r: Range<usize>) -> Verdict {
    // Only hours, minutes and seconds are range-checked; the fraction can be anything.
    match parts(text, &r, &[':', '.', ',']).as_deref() {
        Some([h, m, rest @ ..])
            if *h <= 24 && *m <= 59 && rest.first().is_none_or(|s| *s <= 60) => {}
        _ => return Verdict::Retry,
    }
    // ISO 8601 glues the time to its date with `T` and may close it with `Z`.
    let seps = [':', '.'];
    let after_iso_t = text[..r.start]
        .strip_suffix('T')
        .is_some_and(|rest| rest.ends_with(|c: char| c.is_ascii_digit()));
    let before_ok = after_iso_t || clear_before(text, r.start, &seps);
    let zulu = text[r.end..].starts_with('Z') && clear_after(text, r.end + 1, &[]);
    let after_ok = zulu || clear_after(text, r.end, &seps);
    if before_ok && after_ok {
        Verdict::Replace(r)
    } else {
        Verdict::Retry
    }
}

/// Spans that must not be read as numbers (UUIDs, dates, times), sorted and non-overlapping.
fn protected_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = find_checked(text, &UUID, check_uuid);
    spans.extend(find_checked(text, &ISO_DATE, check_iso_date));
    spans.extend(find_checked(text, &DOTTED_DATE, check_dotted_date));
    spans.extend(find_checked(text, &TIME, check_time));
    spans.sort_by_key(|r| r.start);
    let mut kept: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        if kept.last().is_some_and(|last| span.start < last.end) {
            continue;
        }
        kept.push(span);
    }
    kept
}

/// Replaces long digit runs, treating protected spans as walls: `2026-03-15 12:30:45` is a
/// date and a time, not the ten-digit number `2026-03-15 12`.
fn replace_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for span in protected_spans(text) {
        out.push_str(&NUMBER.replace_all(&text[last..span.start], NUMBER_PLACEHOLDER));
        out.push_str(&text[span.clone()]);
        last = span.end;
    }
    out.push_str(&NUMBER.replace_all(&text[last..], NUMBER_PLACEHOLDER));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(input: &str) -> String {
        scrub_text(input).into_string()
    }

    #[test]
    fn scrub_removes_emails() {
        assert_eq!(
            text("mail jane.doe+news@example.co.uk now"),
            "mail [email] now"
        );
        assert_eq!(text("<JANE@Example.COM>"), "<[email]>");
        assert_eq!(text("a@b.cc, c.d@e-f.org."), "[email], [email].");
    }

    #[test]
    fn scrub_keeps_non_email_at_signs() {
        assert_eq!(text("icon@2x.png"), "icon@2x.png");
        assert_eq!(text("lodash@4.17.21"), "lodash@4.17.21");
        assert_eq!(text("@jane said hi"), "@jane said hi");
    }

    #[test]
    fn scrub_removes_ipv4() {
        assert_eq!(text("from 192.168.1.20 at noon"), "from [ip] at noon");
        assert_eq!(text("http://10.0.0.1:8080/x"), "http://[ip]:8080/x");
        assert_eq!(text("peer 8.8.8.8."), "peer [ip].");
    }

    #[test]
    fn scrub_ignores_non_ipv4_dotted_numbers() {
        assert_eq!(text("v1.2.3.4"), "v1.2.3.4");
        assert_eq!(text("oid 1.2.3.4.5"), "oid 1.2.3.4.5");
        assert_eq!(text("999.1.1.1"), "999.1.1.1");
    }

    #[test]
    fn scrub_removes_ipv6() {
        assert_eq!(text("2001:0db8:85a3:0000:0000:8a2e:0370:7334"), "[ip]");
        assert_eq!(text("addr 2001:db8::8a2e:370:7334."), "addr [ip].");
        assert_eq!(text("ip:2001:db8::1: refused"), "ip:[ip]: refused");
        assert_eq!(text("mapped ::ffff:192.168.1.1 ok"), "mapped [ip] ok");
    }

    #[test]
    fn scrub_keeps_times_and_short_ipv6() {
        assert_eq!(text("at 12:30:45 today"), "at 12:30:45 today");
        assert_eq!(text("fe80::1"), "fe80::1");
        assert_eq!(text("std::vec::Vec"), "std::vec::Vec");
    }

    #[test]
    fn scrub_removes_long_numbers() {
        assert_eq!(text("call +1 415-555-0132 now"), "call [number] now");
        assert_eq!(text("card 4111 1111 1111 1111"), "card [number]");
        assert_eq!(text("id 110101199003074578"), "id [number]");
        assert_eq!(text("tel (415) 555-0132"), "tel [number]");
        assert_eq!(text("+44 (0)20 7946 0958"), "[number]");
        assert_eq!(text("ref 123.456.789"), "ref [number]");
        // Full-width digits (common in Chinese input) are digits too.
        assert_eq!(text("tel １３８００１３８０００"), "tel [number]");
    }

    #[test]
    fn scrub_keeps_short_numbers() {
        assert_eq!(text("year 2026"), "year 2026");
        assert_eq!(text("screen 1920x1080"), "screen 1920x1080");
        assert_eq!(text("v1.2.3"), "v1.2.3");
        assert_eq!(text("12345678"), "12345678");
        assert_eq!(text("1 2 3 4 5 6 7 8"), "1 2 3 4 5 6 7 8");
    }

    #[test]
    fn scrub_keeps_uuids_dates_and_times() {
        let uuid = "550e8400-e29b-41d4-a716-446655440000";
        assert_eq!(text(&format!("id {uuid}")), format!("id {uuid}"));
        assert_eq!(text("2026-03-15 12:30:45"), "2026-03-15 12:30:45");
        assert_eq!(text("15.03.2026 12:30"), "15.03.2026 12:30");
        assert_eq!(
            text("2026-03-15T12:30:45.123456789Z"),
            "2026-03-15T12:30:45.123456789Z"
        );
    }

    #[test]
    fn scrub_numbers_next_to_protected_spans() {
        assert_eq!(text("2026-03-15 4155550132"), "2026-03-15 [number]");
        assert_eq!(text("00000000-0000-0000-0000-004155550132"), "[number]");
    }

    #[test]
    fn scrub_does_not_decode_plain_text() {
        assert_eq!(text("jane%40example.com"), "jane%40example.com");
    }

    #[test]
    fn scrub_strips_control_characters() {
        assert_eq!(text("a\u{0}b\u{7}c\nd\te\u{7f}"), "abc d e");
        assert_eq!(text("4111\u{0}1111\u{0}1111\u{0}1111"), "[number]");
    }

    #[test]
    fn scrub_truncates_text() {
        let long = "é".repeat(600);
        assert_eq!(text(&long).chars().count(), MAX_TEXT_CHARS);
        let out = text(&format!("{} 4111 1111 1111 1111", "x".repeat(497)));
        assert_eq!(out, format!("{} ", "x".repeat(497)));
    }

    #[test]
    fn scrub_label_trims_and_collapses() {
        assert_eq!(
            scrub_label("  Sign\tUp \n Clicked  ").as_str(),
            "Sign Up Clicked"
        );
        assert_eq!(
            scrub_label("user jane@example.com").as_str(),
            "user [email]"
        );
        assert_eq!(scrub_label("4111  1111  1111  1111").as_str(), "[number]");
        assert_eq!(
            scrub_label(&"a".repeat(150)).as_str().len(),
            MAX_LABEL_CHARS
        );
        assert_eq!(
            scrub_label(&format!("{} b", "a".repeat(99))).as_str(),
            "a".repeat(99)
        );
    }

    #[test]
    fn scrub_url_part_decodes_first() {
        assert_eq!(
            scrub_url_part("/user/jane%40example.com/x").as_str(),
            "/user/[email]/x"
        );
        assert_eq!(
            scrub_url_part("/u/jane%2540example.com").as_str(),
            "/u/[email]"
        );
        assert_eq!(
            scrub_url_part("%2B1%20415%20555%200132").as_str(),
            "[number]"
        );
        assert_eq!(scrub_url_part("/tags/c++").as_str(), "/tags/c++");
        assert_eq!(scrub_url_part("/a%0Ab%00c").as_str(), "/a bc");
        assert_eq!(scrub_url_part("/bad%FFbyte").as_str(), "/bad\u{FFFD}byte");
    }
}
