//! One source of time: UTC, truncated to microseconds (what both database engines keep),
//! injectable so expiry is tested without waiting.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Where Tollbooth reads the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now (UTC, microseconds).
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

/// A clock that only moves when told to — for tests of expiry.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(micros(start))))
    }

    /// Moves the clock forward (or back, with a negative delta).
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The current time, truncated to microseconds.
///
/// PostgreSQL stores microseconds and SQLite would keep nanoseconds; every timestamp written
/// is truncated so both engines return exactly what was written.
pub fn now() -> DateTime<Utc> {
    micros(Utc::now())
}

/// `t` truncated to microseconds (what a round trip through the database returns).
pub fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}
