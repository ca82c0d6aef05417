//! Ingest errors: each maps to a 4xx (or 503) with a message saying what was wrong.

/// Why an incoming event was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The request body is malformed or out of range (400); the message says what is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// No site is registered under this domain (404).
    #[error("unknown site {0:?}: add it with `obscura site add {0}`")]
    UnknownSite(String),
    /// No site has this number, the last part of a DSN (404).
    #[error("no project {0:?}: a DSN ends with the site's number; `obscura site dsn DOMAIN` prints it")]
    UnknownProject(String),
    /// What the request names does not exist (404); the message says what.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be done in the current state (409); the message says why.
    #[error("{0}")]
    Conflict(String),
    /// The event store or salt storage failed (503); the client may retry later.
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    /// Ingest outruns the store, or memory is over its ceiling (503); the message says which,
    /// and the client may retry later.
    #[error("{0}")]
    Overloaded(String),
    /// The site does not collect this kind of data (a collection switch is off).
    #[error("this site does not collect {0}")]
    NotCollected(&'static str),
    /// The request's credentials are missing, wrong or disagree (403); the message says which.
    #[error("{0}")]
    Forbidden(String),
    /// The body, or what it decompresses to, is over a limit (413); the message says which.
    #[error("{0}")]
    TooLarge(String),
    /// The site sent more error reports than its ceiling allows (429); retry after this many
    /// seconds.
    #[error("too many error reports for this site; retry in {0} s")]
    RateLimited(u64),
}

impl IngestError {
    /// The HTTP status code to answer with: 400, 403, 404, 409, 413, 429, 503, or 202 for
    /// [`IngestError::NotCollected`].
    pub fn status(&self) -> u16 {
        match self {
            IngestError::BadRequest(_) => 400,
            IngestError::UnknownSite(_) | IngestError::UnknownProject(_) | IngestError::NotFound(_) => 404,
            IngestError::Conflict(_) => 409,
            IngestError::Unavailable(_) | IngestError::Overloaded(_) => 503,
            IngestError::NotCollected(_) => 202,
            IngestError::Forbidden(_) => 403,
            IngestError::TooLarge(_) => 413,
            IngestError::RateLimited(_) => 429,
        }
    }
}
