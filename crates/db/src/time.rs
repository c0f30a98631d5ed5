//! Timestamps as the database keeps them: UTC, microsecond precision (the one clock is
//! `tollbooth_core`'s).

use chrono::{DateTime, Utc};
pub use tollbooth_core::{micros, now};

pub(crate) fn micros_opt(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.map(micros)
}
