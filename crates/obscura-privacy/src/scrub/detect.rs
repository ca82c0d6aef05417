//! The built-in detectors: one per kind of personal data, each finding the byte ranges of
//! that kind in normalised text.
//!
//! The `regex` crate has no look-around, so boundary rules and validation (is every octet at
//! most 255? does the Luhn check pass?) live in check functions beside each pattern. Number
//! shapes are searched only between "walls": spans such as dates, times, UUIDs, hashes and
//! version numbers that look numeric but carry no personal data.

use std::net::Ipv6Addr;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::{cards, checksum};

/// A kind of personal data the scrubber knows by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A PEM block (`-----BEGIN … PRIVATE KEY-----` and the like).
    PrivateKey,
    /// The `user:password@` part of a URL.
    Credentials,
    /// A JSON Web Token (`eyJ….eyJ….…`).
    Jwt,
    /// A provider API key with a known prefix (Stripe, AWS, GitHub, Slack, Google, GitLab, OpenAI).
    ApiKey,
    /// The token after `Bearer` or `Basic`.
    Bearer,
    /// The value after a key such as `password`, `token`, `api_key` or `session`.
    Secret,
    /// An e-mail address.
    Email,
    /// A network card (MAC) address.
    Mac,
    /// An IPv4 or IPv6 address.
    Ip,
    /// GPS coordinates: a latitude/longitude pair, or a value after `lat`, `lng` and the like.
    Location,
    /// The user name in a home-directory path (`/home/alice`, `C:\Users\alice`).
    HomeDir,
    /// A Chinese resident identity card number (18 characters, checksum verified).
    CnResidentId,
    /// An international bank account number (IBAN) with valid check digits.
    Iban,
    /// A US social security number (`123-45-6789`).
    UsSsn,
    /// A device IMEI or MEID number, found after the word `IMEI` or `MEID`.
    Imei,
    /// A payment card number: a known brand prefix and length, and a valid Luhn check digit.
    Card,
    /// A phone number, international or national, including Chinese mobile numbers.
    Phone,
    /// A passport number, found after the word "passport" (in several languages).
    Passport,
    /// A vehicle registration plate.
    Plate,
    /// Catch-all: any other long number (9+ digits), such as account or customer numbers.
    Number,
}

impl Kind {
    /// Every kind, in the order the built-in rules apply them: where two kinds claim the same
    /// text, the earlier wins (a password inside a URL is credentials, not an e-mail address).
    pub const ALL: [Kind; 20] = [
        Kind::PrivateKey,
        Kind::Credentials,
        Kind::Jwt,
        Kind::ApiKey,
        Kind::Bearer,
        Kind::Secret,
        Kind::Email,
        Kind::Mac,
        Kind::Ip,
        Kind::Location,
        Kind::HomeDir,
        Kind::Iban,
        Kind::CnResidentId,
        Kind::UsSsn,
        Kind::Imei,
        Kind::Card,
        Kind::Passport,
        Kind::Plate,
        Kind::Phone,
        Kind::Number,
    ];

    /// The name used in rules and reports (`builtin = "email"`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::PrivateKey => "private_key",
            Kind::Credentials => "credentials",
            Kind::Jwt => "jwt",
            Kind::ApiKey => "api_key",
            Kind::Bearer => "bearer",
            Kind::Secret => "secret",
            Kind::Email => "email",
            Kind::Mac => "mac",
            Kind::Ip => "ip",
            Kind::Location => "location",
            Kind::HomeDir => "home_dir",
            Kind::CnResidentId => "cn_resident_id",
            Kind::Iban => "iban",
            Kind::UsSsn => "us_ssn",
            Kind::Imei => "imei",
            Kind::Card => "card",
            Kind::Phone => "phone",
            Kind::Passport => "passport",
            Kind::Plate => "plate",
            Kind::Number => "number",
        }
    }

    /// The kind with this rule name (inverse of [`Kind::name`]); `None` for an unknown name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The typed placeholder that replaces a finding by default.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::PrivateKey => "[private-key]",
            Kind::Credentials => "[credentials]",
            Kind::Jwt | Kind::Bearer => "[token]",
            Kind::ApiKey | Kind::Secret => "[secret]",
            Kind::Email => "[email]",
            Kind::Mac => "[mac]",
            Kind::Ip => "[ip]",
            Kind::Location => "[location]",
            Kind::HomeDir => "[user]",
            Kind::CnResidentId | Kind::UsSsn | Kind::Passport => "[id]",
            Kind::Iban => "[iban]",
            Kind::Imei => "[imei]",
            Kind::Card => "[card]",
            Kind::Phone => "[phone]",
            Kind::Plate => "[plate]",
            Kind::Number => "[number]",
        }
    }

    /// True for kinds made of digits, which are searched only between walls.
    fn numeric(self) -> bool {
        matches!(self, Kind::CnResidentId | Kind::UsSsn | Kind::Card | Kind::Phone | Kind::Number)
    }

    /// Finds this kind in `text`; `walls` are the protected spans (see [`walls`]).
    pub fn find(self, text: &str, walls: &[Range<usize>]) -> Vec<Range<usize>> {
        if self.numeric() {
            let mut found = Vec::new();
            let mut last = 0;
            for wall in walls.iter().chain(std::iter::once(&(text.len()..text.len()))) {
                for r in self.find_in(&text[last..wall.start]) {
                    let r = r.start + last..r.end + last;
                    // `6925291543-2eeb7da5`: digits joined to a hash are part of its identifier.
                    let joined_before = last > 0 && joined_to_wall(&text[last..r.start]);
                    let joined_after = wall.start < text.len() && joined_to_wall(&text[r.end..wall.start]);
                    if !(joined_before || joined_after) {
                        found.push(r);
                    }
                }
                last = wall.end;
            }
            found
        } else {
            self.find_in(text)
        }
    }

    fn find_in(self, text: &str) -> Vec<Range<usize>> {
        match self {
            Kind::PrivateKey => find_all(text, &PEM),
            Kind::Credentials => find_groups(text, &USERINFO, |_, _| true),
            Kind::Jwt => find_all(text, &JWT),
            Kind::ApiKey => find_checked(text, &API_KEY, |t, r| isolated(t, &r, &[])),
            Kind::Bearer => find_groups(text, &BEARER, |t, r| {
                let token = &t[r];
                token.len() >= 24 || token.bytes().any(|b| b.is_ascii_digit())
            }),
            Kind::Secret => find_any_group(text, &SECRET_KV, |t, r| {
                // `Authorization: Bearer …` names a scheme; the bearer rule takes the token.
                let value = &t[r];
                !value.starts_with('[') && !value.eq_ignore_ascii_case("bearer") && !value.eq_ignore_ascii_case("basic")
            }),
            Kind::Email => find_checked(text, &EMAIL, check_email),
            Kind::Mac => find_checked(text, &MAC, |t, r| isolated(t, &r, &[':', '-', '.'])),
            Kind::Ip => {
                let mut found = find_verdicts(text, &IPV6, check_ipv6);
                found.extend(find_checked(text, &IPV4, |t, r| {
                    t[r.clone()].split('.').all(|o| o.parse::<u8>().is_ok())
                        && isolated(t, &r, &['.'])
                        && !after_product_name(t, r.start)
                }));
                found
            }
            Kind::Location => {
                let mut found = find_checked(text, &GPS_PAIR, check_gps_pair);
                found.extend(find_groups(text, &GPS_KEYED, |_, _| true));
                found
            }
            Kind::HomeDir => find_any_group(text, &HOME_DIR, |t, r| {
                !matches!(&t[r], "Shared" | "Public" | "Default" | "All Users" | "Default User" | "runner")
            }),
            Kind::CnResidentId => {
                find_checked(text, &CN_ID, |t, r| checksum::cn_resident_id(&t[r.clone()]) && isolated(t, &r, &[]))
            }
            Kind::Iban => find_ibans(text),
            Kind::UsSsn => find_checked(text, &SSN, check_ssn),
            Kind::Imei => find_groups(text, &IMEI_KEYED, |_, _| true),
            Kind::Card => find_checked(text, &CARD, |t, r| {
                let digits: String = t[r.clone()].chars().filter(char::is_ascii_digit).collect();
                // A bare run after `count=` or before `bytes` is a quantity; a grouped one is not.
                let bare = digits.len() == r.len();
                cards::is_card_number(&digits)
                    && isolated(t, &r, &[' ', '-'])
                    && !in_identifier(t, &r)
                    && !(bare && technical_quantity(t, &r))
            }),
            Kind::Phone => {
                // Chinese text runs words together, so only Latin letters and digits glue.
                let mut found = find_checked(text, &CN_MOBILE, |t, r| !in_identifier(t, &r));
                found.extend(find_checked(text, &PHONE, check_phone));
                found
            }
            Kind::Passport => find_groups(text, &PASSPORT, |_, _| true),
            Kind::Plate => {
                let mut found = find_groups(text, &PLATE_KEYED, |t, r| t[r].chars().any(|c| c.is_ascii_digit()));
                // Chinese plates sit between Han characters without spaces; only Latin letters
                // and digits on either side mean the shape is part of something longer.
                let ascii_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
                for re in PLATE_SHAPES.iter() {
                    found.extend(find_checked(text, re, |t, r| {
                        !ascii_word(t[..r.start].chars().next_back()) && !ascii_word(t[r.end..].chars().next())
                    }));
                }
                found.extend(find_checked(text, &PLATE_CODE, check_plate_code));
                found
            }
            Kind::Number => find_verdicts(text, &NUMBER, check_number),
        }
    }
}

/// True when `between` (the text between a finding and a wall) is nothing or one joiner.
fn joined_to_wall(between: &str) -> bool {
    matches!(between, "" | "-" | "_" | ".")
}

/// Cheap facts about a text that rule detectors out before any regex runs.
pub struct Profile {
    digits: usize,
    upper: usize,
    at: bool,
    colons: usize,
    dots: usize,
    dashes: usize,
    ascii: bool,
}

impl Profile {
    /// Counts, in one pass, the characters of `text` the detectors' pre-checks look at.
    pub fn of(text: &str) -> Profile {
        let mut p = Profile { digits: 0, upper: 0, at: false, colons: 0, dots: 0, dashes: 0, ascii: text.is_ascii() };
        for b in text.bytes() {
            match b {
                b'0'..=b'9' => p.digits += 1,
                b'A'..=b'Z' => p.upper += 1,
                b'@' => p.at = true,
                b':' => p.colons += 1,
                b'.' => p.dots += 1,
                b'-' => p.dashes += 1,
                _ => {}
            }
        }
        p
    }
}

impl Kind {
    /// False when this kind cannot occur in a text with `profile`; `keywords` says whether the
    /// text holds one of the words keyword-based kinds look after (or is not ASCII).
    pub fn may_occur(self, p: &Profile, keywords: bool) -> bool {
        // Non-ASCII text may hold full-width or other-script forms; it always takes every path.
        if !p.ascii {
            return true;
        }
        match self {
            Kind::PrivateKey => p.dashes >= 5,
            Kind::Credentials => p.at && p.colons >= 1,
            Kind::Jwt | Kind::ApiKey | Kind::Bearer | Kind::Secret | Kind::HomeDir | Kind::Passport | Kind::Imei => {
                keywords
            }
            Kind::Email => p.at,
            Kind::Mac => p.colons >= 5 || p.dashes >= 5 || p.dots >= 2,
            Kind::Ip => (p.dots >= 3 && p.digits >= 4) || p.colons >= 2,
            Kind::Location => p.digits >= 6 || (keywords && p.digits >= 4),
            Kind::CnResidentId => p.digits >= 17,
            Kind::Iban => p.digits >= 13 && p.upper >= 2,
            Kind::UsSsn => p.digits >= 9 && p.dashes >= 2,
            Kind::Card => p.digits >= 12,
            Kind::Phone => p.digits >= 8,
            Kind::Plate => p.digits >= 1 && (p.upper >= 1 || keywords),
            Kind::Number => p.digits >= 9,
        }
    }
}

/// Spans that look like numbers but carry no personal data: UUIDs, dates, times, hex hashes
/// and addresses, and version numbers after a product name. Sorted, non-overlapping.
pub fn walls(text: &str) -> Vec<Range<usize>> {
    let mut spans = find_checked(text, &UUID, |t, r| {
        t[r.clone()].bytes().any(|b| b.is_ascii_alphabetic()) && isolated(t, &r, &['-'])
    });
    spans.extend(find_verdicts(text, &ISO_DATE, check_iso_date));
    spans.extend(find_verdicts(text, &DOTTED_DATE, check_dotted_date));
    spans.extend(find_verdicts(text, &TIME, check_time));
    spans.extend(find_checked(text, &HEX_TOKEN, |t, r| {
        // `0x` marks hex even when every digit happens to be decimal (`0x0000000000401136`).
        let token = &t[r.clone()];
        let marked = token.starts_with("0x") && token.len() > 2;
        (marked || token.bytes().any(|b| b.is_ascii_alphabetic())) && isolated(t, &r, &[])
    }));
    spans.extend(find_groups(text, &VERSION, |_, _| true));
    spans.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut kept: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        if kept.last().is_some_and(|last| span.start < last.end) {
            continue;
        }
        kept.push(span);
    }
    kept
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern}: {e}"))
}

static PEM: LazyLock<Regex> =
    LazyLock::new(|| re(r"-----BEGIN [A-Z0-9 ]{1,40}-----.*?(?:-----END [A-Z0-9 ]{1,40}-----|$)"));
static USERINFO: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b[a-z][a-z0-9+.\-]{1,15}://([^\s/@\[\]]+)@"));
static JWT: LazyLock<Regex> = LazyLock::new(|| re(r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"));
static API_KEY: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?:[sprw]k_(?:live|test)_[0-9A-Za-z]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[0-9A-Za-z]{30,}",
        r"|xox[abposr]-[0-9A-Za-z\-]{10,}|AIza[0-9A-Za-z_\-]{35}|glpat-[0-9A-Za-z_\-]{20,}",
        r"|sk-[0-9A-Za-z_\-]{32,})"
    ))
});
static BEARER: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b(?:bearer|basic)\s+([A-Za-z0-9._~+/=\-]{8,})"));
static SECRET_KV: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"(?i)(?:\b|_)(?:password|passwd|passwort|passcode|pwd|pass|secret|client[_\-]?secret|"#,
        r#"api[_\-]?secret|token|access[_\-]?token|refresh[_\-]?token|id[_\-]?token|auth[_\-]?token|"#,
        r#"csrf[_\-]?token|api[_\-]?key|apikey|x-api-key|private[_\-]?key|secret[_\-]?key|"#,
        r#"session[_\-]?id|sessionid|session|sid|auth|authorization|credentials?|mot de passe|"#,
        r#"contraseña|密码|口令)"#,
        r#"["']?\s*[:=]\s*(?:"([^"]{1,200})"|'([^']{1,200})'|([^\s"'&,;<>{}\]\[]+))"#
    ))
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| re(r"[\w.+%\-]+@(?:[\w\-]+\.)+\p{L}[\w\-]*"));
static MAC: LazyLock<Regex> =
    LazyLock::new(|| re(r"[0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,8}(?:\.[0-9]{1,3}){0,3}"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"));
static GPS_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    re(r"([+\-]?[0-9]{1,3}\.[0-9]{3,})°?(?:\s?[NS]\b)?\s*[,;/ ]\s*([+\-]?[0-9]{1,3}\.[0-9]{3,})°?(?:\s?[EW]\b)?")
});
static GPS_KEYED: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?i)\b(?:lat|latitude|lng|lon|long|longitude)["']?\s*[:=]?\s*["']?([+\-]?[0-9]{1,3}\.[0-9]{3,})"#)
});
/// A user name after a home-directory prefix. Windows names may hold spaces, so there the name
/// runs to the next backslash (or quote, comma or end of text).
static HOME_DIR: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"(?:/home/|/Users/|/export/home/)([^/\\\s:*?"<>|]+)"#,
        r#"|(?:[A-Za-z]:\\{1,2}(?:Users|Documents and Settings)\\{1,2}|\\{1,2}Users\\{1,2})"#,
        r#"([^/\\:*?"<>|]+?)(?:\\|["',]|$)"#
    ))
});
static CN_ID: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]{17}[0-9Xx]"));
static IBAN_CANDIDATE: LazyLock<Regex> = LazyLock::new(|| re(r"\b[A-Z]{2}[0-9]{2}(?:[ \-]?[A-Z0-9]){11,30}"));
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]{3}-[0-9]{2}-[0-9]{4}"));
static IMEI_KEYED: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(?:imei|meid)\s*(?:no\.?|nr\.?|number|#)?\s*[:=#]?\s*([0-9](?:[ \-/]?[0-9]){13,16})"));
static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9](?:[ \-]?[0-9]){11,18}"));
static CN_MOBILE: LazyLock<Regex> = LazyLock::new(|| re(r"(?:\+?86[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]{4}){2}"));
/// A phone number: optional `+` or `00` country code, optional area code in parentheses,
/// digit groups joined by single separators, optional extension.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?:\+|\b00)?\(?[0-9]{1,5}\)?(?:(?:[ .\-/\x{A0}]|\)[ \-]?| ?\(0?\)? ?| ?\()?[0-9]{1,5}\)?){1,7}",
        r"(?:\s?(?:x|ext\.?|extension|#)\s?[0-9]{1,6})?"
    ))
});
static PASSPORT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)(?:passport|passeport|reisepass|pasaporte|passaporto|护照)",
        r"[^A-Za-z0-9]{0,4}(?:(?:no|nr|number|num|numéro|nummer|n°|n|号码|号)\.?)?[^A-Za-z0-9]{0,4}",
        r"(?:(?:is|ist|est)\s+)?(?-i:([A-Z0-9]{6,12}))\b"
    ))
});
static PLATE_KEYED: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)(?:licen[cs]e[ \-]?plate|number[ \-]?plate|plate|registration|\breg\b|anpr|kennzeichen|",
        r"nummernschild|immatriculation|plaque|车牌(?:号码|号)?)",
        r"[^A-Za-z0-9\p{Han}]{0,4}(?:(?:no|nr|number|is|ist|est)\.?\s+)?",
        r"(?-i:(\p{Han}?[A-Z0-9](?:[A-Z0-9·・ \-]{0,9}[A-Z0-9])?))"
    ))
});
/// Plate formats that are recognisable without a keyword: China, the UK, France (SIV and the
/// older format) and Germany.
static PLATE_SHAPES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领][A-Z][·・ \-]?[A-Z0-9]{5,6}",
        r"\b[A-Z]{2}[0-9]{2} ?[A-Z]{3}\b",
        r"\b[A-Z]{2}-[0-9]{3}-[A-Z]{2}\b",
        r"\b[0-9]{1,4}[ \-][A-Z]{2,3}[ \-][0-9]{2}\b",
        r"\b[A-ZÄÖÜ]{1,3}[ \-][A-ZÄÖÜ]{1,2}[ \-][0-9]{1,4}[EH]?\b",
    ]
    .into_iter()
    .map(re)
    .collect()
});
/// Short codes of capitals and digits, one or two parts (`7ABC123`, `5WV 859`, `ABC-1234`,
/// `51A•884`): the many US and other plate formats. Checked by [`check_plate_code`].
static PLATE_CODE: LazyLock<Regex> = LazyLock::new(|| re(r"\b[A-Z0-9]{1,8}(?:[ \-•·][A-Z0-9]{1,7})?\b"));
/// Codes that have the shape of a plate but name technical things (`HTTP 503`, `ISO 8601`,
/// `SHA256`, `CHF 2569`, `SKU4809`): a code starting with one of these is not a plate.
const TECHNICAL_CODE_PREFIXES: &[&str] = &[
    "HTTP", "ISO", "RFC", "UTF", "SHA", "MD5", "AES", "RSA", "CVE", "TLS", "SSL", "TCP", "UDP", "API", "SKU", "ERR",
    "VAT", "PID", "GET", "PUT", "POST", "HEAD", "CHF", "EUR", "USD", "GBP", "CNY", "RMB", "JPY", "AUD", "CAD", "COVID",
    "MP3", "MP4", "H26", "X86", "ARM", "IPV", "WIN", "PS", "ES20", "ECMA", "IE1", "PR", "ID", "NO", "NR", "REF",
    "ORDER", "INV", "TICKET", "ISSUE",
];
/// Nine or more digits with at most one separator between digits: a catch-all for account,
/// order and customer numbers that have no format of their own.
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"\+?\(?[0-9](?:(?:[ .+\-\x{A0}\x{2009}\x{202F}]|\)[ \-]?| ?\()?[0-9]){8,}"));

static UUID: LazyLock<Regex> =
    LazyLock::new(|| re(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"));
static ISO_DATE: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"));
static DOTTED_DATE: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]{1,2}[./][0-9]{1,2}[./][0-9]{4}"));
static TIME: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:[.,][0-9]{1,9})?"));
static HEX_TOKEN: LazyLock<Regex> = LazyLock::new(|| re(r"0x[0-9A-Fa-f]{4,}|[0-9A-Fa-f]{7,}"));
static VERSION: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:[A-Za-z][A-Za-z\-_]*/|\b[vV]|[@^~]|\bversion )([0-9]+(?:\.[0-9]+){1,4})"));

fn find_all(text: &str, re: &Regex) -> Vec<Range<usize>> {
    re.find_iter(text).map(|m| m.range()).collect()
}

/// The ranges of capture group 1 of each match that `keep` accepts.
fn find_groups(text: &str, re: &Regex, keep: impl Fn(&str, Range<usize>) -> bool) -> Vec<Range<usize>> {
    re.captures_iter(text)
        .filter_map(|c| c.get(1))
        .map(|g| g.range())
        .filter(|r| !r.is_empty() && keep(text, r.clone()))
        .collect()
}

/// Like [`find_groups`], for patterns whose alternatives capture in different groups.
fn find_any_group(text: &str, re: &Regex, keep: impl Fn(&str, Range<usize>) -> bool) -> Vec<Range<usize>> {
    re.captures_iter(text)
        .filter_map(|c| c.iter().skip(1).flatten().next())
        .map(|g| g.range())
        .filter(|r| !r.is_empty() && keep(text, r.clone()))
        .collect()
}

/// The matches of `re` that `check` accepts; a rejected candidate is retried from its next
/// char, as a real match may start inside it.
fn find_checked(text: &str, re: &Regex, check: impl Fn(&str, Range<usize>) -> bool) -> Vec<Range<usize>> {
    find_verdicts(text, re, |t, r| if check(t, r.clone()) { Verdict::Take(r) } else { Verdict::Retry })
}

/// What to do with a regex candidate.
enum Verdict {
    /// Take this range (the candidate, possibly shortened).
    Take(Range<usize>),
    /// Not a match; look again from the next char.
    Retry,
}

fn find_verdicts(text: &str, re: &Regex, check: impl Fn(&str, Range<usize>) -> Verdict) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut pos = 0;
    while pos <= text.len() {
        let Some(m) = re.find_at(text, pos) else {
            break;
        };
        pos = match check(text, m.range()) {
            Verdict::Take(r) if !r.is_empty() && r.start >= m.start() && r.end <= m.end() => {
                let end = r.end;
                found.push(r);
                end
            }
            _ => next_char(text, m.start()),
        };
    }
    found
}

/// The byte index after the char at `i`, or past the end when there is none.
fn next_char(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(text.len() + 1, |c| i + c.len_utf8())
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

/// `Chrome/132.0.0.0` is a version after a product name (reduced User-Agent strings end so),
/// while `/admin/bans/132.0.0.1` and `http://10.0.0.1` are addresses in paths and URLs.
fn after_product_name(text: &str, start: usize) -> bool {
    let Some(before) = text[..start].strip_suffix('/') else {
        return false;
    };
    let name_len = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .map(char::len_utf8)
        .sum::<usize>();
    let name = &before[before.len() - name_len..];
    name.starts_with(|c: char| c.is_ascii_alphabetic()) && !before[..before.len() - name_len].ends_with('/')
}

fn check_email(text: &str, r: Range<usize>) -> bool {
    let domain = text[r].rsplit('@').next().unwrap_or_default();
    let first_label = domain.split('.').next().unwrap_or_default();
    // Retina asset names such as `icon@2x.png` are file names, not addresses.
    let is_scale = first_label.len() > 1
        && first_label.ends_with('x')
        && first_label[..first_label.len() - 1].bytes().all(|b| b.is_ascii_digit());
    !is_scale
}

fn check_ipv6(text: &str, mut r: Range<usize>) -> Verdict {
    // `2001:db8::1: connection refused` - the colon after the address is punctuation.
    let candidate = &text[r.clone()];
    if candidate.ends_with(':') && !candidate.ends_with("::") {
        r.end -= 1;
    }
    let candidate = &text[r.clone()];
    let groups: usize =
        candidate.split(':').filter(|g| !g.is_empty()).map(|g| if g.contains('.') { 2 } else { 1 }).sum();
    // At least three groups: short forms like `fe80::1` or `::1` identify no one, and times
    // such as `12:30:45` fail to parse as addresses.
    if groups >= 3 && candidate.parse::<Ipv6Addr>().is_ok() && isolated(text, &r, &[]) {
        Verdict::Take(r)
    } else {
        Verdict::Retry
    }
}

fn check_gps_pair(text: &str, r: Range<usize>) -> bool {
    let Some(c) = GPS_PAIR.captures(&text[r.clone()]) else {
        return false;
    };
    let lat: f64 = c[1].parse().unwrap_or(f64::NAN);
    let lon: f64 = c[2].parse().unwrap_or(f64::NAN);
    lat.abs() <= 90.0 && lon.abs() <= 180.0 && isolated(text, &r, &['.'])
}

fn check_ssn(text: &str, r: Range<usize>) -> bool {
    let s = &text[r.clone()];
    let area = &s[..3];
    area != "000"
        && area != "666"
        && !area.starts_with('9')
        && &s[4..6] != "00"
        && &s[7..] != "0000"
        && isolated(text, &r, &['-'])
}

/// IBANs are matched greedily and then shortened until the check digits fit, so that a word
/// after the IBAN is not taken as part of it.
fn find_ibans(text: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    for m in IBAN_CANDIDATE.find_iter(text) {
        let candidate = &text[m.range()];
        let ends: Vec<usize> =
            candidate.char_indices().filter(|(_, c)| c.is_ascii_alphanumeric()).map(|(i, _)| i + 1).collect();
        for end in ends.into_iter().rev() {
            let compact: String = candidate[..end].chars().filter(char::is_ascii_alphanumeric).collect();
            if compact.len() < 15 {
                break;
            }
            let r = m.start()..m.start() + end;
            if checksum::iban_mod97(&compact) && clear_after(text, r.end, &[]) {
                found.push(r);
                break;
            }
        }
    }
    found
}

/// A phone candidate needs 8 to 15 digits and something that makes it a phone number rather
/// than any long number (an epoch timestamp, an order number, a counter): an international
/// prefix (`+`, or `00` in a grouped number), a trunk prefix (`0` and an area code), an area
/// code in parentheses, phone-style grouping in three or more groups of two to four digits
/// (`415-555-0132`, `06 12 34 56 78`) or a phone
/// word just before it (`tel`, `mobile`, `电话`). Lists of single digits (`1 2 3 4 5 6 7 8`)
/// and numbers grouped in thousands (`3 221 225 472`) are not phone numbers.
fn check_phone(text: &str, r: Range<usize>) -> bool {
    let candidate = &text[r.clone()];
    let main = candidate.split(['x', '#', 'e']).next().unwrap_or(candidate).trim_end();
    let digits = main.bytes().filter(u8::is_ascii_digit).count();
    if !(8..=15).contains(&digits) {
        return false;
    }
    let groups: Vec<&str> = main.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).collect();
    if groups.iter().filter(|g| g.len() == 1).count() > 2 || thousands_grouping(main, &groups) {
        return false;
    }
    if !isolated(text, &r, &['.', '-']) || in_identifier(text, &r) {
        return false;
    }
    // `31 764 537 924 octets` is a size; `count=4155550132` a counter; `Version 2024.10.3312`
    // a version. A phone number written with `+`, brackets, spaces or hyphens keeps its shape
    // whatever key it follows.
    let bare = groups.len() == 1 && !main.starts_with(['+', '(']);
    let dotted = main.contains('.') && !main.contains(['+', '(', ' ', '-']);
    if unit_after(text, r.end) || ((bare || dotted) && technical_key_before(text, r.start)) {
        return false;
    }
    let separated = groups.len() > 1;
    let international = main.starts_with('+') || (separated && main.starts_with("00"));
    let trunk = main.len() > 1 && main.starts_with('0') && (b'1'..=b'9').contains(&main.as_bytes()[1]);
    let area_in_parens = main.starts_with('(');
    let grouped = digits >= 9 && groups.len() >= 3 && groups.iter().skip(1).all(|g| (2..=4).contains(&g.len()));
    let keyword = phone_word_before(text, r.start) && !(groups.len() == 1 && looks_like_epoch(main));
    international || trunk || area_in_parens || grouped || keyword
}

/// `1,234,567,890`, `1.234.567.890` or `3 221 225 472`: a quantity written with thousands
/// separators, not a phone number.
fn thousands_grouping(main: &str, groups: &[&str]) -> bool {
    let separators: Vec<char> = main.chars().filter(|c| !c.is_ascii_digit()).collect();
    let one_kind = separators.windows(2).all(|w| w[0] == w[1]);
    let threes = groups.len() >= 3 && groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3);
    let thousands_separator = match separators.first() {
        Some(',' | '.' | '\'' | '\u{2009}' | '\u{202F}') => true,
        // With spaces, `612 345 678` may be a phone number; `3 221 225 472` is not.
        Some(' ' | '\u{A0}') => groups[0].len() == 1,
        _ => false,
    };
    one_kind && threes && thousands_separator
}

/// Words that announce a phone number, within a short distance before it.
static PHONE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)(?:\b(?:tel|tél|phone|mobile?|mob|cell|call|fax|sms|whatsapp|contact|telefon|handy|",
        r"rufnummer|rückruf|erreichbar|appel\w*|portable|joignable)|电话|手机|联系|回电|致电)"
    ))
});

fn phone_word_before(text: &str, start: usize) -> bool {
    PHONE_WORDS.is_match(window_before(text, start, 32))
}

/// Up to `bytes` bytes of text before `start`, cut at a char boundary.
fn window_before(text: &str, start: usize, bytes: usize) -> &str {
    let mut from = start.saturating_sub(bytes);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..start]
}

/// True when a digit run is part of a larger identifier: glued to a Latin letter or digit,
/// or joined to one by `-`, `_` or `.` (`ORD-2024-0012345`, `req_1234567890`,
/// `20240115-123456789-abc`, `build.123456789.tar`), continuing a slash-separated code after
/// digits (`ORD/2024/123456789`), or written after `#` (`#2024001234`).
/// Only ASCII counts as glue: Chinese text puts values right after words (`手机号13912345678`).
fn in_identifier(text: &str, r: &Range<usize>) -> bool {
    let glue = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let joiner = |c: Option<char>| matches!(c, Some('-' | '_' | '.'));
    let mut before = text[..r.start].chars().rev();
    let b1 = before.next();
    let b2 = before.next();
    let mut after = text[r.end..].chars();
    let a1 = after.next();
    let a2 = after.next();
    glue(b1)
        || (joiner(b1) && b2.is_some_and(|c| c.is_ascii_alphanumeric()))
        || b1 == Some('#')
        || (b1 == Some('/') && b2.is_some_and(|c| c.is_ascii_digit()))
        || glue(a1)
        || (joiner(a1) && a2.is_some_and(|c| c.is_ascii_alphanumeric()))
}

/// Unix time in seconds (2001 to 2033, optionally with a fraction), milliseconds,
/// microseconds or nanoseconds: ten, thirteen, sixteen or nineteen digits starting with 1.
/// No phone numbering plan writes a national number so (North American area codes do not
/// start with 1; Chinese mobile numbers have eleven digits).
fn looks_like_epoch(number: &str) -> bool {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    whole.starts_with('1')
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && (if fraction.is_empty() { matches!(whole.len(), 10 | 13 | 16 | 19) } else { whole.len() == 10 })
}

/// The catch-all for long numbers (account and customer numbers without a format of their
/// own) leaves technical numbers alone: epoch timestamps, digits that are part of an
/// identifier, and quantities named by their key or unit (`Content-Length: 1048576000`,
/// `requests_total 4294967296`, `3221225472 bytes`).
fn check_number(text: &str, r: Range<usize>) -> Verdict {
    let number = &text[r.clone()];
    // A timestamp and the next number run together as one candidate (`1733011200123 200`):
    // the timestamp stays, what follows it is judged on its own.
    if let Some(space) = number.find([' ', '\u{A0}'])
        && looks_like_epoch(&number[..space])
    {
        let gap = number[space..].chars().next().map_or(1, char::len_utf8);
        let rest = r.start + space + gap..r.end;
        let digits = text[rest.clone()].bytes().filter(u8::is_ascii_digit).count();
        return if digits >= 9 && plain_long_number(text, &rest) { Verdict::Take(rest) } else { Verdict::Retry };
    }
    if plain_long_number(text, &r) { Verdict::Take(r) } else { Verdict::Retry }
}

fn plain_long_number(text: &str, r: &Range<usize>) -> bool {
    !looks_like_epoch(&text[r.clone()]) && !in_identifier(text, r) && !technical_quantity(text, r)
}

/// A number named by a technical key before it or a unit after it.
fn technical_quantity(text: &str, r: &Range<usize>) -> bool {
    technical_key_before(text, r.start) || unit_after(text, r.end)
}

/// Parts of key names that say a number counts or measures something, or names a technical
/// object (`bytes_sent`, `Content-Length`, `x-request-id`, `trace_id`, `order_id`).
/// Only specific words: a vague one (`sent`, `time`, `page`) would hide phone and account
/// numbers written after it.
const TECHNICAL_KEY_PARTS: &[&str] = &[
    "size",
    "bytes",
    "byte",
    "len",
    "length",
    "count",
    "counter",
    "total",
    "offset",
    "seq",
    "sequence",
    "build",
    "pid",
    "tid",
    "uptime",
    "elapsed",
    "duration",
    "epoch",
    "timestamp",
    "ts",
    "expires",
    "expiry",
    "exp",
    "iat",
    "nbf",
    "rows",
    "records",
    "events",
    "requests",
    "request",
    "req",
    "ops",
    "hits",
    "inode",
    "lsn",
    "txid",
    "xid",
    "generation",
    "nonce",
    "heap",
    "rss",
    "mem",
    "memory",
    "quota",
    "capacity",
    "trace",
    "span",
    "order",
    "invoice",
    "job",
    "task",
    "revision",
    "rev",
    "commit",
    "checksum",
    "crc",
    "blocks",
    "ticks",
    "cycles",
    "ms",
    "ns",
    "us",
    "seconds",
    "millis",
    "nanos",
    "micros",
    "allocated",
    "version",
    "ino",
    "cursor",
    "message",
    "msg",
    "snowflake",
];

/// True when the word before the number (across `:`, `=`, `#`, quotes, spaces and a metric's
/// `{label="…"}` set) is a key with a technical part. Key parts are split at `_`, `-`, `.` and
/// lower-to-upper case steps.
fn technical_key_before(text: &str, start: usize) -> bool {
    let mut before = text[..start].trim_end_matches([' ', ':', '=', '"', '\'', '#']);
    if before.ends_with('}') {
        if let Some(open) = before.rfind('{') {
            before = &before[..open];
        }
    } else if start - before.len() > 4 {
        return false;
    }
    let key: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect::<Vec<char>>()
        .into_iter()
        .rev()
        .collect();
    key_parts(&key).any(|part| TECHNICAL_KEY_PARTS.contains(&part.to_ascii_lowercase().as_str()))
}

fn key_parts(key: &str) -> impl Iterator<Item = &str> {
    let mut cuts = vec![0];
    let bytes = key.as_bytes();
    for i in 1..bytes.len() {
        if bytes[i - 1].is_ascii_lowercase() && bytes[i].is_ascii_uppercase() {
            cuts.push(i);
        }
    }
    cuts.push(key.len());
    let words: Vec<&str> = cuts.windows(2).map(|w| &key[w[0]..w[1]]).collect();
    words.into_iter().flat_map(|word| word.split(['_', '-', '.'])).filter(|part| !part.is_empty())
}

/// Units after a number that make it a quantity (`3221225472 bytes`, `1234567890 rows`).
const UNITS: &[&str] = &[
    "b",
    "byte",
    "bytes",
    "kb",
    "kib",
    "mb",
    "mib",
    "gb",
    "gib",
    "tb",
    "tib",
    "octets",
    "ms",
    "ns",
    "µs",
    "us",
    "s",
    "sec",
    "secs",
    "seconds",
    "rows",
    "records",
    "events",
    "requests",
    "reqs",
    "items",
    "entries",
    "hits",
    "ops",
    "times",
    "messages",
    "msgs",
    "keys",
    "lines",
    "blocks",
    "pages",
    "packets",
    "frames",
    "cycles",
    "ticks",
    "iterations",
    "instructions",
    "samples",
    "points",
    "docs",
    "documents",
    "objects",
    "files",
    "tokens",
    "views",
    "clicks",
    "impressions",
    "visits",
    "pageviews",
    "downloads",
];

fn unit_after(text: &str, end: usize) -> bool {
    let rest = text[end..].strip_prefix([' ', '\u{A0}']).unwrap_or(&text[end..]);
    let word: String = rest.chars().take_while(|c| c.is_alphabetic() || *c == 'µ').collect();
    !word.is_empty() && UNITS.contains(&word.to_lowercase().as_str())
}

/// A plate-like code: 5 to 8 letters and digits in all, with at least two digits and no run
/// of five letters (`5GNET`, `21VIANET` are names). Product and error codes
/// are capitals followed by digits (`CS0246`, `MN056`, `TS-1083`), so a plate must mix them
/// some other way: start with a digit or have a letter after a digit (`7ABC123`, `289HFQ`,
/// `5WV 859`, `T86-LJO`), or be written with a dot separator (`51A•884`). Two-part codes of
/// one word and one number (`TTFB 398`, `983 KB`) are not taken. Nor is anything glued to
/// other text by `.`, `:`, `_`, `=`, `$` or `#` (file names, versions, identifiers), and
/// after a `/` only as a whole path segment. Device model codes (`SM-A515F`, `CPH2211`) are
/// not plates either: they follow a device word or brand, or sit in a User-Agent's
/// `(Linux; Android 13; SM-A515F Build/…)`.
fn check_plate_code(text: &str, r: Range<usize>) -> bool {
    let code = &text[r.clone()];
    let alnum: Vec<char> = code.chars().filter(char::is_ascii_alphanumeric).collect();
    let letters = alnum.iter().filter(|c| c.is_ascii_uppercase()).count();
    let digits = alnum.len() - letters;
    let dotted = code.contains(['•', '·']);
    let parts: Vec<&str> = code.split([' ', '-', '•', '·']).collect();
    let interleaved = |part: &str| {
        let mixed = part.bytes().any(|b| b.is_ascii_digit()) && part.bytes().any(|b| b.is_ascii_uppercase());
        let letter_after_digit = part.as_bytes().windows(2).any(|w| w[0].is_ascii_digit() && w[1].is_ascii_uppercase());
        mixed && (part.as_bytes()[0].is_ascii_digit() || letter_after_digit)
    };
    let bytes = code.as_bytes();
    let digits_then_letters = bytes.len() == 7
        && bytes[..3].iter().all(u8::is_ascii_digit)
        && matches!(bytes[3], b' ' | b'-')
        && bytes[4..].iter().all(u8::is_ascii_uppercase);
    let numbered_parts = parts.len() == 2 && parts.iter().all(|p| p.bytes().any(|b| b.is_ascii_digit()));
    let plate_like = dotted
        || digits_then_letters
        || (numbered_parts && letters >= 1)
        || parts.iter().any(|p| !p.is_empty() && interleaved(p));
    let technical = TECHNICAL_CODE_PREFIXES.iter().any(|p| parts.iter().any(|part| part.starts_with(p)));
    let glued = |c: Option<char>| c.is_some_and(|c| matches!(c, '.' | ':' | '_' | '=' | '#' | '$' | '+') || is_word(c));
    let longest_letter_run = code.split(|c: char| !c.is_ascii_uppercase()).map(str::len).max().unwrap_or(0);
    (5..=8).contains(&alnum.len())
        && letters >= 1
        && digits >= 2
        && longest_letter_run < 5
        && plate_like
        && !device_model(text, &r)
        && !organisation_name(text, &r)
        && !technical
        && !glued(text[..r.start].chars().next_back())
        && !continues_code(text, r.start)
        && !glued(text[r.end..].chars().next())
        && (!text[..r.start].ends_with('/') || whole_path_segment(text, &r))
}

/// True when the text before `start` is a code and a hyphen (`SM-` before `A515F`): the part
/// after the hyphen belongs to that code.
fn continues_code(text: &str, start: usize) -> bool {
    let mut before = text[..start].chars().rev();
    before.next() == Some('-') && before.next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Words after which a code names a device model, not a vehicle.
const DEVICE_WORDS: &[&str] = &[
    "model",
    "device",
    "handset",
    "phone",
    "smartphone",
    "tablet",
    "samsung",
    "galaxy",
    "xiaomi",
    "redmi",
    "poco",
    "oppo",
    "vivo",
    "realme",
    "oneplus",
    "huawei",
    "honor",
    "motorola",
    "moto",
    "nokia",
    "sony",
    "xperia",
    "lg",
    "zte",
    "nubia",
    "tecno",
    "infinix",
    "itel",
    "lenovo",
    "asus",
    "google",
    "pixel",
    "meizu",
    "sharp",
    "tcl",
    "alcatel",
];

fn device_model(text: &str, r: &Range<usize>) -> bool {
    let before = text[..r.start].trim_end_matches([' ', ':', '=', '"', '\'']);
    let word: String =
        before.chars().rev().take_while(char::is_ascii_alphabetic).collect::<Vec<char>>().into_iter().rev().collect();
    let after = &text[r.end..];
    let in_user_agent =
        text[..r.start].ends_with("; ") && (after.starts_with([')', '/']) || after.starts_with(" Build/"));
    let before_android = after.starts_with(" (Android");
    in_user_agent || before_android || DEVICE_WORDS.contains(&word.to_ascii_lowercase().as_str())
}

/// Words after a code that make it part of an organisation's name (`55NET S.A.`,
/// `2CRSI Corporation`), as network operators are named.
const ORGANISATION_WORDS: &[&str] = &[
    "internet",
    "telecom",
    "telekom",
    "telecomunicacoes",
    "telekomunikasyon",
    "network",
    "networks",
    "communication",
    "communications",
    "broadband",
    "fibra",
    "fiber",
    "fibre",
    "wireless",
    "mobile",
    "hosting",
    "cloud",
    "isp",
    "s.a.",
    "sa",
    "sas",
    "srl",
    "s.r.l.",
    "ltda",
    "ltd",
    "ltd.",
    "limited",
    "inc",
    "inc.",
    "llc",
    "gmbh",
    "ag",
    "bv",
    "b.v.",
    "corp",
    "corp.",
    "corporation",
    "co.",
    "company",
    "plc",
    "pty",
];

fn organisation_name(text: &str, r: &Range<usize>) -> bool {
    let next_word = text[r.end..].strip_prefix(' ').and_then(|rest| rest.split([' ', ',', ')']).next()).unwrap_or("");
    ORGANISATION_WORDS.contains(&next_word.to_lowercase().as_str())
}

/// `/permits/7KU9658` is a path segment; `Mobile/15E148 Safari` is a product token.
fn whole_path_segment(text: &str, r: &Range<usize>) -> bool {
    text[r.end..].chars().next().is_none_or(|c| matches!(c, '/' | '?' | '&' | '#'))
}

fn parts(text: &str, r: &Range<usize>, seps: &[char]) -> Option<Vec<u32>> {
    text[r.clone()].split(seps).map(|p| p.parse().ok()).collect()
}

fn check_iso_date(text: &str, r: Range<usize>) -> Verdict {
    match parts(text, &r, &['-']).as_deref() {
        Some([_, m, d]) if (1..=12).contains(m) && (1..=31).contains(d) => {}
        _ => return Verdict::Retry,
    }
    if isolated(text, &r, &['-', '.']) { Verdict::Take(r) } else { Verdict::Retry }
}

fn check_dotted_date(text: &str, r: Range<usize>) -> Verdict {
    match parts(text, &r, &['.', '/']).as_deref() {
        Some([a, b, _]) if (1..=31).contains(a) && (1..=31).contains(b) => {}
        _ => return Verdict::Retry,
    }
    if isolated(text, &r, &['-', '.']) { Verdict::Take(r) } else { Verdict::Retry }
}

fn check_time(text: &str, r: Range<usize>) -> Verdict {
    // Only hours, minutes and seconds are range-checked; the fraction can be anything.
    match parts(text, &r, &[':', '.', ',']).as_deref() {
        Some([h, m, rest @ ..]) if *h <= 24 && *m <= 59 && rest.first().is_none_or(|s| *s <= 60) => {}
        _ => return Verdict::Retry,
    }
    // ISO 8601 glues the time to its date with `T` and may close it with `Z`.
    let seps = [':', '.'];
    let after_iso_t =
        text[..r.start].strip_suffix('T').is_some_and(|rest| rest.ends_with(|c: char| c.is_ascii_digit()));
    let before_ok = after_iso_t || clear_before(text, r.start, &seps);
    let zulu = text[r.end..].starts_with('Z') && clear_after(text, r.end + 1, &[]);
    let after_ok = zulu || clear_after(text, r.end, &seps);
    if before_ok && after_ok { Verdict::Take(r) } else { Verdict::Retry }
}
