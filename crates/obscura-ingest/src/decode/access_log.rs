//! Web servers' access-log lines, for importing a site's history: nginx's and Apache's
//! combined (or common) format, and Caddy's JSON lines. Each line is a page view, a request
//! that is no page view (an asset, a redirect, an error, a form post), or unreadable.
//!
//! A page view is a `GET` answered 2xx or 304 whose path does not name a file other than a
//! page (`.css`, `.png`, `.woff2`, … and anything under `/.well-known/`). Automated clients
//! are told apart later by the same classifier as every hit.

use std::net::IpAddr;

use obscura_model::EventKind;
use obscura_model::raw::RawHeaders;
use serde::Deserialize;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::RequestContext;

/// The formats `obscura import logs --format` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// nginx's `combined` log format (the default `access_log` format).
    Nginx,
    /// Apache's combined log format, or its common format (no referrer, no User-Agent).
    Apache,
    /// Caddy's structured access log: one JSON object per line.
    CaddyJson,
}

/// What one line is.
#[derive(Debug)]
pub enum Line {
    /// A page view, ready for the pipeline.
    Page(Box<obscura_model::RawHit>),
    /// A request that is no page view.
    Skipped(Skip),
}

/// Why a readable line is no page view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not a `GET`.
    Method,
    /// Not answered 2xx or 304.
    Status,
    /// An asset or another file that is no page.
    Asset,
}

/// Extensions of paths that are pages; any other extension is a file that is no page.
const PAGE_EXTENSIONS: [&str; 9] = ["html", "htm", "php", "asp", "aspx", "jsp", "shtml", "cgi", "xhtml"];

/// Reads one line of `format` as a hit on `site` (URLs become `https://{site}{path}`), or
/// says why it cannot be read.
pub fn read_line(format: LogFormat, line: &str, site: &str) -> Result<Line, String> {
    let request = match format {
        LogFormat::Nginx | LogFormat::Apache => combined(line)?,
        LogFormat::CaddyJson => caddy(line)?,
    };
    if request.method != "GET" {
        return Ok(Line::Skipped(Skip::Method));
    }
    if !(200..300).contains(&request.status) && request.status != 304 {
        return Ok(Line::Skipped(Skip::Status));
    }
    if !request.target.starts_with('/') {
        return Err(format!("the request target {:?} is not a path", cut(&request.target)));
    }
    if !is_page(&request.target) {
        return Ok(Line::Skipped(Skip::Asset));
    }
    let ctx = RequestContext {
        received_at: request.at,
        ip: request.ip,
        headers: RawHeaders { user_agent: request.user_agent, ..Default::default() },
        opted_out: false,
        ja4: None,
    };
    let mut hit = ctx.hit(EventKind::Pageview, format!("https://{site}{}", request.target));
    hit.referrer = request.referrer.filter(|r| r != "-" && !r.is_empty());
    Ok(Line::Page(Box::new(hit)))
}

/// Whether `target` (a path with its query) names a page rather than another file.
fn is_page(target: &str) -> bool {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if path.starts_with("/.well-known/") {
        return false;
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    match last.rsplit_once('.') {
        None => true,
        Some((_, ext)) => PAGE_EXTENSIONS.iter().any(|p| ext.eq_ignore_ascii_case(p)),
    }
}

/// What a line says of its request.
struct Request {
    ip: IpAddr,
    at: OffsetDateTime,
    method: String,
    target: String,
    status: u16,
    referrer: Option<String>,
    user_agent: String,
}

/// `ip ident user [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "referrer" "agent"`;
/// the referrer and agent are absent in the common format; fields after them are ignored.
fn combined(line: &str) -> Result<Request, String> {
    let mut rest = line.trim_end_matches(['\r', '\n']);
    let ip_text = word(&mut rest).ok_or("the line is empty")?;
    let ip = ip_text.parse::<IpAddr>().map_err(|_| format!("{:?} is not an IP address", cut(ip_text)))?;
    word(&mut rest).ok_or("the line ends after the address")?;
    word(&mut rest).ok_or("the line ends after the address")?;
    let at = bracketed(&mut rest).ok_or("no [time] after the address")?;
    let at = log_time(at)?;
    let request = quoted(&mut rest).ok_or("no quoted request after the time")?;
    let status_text = word(&mut rest).ok_or("no status after the request")?;
    let status = status_text.parse::<u16>().map_err(|_| format!("{:?} is not a status", cut(status_text)))?;
    word(&mut rest).ok_or("no size after the status")?;
    let referrer = quoted(&mut rest).map(unescape);
    let user_agent = quoted(&mut rest).map(unescape).unwrap_or_default();
    let mut parts = request.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().map(unescape).unwrap_or_default();
    Ok(Request { ip, at, method, target, status, referrer, user_agent })
}

/// The next space-separated word of `rest`.
fn word<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let trimmed = rest.trim_start_matches(' ');
    if trimmed.is_empty() {
        return None;
    }
    let end = trimmed.find(' ').unwrap_or(trimmed.len());
    *rest = &trimmed[end..];
    Some(&trimmed[..end])
}

/// The next `[…]` of `rest`, without its brackets.
fn bracketed<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let trimmed = rest.trim_start_matches(' ').strip_prefix('[')?;
    let end = trimmed.find(']')?;
    *rest = &trimmed[end + 1..];
    Some(&trimmed[..end])
}

/// The next `"…"` of `rest`, without its quotes; a quote escaped with `\` (Apache) is not its end.
fn quoted<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let trimmed = rest.trim_start_matches(' ').strip_prefix('"')?;
    let bytes = trimmed.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => {
                *rest = &trimmed[i + 1..];
                return Some(&trimmed[..i]);
            }
            _ => i += 1,
        }
    }
    None
}

/// Undoes the escapes of quoted fields: nginx writes `\xHH`, Apache `\"` and `\\`.
fn unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_owned();
    }
    let mut bytes = Vec::with_capacity(text.len());
    let raw = text.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            if raw[i + 1] == b'x'
                && let Some(byte) = text.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                bytes.push(byte);
                i += 4;
                continue;
            }
            bytes.push(raw[i + 1]);
            i += 2;
            continue;
        }
        bytes.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `10/Oct/2000:13:55:36 -0700`.
fn log_time(text: &str) -> Result<OffsetDateTime, String> {
    let refused = || format!("{:?} is not a log time like 10/Oct/2000:13:55:36 -0700", cut(text));
    let b = text.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return Err(refused());
    }
    let number = |range: std::ops::Range<usize>| text.get(range).and_then(|n| n.parse::<u16>().ok());
    let month = match &text[3..6] {
        "Jan" => Month::January,
        "Feb" => Month::February,
        "Mar" => Month::March,
        "Apr" => Month::April,
        "May" => Month::May,
        "Jun" => Month::June,
        "Jul" => Month::July,
        "Aug" => Month::August,
        "Sep" => Month::September,
        "Oct" => Month::October,
        "Nov" => Month::November,
        "Dec" => Month::December,
        _ => return Err(refused()),
    };
    let (Some(day), Some(year), Some(h), Some(m), Some(s), Some(oh), Some(om)) =
        (number(0..2), number(7..11), number(12..14), number(15..17), number(18..20), number(22..24), number(24..26))
    else {
        return Err(refused());
    };
    let date = Date::from_calendar_date(i32::from(year), month, day as u8).map_err(|_| refused())?;
    let clock = Time::from_hms(h as u8, m as u8, s as u8).map_err(|_| refused())?;
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(refused()),
    };
    let offset = UtcOffset::from_hms(sign * oh as i8, sign * om as i8, 0).map_err(|_| refused())?;
    Ok(PrimitiveDateTime::new(date, clock).assume_offset(offset).to_offset(UtcOffset::UTC))
}

/// A line of Caddy's access log (`log { format json }`), the fields read.
#[derive(Deserialize)]
struct CaddyLine {
    ts: serde_json::Value,
    request: CaddyRequest,
    status: u16,
}

#[derive(Deserialize)]
struct CaddyRequest {
    remote_ip: Option<String>,
    /// The client's address after Caddy's own trusted-proxy resolution.
    client_ip: Option<String>,
    method: String,
    uri: String,
    #[serde(default)]
    headers: std::collections::HashMap<String, Vec<String>>,
}

fn caddy(line: &str) -> Result<Request, String> {
    let parsed: CaddyLine = serde_json::from_str(line).map_err(|e| format!("not a Caddy JSON log line: {e}"))?;
    let r = parsed.request;
    let ip_text = r.client_ip.filter(|c| !c.is_empty()).or(r.remote_ip).ok_or("no `request.remote_ip`")?;
    let ip = ip_text.parse::<IpAddr>().map_err(|_| format!("{:?} is not an IP address", cut(&ip_text)))?;
    let at = match &parsed.ts {
        serde_json::Value::Number(n) => n
            .as_f64()
            .and_then(|s| OffsetDateTime::from_unix_timestamp_nanos((s * 1e9) as i128).ok())
            .ok_or("`ts` is out of range")?,
        serde_json::Value::String(s) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| format!("`ts` {:?} is neither seconds nor RFC 3339", cut(s)))?,
        _ => return Err("`ts` is neither seconds nor RFC 3339".into()),
    };
    let header =
        |name: &str| r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.first().cloned());
    Ok(Request {
        ip,
        at,
        method: r.method,
        target: r.uri,
        status: parsed.status,
        referrer: header("Referer"),
        user_agent: header("User-Agent").unwrap_or_default(),
    })
}

/// At most 60 bytes of `text`, for messages.
fn cut(text: &str) -> &str {
    let mut end = text.len().min(60);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

    fn page(format: LogFormat, line: &str) -> obscura_model::RawHit {
        match read_line(format, line, "example.org") {
            Ok(Line::Page(hit)) => *hit,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn access_log_nginx_and_apache_combined_lines_are_page_views_at_their_times() {
        let line = format!(
            r#"203.0.113.7 - - [10/Oct/2026:13:55:36 -0700] "GET /blog/post?utm_source=x HTTP/1.1" 200 2326 "https://news.example/" "{FIREFOX}" "-""#
        );
        for format in [LogFormat::Nginx, LogFormat::Apache] {
            let hit = page(format, &line);
            assert_eq!(hit.received_at, time::macros::datetime!(2026-10-10 20:55:36 UTC));
            assert_eq!(hit.ip, "203.0.113.7".parse::<IpAddr>().unwrap());
            assert_eq!(hit.url, "https://example.org/blog/post?utm_source=x");
            assert_eq!(hit.referrer.as_deref(), Some("https://news.example/"));
            assert_eq!(hit.headers.user_agent, FIREFOX);
            assert_eq!(hit.kind, EventKind::Pageview);
        }
        let common = r#"2001:db8::1 - frank [01/Dec/2026:00:00:01 +0000] "GET /index.html HTTP/1.0" 304 -"#;
        let hit = page(LogFormat::Apache, common);
        assert_eq!((hit.referrer, hit.headers.user_agent.as_str()), (None, ""));
        let escaped =
            r#"198.51.100.2 - - [01/Dec/2026:00:00:01 +0000] "GET /a HTTP/1.1" 200 5 "-" "say \"hi\" \x22there\x22""#;
        let hit = page(LogFormat::Nginx, escaped);
        assert_eq!(hit.headers.user_agent, r#"say "hi" "there""#);
        assert_eq!(hit.referrer, None, "`-` is no referrer");
    }

    #[test]
    fn access_log_assets_other_methods_and_statuses_are_no_page_views() {
        let line = |method: &str, path: &str, status: u16| {
            format!(
                r#"203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "{method} {path} HTTP/1.1" {status} 10 "-" "{FIREFOX}""#
            )
        };
        let skip = |l: String| match read_line(LogFormat::Nginx, &l, "example.org") {
            Ok(Line::Skipped(why)) => why,
            other => panic!("{l}: {other:?}"),
        };
        for asset in ["/app.css", "/img/logo.PNG?v=3", "/favicon.ico", "/robots.txt", "/.well-known/security.txt"] {
            assert_eq!(skip(line("GET", asset, 200)), Skip::Asset, "{asset}");
        }
        assert_eq!(skip(line("POST", "/signup", 200)), Skip::Method);
        assert_eq!(skip(line("HEAD", "/", 200)), Skip::Method);
        for status in [301, 404, 500] {
            assert_eq!(skip(line("GET", "/", status)), Skip::Status);
        }
        for path in ["/", "/docs/", "/about.html", "/v1.2/notes", "/index.php?p=1"] {
            page(LogFormat::Nginx, &line("GET", path, 200));
        }
    }

    #[test]
    fn access_log_caddy_json_lines_are_read_with_their_client_address() {
        let line = format!(
            r#"{{"level":"info","ts":1780000000.5,"logger":"http.log.access","msg":"handled request","request":{{"remote_ip":"10.0.0.1","remote_port":"41342","client_ip":"203.0.113.9","proto":"HTTP/2.0","method":"GET","host":"example.org","uri":"/pricing","headers":{{"User-Agent":["{FIREFOX}"],"Referer":["https://search.example/"]}}}},"bytes_read":0,"duration":0.0009,"size":10900,"status":200}}"#
        );
        let hit = page(LogFormat::CaddyJson, &line);
        assert_eq!(obscura_model::unix_ms(hit.received_at), 1_780_000_000_500);
        assert_eq!(hit.ip, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(hit.url, "https://example.org/pricing");
        assert_eq!(hit.referrer.as_deref(), Some("https://search.example/"));
        assert_eq!(hit.headers.user_agent, FIREFOX);
        let rfc = line.replace("1780000000.5", "\"2026-05-28T20:26:40Z\"");
        assert_eq!(page(LogFormat::CaddyJson, &rfc).received_at, time::macros::datetime!(2026-05-28 20:26:40 UTC));
    }

    #[test]
    fn access_log_unreadable_lines_say_what_is_wrong() {
        let wrong = |format, line: &str| read_line(format, line, "example.org").unwrap_err();
        assert!(wrong(LogFormat::Nginx, "").contains("empty"));
        assert!(wrong(LogFormat::Nginx, "not-an-ip - - [x]").contains("not an IP address"));
        assert!(wrong(LogFormat::Nginx, "1.2.3.4 - - 10/Oct/2026").contains("[time]"));
        assert!(
            wrong(LogFormat::Nginx, r#"1.2.3.4 - - [10/Foo/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1"#)
                .contains("log time")
        );
        assert!(
            wrong(LogFormat::Nginx, r#"1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" OK 1"#)
                .contains("not a status")
        );
        assert!(
            wrong(LogFormat::Nginx, r#"1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET http://x/ HTTP/1.1" 200 1"#)
                .contains("not a path")
        );
        assert!(wrong(LogFormat::CaddyJson, "{\"ts\":1}").contains("Caddy"));
        assert!(wrong(LogFormat::Nginx, &format!("ü{}", "x".repeat(100))).len() < 120, "long input is cut");
    }
}
