//! The typed query model and its results.
//!
//! Every dashboard and API question is a [`Query`]: a site, a time range, filters and what to
//! compute. Storage backends take it as it is and answer with the typed results of
//! [`results`]; each renders its own SQL, so no SQL text crosses the storage seam.

#![warn(missing_docs)]

pub mod errors;
pub mod measures;
pub mod model;
pub mod results;

pub use model::{Dimension, Filter, FilterOp, Interval, Query, QueryError, TimeRange};
pub use results::{Aggregate, AutomatedPoint, BreakdownRow, OpenVisit, SeriesPoint, Totals, percent};
