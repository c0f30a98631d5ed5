//! Time, injectable so expiry can be tested without waiting: `tollbooth_core`'s clock.

pub use tollbooth_core::{Clock, ManualClock, SystemClock};
