//! Browser, operating system and device from the `User-Agent` header and UA Client Hints.
//!
//! The heavy lifting is done by the community-maintained uap-core `regexes.yaml` (through the
//! `uaparser` crate) when the operator installs it. Without it, [`UaParser::builtin`] falls back
//! to a handful of hand-written rules that cover the browsers and platforms making up the vast
//! majority of real traffic, so a fresh install still shows meaningful numbers.
//!
//! Chromium browsers freeze parts of their User-Agent string (Windows 11 claims to be Windows 10,
//! Android always claims version 10 on a device called `K`, Brave and others claim to be Chrome).
//! The truth is only available through Client Hints, so whenever a hint is present it wins over
//! what the UA string says. The server asks for the hints it needs with the [`ACCEPT_CH`]
//! response header.
//!
//! Only coarse values leave this module: the browser's major version, the OS's major (or, for
//! Apple platforms, major.minor) version, brand and model names. Those are shared by very many
//! people and cannot single anyone out.

use std::fmt;
use std::path::Path;

use anyhow::Context;
use uaparser::Parser as _;

/// Value for the `Accept-CH` response header: the Client Hints [`UaParser::parse`] understands.
///
/// The low-entropy hints (`Sec-CH-UA`, `-Mobile`, `-Platform`) are sent by default; the model and
/// the platform version are only sent once a response asked for them.
pub const ACCEPT_CH: &str =
    "Sec-CH-UA, Sec-CH-UA-Mobile, Sec-CH-UA-Platform, Sec-CH-UA-Model, Sec-CH-UA-Platform-Version";

/// Raw values of the UA Client Hints request headers, exactly as received.
#[derive(Debug, Clone, Default)]
pub struct ClientHints {
    /// `Sec-CH-UA`, e.g. `"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"`.
    pub ua: Option<String>,
    /// `Sec-CH-UA-Mobile`: `?1` or `?0`.
    pub mobile: Option<String>,
    /// `Sec-CH-UA-Platform`, e.g. `"Windows"`.
    pub platform: Option<String>,
    /// `Sec-CH-UA-Model`, e.g. `"Pixel 8"` (empty on desktops).
    pub model: Option<String>,
    /// `Sec-CH-UA-Platform-Version`, e.g. `"15.0.0"`.
    pub platform_version: Option<String>,
}

/// Coarse form factor of the visitor's device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceType {
    /// A desktop or laptop computer.
    Desktop,
    /// A phone.
    Mobile,
    /// A tablet, such as an iPad or an Android tablet.
    Tablet,
    /// The form factor could not be told; the default.
    #[default]
    Unknown,
}

impl DeviceType {
    /// The stored name of the device type.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Desktop => "desktop",
            DeviceType::Mobile => "mobile",
            DeviceType::Tablet => "tablet",
            DeviceType::Unknown => "unknown",
        }
    }
}

/// What enrichment learned about the visitor's software and hardware. `None` means unknown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Device {
    /// Browser name, one per browser across sources, e.g. `Chrome` (never "Chrome Mobile").
    pub browser: Option<String>,
    /// Major version only: finer versions add cardinality without adding insight.
    pub browser_version: Option<String>,
    /// Operating system name, e.g. `Windows`, `macOS`, `iOS`, `Android`.
    pub os: Option<String>,
    /// Major version, or major.minor for macOS and iOS (where minor releases matter).
    pub os_version: Option<String>,
    /// Device maker, e.g. `Apple`, `Samsung`, `Google`.
    pub brand: Option<String>,
    /// Device model name, e.g. `iPhone` or `Pixel 8`.
    pub model: Option<String>,
    /// Coarse form factor: desktop, mobile, tablet or unknown.
    pub device_type: DeviceType,
}

/// User-Agent parser: uap-core rules when installed, the built-in rules otherwise.
pub struct UaParser {
    /// `None` selects the built-in rules.
    uap: Option<uaparser::UserAgentParser>,
}

impl fmt::Debug for UaParser {
    // The compiled regex set is huge and says nothing useful; show which engine is active.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let engine = if self.uap.is_some() { "uap-core" } else { "builtin" };
        f.debug_struct("UaParser").field("engine", &engine).finish()
    }
}

impl UaParser {
    /// Loads the uap-core `regexes.yaml` from `path`.
    pub fn from_yaml_file(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading user-agent regexes {}", path.display()))?;
        Self::from_yaml_bytes(&bytes).with_context(|| format!("loading user-agent regexes {}", path.display()))
    }

    /// Builds the parser from the contents of a uap-core `regexes.yaml`.
    pub fn from_yaml_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        // Unicode-aware regexes cost several times the memory and the patterns only need ASCII
        // classes; uaparser's own test suite runs the full uap-core corpus in this mode.
        let parser = uaparser::UserAgentParser::builder()
            .with_unicode_support(false)
            .build_from_bytes(bytes)
            .map_err(|e| anyhow::anyhow!("invalid uap-core regexes.yaml: {e}"))?;
        Ok(Self { uap: Some(parser) })
    }

    /// The fallback used when no `regexes.yaml` is installed: a few hand-written rules for the
    /// common browsers (Edge, Chrome, Firefox, Safari, Opera, Samsung Internet) and platforms
    /// (Windows, macOS, iOS, Android, Linux, ChromeOS).
    pub fn builtin() -> Self {
        Self { uap: None }
    }

    /// Whether this parser runs on the built-in rules rather than uap-core.
    pub fn is_builtin(&self) -> bool {
        self.uap.is_none()
    }

    /// Parses a User-Agent string, letting any Client Hints present override it.
    pub fn parse(&self, user_agent: &str, hints: &ClientHints) -> Device {
        let (mut device, db_says_tablet) = match &self.uap {
            Some(parser) => parse_uap(parser, user_agent),
            None => (parse_builtin(user_agent), false),
        };
        let mobile_hint = apply_hints(&mut device, hints);
        let tablet = db_says_tablet || ua_says_tablet(user_agent);
        // Phones' browsers put a "Mobile" token in the UA string; Android tablets' do not.
        let mobile_token = user_agent.contains("Mobile");
        device.device_type = classify(device.os.as_deref(), tablet, mobile_token, mobile_hint);
        device
    }
}

// ---------------------------------------------------------------------------------------------
// uap-core
// ---------------------------------------------------------------------------------------------

/// Runs the uap-core rules. Also returns whether the device rules recognised a tablet.
fn parse_uap(parser: &uaparser::UserAgentParser, ua: &str) -> (Device, bool) {
    let agent = parser.parse_user_agent(ua);
    let os = parser.parse_os(ua);
    let hardware = parser.parse_device(ua);

    let browser = known(&agent.family).map(normalize_browser);
    let browser_version = if browser.is_some() { agent.major.as_deref().and_then(major_of) } else { None };

    let os_name = known(&os.family).map(normalize_os);
    let os_version =
        os_name.as_deref().and_then(|name| format_os_version(name, os.major.as_deref(), os.minor.as_deref()));

    // uap-core's catch-all Android rules report brands like "Generic_Android" and models like
    // "Smartphone": placeholders, not facts, so they are dropped.
    let raw_brand = hardware.brand.as_deref().map(str::trim);
    let generic = raw_brand.is_some_and(|b| b.starts_with("Generic"));
    let brand = raw_brand.filter(|b| !generic && !b.is_empty()).map(str::to_owned);
    let model = hardware
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| useful_model(m) && !(generic && matches!(*m, "Smartphone" | "Tablet")))
        .map(str::to_owned);

    let family: &str = &hardware.family;
    let tablet = family == "iPad" || family.contains("Tablet") || raw_brand == Some("Generic_Android_Tablet");

    let device =
        Device { browser, browser_version, os: os_name, os_version, brand, model, device_type: DeviceType::Unknown };
    (device, tablet)
}

/// uap-core says "Other" when it does not know; that is not a value worth storing.
fn known(family: &str) -> Option<&str> {
    let family = family.trim();
    (!family.is_empty() && family != "Other").then_some(family)
}

/// One name per browser, whichever source (uap-core, built-in rules, Client Hints) named it:
/// the device type already tells mobile from desktop, so "Chrome Mobile" is just "Chrome".
fn normalize_browser(name: &str) -> String {
    let canonical = match name.trim() {
        "Chrome Mobile" | "Chrome Mobile iOS" | "Google Chrome" => "Chrome",
        "Chrome Mobile WebView" => "Android WebView",
        "Firefox Mobile" | "Firefox iOS" => "Firefox",
        "Mobile Safari" => "Safari",
        "Edge Mobile" | "Microsoft Edge" => "Edge",
        "Opera Mobile" => "Opera",
        other => other,
    };
    canonical.to_owned()
}

/// One name per operating system across uap-core, built-in rules and Client Hints.
fn normalize_os(name: &str) -> String {
    let canonical = match name.trim() {
        "Mac OS X" | "Mac OS" | "macOS" => "macOS",
        "Chrome OS" | "Chromium OS" | "ChromeOS" => "ChromeOS",
        other => other,
    };
    canonical.to_owned()
}

/// Formats an OS version from its parts: major, plus the minor for Apple platforms (where
/// 17.4 vs 17.5 matters) and for Windows 8.1.
fn format_os_version(os: &str, major: Option<&str>, minor: Option<&str>) -> Option<String> {
    let major = major.map(str::trim).filter(|m| !m.is_empty())?;
    let minor = minor.map(str::trim).filter(|m| !m.is_empty());
    Some(match (os, minor) {
        ("macOS" | "iOS", Some(minor)) => format!("{major}.{minor}"),
        ("Windows", Some("1")) if major == "8" => "8.1".to_owned(),
        _ => major.to_owned(),
    })
}

/// A model name that identifies hardware. Chrome's reduced UA string calls every Android
/// device "K", which carries no information.
fn useful_model(model: &str) -> bool {
    !model.is_empty() && model != "K" && model != "Other"
}

// ---------------------------------------------------------------------------------------------
// Built-in rules
// ---------------------------------------------------------------------------------------------

/// Browser tokens, most specific first: Chromium derivatives also carry "Chrome/" and Chrome
/// also carries "Safari/", so the order decides.
const BROWSER_TOKENS: &[(&str, &str)] = &[
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edg/", "Edge"),
    ("Edge/", "Edge"),
    ("OPR/", "Opera"),
    ("OPiOS/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
];

fn parse_builtin(ua: &str) -> Device {
    let (browser, browser_version) = match builtin_browser(ua) {
        Some((name, version)) => (Some(name.to_owned()), version),
        None => (None, None),
    };
    let (os, os_version) = builtin_os(ua);
    let (brand, model) = builtin_hardware(ua);
    Device {
        browser,
        browser_version,
        os: os.map(str::to_owned),
        os_version,
        brand: brand.map(str::to_owned),
        model,
        device_type: DeviceType::Unknown,
    }
}

fn builtin_browser(ua: &str) -> Option<(&'static str, Option<String>)> {
    for &(token, name) in BROWSER_TOKENS {
        if let Some(pos) = ua.find(token) {
            let version = major_of(version_at(&ua[pos + token.len()..]));
            return Some((name, version));
        }
    }
    // Safari names its own version in "Version/"; "Safari/" carries the WebKit build.
    if ua.contains("Safari/")
        && let Some(pos) = ua.find("Version/")
    {
        let version = major_of(version_at(&ua[pos + "Version/".len()..]));
        return Some(("Safari", version));
    }
    None
}

/// Operating system and its version. Order matters: iOS UAs say "like Mac OS X", Android UAs
/// say "Linux" and ChromeOS UAs say "X11".
fn builtin_os(ua: &str) -> (Option<&'static str>, Option<String>) {
    if ["iPhone", "iPad", "iPod"].iter().any(|t| ua.contains(t)) {
        // "CPU iPhone OS 17_4_1 like Mac OS X" / "CPU OS 16_6 like Mac OS X"
        let version = ua.find(" OS ").and_then(|pos| major_minor(version_at(&ua[pos + " OS ".len()..])));
        return (Some("iOS"), version);
    }
    if let Some(pos) = ua.find("Android") {
        let rest = ua[pos + "Android".len()..].trim_start_matches([' ', '/', '-']);
        return (Some("Android"), major_of(version_at(rest)));
    }
    if ua.contains("CrOS") {
        return (Some("ChromeOS"), None);
    }
    if let Some(pos) = ua.find("Windows NT ") {
        let version = match version_at(&ua[pos + "Windows NT ".len()..]) {
            // Windows 11 also says 10.0; only Client Hints can tell them apart.
            "10.0" => Some("10"),
            "6.3" => Some("8.1"),
            "6.2" => Some("8"),
            "6.1" => Some("7"),
            "6.0" => Some("Vista"),
            "5.1" | "5.2" => Some("XP"),
            _ => None,
        };
        return (Some("Windows"), version.map(str::to_owned));
    }
    if ua.contains("Windows") {
        return (Some("Windows"), None);
    }
    if ua.contains("Macintosh") || ua.contains("Mac OS X") {
        // "Intel Mac OS X 10_15_7" (Chrome, Safari) or "Intel Mac OS X 10.15" (Firefox)
        let version = ua.find("Mac OS X ").and_then(|pos| major_minor(version_at(&ua[pos + "Mac OS X ".len()..])));
        return (Some("macOS"), version);
    }
    if ua.contains("Linux") || ua.contains("X11") {
        return (Some("Linux"), None);
    }
    (None, None)
}

fn builtin_hardware(ua: &str) -> (Option<&'static str>, Option<String>) {
    for model in ["iPad", "iPhone", "iPod"] {
        if ua.contains(model) {
            return (Some("Apple"), Some(model.to_owned()));
        }
    }
    if ua.contains("Macintosh") {
        return (Some("Apple"), Some("Mac".to_owned()));
    }
    if let Some(model) = android_model(ua) {
        let brand = if model.starts_with("Pixel") {
            Some("Google")
        } else if model.starts_with("SM-") {
            Some("Samsung")
        } else {
            None
        };
        return (brand, Some(model));
    }
    (None, None)
}

/// The model in "(Linux; Android 14; Pixel 8 Build/AP1A.240405.002)", skipping the tokens that
/// are not a model (locale, "Mobile", "wv", "rv:125.0", Chrome's placeholder "K").
fn android_model(ua: &str) -> Option<String> {
    let rest = &ua[ua.find("Android")?..];
    let inside = &rest[..rest.find(')').unwrap_or(rest.len())];
    inside
        .split(';')
        .skip(1)
        .map(|segment| {
            let segment = segment.trim();
            match segment.find(" Build") {
                Some(end) => segment[..end].trim(),
                None => segment,
            }
        })
        .find(|segment| useful_model(segment) && !is_android_noise(segment))
        .map(str::to_owned)
}

fn is_android_noise(segment: &str) -> bool {
    matches!(segment, "Mobile" | "Tablet" | "wv" | "U" | "Linux")
        || segment.starts_with("rv:")
        || segment.starts_with("Build")
        || looks_like_locale(segment)
}

/// "en", "en-us", "de_DE".
/// Markers of automated browsers and measuring tools in a User-Agent (headless browsers,
/// page-speed robots, crawlers): their beacons must never count as people's speed.
const AUTOMATION_MARKERS: [&str; 13] = [
    "headless",
    "phantomjs",
    "lighthouse",
    "pagespeed",
    "gtmetrix",
    "crawler",
    "spider",
    "selenium",
    "robot",
    // "…bot" as a product name ("Googlebot/2.1", "bingbot;"), not a phone brand ("CUBOT X30").
    "bot/",
    "bot;",
    "bot)",
    "bot+",
];

/// Whether a User-Agent names itself as an automated browser or a robot.
pub fn looks_automated(user_agent: &str) -> bool {
    let ua = user_agent.to_ascii_lowercase();
    AUTOMATION_MARKERS.iter().any(|m| ua.contains(m)) || ua.ends_with("bot")
}

fn looks_like_locale(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        2 => b.iter().all(u8::is_ascii_lowercase),
        5 => {
            b[..2].iter().all(u8::is_ascii_alphabetic)
                && (b[2] == b'-' || b[2] == b'_')
                && b[3..].iter().all(u8::is_ascii_alphabetic)
        }
        _ => false,
    }
}

/// A UA string that names a tablet outright (iPad, or Firefox for Android's "Tablet" token).
fn ua_says_tablet(ua: &str) -> bool {
    ua.contains("iPad") || ua.contains("Tablet")
}

/// The version number at the start of `s`: digits, dots and underscores ("17_4_1").
fn version_at(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The major part of a version ("124.0.6367.60" → "124"), if it is a number.
fn major_of(version: &str) -> Option<String> {
    let major = version.trim().split(['.', '_']).next()?.trim();
    (!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())).then(|| major.to_owned())
}

/// "17_4_1" → "17.4", "10.15" → "10.15", "16" → "16".
fn major_minor(version: &str) -> Option<String> {
    let mut parts = version.split(['.', '_']).filter(|p| !p.is_empty());
    let major = parts.next()?;
    Some(match parts.next() {
        Some(minor) => format!("{major}.{minor}"),
        None => major.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Client Hints
// ---------------------------------------------------------------------------------------------

/// Applies the Client Hints present to `device`; returns `Sec-CH-UA-Mobile` as a boolean.
fn apply_hints(device: &mut Device, hints: &ClientHints) -> Option<bool> {
    if let Some(raw) = hints.ua.as_deref()
        && let Some((brand, version)) = pick_brand(parse_brand_list(raw))
    {
        device.browser = Some(normalize_browser(&brand));
        device.browser_version = version.as_deref().and_then(major_of);
    }

    if let Some(platform) = hints.platform.as_deref().and_then(sf_string)
        && platform != "Unknown"
    {
        let os = normalize_os(&platform);
        // A version parsed from the UA string belongs to the OS the UA string claimed.
        if device.os.as_deref() != Some(os.as_str()) {
            device.os_version = None;
        }
        device.os = Some(os);
    }

    if let Some(version) = hints.platform_version.as_deref().and_then(sf_string)
        && let Some(os_version) = hint_os_version(device.os.as_deref(), &version)
    {
        device.os_version = Some(os_version);
    }

    if let Some(model) = hints.model.as_deref().and_then(sf_string) {
        device.model = Some(model);
    }

    match hints.mobile.as_deref().map(str::trim) {
        Some("?1") => Some(true),
        Some("?0") => Some(false),
        _ => None,
    }
}

/// Interprets `Sec-CH-UA-Platform-Version` for the given OS. `None` when it says nothing the
/// UA string does not already say better.
fn hint_os_version(os: Option<&str>, version: &str) -> Option<String> {
    let mut parts = version.split('.').map(str::trim);
    let major_part = parts.next()?;
    if major_part.is_empty() || !major_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let major: u32 = major_part.parse().ok()?;
    match os {
        // Windows reports the UniversalApiContract version: 13+ is Windows 11, 1–10 is
        // Windows 10, 0 is 7/8/8.1 (which the UA string already names correctly).
        Some("Windows") => match major {
            m if m >= 13 => Some("11".to_owned()),
            1..=10 => Some("10".to_owned()),
            _ => None,
        },
        Some("macOS" | "iOS") => {
            let minor = parts.next().filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
            Some(match minor {
                Some(minor) => format!("{major}.{minor}"),
                None => major.to_string(),
            })
        }
        _ => Some(major.to_string()),
    }
}

/// Chooses the browser from a `Sec-CH-UA` brand list: GREASE entries are noise, and "Chromium"
/// (or "Google Chrome", which some derivatives also list) only counts when nothing more specific
/// is there.
fn pick_brand(brands: Vec<(String, Option<String>)>) -> Option<(String, Option<String>)> {
    let rank = |brand: &str| match brand {
        "Chromium" => 2,
        "Google Chrome" => 1,
        _ => 0,
    };
    brands.into_iter().filter(|(brand, _)| !is_grease(brand)).min_by_key(|(brand, _)| rank(brand.as_str()))
}

/// GREASE brands ("Not A(Brand", "Not)A;Brand", "Not-A.Brand", …) exist to keep servers from
/// hard-coding the list; all start with "Not" followed by a punctuation character.
fn is_grease(brand: &str) -> bool {
    brand.match_indices("Not").any(|(i, _)| !brand[i + 3..].starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// Parses a structured-field list of strings with a `v` parameter:
/// `"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"`.
///
/// Hand-written and quote-aware because GREASE brands deliberately contain `;`, `=`, `(` and
/// the like. Malformed input yields whatever could be read, never a panic.
fn parse_brand_list(raw: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut chars = raw.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let brand = match chars.peek().copied() {
            None => break,
            Some('"') => {
                chars.next();
                read_quoted(&mut chars)
            }
            Some(_) => read_token(&mut chars),
        };

        // Parameters: `;key=value` (value quoted or bare).
        let mut version = None;
        loop {
            while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
            if chars.next_if_eq(&';').is_none() {
                break;
            }
            while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
            let mut key = String::new();
            while let Some(c) = chars.next_if(|c| !matches!(*c, '=' | ';' | ',')) {
                key.push(c);
            }
            if chars.next_if_eq(&'=').is_some() {
                let value =
                    if chars.next_if_eq(&'"').is_some() { read_quoted(&mut chars) } else { read_token(&mut chars) };
                if key.trim() == "v" {
                    version = Some(value);
                }
            }
        }

        // Skip anything unexpected up to the next list member.
        while chars.next_if(|c| *c != ',').is_some() {}

        let brand = brand.trim();
        if !brand.is_empty() {
            out.push((brand.to_owned(), version));
        }
    }
    out
}

/// Reads a quoted string's contents after its opening quote, up to the closing one.
fn read_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(escaped) = chars.next() {
                    out.push(escaped);
                }
            }
            '"' => break,
            c => out.push(c),
        }
    }
    out
}

/// Reads a bare token up to the next `;` or `,`.
fn read_token(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut out = String::new();
    while let Some(c) = chars.next_if(|c| *c != ';' && *c != ',') {
        out.push(c);
    }
    out.trim().to_owned()
}

/// A structured-field string (`"Windows"`) without its quotes; tolerates a bare value. `None`
/// when empty (desktops send `Sec-CH-UA-Model: ""`).
fn sf_string(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let value = match raw.strip_prefix('"') {
        Some(inner) => {
            let mut chars = inner.chars().peekable();
            read_quoted(&mut chars)
        }
        None => raw.to_owned(),
    };
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Device type
// ---------------------------------------------------------------------------------------------

/// Operating systems that only run on phones (tablets are told apart separately).
const MOBILE_OS: &[&str] = &["Windows Phone", "KaiOS", "HarmonyOS", "BlackBerry OS", "Firefox OS"];

/// Operating systems of desktop and laptop computers.
const DESKTOP_OS: &[&str] = &[
    "Windows",
    "macOS",
    "Linux",
    "ChromeOS",
    "Ubuntu",
    "Debian",
    "Fedora",
    "Linux Mint",
    "Arch Linux",
    "openSUSE",
    "SUSE",
    "Red Hat",
    "CentOS",
    "Gentoo",
    "Slackware",
    "Kubuntu",
    "Mageia",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "Solaris",
];

fn classify(os: Option<&str>, tablet: bool, mobile_token: bool, mobile_hint: Option<bool>) -> DeviceType {
    if mobile_hint == Some(true) {
        return DeviceType::Mobile;
    }
    match os {
        // Android tablets' browsers drop the "Mobile" token and send `Sec-CH-UA-Mobile: ?0`.
        Some("Android") => {
            if tablet || mobile_hint == Some(false) || !mobile_token {
                DeviceType::Tablet
            } else {
                DeviceType::Mobile
            }
        }
        Some("iOS") => {
            if tablet {
                DeviceType::Tablet
            } else {
                DeviceType::Mobile
            }
        }
        Some(os) if MOBILE_OS.contains(&os) => DeviceType::Mobile,
        Some(os) if DESKTOP_OS.contains(&os) => DeviceType::Desktop,
        _ if mobile_hint == Some(false) => DeviceType::Desktop,
        _ => DeviceType::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const CHROME_ANDROID_REDUCED: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36";

    fn builtin(ua: &str) -> Device {
        UaParser::builtin().parse(ua, &ClientHints::default())
    }

    fn hints(ua: &str, mobile: &str, platform: &str) -> ClientHints {
        ClientHints {
            ua: Some(ua.to_owned()),
            mobile: Some(mobile.to_owned()),
            platform: Some(platform.to_owned()),
            model: None,
            platform_version: None,
        }
    }

    #[test]
    fn device_type_names_and_default() {
        assert_eq!(DeviceType::default(), DeviceType::Unknown);
        assert_eq!(DeviceType::Desktop.as_str(), "desktop");
        assert_eq!(DeviceType::Mobile.as_str(), "mobile");
        assert_eq!(DeviceType::Tablet.as_str(), "tablet");
        assert_eq!(DeviceType::Unknown.as_str(), "unknown");
        assert_eq!(Device::default().device_type, DeviceType::Unknown);
    }

    #[test]
    fn builtin_chrome_on_windows() {
        let d = builtin(CHROME_WINDOWS);
        assert_eq!(d.browser.as_deref(), Some("Chrome"));
        assert_eq!(d.browser_version.as_deref(), Some("124"));
        assert_eq!(d.os.as_deref(), Some("Windows"));
        assert_eq!(d.os_version.as_deref(), Some("10"));
        assert_eq!(d.brand, None);
        assert_eq!(d.model, None);
        assert_eq!(d.device_type, DeviceType::Desktop);
    }

    #[test]
    fn builtin_edge_and_opera_beat_chrome() {
        let edge = builtin(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
        );
        assert_eq!(edge.browser.as_deref(), Some("Edge"));
        assert_eq!(edge.browser_version.as_deref(), Some("124"));

        let opera = builtin(
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0",
        );
        assert_eq!(opera.browser.as_deref(), Some("Opera"));
        assert_eq!(opera.browser_version.as_deref(), Some("109"));
        assert_eq!(opera.os_version.as_deref(), Some("7"));
    }

    #[test]
    fn builtin_firefox_on_mac_and_linux() {
        let mac = builtin("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0");
        assert_eq!(mac.browser.as_deref(), Some("Firefox"));
        assert_eq!(mac.browser_version.as_deref(), Some("125"));
        assert_eq!(mac.os.as_deref(), Some("macOS"));
        assert_eq!(mac.os_version.as_deref(), Some("10.15"));
        assert_eq!(mac.brand.as_deref(), Some("Apple"));
        assert_eq!(mac.model.as_deref(), Some("Mac"));
        assert_eq!(mac.device_type, DeviceType::Desktop);

        let linux = builtin("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0");
        assert_eq!(linux.os.as_deref(), Some("Linux"));
        assert_eq!(linux.os_version, None);
        assert_eq!(linux.device_type, DeviceType::Desktop);
    }

    #[test]
    fn builtin_safari_on_iphone_and_ipad() {
        let phone = builtin(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(
            phone,
            Device {
                browser: Some("Safari".into()),
                browser_version: Some("17".into()),
                os: Some("iOS".into()),
                os_version: Some("17.4".into()),
                brand: Some("Apple".into()),
                model: Some("iPhone".into()),
                device_type: DeviceType::Mobile,
            }
        );

        let pad = builtin(
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(pad.os.as_deref(), Some("iOS"));
        assert_eq!(pad.os_version.as_deref(), Some("16.6"));
        assert_eq!(pad.model.as_deref(), Some("iPad"));
        assert_eq!(pad.device_type, DeviceType::Tablet);
    }

    #[test]
    fn builtin_android_phone_and_tablet() {
        let samsung = builtin(
            "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
        );
        assert_eq!(samsung.browser.as_deref(), Some("Samsung Internet"));
        assert_eq!(samsung.browser_version.as_deref(), Some("24"));
        assert_eq!(samsung.os.as_deref(), Some("Android"));
        assert_eq!(samsung.os_version.as_deref(), Some("13"));
        assert_eq!(samsung.brand.as_deref(), Some("Samsung"));
        assert_eq!(samsung.model.as_deref(), Some("SM-S918B"));
        assert_eq!(samsung.device_type, DeviceType::Mobile);

        let tablet = builtin(
            "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        );
        assert_eq!(tablet.device_type, DeviceType::Tablet);

        let firefox_tablet = builtin("Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0");
        assert_eq!(firefox_tablet.model, None);
        assert_eq!(firefox_tablet.device_type, DeviceType::Tablet);

        let pixel = builtin(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240405.002) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
        );
        assert_eq!(pixel.brand.as_deref(), Some("Google"));
        assert_eq!(pixel.model.as_deref(), Some("Pixel 8"));

        // Chrome's reduced UA: "K" is a placeholder, not a model.
        let reduced = builtin(CHROME_ANDROID_REDUCED);
        assert_eq!(reduced.model, None);
        assert_eq!(reduced.device_type, DeviceType::Mobile);
    }

    #[test]
    fn builtin_chromeos() {
        let d = builtin(
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        );
        assert_eq!(d.os.as_deref(), Some("ChromeOS"));
        assert_eq!(d.browser.as_deref(), Some("Chrome"));
        assert_eq!(d.device_type, DeviceType::Desktop);
    }

    #[test]
    fn unknown_user_agent_is_all_none() {
        assert_eq!(builtin("curl/8.5.0"), Device::default());
        assert_eq!(builtin(""), Device::default());
    }

    #[test]
    fn hints_reveal_windows_11() {
        let mut h = hints(r#""Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99""#, "?0", r#""Windows""#);
        h.platform_version = Some(r#""15.0.0""#.into());
        let d = UaParser::builtin().parse(CHROME_WINDOWS, &h);
        assert_eq!(d.browser.as_deref(), Some("Chrome"));
        assert_eq!(d.browser_version.as_deref(), Some("124"));
        assert_eq!(d.os.as_deref(), Some("Windows"));
        assert_eq!(d.os_version.as_deref(), Some("11"));
        assert_eq!(d.device_type, DeviceType::Desktop);

        h.platform_version = Some(r#""10.0.0""#.into());
        let d = UaParser::builtin().parse(CHROME_WINDOWS, &h);
        assert_eq!(d.os_version.as_deref(), Some("10"));

        // 0.x is Windows 7/8/8.1: the UA string's answer stands.
        h.platform_version = Some(r#""0.3.0""#.into());
        let ua81 = "Mozilla/5.0 (Windows NT 6.3; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36";
        let d = UaParser::builtin().parse(ua81, &h);
        assert_eq!(d.os_version.as_deref(), Some("8.1"));
    }

    #[test]
    fn hints_name_the_real_browser() {
        let brave = hints(r#""Brave";v="124", "Chromium";v="124", "Not-A.Brand";v="99""#, "?0", r#""Windows""#);
        let d = UaParser::builtin().parse(CHROME_WINDOWS, &brave);
        assert_eq!(d.browser.as_deref(), Some("Brave"));
        assert_eq!(d.browser_version.as_deref(), Some("124"));

        let edge = hints(r#""Chromium";v="124", "Microsoft Edge";v="124", "Not-A.Brand";v="99""#, "?0", r#""Windows""#);
        let d = UaParser::builtin().parse(CHROME_WINDOWS, &edge);
        assert_eq!(d.browser.as_deref(), Some("Edge"));
    }

    #[test]
    fn hints_reveal_android_device() {
        let mut h = hints(r#""Google Chrome";v="124", "Chromium";v="124", "Not-A.Brand";v="99""#, "?1", r#""Android""#);
        h.platform_version = Some(r#""14.0.0""#.into());
        h.model = Some(r#""Pixel 8""#.into());
        let d = UaParser::builtin().parse(CHROME_ANDROID_REDUCED, &h);
        assert_eq!(d.browser.as_deref(), Some("Chrome"));
        assert_eq!(d.os.as_deref(), Some("Android"));
        assert_eq!(d.os_version.as_deref(), Some("14"));
        assert_eq!(d.model.as_deref(), Some("Pixel 8"));
        assert_eq!(d.device_type, DeviceType::Mobile);

        // ?0 on Android: a tablet.
        h.mobile = Some("?0".into());
        h.model = Some(r#""""#.into());
        let d = UaParser::builtin().parse(CHROME_ANDROID_REDUCED, &h);
        assert_eq!(d.device_type, DeviceType::Tablet);
        assert_eq!(d.model, None, "an empty model hint changes nothing");
    }

    #[test]
    fn hints_platform_overrides_and_formats_versions() {
        let mut h = ClientHints {
            platform: Some(r#""macOS""#.into()),
            platform_version: Some(r#""14.4.1""#.into()),
            ..ClientHints::default()
        };
        let mac_chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
        let d = UaParser::builtin().parse(mac_chrome, &h);
        assert_eq!(d.os.as_deref(), Some("macOS"));
        assert_eq!(d.os_version.as_deref(), Some("14.4"));
        assert_eq!(d.device_type, DeviceType::Desktop);

        // A platform that contradicts the UA string wins and drops the UA's version.
        h.platform = Some(r#""Chrome OS""#.into());
        h.platform_version = None;
        let d = UaParser::builtin().parse(mac_chrome, &h);
        assert_eq!(d.os.as_deref(), Some("ChromeOS"));
        assert_eq!(d.os_version, None);

        // Unknown OS, but the browser says it is not mobile.
        let h = ClientHints { mobile: Some("?0".into()), ..ClientHints::default() };
        assert_eq!(UaParser::builtin().parse("curl/8.5.0", &h).device_type, DeviceType::Desktop);
    }

    #[test]
    fn brand_list_parsing() {
        let list = parse_brand_list(r#""Not)A;Brand";v="8", "Chromium";v="124", "Google Chrome";v="124""#);
        assert_eq!(
            list,
            vec![
                ("Not)A;Brand".to_owned(), Some("8".to_owned())),
                ("Chromium".to_owned(), Some("124".to_owned())),
                ("Google Chrome".to_owned(), Some("124".to_owned())),
            ]
        );
        assert_eq!(pick_brand(list).map(|(b, _)| b).as_deref(), Some("Google Chrome"));

        let only_chromium = parse_brand_list(r#""Not A(Brand";v="99", "Chromium";v="124""#);
        assert_eq!(pick_brand(only_chromium), Some(("Chromium".to_owned(), Some("124".to_owned()))));

        assert_eq!(pick_brand(parse_brand_list(r#""Not=A?Brand";v="99""#)), None);
        assert!(is_grease(" Not A;Brand"));
        assert!(is_grease("Not_A Brand"));
        assert!(!is_grease("Nothing Browser"));

        // Garbage must not panic.
        for junk in ["", ";", ",,,", "\"", "\"a\\", ";v=", "a;b;c=\"", "\"x\";v=\"1\";;,"] {
            let _ = pick_brand(parse_brand_list(junk));
        }
    }

    #[test]
    fn brand_without_version_keeps_browser_but_not_version() {
        let h = ClientHints { ua: Some(r#""Opera";v="x", "Chromium""#.into()), ..ClientHints::default() };
        let d = UaParser::builtin().parse(CHROME_WINDOWS, &h);
        assert_eq!(d.browser.as_deref(), Some("Opera"));
        assert_eq!(d.browser_version, None);
    }

    #[test]
    fn sf_string_strips_quotes() {
        assert_eq!(sf_string(r#" "Windows" "#).as_deref(), Some("Windows"));
        assert_eq!(sf_string("Windows").as_deref(), Some("Windows"));
        assert_eq!(sf_string(r#""""#), None);
        assert_eq!(sf_string(""), None);
        assert_eq!(sf_string(r#""a\"b""#).as_deref(), Some("a\"b"));
    }

    const TINY_REGEXES: &str = r#"
user_agent_parsers:
  - regex: '(TestBrowser)/(\d+)\.(\d+)'
os_parsers:
  - regex: '(Mac OS X) (\d+)_(\d+)'
device_parsers:
  - regex: '(TestPhone)'
    brand_replacement: 'Acme'
    model_replacement: 'TP-1'
"#;

    #[test]
    fn uap_core_rules_from_yaml() {
        let parser = UaParser::from_yaml_bytes(TINY_REGEXES.as_bytes()).expect("valid yaml");
        assert!(!parser.is_builtin());
        let d = parser.parse(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7; TestPhone) TestBrowser/42.1",
            &ClientHints::default(),
        );
        assert_eq!(
            d,
            Device {
                browser: Some("TestBrowser".into()),
                browser_version: Some("42".into()),
                os: Some("macOS".into()),
                os_version: Some("10.15".into()),
                brand: Some("Acme".into()),
                model: Some("TP-1".into()),
                device_type: DeviceType::Desktop,
            }
        );

        // uap-core's "Other" means unknown.
        let d = parser.parse("curl/8.5.0", &ClientHints::default());
        assert_eq!(d, Device::default());

        // Hints still apply on the uap path.
        let h = hints(r#""Brave";v="1""#, "?1", r#""Android""#);
        let d = parser.parse("curl/8.5.0", &h);
        assert_eq!(d.browser.as_deref(), Some("Brave"));
        assert_eq!(d.os.as_deref(), Some("Android"));
        assert_eq!(d.device_type, DeviceType::Mobile);
    }

    #[test]
    fn uap_yaml_errors_are_reported() {
        assert!(UaParser::from_yaml_bytes(b"not: [valid").is_err());
        assert!(UaParser::from_yaml_bytes(b"user_agent_parsers: []").is_err());
        let missing = Path::new("/nonexistent/obscura/regexes.yaml");
        let err = UaParser::from_yaml_file(missing).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/obscura/regexes.yaml"));
    }

    #[test]
    fn debug_names_the_engine() {
        assert!(format!("{:?}", UaParser::builtin()).contains("builtin"));
    }

    #[test]
    fn user_agent_automated_browsers_and_robots_are_told() {
        for ua in [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 Chrome-Lighthouse",
        ] {
            assert!(looks_automated(ua), "{ua}");
        }
        for person in [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Mozilla/5.0 (Linux; Android 13; CUBOT X30 Build/TP1A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
        ] {
            assert!(!looks_automated(person), "{person}");
        }
    }
}
