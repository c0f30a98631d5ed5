//! Durable rate limits: counters live in the database, so every instance enforces one limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tollbooth_db::RateLimitRepo;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::{Limit, RateLimits};
use crate::error::{AuthError, Result};
use crate::secret::address_key;

/// What is being counted. The names are the counters' keys in the database: stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    SignUp,
    SignIn,
    /// Verification e-mails asked for again.
    Verify,
    /// Password-reset e-mails.
    Reset,
    /// Second-factor codes tried.
    Mfa,
    /// Invitation e-mails, per organization and per inviting user.
    Invite,
    /// Organizations created, per user.
    CreateOrganization,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::SignIn => "sign_in",
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::Mfa => "mfa",
            Self::Invite => "invite",
            Self::CreateOrganization => "create_organization",
        }
    }
}

/// A counter's key. E-mail addresses are hashed so the table holds no personal data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key(String);

impl Key {
    /// Per client: an IPv4 client by its address; an IPv6 client by its /64, the block one
    /// subscriber is given (they choose the rest freely, so per-address limits would not hold).
    pub(crate) fn ip(action: Action, ip: IpAddr) -> Self {
        let action = action.as_str();
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        Self(match ip {
            IpAddr::V4(v4) => format!("{action}:ip:{v4}"),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!(
                    "{action}:ip:{:x}:{:x}:{:x}:{:x}::/64",
                    s[0], s[1], s[2], s[3]
                )
            }
        })
    }

    /// Per account, by its normalized e-mail address (known or not) or, for second-factor
    /// codes, its user id.
    pub(crate) fn account(action: Action, account: &str) -> Self {
        Self::hashed(action.as_str(), account)
    }

    /// The account's streak of failed password checks (sign-in, password change,
    /// re-authentication): what backoff and the daily cap count, and a success clears.
    pub(crate) fn sign_in_failures(normalized_email: &str) -> Self {
        Self::hashed("sign_in_failures", normalized_email)
    }

    /// Every counter kept about one account — per address, the failure streak, and
    /// second-factor codes per user id — which deleting the account deletes.
    pub(crate) fn all_of_account(normalized_email: &str, user_id: Uuid) -> Vec<Self> {
        // Sign-up counts per client only: it has no address key to delete.
        let mut keys: Vec<Self> = [Action::SignIn, Action::Verify, Action::Reset]
            .into_iter()
            .map(|action| Self::account(action, normalized_email))
            .collect();
        keys.push(Self::account(Action::Mfa, &user_id.to_string()));
        keys.push(Self::sign_in_failures(normalized_email));
        keys
    }

    fn hashed(counter: &str, account: &str) -> Self {
        Self(format!("{counter}:account:{}", address_key(account)))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
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

/// The durable rate limits: counters in the database (one limit across every instance),
/// the configured [`RateLimits`], and the keys this instance knows are refused. Each method
/// takes the executor to count on.
pub(crate) struct RateLimiter {
    limits: RateLimits,
    clock: Arc<dyn Clock>,
    refused: RefusedKeys,
}

impl RateLimiter {
    pub(crate) fn new(limits: RateLimits, clock: Arc<dyn Clock>) -> Self {
        Self {
            limits,
            clock,
            refused: RefusedKeys::default(),
        }
    }

    /// The configured limits.
    pub(crate) fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Counts one event on `key`; [`AuthError::RateLimited`] once `limit` is exceeded.
    pub(crate) async fn hit(
        &self,
        repo: &impl RateLimitRepo,
        key: &Key,
        limit: Limit,
    ) -> Result<()> {
        let now = self.clock.now();
        let key = key.as_str();
        if let Some(until) = self.refused.until(key, now) {
            return Err(rate_limited(until - now));
        }
        let hit = repo.hit_rate_limit(key, limit.window, now).await?;
        if hit.hits > limit.max {
            let until = hit.window_started_at + limit.window;
            self.refused.remember(key, until, now);
            return Err(rate_limited(until - now));
        }
        Ok(())
    }

    /// Counts one event per client (when the client IP is known) and one per account.
    pub(crate) async fn hit_both(
        &self,
        repo: &impl RateLimitRepo,
        action: Action,
        ip: Option<IpAddr>,
        per_ip: Limit,
        account: &str,
        per_account: Limit,
    ) -> Result<()> {
        if let Some(ip) = ip {
            self.hit(repo, &Key::ip(action, ip), per_ip).await?;
        }
        self.hit(repo, &Key::account(action, account), per_account)
            .await
    }

    /// Refuses an attempt on an account with a failure streak: exponential backoff after
    /// `backoff_after_failures` (one attempt per wait, however many arrive at once), and a
    /// wait for the window's end at `max_consecutive_failures`.
    pub(crate) async fn check_backoff(&self, repo: &impl RateLimitRepo, key: &Key) -> Result<()> {
        let limits = &self.limits;
        let now = self.clock.now();
        let Some(streak) = repo
            .peek_rate_limit(key.as_str(), limits.failure_window, now)
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
            let claimed = repo
                .claim_rate_limit(key.as_str(), streak.hits, now - wait, now)
                .await?;
            if !claimed {
                return Err(rate_limited(wait));
            }
        }
        Ok(())
    }

    /// Adds a failure to the streak `key` counts.
    pub(crate) async fn record_failure(&self, repo: &impl RateLimitRepo, key: &Key) -> Result<()> {
        repo.hit_rate_limit(key.as_str(), self.limits.failure_window, self.clock.now())
            .await?;
        Ok(())
    }

    /// Ends the streak `key` counts (after a success).
    pub(crate) async fn clear_failures(&self, repo: &impl RateLimitRepo, key: &Key) -> Result<()> {
        Ok(repo.reset_rate_limit(key.as_str()).await?)
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
    use tollbooth_core::ManualClock;
    use tollbooth_db::testing::TestDb;

    use super::*;

    /// The keys are the rows of live databases: an upgrade must keep counting on them.
    #[test]
    fn keys_are_stable() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(
            Key::ip(Action::SignIn, v4).as_str(),
            "sign_in:ip:203.0.113.7"
        );
        assert_eq!(Key::ip(Action::SignIn, mapped), Key::ip(Action::SignIn, v4));
        assert_eq!(
            Key::ip(Action::Reset, v6).as_str(),
            "reset:ip:2001:db8:1:2::/64"
        );
        let account = Key::account(Action::SignIn, "ada@example.com");
        assert!(account.as_str().starts_with("sign_in:account:"));
        assert!(!account.as_str().contains("ada"), "no address in the table");
        let failures = Key::sign_in_failures("ada@example.com");
        assert!(failures.as_str().starts_with("sign_in_failures:account:"));
        assert_eq!(
            failures.as_str().rsplit(':').next(),
            account.as_str().rsplit(':').next(),
            "one digest of the address"
        );
    }

    /// A key over its limit is refused from memory until its window ends: a flood of
    /// refused attempts makes no database write. The repository is a mock, so the test
    /// counts the writes themselves.
    #[tokio::test]
    async fn a_refused_key_stays_off_the_database_until_its_window_ends() {
        let start = tollbooth_db::now();
        let clock = Arc::new(ManualClock::new(start));
        let limiter = RateLimiter::new(RateLimits::default(), clock.clone());
        let limit = Limit::new(2, TimeDelta::minutes(1));
        let key = Key::account(Action::SignIn, "ada@example.com");
        let hits = Arc::new(Mutex::new(0u32));
        let mut repo = tollbooth_db::MockRateLimitRepo::new();
        let counted = hits.clone();
        repo.expect_hit_rate_limit()
            .times(4)
            .returning(move |_, _, now| {
                let mut hits = counted.lock().unwrap();
                *hits = if now >= start + TimeDelta::minutes(1) {
                    1
                } else {
                    *hits + 1
                };
                let window_started_at = if *hits == 1 { now } else { start };
                Ok(tollbooth_db::RateLimitHit {
                    hits: *hits,
                    window_started_at,
                })
            });
        limiter.hit(&repo, &key, limit).await.unwrap();
        limiter.hit(&repo, &key, limit).await.unwrap();
        assert!(
            limiter.hit(&repo, &key, limit).await.is_err(),
            "third: over"
        );
        for _ in 0..100 {
            let refused = limiter.hit(&repo, &key, limit).await.unwrap_err();
            let AuthError::RateLimited { retry_after } = refused else {
                panic!("{refused:?}")
            };
            assert_eq!(retry_after, Duration::from_secs(60));
        }
        clock.advance(limit.window);
        limiter.hit(&repo, &key, limit).await.unwrap();
        // `times(4)`: three counted before the refusal, one after the window; the hundred
        // refusals between never reached the repository (mockall checks on drop).
    }

    /// The limiter alone, on a real database: the limit from the configuration, refused
    /// past it until the window ends, per key.
    #[tokio::test]
    async fn a_limit_refuses_past_its_maximum_until_the_window_ends() {
        let db = TestDb::sqlite().await;
        let clock = Arc::new(ManualClock::new(tollbooth_db::now()));
        let limiter = RateLimiter::new(RateLimits::default(), clock.clone());
        let limit = limiter.limits().mfa_per_user;
        let key = Key::account(Action::Mfa, "user-1");
        for _ in 0..limit.max {
            limiter.hit(&*db, &key, limit).await.unwrap();
        }
        let refused = limiter.hit(&*db, &key, limit).await.unwrap_err();
        assert!(
            matches!(refused, AuthError::RateLimited { .. }),
            "{refused:?}"
        );
        let other = Key::account(Action::Mfa, "user-2");
        limiter.hit(&*db, &other, limit).await.unwrap();
        clock.advance(limit.window);
        limiter.hit(&*db, &key, limit).await.unwrap();
    }

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
