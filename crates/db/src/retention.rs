//! Retention: how long rows past their use are kept, and the purge that deletes the rest.

use chrono::{DateTime, TimeDelta, Utc};

use crate::db::Db;
use crate::error::{DbError, Result};
use crate::{
    OutboxRepo, RateLimitRepo, SecurityEventRepo, SessionRepo, TokenRepo, WebhookEventRepo,
};

/// The shortest webhook-ledger retention [`Db::purge`] accepts: Stripe retries a delivery
/// for three days, and a redelivery after its ledger row is gone would apply again.
pub const MIN_WEBHOOK_RETENTION: TimeDelta = TimeDelta::days(3);

/// How long each kind of spent row is kept before [`Db::purge`] deletes it. Every period
/// counts from the row's end (a session's expiry or revocation, a token's expiry, a rate
/// limit's last hit, a webhook's receipt, an e-mail's delivery), so nothing still in use is
/// ever touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    ended_sessions: TimeDelta,
    expired_tokens: TimeDelta,
    idle_rate_limits: TimeDelta,
    webhook_events: TimeDelta,
    delivered_emails: TimeDelta,
    security_events: TimeDelta,
}

impl Default for Retention {
    /// Ended sessions 30 days (a replayed cookie of a revoked session is still recognised as
    /// one), expired tokens 1 day, idle rate limits 2 days (beyond auth's 24-hour failure
    /// window), webhook events 30 days, delivered or abandoned e-mails 30 days, security
    /// events (the audit trail) 365 days.
    fn default() -> Self {
        Self {
            ended_sessions: TimeDelta::days(30),
            expired_tokens: TimeDelta::days(1),
            idle_rate_limits: TimeDelta::days(2),
            webhook_events: TimeDelta::days(30),
            delivered_emails: TimeDelta::days(30),
            security_events: TimeDelta::days(365),
        }
    }
}

impl Retention {
    /// Sessions kept after they expired or were revoked.
    #[must_use]
    pub fn ended_sessions(mut self, keep: TimeDelta) -> Self {
        self.ended_sessions = keep;
        self
    }

    /// Verification, reset, OAuth-state and challenge tokens kept after they expired.
    #[must_use]
    pub fn expired_tokens(mut self, keep: TimeDelta) -> Self {
        self.expired_tokens = keep;
        self
    }

    /// Rate-limit counters kept after their last hit. Keep them longer than the longest
    /// rate-limit window you configure, or a purge would cut a lockout short.
    #[must_use]
    pub fn idle_rate_limits(mut self, keep: TimeDelta) -> Self {
        self.idle_rate_limits = keep;
        self
    }

    /// The exactly-once webhook ledger: at least [`MIN_WEBHOOK_RETENTION`].
    #[must_use]
    pub fn webhook_events(mut self, keep: TimeDelta) -> Self {
        self.webhook_events = keep;
        self
    }

    /// Outbox e-mails kept after delivery or giving up (their bodies are already emptied;
    /// the idempotency key is what stays). Keep them at least as long as webhook events.
    #[must_use]
    pub fn delivered_emails(mut self, keep: TimeDelta) -> Self {
        self.delivered_emails = keep;
        self
    }

    /// The security audit trail, counted from each event's time.
    #[must_use]
    pub fn security_events(mut self, keep: TimeDelta) -> Self {
        self.security_events = keep;
        self
    }

    fn validate(&self) -> Result<()> {
        let periods = [
            self.ended_sessions,
            self.expired_tokens,
            self.idle_rate_limits,
            self.webhook_events,
            self.delivered_emails,
            self.security_events,
        ];
        if periods.iter().any(|p| *p < TimeDelta::zero()) {
            return Err(DbError::InvalidConfig {
                reason: "a retention period is negative".to_owned(),
            });
        }
        if self.webhook_events < MIN_WEBHOOK_RETENTION {
            return Err(DbError::InvalidConfig {
                reason: format!(
                    "webhook events must be kept at least {} days (the sender's retry horizon)",
                    MIN_WEBHOOK_RETENTION.num_days()
                ),
            });
        }
        Ok(())
    }
}

/// How many rows one [`Db::purge`] deleted, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Ended sessions.
    pub sessions: u64,
    /// Expired tokens.
    pub tokens: u64,
    /// Idle rate-limit counters.
    pub rate_limits: u64,
    /// Webhook ledger rows.
    pub webhook_events: u64,
    /// Delivered or abandoned outbox e-mails.
    pub emails: u64,
    /// Security events.
    pub security_events: u64,
}

impl PurgeReport {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.sessions
            + self.tokens
            + self.rate_limits
            + self.webhook_events
            + self.emails
            + self.security_events
    }
}

impl Db {
    /// Deletes every row past `retention` as of `now`: ended sessions, expired tokens, idle
    /// rate limits, old webhook-ledger rows, delivered e-mails and old security events. Safe to run at any time,
    /// from any number of instances at once (each kind is one `DELETE … WHERE` on its end
    /// time), and cheap to run often. A retention that could break a guarantee (negative,
    /// or a webhook ledger shorter than [`MIN_WEBHOOK_RETENTION`]) is
    /// [`DbError::InvalidConfig`] and deletes nothing.
    pub async fn purge(&self, retention: &Retention, now: DateTime<Utc>) -> Result<PurgeReport> {
        retention.validate()?;
        let report = PurgeReport {
            sessions: self.purge_sessions(now - retention.ended_sessions).await?,
            tokens: self.purge_tokens(now - retention.expired_tokens).await?,
            rate_limits: self
                .purge_rate_limits(now - retention.idle_rate_limits)
                .await?,
            webhook_events: self
                .purge_webhook_events(now - retention.webhook_events)
                .await?,
            emails: self.purge_emails(now - retention.delivered_emails).await?,
            security_events: self
                .purge_security_events(now - retention.security_events)
                .await?,
        };
        tracing::info!(?report, "purged rows past their retention");
        Ok(report)
    }
}
