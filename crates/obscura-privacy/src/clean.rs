//! The privacy boundary's value type.
//!
//! [`Clean`] is the only text type that storage accepts. Its field is private and it has no
//! public constructor outside this crate: a `Clean` can only come out of the scrubber or the
//! URL/referrer normalisers, so unscrubbed text cannot reach storage by accident (P1, P11).

use std::fmt;

/// Text that has passed the scrubber. Cannot be built from a `String` outside this crate.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Clean(String);

impl Clean {
    /// Only the scrubbing functions of this crate wrap text.
    pub(crate) fn wrap(text: String) -> Self {
        Clean(text)
    }

    /// The scrubbed text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unwraps the scrubbed text (it cannot be wrapped again outside this crate).
    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether the scrubbed text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Clean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Clean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Clean {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
