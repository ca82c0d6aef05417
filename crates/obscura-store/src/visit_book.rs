//! Open visits shared by several nodes, so a visit stays one visit when its visitor's requests
//! reach different nodes. Each node reads the visitor's open visit, applies the visit rule
//! (`obscura_ingest::visits::advance`) and writes the result back only if no other node changed
//! it meanwhile (compare and set), retrying otherwise.
//!
//! Held: the day's visitor hash (P2), the visit id, the time of the latest event, the pageview
//! count and the last page — for 30 minutes after the visit's latest event, then deleted.

/// A visitor's open visit as the nodes share it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedVisit {
    /// The visit's id.
    pub id: u64,
    /// Its latest event, in milliseconds since the Unix epoch (UTC).
    pub last_ms: i64,
    /// Pageviews so far.
    pub pageviews: u16,
    /// The last page viewed (already cleaned).
    pub last_path: Option<String>,
}

/// Where the nodes keep open visits.
pub trait OpenVisitBook: Send + Sync {
    /// The visitor's visit, if one is kept.
    fn get(&self, site: u32, visitor: u64) -> anyhow::Result<Option<SharedVisit>>;
    /// Stores `next` if the kept visit is still `expected` (`None`: none kept); returns `false`
    /// when another node changed it first.
    fn replace(
        &self,
        site: u32,
        visitor: u64,
        expected: Option<&SharedVisit>,
        next: &SharedVisit,
    ) -> anyhow::Result<bool>;
    /// Deletes visits whose latest event is before `before_ms`; returns how many.
    fn forget_ended(&self, before_ms: i64) -> anyhow::Result<u64>;
}
