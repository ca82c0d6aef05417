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
    /// The event store or salt storage failed (503); the client may retry later.
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    /// The site does not collect this kind of data (a collection switch is off).
    #[error("this site does not collect {0}")]
    NotCollected(&'static str),
    /// The request's credentials are missing, wrong or disagree (403); the message says which.
    #[error("{0}")]
    Forbidden(String),
    /// The body, or what it decompresses to, is over a limit (413); the message says which.
    #[error("{0}")]
    TooLarge(String),
}

impl IngestError {
    /// The HTTP status code to answer with: 400, 403, 404, 413, 503, or 202 for
    /// [`IngestError::NotCollected`].
    pub fn status(&self) -> u16 {
        match self {
            IngestError::BadRequest(_) => 400,
            IngestError::UnknownSite(_) => 404,
            IngestError::Unavailable(_) => 503,
            IngestError::NotCollected(_) => 202,
            IngestError::Forbidden(_) => 403,
            IngestError::TooLarge(_) => 413,
        }
    }
}
