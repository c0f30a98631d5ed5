//! Durable rate limits: counters live in the database, so every instance enforces one limit.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use tollbooth_db::RateLimitRepo;

use crate::config::Limit;
use crate::error::{AuthError, Result};
use crate::service::Auth;

/// Counter names. E-mail addresses are hashed so the table holds no personal data.
pub(crate) mod keys {
    use std::net::IpAddr;

    use super::{Digest, Sha256};

    /// An IPv4 client by its address; an IPv6 client by its /64, the block one subscriber
    /// is given (they choose the rest freely, so per-address limits would not hold).
    pub(crate) fn ip(action: &str, ip: IpAddr) -> String {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        match ip {
            IpAddr::V4(v4) => format!("{action}:ip:{v4}"),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!(
                    "{action}:ip:{:x}:{:x}:{:x}:{:x}::/64",
                    s[0], s[1], s[2], s[3]
                )
            }
        }
    }

    pub(crate) fn account(action: &str, normalized_email: &str) -> String {
        let digest = Sha256::digest(normalized_email.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{action}:account:{hex}")
    }
}

/// Keys this instance has seen over their limit, and until when their window lasts. A
/// window's count only grows, so a key over its limit stays over until the window ends:
/// later attempts are refused here, without a database write — a flood of refused requests
/// (a botnet past its allowance) stays off the database. Bounded: at [`Self::CAPACITY`] keys
/// the expired ones are dropped, and if none are, nothing more is remembered (the database
/// still decides).
#[derive(Debug, Default)]
pub(crate) struct RefusedKeys(Mutex<HashMap<String, DateTime<Utc>>>);

impl RefusedKeys {
    const CAPACITY: usize = 10_000;

    fn until(&self, key: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        keys.get(key).copied().filter(|until| *until > now)
    }

    fn remember(&self, key: &str, until: DateTime<Utc>, now: DateTime<Utc>) {
        let mut keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= Self::CAPACITY && !keys.contains_key(key) {
            keys.retain(|_, until| *until > now);
            if keys.len() >= Self::CAPACITY {
                return;
            }
        }
        keys.insert(key.to_owned(), until);
    }
}

impl Auth {
    /// Counts one event on `key`; [`AuthError::RateLimited`] once `limit` is exceeded.
    pub(crate) async fn limit(&self, key: &str, limit: Limit) -> Result<()> {
        let now = self.now();
        let refused = &self.inner.refused_keys;
        if let Some(until) = refused.until(key, now) {
            return Err(rate_limited(until - now));
        }
        let hit = self.inner.db.hit_rate_limit(key, limit.window, now).await?;
        if hit.hits > limit.max {
            let until = hit.window_started_at + limit.window;
            refused.remember(key, until, now);
            return Err(rate_limited(until - now));
        }
        Ok(())
    }

    /// Refuses an attempt on an account with a failure streak: exponential backoff after
    /// `backoff_after_failures` (one attempt per wait, however many arrive at once), and a
    /// wait for the window's end at `max_consecutive_failures`.
    pub(crate) async fn check_backoff(&self, key: &str) -> Result<()> {
        let limits = &self.inner.config.rate_limits;
        let now = self.now();
        let Some(streak) = self
            .inner
            .db
            .peek_rate_limit(key, limits.failure_window, now)
            .await?
        else {
            return Ok(());
        };
        if streak.hits >= limits.max_consecutive_failures {
            return Err(rate_limited(
                streak.window_started_at + limits.failure_window - now,
            ));
        }
        if streak.hits >= limits.backoff_after_failures {
            let exponent = (streak.hits - limits.backoff_after_failures).min(30);
            let wait = TimeDelta::seconds(1i64 << exponent).min(limits.max_backoff);
            let ready_at = streak.last_hit_at + wait;
            if now < ready_at {
                return Err(rate_limited(ready_at - now));
            }
            // The wait is over: one attempt may go ahead. Claiming it is atomic, so parallel
            // attempts cannot all pass the check above before any failure is recorded.
            let claimed = self
                .inner
                .db
                .claim_rate_limit(key, streak.hits, now - wait, now)
                .await?;
            if !claimed {
                return Err(rate_limited(wait));
            }
        }
        Ok(())
    }

    pub(crate) async fn record_failure(&self, key: &str) -> Result<()> {
        let window = self.inner.config.rate_limits.failure_window;
        self.inner
            .db
            .hit_rate_limit(key, window, self.now())
            .await?;
        Ok(())
    }

    pub(crate) async fn clear_failures(&self, key: &str) -> Result<()> {
        Ok(self.inner.db.reset_rate_limit(key).await?)
    }
}

fn rate_limited(wait: TimeDelta) -> AuthError {
    // Whole seconds (for `Retry-After`), rounded up, at least one.
    let millis = u64::try_from(wait.num_milliseconds())
        .unwrap_or(0)
        .max(1000);
    AuthError::RateLimited {
        retry_after: Duration::from_secs(millis.div_ceil(1000)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache never outgrows its capacity: expired keys make room, live ones do not.
    #[test]
    fn refused_keys_are_bounded() {
        let refused = RefusedKeys::default();
        let now = tollbooth_db::now();
        let (past, future) = (now - TimeDelta::minutes(1), now + TimeDelta::minutes(5));
        for i in 0..RefusedKeys::CAPACITY {
            refused.remember(&format!("old{i}"), past, past - TimeDelta::minutes(1));
        }
        refused.remember("new", future, now);
        assert_eq!(
            refused.until("new", now),
            Some(future),
            "expired keys made room"
        );
        assert_eq!(refused.until("old0", now), None);
        for i in 1..RefusedKeys::CAPACITY {
            refused.remember(&format!("live{i}"), future, now);
        }
        refused.remember("one-too-many", future, now);
        assert_eq!(
            refused.until("one-too-many", now),
            None,
            "full: not remembered"
        );
        assert_eq!(
            refused.0.lock().unwrap().len(),
            RefusedKeys::CAPACITY,
            "never above capacity"
        );
        assert_eq!(
            refused.until("live1", future),
            None,
            "expired at the window's end"
        );
    }
}
