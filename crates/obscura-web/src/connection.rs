//! What the connection loop learns about a connection before any request on it: the client's
//! JA4 TLS fingerprint (in each request's extensions) and the TLS handshake counters.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// The JA4 fingerprint of the ClientHello that opened the request's connection, when Obscura
/// terminated TLS and could read it. Kept in memory only, as a bot signal (P5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ja4(pub Arc<str>);

/// TLS handshakes since the server started.
#[derive(Debug, Default)]
pub struct TlsCounters {
    /// Handshakes completed.
    pub completed: AtomicU64,
    /// Handshakes that failed or timed out.
    pub failed: AtomicU64,
    /// ClientHellos that were truncated, malformed or too large to fingerprint.
    pub unreadable_hellos: AtomicU64,
}
