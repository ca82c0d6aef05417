//! The typed query model and its rendering to SQL.
//!
//! Every dashboard and API question is a [`Query`]: a site, a time range, filters and what to
//! compute. It renders to SQL with bound parameters for a [`Dialect`] — values are never spliced
//! into the text — and its results come back as plain Rust values.

#![warn(missing_docs)]

pub mod model;
pub mod results;
pub mod sql;

pub use model::{Dimension, Filter, FilterOp, Interval, Query, QueryError, TimeRange};
pub use results::{Aggregate, BreakdownRow, SeriesPoint};
pub use sql::Dialect;
