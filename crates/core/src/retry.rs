//! Bounded exponential backoff with full jitter.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// How a transport retries transient failures (429, 5xx, network errors).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (≥ 1).
    pub max_attempts: u32,
    /// Upper bound of the first backoff; doubles per retry.
    pub initial_backoff: Duration,
    /// Upper bound of any one backoff.
    pub max_backoff: Duration,
    /// Give up rather than sleep past this much time since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff up to 0.5 s, 1 s, 2 s (never above 8 s), 30 s in all.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The sleep before attempt `attempt + 1` (after `attempt` failures, the first having
    /// started at `started`), or `None` to give up. "Full jitter" (a uniform draw below the
    /// exponential bound) spreads retries from many clients; a server-given `retry_after` is
    /// respected as a floor. Shared by every Tollbooth HTTP transport (Resend, Stripe, Cal.com).
    pub fn delay(
        &self,
        attempt: u32,
        started: Instant,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exp = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff);
        let jittered = rand::rng().random_range(Duration::ZERO..=exp);
        let delay = retry_after.map_or(jittered, |floor| floor.max(jittered));
        (started.elapsed() + delay <= self.max_elapsed).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_in_count_and_time() {
        let policy = RetryPolicy::default();
        let start = Instant::now();
        for attempt in 1..4 {
            let bound = Duration::from_millis(500) * 2u32.pow(attempt - 1);
            let delay = policy.delay(attempt, start, None).expect("retry");
            assert!(delay <= bound, "attempt {attempt}: {delay:?} > {bound:?}");
        }
        assert_eq!(policy.delay(4, start, None), None, "max attempts");
        let floor = Duration::from_secs(3);
        assert!(policy.delay(1, start, Some(floor)).unwrap() >= floor);
        assert_eq!(
            policy.delay(1, start, Some(Duration::from_secs(31))),
            None,
            "would exceed max_elapsed"
        );
        assert_eq!(RetryPolicy::none().delay(1, start, None), None);
    }
}
