//! Stripe's subscription statuses, in one place: which grant the plan, which block a new
//! checkout, which are final.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A Stripe subscription status (stored verbatim; an unknown one is kept as [`Other`]).
///
/// | status | grants the plan | blocks a new checkout | final |
/// |---|---|---|---|
/// | `trialing`, `active` | yes | yes | no |
/// | `past_due` | within the configured grace period | yes | no |
/// | `unpaid`, `incomplete`, `paused` | no | yes | no |
/// | `incomplete_expired`, `canceled` | no | no | yes |
/// | anything else | no | yes | no |
///
/// Access follows what Stripe says is safe to provision: a subscription whose first payment
/// was never made (`incomplete`: 3-D Secure pending, card declined) or that Stripe gave up
/// collecting (`unpaid`) grants nothing. Those still block a new checkout: an incomplete
/// subscription is completed (or left to expire after 23 hours), not duplicated.
///
/// [`Other`]: SubscriptionStatus::Other
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubscriptionStatus {
    /// In its free trial.
    Trialing,
    /// Paid and current.
    Active,
    /// A renewal payment failed; Stripe is retrying.
    PastDue,
    /// Stripe stopped retrying; the invoice stays open.
    Unpaid,
    /// The first payment has not succeeded yet.
    Incomplete,
    /// The first payment never succeeded (final).
    IncompleteExpired,
    /// Ended (final).
    Canceled,
    /// A trial ended without a payment method (paused by Stripe).
    Paused,
    /// A status this version does not know; treated as live but granting nothing.
    Other(String),
}

impl SubscriptionStatus {
    /// The status Stripe sends.
    pub fn parse(status: &str) -> Self {
        match status {
            "trialing" => Self::Trialing,
            "active" => Self::Active,
            "past_due" => Self::PastDue,
            "unpaid" => Self::Unpaid,
            "incomplete" => Self::Incomplete,
            "incomplete_expired" => Self::IncompleteExpired,
            "canceled" => Self::Canceled,
            "paused" => Self::Paused,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Stripe's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Unpaid => "unpaid",
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Canceled => "canceled",
            Self::Paused => "paused",
            Self::Other(other) => other,
        }
    }

    /// Whether the subscription grants its plan at `now`: `trialing` and `active` do;
    /// `past_due` does until `grace` has passed since it became past due (`since`; unknown
    /// counts as now, so a zero grace grants nothing); nothing else does.
    pub fn grants_access(
        &self,
        since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> bool {
        match self {
            Self::Trialing | Self::Active => true,
            Self::PastDue => {
                let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
                let since = since.unwrap_or(now);
                since.checked_add_signed(grace).is_none_or(|end| now < end)
            }
            _ => false,
        }
    }

    /// Whether a new checkout is refused while a subscription is in this status: every
    /// status but the final ones (the subscription is, or can still become, the customer's).
    pub fn blocks_checkout(&self) -> bool {
        !self.is_final()
    }

    /// Whether Stripe never changes it again (`canceled`, `incomplete_expired`).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Canceled | Self::IncompleteExpired)
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Stripe PaymentIntent status, as far as Tollbooth acts on it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PaymentStatus {
    /// Paid (final).
    Succeeded,
    /// Abandoned or cancelled (final).
    Canceled,
    /// Any other: waiting for a payment method, confirmation, action, or processing.
    Pending(String),
}

impl PaymentStatus {
    /// The status Stripe sends.
    pub fn parse(status: &str) -> Self {
        match status {
            "succeeded" => Self::Succeeded,
            "canceled" => Self::Canceled,
            other => Self::Pending(other.to_owned()),
        }
    }

    /// Whether Stripe never changes it again ([`tollbooth_db::PAYMENT_FINAL_STATUSES`], the
    /// list the payment upsert's SQL is built from).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Canceled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn every_status_round_trips_and_has_one_answer_per_question() {
        let now = Utc::now();
        let table = [
            ("trialing", true, true, false),
            ("active", true, true, false),
            ("past_due", false, true, false),
            ("unpaid", false, true, false),
            ("incomplete", false, true, false),
            ("paused", false, true, false),
            ("incomplete_expired", false, false, true),
            ("canceled", false, false, true),
            ("something_new", false, true, false),
        ];
        for (name, access, blocks, final_) in table {
            let status = SubscriptionStatus::parse(name);
            assert_eq!(status.as_str(), name);
            assert_eq!(
                status.grants_access(Some(now), now, Duration::ZERO),
                access,
                "{name}"
            );
            assert_eq!(status.blocks_checkout(), blocks, "{name}");
            assert_eq!(status.is_final(), final_, "{name}");
        }
    }

    #[test]
    fn payment_statuses_agree_with_the_database_s_final_list() {
        for status in [
            "succeeded",
            "canceled",
            "processing",
            "requires_action",
            "requires_payment_method",
        ] {
            assert_eq!(
                PaymentStatus::parse(status).is_final(),
                tollbooth_db::PAYMENT_FINAL_STATUSES.contains(&status),
                "{status}"
            );
        }
    }

    #[test]
    fn past_due_grants_access_only_within_the_grace_period() {
        let now = Utc::now();
        let past_due = SubscriptionStatus::PastDue;
        let since = now - chrono::Duration::days(2);
        assert!(past_due.grants_access(Some(since), now, 3 * DAY));
        assert!(!past_due.grants_access(Some(since), now, 2 * DAY));
        assert!(!past_due.grants_access(Some(since), now, Duration::ZERO));
        // Unknown start: the grace starts now.
        assert!(past_due.grants_access(None, now, DAY));
        assert!(!past_due.grants_access(None, now, Duration::ZERO));
        // A grace too long for chrono never ends.
        assert!(past_due.grants_access(Some(since), now, Duration::MAX));
    }
}
