//! Error reports, through Obscura's Sentry-compatible store endpoint (the site's DSN), and
//! their detail only with the person's consent: when the server answers that the issue has an
//! open diagnostics request, the application's hook asks the person; only if it answers yes is
//! a single-use token fetched and the report sent again with the breadcrumbs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// Breadcrumbs remembered (the oldest go first).
pub(crate) const MAX_BREADCRUMBS: usize = 20;

/// A diagnostics request as the application's hook sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiagnosticsRequest {
    /// Why the detail is wanted, in the operator's words: show it to the person.
    pub purpose: String,
    /// What would be sent: `breadcrumbs`, `extra`.
    pub wants: Vec<String>,
}

/// The application's question to the person: `true` if they agree to send the detail. Called
/// on the SDK's background thread; it may block while the person decides.
pub type ConsentHook = Arc<dyn Fn(&DiagnosticsRequest) -> bool + Send + Sync>;

/// Where reports go, from a DSN (`https://<key>@<host>/<site number>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dsn {
    base: String,
    key: String,
}

impl Dsn {
    /// Parses a DSN; `None` when it is not one.
    pub(crate) fn parse(dsn: &str) -> Option<Dsn> {
        let (scheme, rest) = dsn.split_once("://")?;
        let (key, rest) = rest.split_once('@')?;
        let (host, project) = rest.split_once('/')?;
        let project = project.trim_end_matches('/');
        let valid = matches!(scheme, "http" | "https")
            && !key.is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric())
            && !host.is_empty()
            && !project.is_empty()
            && project.chars().all(|c| c.is_ascii_digit());
        valid.then(|| Dsn { base: format!("{scheme}://{host}/api/{project}"), key: key.to_owned() })
    }

    /// The store endpoint, with a consent token when there is one.
    pub(crate) fn store_url(&self, consent: Option<&str>) -> String {
        let consent = consent.map(|t| format!("&obscura_consent={t}")).unwrap_or_default();
        format!("{}/store/?sentry_key={}{consent}", self.base, self.key)
    }

    /// The endpoint handing out a consent token for request `id`.
    pub(crate) fn consent_url(&self, id: &str) -> String {
        format!("{}/diagnostics/{id}/consent?sentry_key={}", self.base, self.key)
    }
}

/// The last breadcrumbs, shared by the reporter and the reports it makes.
#[derive(Clone, Default)]
pub(crate) struct Breadcrumbs(Arc<Mutex<VecDeque<String>>>);

impl Breadcrumbs {
    pub(crate) fn push(&self, message: &str) {
        let mut crumbs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if crumbs.len() >= MAX_BREADCRUMBS {
            crumbs.pop_front();
        }
        crumbs.push_back(crate::cut(message, 200).to_owned());
    }

    fn snapshot(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }
}

/// One error report: the event as sent without detail, and the breadcrumbs of that moment,
/// sent only with consent.
pub(crate) struct Report {
    event: Value,
    breadcrumbs: Vec<String>,
}

impl Report {
    /// A report of `error` (its type as `kind`), with its chain of causes in the message and
    /// the frames of the current thread's stack.
    pub(crate) fn new(kind: &str, error: &dyn std::error::Error, release: &str, crumbs: &Breadcrumbs) -> Report {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        let frames = frames(&std::backtrace::Backtrace::force_capture().to_string());
        let event = json!({
            "platform": "rust",
            "level": "error",
            "release": release,
            "exception": {"values": [{"type": kind, "value": crate::cut(&message, 1_000), "stacktrace": {"frames": frames}}]},
        });
        Report { event, breadcrumbs: crumbs.snapshot() }
    }

    /// The body without detail.
    pub(crate) fn body(&self) -> String {
        self.event.to_string()
    }

    /// The body with the breadcrumbs: only sent with a consent token.
    pub(crate) fn body_with_detail(&self) -> String {
        let mut event = self.event.clone();
        event["breadcrumbs"] = json!(self.breadcrumbs.iter().map(|m| json!({"message": m})).collect::<Vec<_>>());
        event.to_string()
    }
}

/// The frames of a `std::backtrace::Backtrace` as text (`  3: function\n   at file:line:col`),
/// the outermost first as Sentry orders them; the SDK's own and the standard library's left out.
fn frames(backtrace: &str) -> Vec<Value> {
    let mut frames = Vec::new();
    let mut lines = backtrace.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((_, function)) = line.trim().split_once(": ") else { continue };
        let location = lines.next_if(|l| l.trim_start().starts_with("at ")).map(|l| l.trim_start()[3..].to_owned());
        let internal = ["std::", "core::", "alloc::", "obscura_sdk::", "__rust", "_start", "__libc"];
        if internal.iter().any(|p| function.starts_with(p)) {
            continue;
        }
        // `file:line:column`
        let (file, line_no) = location.as_deref().map_or((None, None), |l| {
            let mut parts = l.rsplitn(3, ':');
            let (_column, line, file) = (parts.next(), parts.next(), parts.next());
            match (file, line) {
                (Some(file), Some(line)) => (Some(file.to_owned()), line.parse::<u32>().ok()),
                _ => (Some(l.to_owned()), None),
            }
        });
        let function =
            function.rsplit_once("::h").map_or(function, |(f, hash)| if hash.len() == 16 { f } else { function });
        frames.push(json!({"function": function, "filename": file, "lineno": line_no, "in_app": true}));
    }
    frames.reverse();
    frames.truncate(50);
    frames
}

/// The diagnostics request of a store answer, if any: its id and what the hook is shown.
pub(crate) fn offered(answer: &Value) -> Option<(String, DiagnosticsRequest)> {
    let d = answer.get("diagnostics")?;
    let id = d.get("request")?.as_str()?.to_owned();
    let purpose = d.get("purpose")?.as_str()?.to_owned();
    let wants = d.get("wants")?.as_array()?.iter().filter_map(|w| w.as_str().map(str::to_owned)).collect();
    Some((id, DiagnosticsRequest { purpose, wants }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_errors_dsn_parses_and_refuses_what_is_not_one() {
        let dsn = Dsn::parse("https://3f2c09@stats.example.com/4").unwrap();
        assert_eq!(dsn.store_url(None), "https://stats.example.com/api/4/store/?sentry_key=3f2c09");
        assert_eq!(
            dsn.store_url(Some("t0k")),
            "https://stats.example.com/api/4/store/?sentry_key=3f2c09&obscura_consent=t0k"
        );
        assert_eq!(dsn.consent_url("d1"), "https://stats.example.com/api/4/diagnostics/d1/consent?sentry_key=3f2c09");
        for bad in
            ["stats.example.com/4", "https://stats.example.com/4", "ftp://k@h/4", "https://k@h/shop", "https://k@h/"]
        {
            assert!(Dsn::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn sdk_errors_frames_come_from_a_backtrace_outermost_first() {
        let text = "   0: std::backtrace::Backtrace::force_capture\n             at /rustc/x/library/std/src/backtrace.rs:312:13\n   1: shop::checkout::pay::h0123456789abcdef\n             at /home/jdoe/shop/src/checkout.rs:42:9\n   2: shop::main\n             at ./src/main.rs:3:5\n";
        let frames = frames(text);
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(frames[0]["function"], "shop::main");
        assert_eq!(frames[1]["function"], "shop::checkout::pay", "without the symbol hash");
        assert_eq!(
            (frames[1]["filename"].as_str(), frames[1]["lineno"].as_u64()),
            (Some("/home/jdoe/shop/src/checkout.rs"), Some(42))
        );
    }

    #[test]
    fn sdk_errors_breadcrumbs_are_bounded_and_sent_only_in_the_detailed_body() {
        let crumbs = Breadcrumbs::default();
        for i in 0..30 {
            crumbs.push(&format!("step {i}"));
        }
        let report = Report::new("io", &std::io::Error::other("disk full"), "2.3.1", &crumbs);
        assert!(!report.body().contains("step"), "no detail without consent");
        let detailed = report.body_with_detail();
        assert!(detailed.contains("step 29") && !detailed.contains("\"step 9\""), "the last twenty: {detailed}");
        let answer = json!({"id": "x", "diagnostics": {"request": "d1", "purpose": "why", "wants": ["breadcrumbs"]}});
        assert_eq!(
            offered(&answer).unwrap(),
            ("d1".into(), DiagnosticsRequest { purpose: "why".into(), wants: vec!["breadcrumbs".into()] })
        );
        assert_eq!(offered(&json!({"id": "x"})), None);
    }
}
