//! Whether a request's UA Client Hints agree with its User-Agent. Chromium browsers send
//! `Sec-CH-UA`, `Sec-CH-UA-Mobile` and `Sec-CH-UA-Platform` with every request over HTTPS,
//! fetches and beacons included; Firefox and Safari (and every browser on iOS) send none. A
//! script that copies a Chrome User-Agent rarely sends matching hints, and page scripts cannot
//! forge `Sec-` headers at all.

use crate::user_agent::ClientHints;

/// What the hints say about the User-Agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintsVerdict {
    /// They agree, or there is nothing to compare.
    Consistent,
    /// A Chromium User-Agent over HTTPS without the hints every Chromium sends.
    Missing,
    /// The hints name another browser, version, platform or form factor than the User-Agent,
    /// or come from a browser that sends none.
    Contradicting,
    /// The hints name headless Chrome.
    Headless,
}

/// The Chromium major version a User-Agent claims (Chrome, Edge, Opera, Samsung Internet and
/// other Chromium browsers carry `Chrome/NNN`), unless it is a browser on iOS.
fn chromium_major(ua: &str) -> Option<u32> {
    if ua.contains("CriOS/") || ua.contains("EdgiOS/") || ua.contains("iPhone") || ua.contains("iPad") {
        return None;
    }
    let version = ua.split("Chrome/").nth(1)?;
    version.split(['.', ' ']).next()?.parse().ok()
}

/// The platform a User-Agent claims, as `Sec-CH-UA-Platform` names it.
fn ua_platform(ua: &str) -> Option<&'static str> {
    if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("CrOS") {
        Some("Chrome OS")
    } else if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("Macintosh") || ua.contains("Mac OS X") {
        Some("macOS")
    } else if ua.contains("Linux") || ua.contains("X11") {
        Some("Linux")
    } else {
        None
    }
}

/// `(brand, major version)` pairs of a `Sec-CH-UA` header: `"Chromium";v="131", "Not_A Brand";v="24"`.
fn brands(header: &str) -> Vec<(String, u32)> {
    header
        .split(',')
        .filter_map(|item| {
            let (brand, version) = item.split_once(";v=")?;
            let brand = brand.trim().trim_matches('"').to_owned();
            let major = version.trim().trim_matches('"').split('.').next()?.parse().ok()?;
            Some((brand, major))
        })
        .collect()
}

/// Compares `hints` with `user_agent`. `hints` is `None` when they could not be observed (a
/// plain-HTTP request, or a request description without them), so missing hints say nothing;
/// `secure` says whether the browser would have sent them (HTTPS).
pub fn check(user_agent: &str, hints: Option<&ClientHints>, secure: bool) -> HintsVerdict {
    let Some(hints) = hints else { return HintsVerdict::Consistent };
    let Some(header) = hints.ua.as_deref().filter(|h| !h.trim().is_empty()) else {
        return if secure && chromium_major(user_agent).is_some_and(|v| v >= 90) {
            HintsVerdict::Missing
        } else {
            HintsVerdict::Consistent
        };
    };
    let brands = brands(header);
    if brands.iter().any(|(b, _)| b == "HeadlessChrome") {
        return HintsVerdict::Headless;
    }
    let Some(claimed) = chromium_major(user_agent) else {
        // Hints from what says it is Firefox, Safari or an iOS browser, which send none.
        return HintsVerdict::Contradicting;
    };
    let chromium = brands.iter().find(|(b, _)| b == "Chromium" || b == "Google Chrome");
    if chromium.is_some_and(|(_, major)| *major != claimed) {
        return HintsVerdict::Contradicting;
    }
    let platform = hints.platform.as_deref().map(|p| p.trim().trim_matches('"'));
    if let (Some(said), Some(claimed)) = (platform, ua_platform(user_agent))
        && !said.is_empty()
        && said != "Unknown"
        && said != claimed
        && !(claimed == "Linux" && said == "Chrome OS")
    {
        return HintsVerdict::Contradicting;
    }
    let mobile_ua = user_agent.contains("Mobile");
    match hints.mobile.as_deref().map(str::trim) {
        Some("?1") if !mobile_ua => HintsVerdict::Contradicting,
        Some("?0") if mobile_ua => HintsVerdict::Contradicting,
        _ => HintsVerdict::Consistent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
    const FIREFOX: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

    fn hints(ua: &str, mobile: &str, platform: &str) -> ClientHints {
        ClientHints {
            ua: Some(ua.into()),
            mobile: Some(mobile.into()),
            platform: Some(platform.into()),
            ..ClientHints::default()
        }
    }

    const BRANDS_131: &str = r#""Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24""#;

    #[test]
    fn bots_client_hints_agree_with_real_browsers() {
        assert_eq!(
            check(CHROME_WINDOWS, Some(&hints(BRANDS_131, "?0", "\"Windows\"")), true),
            HintsVerdict::Consistent
        );
        assert_eq!(
            check(CHROME_ANDROID, Some(&hints(BRANDS_131, "?1", "\"Android\"")), true),
            HintsVerdict::Consistent
        );
        assert_eq!(check(FIREFOX, Some(&ClientHints::default()), true), HintsVerdict::Consistent, "Firefox sends none");
        assert_eq!(
            check(CHROME_WINDOWS, Some(&ClientHints::default()), false),
            HintsVerdict::Consistent,
            "not over HTTP"
        );
        assert_eq!(check(CHROME_WINDOWS, None, true), HintsVerdict::Consistent, "not observed: nothing to say");
        let ios = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1";
        assert_eq!(
            check(ios, Some(&ClientHints::default()), true),
            HintsVerdict::Consistent,
            "Chrome on iOS sends none"
        );
    }

    #[test]
    fn bots_client_hints_that_disagree_are_told() {
        let missing = check(CHROME_WINDOWS, Some(&ClientHints::default()), true);
        assert_eq!(missing, HintsVerdict::Missing);
        let older = r#""Chromium";v="120", "Google Chrome";v="120", "Not_A Brand";v="8""#;
        assert_eq!(check(CHROME_WINDOWS, Some(&hints(older, "?0", "\"Windows\"")), true), HintsVerdict::Contradicting);
        assert_eq!(
            check(CHROME_WINDOWS, Some(&hints(BRANDS_131, "?0", "\"Linux\"")), true),
            HintsVerdict::Contradicting
        );
        assert_eq!(
            check(CHROME_WINDOWS, Some(&hints(BRANDS_131, "?1", "\"Windows\"")), true),
            HintsVerdict::Contradicting
        );
        assert_eq!(check(FIREFOX, Some(&hints(BRANDS_131, "?0", "\"Windows\"")), true), HintsVerdict::Contradicting);
        let headless = r#""HeadlessChrome";v="131", "Chromium";v="131", "Not_A Brand";v="24""#;
        assert_eq!(check(CHROME_WINDOWS, Some(&hints(headless, "?0", "\"Windows\"")), true), HintsVerdict::Headless);
        // Absurd values are read as far as they go, never a panic.
        for junk in ["", ";v=", "\"x\";v=\"999999999999\"", &"\"a\";v=\"1\",".repeat(1000)] {
            let _ = check(CHROME_WINDOWS, Some(&hints(junk, "??", "")), true);
        }
    }
}
