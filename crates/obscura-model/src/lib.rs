//! Obscura's event model: what arrives ([`raw`]) and what may be stored ([`event`]).
//!
//! Every protocol decodes into [`RawHit`], which holds the client's IP and unscrubbed text and
//! must never be stored. Only desensitizing turns it into an [`Event`], whose text fields are
//! [`obscura_privacy::Clean`] and which has no field that can hold an IP (P2, P11).

#![warn(missing_docs)]

pub mod clock;
pub mod day;
pub mod event;
pub mod frequency;
pub mod measure;
pub mod raw;
pub mod raw_error;

pub use clock::{Clock, ManualClock, SystemClock, format_ms, unix_ms};
pub use day::{Day, NotADay, day_of_ms, format_day, parse_day};
pub use event::{Event, EventKind, ScreenClass};
pub use frequency::{DaysSinceLast, VisitCount};
pub use measure::{Metric, Rating, Unit};
pub use raw::{AppDevice, PropValue, RawHit, RawMeasure};
