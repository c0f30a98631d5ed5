//! Stripe billing for Rust services: plans, checkout, the billing portal, subscriptions,
//! one-time payments, and signed webhooks applied exactly once.
//!
//! ```no_run
//! use tollbooth_billing::{Billing, BillingConfig, Plan, StripeSecretKey, WebhookSecret};
//!
//! # async fn demo(db: tollbooth_db::Db, mailer: tollbooth_email::Mailer, user_id: uuid::Uuid,
//! #               body: &[u8], signature: Option<&str>)
//! #               -> Result<(), Box<dyn std::error::Error>> {
//! let config = BillingConfig::builder(StripeSecretKey::new("sk_test_…"), "https://app.example.com")
//!     .plan(Plan::new("pro", "Pro").monthly_price("price_pro_monthly").feature("api"))
//!     .plan(Plan::new("enterprise", "Enterprise").monthly_price("price_enterprise_monthly"))
//!     .trial_days(14)
//!     .webhook_secret(WebhookSecret::new("whsec_…"))
//!     .build()?;
//! let billing = Billing::new(db, mailer, config)?;
//!
//! // 1. Send the user to Stripe Checkout.
//! let url = billing
//!     .create_checkout_session(user_id, "pro", "https://app.example.com/billing/success",
//!                              "https://app.example.com/pricing", None)
//!     .await?;
//!
//! // 2. Stripe calls your webhook endpoint; pass the raw body and `Stripe-Signature`.
//! let receipt = billing.handle_stripe_webhook(body, signature, tollbooth_db::now()).await?;
//!
//! // 3. On each request, read the local mirror.
//! let plan = billing.current_plan(user_id).await?;
//! let may_call_the_api = plan.has_feature("api");
//! # Ok(()) }
//! ```
//!
//! # Paid sessions with Cal.com
//!
//! ```no_run
//! # use std::collections::HashMap;
//! # use tollbooth_billing::*;
//! # async fn demo(billing: Billing, user_id: uuid::Uuid, stripe_body: &[u8], stripe_sig: Option<&str>,
//! #               cal_body: &[u8], cal_sig: Option<&str>) -> Result<()> {
//! // Configure with `.calcom(CalcomConfig::new(CalcomApiKey::new("cal_live_…"))
//! //     .webhook_secret(WebhookSecret::new("…")))`.
//!
//! // 1. Charge for the session; the metadata names the Cal.com event type.
//! let metadata = HashMap::from([
//!     ("user_id".to_owned(), user_id.to_string()),
//!     (EVENT_TYPE_METADATA_KEY.to_owned(), "42".to_owned()),
//! ]);
//! let payment = billing.create_payment_intent(15_000, "usd", metadata).await?;
//!
//! // 2. Stripe's `payment_intent.succeeded` webhook records the payment; its booking link
//! //    (carrying the payment and user ids) is made after the commit, off the response.
//! billing.handle_stripe_webhook(stripe_body, stripe_sig, tollbooth_db::now()).await?;
//! let booking_page = billing.booking_link_for_payment(&payment.id).await?;
//!
//! // 3. Cal.com's `BOOKING_CREATED` webhook records the booking against the payment; the
//! //    session cannot be booked twice.
//! billing.handle_calcom_webhook(cal_body, cal_sig).await?;
//! # Ok(()) }
//! ```
//!
//! # Design
//!
//! - **Stripe API version is configuration** (default `2024-04-10`), sent as `Stripe-Version`
//!   on every call. Requests are built with async-stripe's typed builders; responses and
//!   events are parsed into small structs of our own that hold only the fields used and
//!   accept both 2024-04-10 and current payload shapes.
//! - **Every POST carries an `Idempotency-Key`** (yours, or a random one reused across
//!   retries); 429, 409, 5xx and network errors are retried with bounded, jittered backoff,
//!   honouring `Stripe-Should-Retry` and `Retry-After`.
//! - **Webhooks apply exactly once**: the event id and its effect commit together; see
//!   [`Billing::handle_stripe_webhook`].
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `axum`  | no      | `IntoResponse for BillingError` |
//! | `actix` | no      | `ResponseError for BillingError` |

mod adapters;
mod calcom;
mod checkout;
mod config;
mod customers;
mod deletion;
mod error;
mod ledger;
mod payments;
mod plan;
mod seats;
mod service;
mod status;
mod stripe;
mod subscriptions;
mod webhook;

pub use calcom::{
    CalcomApiKey, CalcomConfig, CalcomReceipt, EVENT_TYPE_METADATA_KEY, Prefill,
    sign_calcom_webhook,
};
pub use config::{
    BillingConfig, BillingConfigBuilder, DEFAULT_API_VERSION, StripeSecretKey, WebhookSecret,
};
pub use error::{BillingError, ProviderError, Result};
pub use payments::{CreatedPayment, PaymentCheckout};
pub use plan::{FREE_PLAN_ID, Interval, Plan};
pub use seats::SeatSync;
pub use service::Billing;
pub use status::{PaymentStatus, SubscriptionStatus};
pub use subscriptions::ReconcileReport;
/// The HTTP error contract and configuration errors, shared by every Tollbooth crate.
pub use tollbooth_core::{
    BeforeAccountDeletion, BeforeOrganizationDeletion, ConfigError, Customer, DeletionRefused,
    DomainEvent, HookError, Hooks, RetryPolicy, WireError, error_body,
};
pub use webhook::signature::sign_stripe_webhook;
pub use webhook::{
    SignatureError, StripeEvent, StripeReceipt, WebhookOutcome, verify_stripe_signature,
};

// Deliberately re-exported: `Billing::new` takes a `Db` and a `Mailer`, subscriptions and
// payments are `tollbooth_db` rows, and links are `Url`s.
pub use tollbooth_db;
pub use tollbooth_email;
pub use url;

// Compiles the README's examples as doctests, so the registry page never shows code that
// does not build.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
