//! Timestamps as the database keeps them: UTC, microsecond precision.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// The current time, truncated to microseconds.
///
/// PostgreSQL stores microseconds and SQLite would keep nanoseconds; the repositories
/// truncate every timestamp they write so both engines return exactly what was written.
pub fn now() -> DateTime<Utc> {
    micros(Utc::now())
}

/// `t` truncated to microseconds (what a round trip through the database returns).
pub fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

pub(crate) fn micros_opt(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.map(micros)
}
