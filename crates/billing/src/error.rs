//! The crate's one error type.

use tollbooth_db::DbError;

/// `Result` with [`BillingError`].
pub type Result<T, E = BillingError> = std::result::Result<T, E>;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a billing operation can refuse or fail with; [`status`](Self::status) is the
/// HTTP status adapters answer with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BillingError {
    /// The webhook's signature is missing, malformed, stale, or made with another secret.
    /// Nothing was written.
    #[error("invalid webhook signature")]
    InvalidSignature,
    /// The webhook body is not a Stripe event. Nothing was written.
    #[error("invalid webhook payload: {reason}")]
    InvalidPayload {
        /// What is wrong.
        reason: String,
    },
    /// The Free plan (or a plan without a configured price) cannot be bought.
    #[error("plan `{plan}` cannot be purchased")]
    PlanNotPurchasable {
        /// The plan.
        plan: String,
    },
    /// The user already has an active paid subscription: change it in the billing portal.
    #[error("already subscribed; use the billing portal to change plans")]
    AlreadySubscribed,
    /// The user has no Stripe customer or no subscription to act on.
    #[error("no {what} for this user")]
    NotFound {
        /// `customer`, `subscription`, `user`, `payment`.
        what: &'static str,
    },
    /// A request was refused before any network call (amount, currency, metadata, URL).
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Stripe refused the request (4xx other than 429).
    #[error("Stripe refused the request ({status} {kind}): {message}")]
    Stripe {
        /// HTTP status.
        status: u16,
        /// Stripe's error `type` (`card_error`, `invalid_request_error`, …).
        kind: String,
        /// Stripe's error `code`, if any.
        code: Option<String>,
        /// Stripe's message.
        message: String,
    },
    /// Stripe stayed unreachable, rate-limited or failing through every retry allowed.
    #[error("Stripe unavailable after {attempts} attempt(s)")]
    StripeUnavailable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: BoxError,
    },
    /// A paid session already has a booking.
    #[error("this payment has already been used to book")]
    AlreadyBooked,
    /// The payment was refunded in full: it pays for nothing any more.
    #[error("this payment has been refunded")]
    PaymentRefunded,
    /// A feature needs configuration it does not have (e.g. Cal.com).
    #[error("{what} is not configured")]
    NotConfigured {
        /// What.
        what: &'static str,
    },
    /// Cal.com refused the request (4xx other than 404 and 429).
    #[error("Cal.com refused the request ({status}): {message}")]
    Calcom {
        /// HTTP status.
        status: u16,
        /// Cal.com's answer (truncated).
        message: String,
    },
    /// Cal.com stayed unreachable or failing through every retry allowed.
    #[error("Cal.com unavailable after {attempts} attempt(s)")]
    CalcomUnavailable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: BoxError,
    },
    /// The database failed; for a webhook, nothing was recorded and Stripe will retry.
    #[error("database error")]
    Database {
        /// The cause.
        #[source]
        source: DbError,
    },
    /// The configuration cannot work.
    #[error("invalid billing configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// A bug or an unexpected answer.
    #[error("internal error")]
    Internal {
        /// The cause (logged, never shown to clients).
        #[source]
        source: BoxError,
    },
}

impl BillingError {
    /// The HTTP status adapters answer with. Webhook failures that Stripe should retry are
    /// 5xx; failures a retry cannot fix (bad signature or payload) are 400.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidSignature | Self::InvalidPayload { .. } => 400,
            Self::NotFound { .. } | Self::NotConfigured { .. } => 404,
            Self::AlreadySubscribed | Self::AlreadyBooked | Self::PaymentRefunded => 409,
            Self::PlanNotPurchasable { .. } | Self::InvalidInput { .. } => 422,
            Self::Stripe { kind, .. } if kind == "card_error" => 402,
            Self::Stripe { .. } | Self::Calcom { .. } => 502,
            Self::StripeUnavailable { .. } | Self::CalcomUnavailable { .. } => 503,
            Self::Database {
                source: DbError::Unavailable { .. },
            } => 503,
            Self::Database { .. } | Self::InvalidConfig { .. } | Self::Internal { .. } => 500,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidSignature => "invalid_signature",
            Self::InvalidPayload { .. } => "invalid_payload",
            Self::PlanNotPurchasable { .. } => "plan_not_purchasable",
            Self::AlreadySubscribed => "already_subscribed",
            Self::NotFound { .. } => "not_found",
            Self::AlreadyBooked => "already_booked",
            Self::PaymentRefunded => "payment_refunded",
            Self::NotConfigured { .. } => "not_configured",
            Self::Calcom { .. } => "scheduling_provider_error",
            Self::CalcomUnavailable { .. } => "scheduling_provider_unavailable",
            Self::InvalidInput { .. } => "invalid_input",
            Self::Stripe { kind, .. } if kind == "card_error" => "payment_failed",
            Self::Stripe { .. } => "payment_provider_error",
            Self::StripeUnavailable { .. } => "payment_provider_unavailable",
            Self::Database {
                source: DbError::Unavailable { .. },
            } => "unavailable",
            Self::Database { .. } | Self::InvalidConfig { .. } | Self::Internal { .. } => {
                "internal"
            }
        }
    }

    /// The message a client may see. Every 5xx message is fixed per code: what Stripe,
    /// Cal.com or the database said stays in the logs (adapters log it), never in a body.
    pub fn public_message(&self) -> String {
        if self.status() < 500 {
            return self.to_string();
        }
        match self.code() {
            "payment_provider_error" => "the payment provider could not complete the request",
            "payment_provider_unavailable" => {
                "the payment provider is unavailable; try again later"
            }
            "scheduling_provider_error" => "the scheduling provider could not complete the request",
            "scheduling_provider_unavailable" => {
                "the scheduling provider is unavailable; try again later"
            }
            "unavailable" => "the service is temporarily unavailable; try again later",
            _ => "internal error",
        }
        .to_owned()
    }

    pub(crate) fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal {
            source: source.into(),
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

impl From<DbError> for BillingError {
    fn from(source: DbError) -> Self {
        Self::Database { source }
    }
}
