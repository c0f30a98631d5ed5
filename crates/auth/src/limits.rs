//! Durable rate limits: counters live in the database, so every instance enforces one limit.

use std::time::Duration;

use chrono::TimeDelta;
use sha2::{Digest, Sha256};
use tollbooth_db::RateLimitRepo;

use crate::config::Limit;
use crate::error::{AuthError, Result};
use crate::service::Auth;

/// Counter names. E-mail addresses are hashed so the table holds no personal data.
pub(crate) mod keys {
    use std::net::IpAddr;

    use super::{Digest, Sha256};

    pub(crate) fn ip(action: &str, ip: IpAddr) -> String {
        format!("{action}:ip:{ip}")
    }

    pub(crate) fn account(action: &str, normalized_email: &str) -> String {
        let digest = Sha256::digest(normalized_email.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{action}:account:{hex}")
    }
}

impl Auth {
    /// Counts one event on `key`; [`AuthError::RateLimited`] once `limit` is exceeded.
    pub(crate) async fn limit(&self, key: &str, limit: Limit) -> Result<()> {
        let now = self.now();
        let hit = self.inner.db.hit_rate_limit(key, limit.window, now).await?;
        if hit.hits > limit.max {
            return Err(rate_limited(hit.window_started_at + limit.window - now));
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
