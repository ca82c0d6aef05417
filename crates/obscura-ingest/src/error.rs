//! Ingest errors: each maps to a 4xx (or 503) with a message saying what was wrong.

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    BadRequest(String),
    #[error("unknown site {0:?}: add it with `obscura site add {0}`")]
    UnknownSite(String),
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    /// The site does not collect this kind of data (a collection switch is off).
    #[error("this site does not collect {0}")]
    NotCollected(&'static str),
}

impl IngestError {
    pub fn status(&self) -> u16 {
        match self {
            IngestError::BadRequest(_) => 400,
            IngestError::UnknownSite(_) => 404,
            IngestError::Unavailable(_) => 503,
            IngestError::NotCollected(_) => 202,
        }
    }
}
