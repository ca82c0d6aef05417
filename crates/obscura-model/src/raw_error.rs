//! An error report as a client sent it (a Sentry SDK, the tracker's error part): every text in
//! it may hold personal data until `desensitize` scrubs it, so it lives only inside a
//! [`crate::RawHit`] and never reaches storage as it is.

/// One error report, before scrubbing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawError {
    /// `fatal`, `error`, `warning`, `info` or `debug` (anything else reads as `error`).
    pub level: Option<String>,
    /// The SDK's platform: `javascript`, `rust`, `python`, …
    pub platform: Option<String>,
    /// The application's release, as the SDK names it.
    pub release: Option<String>,
    /// `production`, `staging`, …
    pub environment: Option<String>,
    /// A log message (`message`, `logentry`), when the report is not (only) an exception.
    pub message: Option<String>,
    /// The exceptions, the one raised last (the one reported) last, as Sentry orders them.
    pub exceptions: Vec<RawException>,
    /// The SDK's own grouping, if it sent one (`{{ default }}` stands for the built-in one).
    pub fingerprint: Vec<String>,
    /// Where it happened, as the SDK names it (a route, a transaction, a culprit).
    pub transaction: Option<String>,
    /// Tags (key, value).
    pub tags: Vec<(String, String)>,
    /// The page or request URL the error happened on (`request.url`), as sent.
    pub url: Option<String>,
    /// What the SDK reported of the device (`contexts.os`, `contexts.device`, `contexts.app`),
    /// in place of what a User-Agent tells.
    pub device: Option<crate::AppDevice>,
    /// Detail that leaves the device only with the person's consent: breadcrumbs and extra
    /// context, each as one line of text.
    pub detail: Vec<String>,
}

/// One exception of a report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawException {
    /// Its type (`TypeError`, `std::io::Error`, …).
    pub kind: Option<String>,
    /// Its message.
    pub value: Option<String>,
    /// The module it was raised in.
    pub module: Option<String>,
    /// Its stack, the innermost (most recent) call last.
    pub frames: Vec<RawFrame>,
}

/// One stack frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawFrame {
    /// The function.
    pub function: Option<String>,
    /// The module or package.
    pub module: Option<String>,
    /// The file (path or URL).
    pub filename: Option<String>,
    /// The line.
    pub line: Option<u32>,
    /// Whether the frame is the application's own code rather than a library's.
    pub in_app: Option<bool>,
}
