//! What an administrative action can fail with.

/// Why an administrative action was refused or failed. The message is meant for the person
/// who asked: it says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// No site, user, token or link by that name.
    #[error("{0}")]
    NotFound(String),
    /// The actor's role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// The request breaks a rule (a name too long, a password too short, …).
    #[error("{0}")]
    Invalid(String),
    /// It exists already.
    #[error("{0}")]
    Conflict(String),
    /// The metadata or the audit log could not be read or written.
    #[error("{0}")]
    Storage(String),
}

impl AdminError {
    /// A storage failure, with its causes.
    pub fn storage(error: &anyhow::Error) -> Self {
        AdminError::Storage(format!("{error:#}"))
    }

    /// Recovers an `AdminError` raised inside a metadata update; anything else is storage.
    pub(crate) fn from_update(error: anyhow::Error) -> Self {
        match error.downcast::<AdminError>() {
            Ok(admin) => admin,
            Err(other) => AdminError::storage(&other),
        }
    }
}
