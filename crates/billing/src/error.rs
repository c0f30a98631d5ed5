//! The crate's one error type.

use std::borrow::Cow;

use tollbooth_core::WireError;
use tollbooth_core::http::StatusCode;
use tollbooth_db::DbError;

/// `Result` with [`BillingError`].
pub type Result<T, E = BillingError> = std::result::Result<T, E>;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a billing operation can refuse or fail with. Its HTTP side is
/// [`WireError`]; configuration problems are the builders' [`ConfigError`](tollbooth_core::ConfigError)s.
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
    /// Stripe refused the request or could not be reached.
    #[error("Stripe: {0}")]
    Stripe(ProviderError),
    /// The customer has not submitted the Checkout session's payment (yet).
    #[error("the Checkout session has not been paid")]
    CheckoutIncomplete,
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
    /// Cal.com refused the request or could not be reached.
    #[error("Cal.com: {0}")]
    Calcom(ProviderError),
    /// The database failed; for a webhook, nothing was recorded and Stripe will retry.
    #[error("database error")]
    Database {
        /// The cause.
        #[source]
        source: DbError,
    },
    /// A bug or an unexpected answer.
    #[error("internal error")]
    Internal {
        /// The cause (logged, never shown to clients).
        #[source]
        source: BoxError,
    },
}

/// What a payment or scheduling provider (Stripe, Cal.com) did wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The provider refused the request (a 4xx other than 429); retrying will not help.
    #[error("refused the request ({status}{}): {message}", kind.as_deref().map(|k| format!(" {k}")).unwrap_or_default())]
    Refused {
        /// HTTP status.
        status: u16,
        /// The provider's error type (Stripe: `card_error`, `invalid_request_error`, …).
        kind: Option<String>,
        /// The provider's error code, if any.
        code: Option<String>,
        /// The provider's message (logged, never shown to clients but for card errors).
        message: String,
    },
    /// The provider stayed unreachable, rate-limited or failing through every retry allowed.
    #[error("unavailable after {attempts} attempt(s)")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: BoxError,
    },
}

impl BillingError {
    /// Whether Stripe declined a card: a 402 whose message (Stripe's, meant for the
    /// customer: "Your card was declined.") the client may show.
    fn is_card_error(&self) -> bool {
        matches!(self, Self::Stripe(ProviderError::Refused { kind: Some(kind), .. }) if kind == "card_error")
    }
}

impl WireError for BillingError {
    /// Webhook failures that Stripe should retry are 5xx; failures a retry cannot fix (bad
    /// signature or payload) are 400.
    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidSignature | Self::InvalidPayload { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound { .. } | Self::NotConfigured { .. } => StatusCode::NOT_FOUND,
            Self::AlreadySubscribed
            | Self::AlreadyBooked
            | Self::PaymentRefunded
            | Self::CheckoutIncomplete => StatusCode::CONFLICT,
            Self::PlanNotPurchasable { .. } | Self::InvalidInput { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ if self.is_card_error() => StatusCode::PAYMENT_REQUIRED,
            Self::Stripe(ProviderError::Refused { .. })
            | Self::Calcom(ProviderError::Refused { .. }) => StatusCode::BAD_GATEWAY,
            Self::Stripe(_) | Self::Calcom(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database {
                source: DbError::Unavailable { .. },
            } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database { .. } | Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::InvalidSignature => "invalid_signature",
            Self::InvalidPayload { .. } => "invalid_payload",
            Self::PlanNotPurchasable { .. } => "plan_not_purchasable",
            Self::AlreadySubscribed => "already_subscribed",
            Self::NotFound { .. } => "not_found",
            Self::AlreadyBooked => "already_booked",
            Self::CheckoutIncomplete => "checkout_incomplete",
            Self::PaymentRefunded => "payment_refunded",
            Self::NotConfigured { .. } => "not_configured",
            Self::InvalidInput { .. } => "invalid_input",
            _ if self.is_card_error() => "payment_failed",
            Self::Stripe(ProviderError::Refused { .. }) => "payment_provider_error",
            Self::Stripe(_) => "payment_provider_unavailable",
            Self::Calcom(ProviderError::Refused { .. }) => "scheduling_provider_error",
            Self::Calcom(_) => "scheduling_provider_unavailable",
            Self::Database {
                source: DbError::Unavailable { .. },
            } => "unavailable",
            Self::Database { .. } | Self::Internal { .. } => "internal",
        }
    }

    fn client_message(&self) -> Cow<'_, str> {
        match self {
            // Stripe words card errors for the customer ("Your card was declined.").
            Self::Stripe(ProviderError::Refused { message, .. }) => Cow::Borrowed(message),
            other => Cow::Owned(other.to_string()),
        }
    }

    fn server_message(&self) -> &'static str {
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
    }
}

impl BillingError {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// By construction: a 5xx body's message is a fixed string per code, whatever Stripe,
    /// Cal.com or the database said.
    #[test]
    fn no_5xx_body_carries_a_provider_or_database_message() {
        let secret = "No such customer: 'cus_live_123'; request req_abc from 10.0.0.7";
        let refused = || ProviderError::Refused {
            status: 404,
            kind: Some("invalid_request_error".to_owned()),
            code: None,
            message: secret.to_owned(),
        };
        let down = || ProviderError::Unavailable {
            attempts: 4,
            source: secret.into(),
        };
        let errors = [
            BillingError::Stripe(refused()),
            BillingError::Stripe(down()),
            BillingError::Calcom(refused()),
            BillingError::Calcom(down()),
            BillingError::Database {
                source: DbError::Query {
                    source: secret.into(),
                },
            },
            BillingError::internal(secret),
        ];
        for error in errors {
            assert!(error.status().is_server_error(), "{error:?}");
            let body = tollbooth_core::error_body(&error).to_string();
            assert!(
                !body.contains("cus_live_123") && !body.contains("10.0.0.7"),
                "{body}"
            );
        }
        // A declined card is the one provider message a client sees (Stripe words it for
        // the customer).
        let declined = BillingError::Stripe(ProviderError::Refused {
            status: 402,
            kind: Some("card_error".to_owned()),
            code: Some("card_declined".to_owned()),
            message: "Your card was declined.".to_owned(),
        });
        assert_eq!(
            (declined.status().as_u16(), declined.code()),
            (402, "payment_failed")
        );
        assert_eq!(
            tollbooth_core::error_body(&declined)["message"],
            "Your card was declined."
        );
    }
}
