//! Stripe webhooks, applied exactly once.

pub(crate) mod signature;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use tollbooth_db::{BillingRepo, DbError, Tx, User, UserRepo, WebhookEventRepo, WebhookSource};
use tollbooth_email::{
    Money, PaymentFailedEmail, PaymentFailedProps, SubscriptionConfirmedEmail,
    SubscriptionConfirmedProps,
};
use uuid::Uuid;

use crate::config::Plan;
use crate::error::{BillingError, Result};
use crate::payments::payment_upsert;
use crate::service::Billing;
use crate::stripe::types::{self, CheckoutSession, Event, Invoice, PaymentIntent, timestamp};
use crate::subscriptions::to_upsert;

/// What happened to a delivered event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookOutcome {
    /// Its effect is now in the database.
    Applied,
    /// Already processed (a redelivery, or a concurrent duplicate): nothing changed.
    Duplicate,
    /// Recorded, with no local effect (an event type Tollbooth does not use, or about a
    /// customer it does not know).
    Ignored {
        /// Why.
        reason: &'static str,
    },
    /// Recorded; the subscription already reflects a newer event, so this older one was
    /// not applied.
    Stale,
}

/// The result of [`Billing::handle_webhook`]; answer Stripe with 200 for every receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookReceipt {
    /// `evt_…`.
    pub event_id: String,
    /// `customer.subscription.updated`, …
    pub event_type: String,
    /// What happened.
    pub outcome: WebhookOutcome,
    /// For `payment_intent.succeeded` of a paid session (metadata names a Cal.com event
    /// type): the booking link for the app to hand to the user. `None` when not applicable,
    /// or when Cal.com could not be reached — [`Billing::booking_link_for_payment`] makes it
    /// later.
    pub booking_link: Option<url::Url>,
}

/// An e-mail to send once the event's transaction has committed.
enum Queued {
    Confirmed {
        to: String,
        props: SubscriptionConfirmedProps,
    },
    PaymentFailed {
        to: String,
        props: PaymentFailedProps,
    },
}

impl Billing {
    /// Verifies and applies a Stripe webhook delivery.
    ///
    /// 1. The signature is checked first over the raw bytes (every configured secret, every
    ///    `v1`, constant time, `now` within the tolerance); any failure is
    ///    [`BillingError::InvalidSignature`] and nothing is written.
    /// 2. In **one** transaction, the event id is recorded (unique per source) and its
    ///    effect applied. A duplicate delivery — sequential or concurrent, on any instance —
    ///    hits the unique index and is a [`WebhookOutcome::Duplicate`] no-op.
    /// 3. Subscriptions are upserted by Stripe id and remember the `created` time of the
    ///    newest event applied; an older event is [`WebhookOutcome::Stale`]. So `updated`
    ///    before `created`, or an old `updated` after a newer one, ends in the right state.
    /// 4. E-mails (subscription confirmed, payment failed) are queued only after the commit,
    ///    with an idempotency key derived from the event id.
    ///
    /// A database failure is an error (the adapter answers 5xx, Stripe retries) and leaves
    /// the event unrecorded.
    pub async fn handle_webhook(
        &self,
        payload: &[u8],
        signature_header: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<WebhookReceipt> {
        let config = &self.inner.config;
        let header = signature_header.ok_or(BillingError::InvalidSignature)?;
        signature::verify(
            payload,
            header,
            &config.webhook_secrets,
            now.timestamp(),
            config.webhook_tolerance,
        )
        .map_err(|why| {
            tracing::warn!(?why, "Stripe webhook signature refused");
            BillingError::InvalidSignature
        })?;
        let event: Event =
            serde_json::from_slice(payload).map_err(|e| BillingError::InvalidPayload {
                reason: format!("not a Stripe event: {e}"),
            })?;
        if event.id.is_empty() || event.id.len() > 255 {
            return Err(BillingError::InvalidPayload {
                reason: "event id must be 1 to 255 characters".to_owned(),
            });
        }
        let receipt = |outcome| WebhookReceipt {
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            outcome,
            booking_link: None,
        };

        let tx = self.inner.db.begin().await?;
        match tx
            .record_webhook_event(WebhookSource::Stripe, &event.id, &event.event_type, now)
            .await
        {
            Err(DbError::Conflict { .. }) => return Ok(receipt(WebhookOutcome::Duplicate)),
            other => other?,
        };
        let (outcome, emails) = self.apply(&tx, &event).await?;
        tx.commit().await?;

        for (i, email) in emails.into_iter().enumerate() {
            let key = |name: &str| format!("stripe/{}/{name}/{i}", event.id);
            match email {
                Queued::Confirmed { to, props } => {
                    self.send_in_background::<SubscriptionConfirmedEmail>(
                        to,
                        props,
                        key("confirmed"),
                    );
                }
                Queued::PaymentFailed { to, props } => {
                    self.send_in_background::<PaymentFailedEmail>(to, props, key("payment-failed"));
                }
            }
        }
        let booking_link = match (event.event_type.as_str(), &outcome) {
            ("payment_intent.succeeded", WebhookOutcome::Applied) => {
                self.paid_session_link(&event).await
            }
            _ => None,
        };
        tracing::info!(event_id = %event.id, event_type = %event.event_type, ?outcome, "Stripe webhook");
        Ok(WebhookReceipt {
            booking_link,
            ..receipt(outcome)
        })
    }

    /// The booking link of a paid session, made after the payment was recorded (no Cal.com
    /// call inside the transaction). Failures are logged: the link can be made later.
    async fn paid_session_link(&self, event: &Event) -> Option<url::Url> {
        let intent: PaymentIntent = object(event).ok()?;
        intent
            .metadata
            .get(crate::calcom::EVENT_TYPE_METADATA_KEY)?;
        match self.booking_link_for_payment(&intent.id).await {
            Ok(url) => Some(url),
            Err(error) => {
                tracing::warn!(payment_intent = %intent.id, %error, "booking link not made yet");
                None
            }
        }
    }

    /// Applies `event` inside `tx`; returns the outcome and the e-mails to send after commit.
    async fn apply(&self, tx: &Tx, event: &Event) -> Result<(WebhookOutcome, Vec<Queued>)> {
        let ignored = |reason| Ok((WebhookOutcome::Ignored { reason }, Vec::new()));
        match event.event_type.as_str() {
            "checkout.session.completed" => {
                let session: CheckoutSession = object(event)?;
                let user_id = session
                    .client_reference_id
                    .as_deref()
                    .or(session.metadata.get("user_id").map(String::as_str))
                    .and_then(|id| Uuid::parse_str(id).ok());
                let Some(user) = find_user(tx, user_id).await? else {
                    return ignored("checkout session of an unknown user");
                };
                if let Some(customer) = &session.customer {
                    link_customer(tx, &user, customer.id()).await?;
                }
                if session.mode.as_deref() != Some("subscription") {
                    return Ok((WebhookOutcome::Applied, Vec::new()));
                }
                let plan = session
                    .metadata
                    .get("plan")
                    .and_then(|p| p.parse::<Plan>().ok())
                    .map_or("paid", Plan::display_name);
                let props = SubscriptionConfirmedProps {
                    name: user.name.clone(),
                    plan: plan.to_owned(),
                    price: None,
                    trial_end: None,
                    renews_at: None,
                    manage_url: self.billing_page(),
                };
                Ok((
                    WebhookOutcome::Applied,
                    vec![Queued::Confirmed {
                        to: user.email,
                        props,
                    }],
                ))
            }
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted" => {
                let subscription: types::Subscription = object(event)?;
                let metadata_user = subscription
                    .metadata
                    .get("user_id")
                    .and_then(|id| Uuid::parse_str(id).ok());
                let user = match tx
                    .find_user_by_stripe_customer(subscription.customer.id())
                    .await?
                {
                    Some(user) => Some(user),
                    None => find_user(tx, metadata_user).await?,
                };
                let Some(user) = user else {
                    return ignored("subscription of an unknown customer");
                };
                link_customer(tx, &user, subscription.customer.id()).await?;
                let event_at =
                    timestamp(event.created).ok_or_else(|| BillingError::InvalidPayload {
                        reason: "event `created` out of range".to_owned(),
                    })?;
                let upsert = to_upsert(&self.inner.config, user.id, &subscription, event_at);
                let written = tx.upsert_subscription(upsert).await?;
                let outcome = if written.is_applied() {
                    WebhookOutcome::Applied
                } else {
                    WebhookOutcome::Stale
                };
                Ok((outcome, Vec::new()))
            }
            "invoice.payment_failed" => {
                let invoice: Invoice = object(event)?;
                let Some(customer) = &invoice.customer else {
                    return ignored("invoice without a customer");
                };
                let Some(user) = tx.find_user_by_stripe_customer(customer.id()).await? else {
                    return ignored("invoice of an unknown customer");
                };
                tracing::info!(user_id = %user.id, subscription = ?invoice.subscription_id(), "invoice payment failed");
                let props = PaymentFailedProps {
                    name: user.name.clone(),
                    amount_due: Money::new(invoice.amount_due, &invoice.currency),
                    next_attempt_at: invoice.next_payment_attempt.and_then(timestamp),
                    update_payment_url: self.billing_page(),
                };
                Ok((
                    WebhookOutcome::Applied,
                    vec![Queued::PaymentFailed {
                        to: user.email,
                        props,
                    }],
                ))
            }
            "payment_intent.succeeded"
            | "payment_intent.payment_failed"
            | "payment_intent.canceled" => {
                let intent: PaymentIntent = object(event)?;
                let mut upsert = payment_upsert(&intent);
                upsert.user_id = match (upsert.user_id, &intent.customer) {
                    // Metadata may name a user that does not exist (any more).
                    (Some(id), _) => find_user(tx, Some(id)).await?.map(|u| u.id),
                    (None, Some(customer)) => tx
                        .find_user_by_stripe_customer(customer.id())
                        .await?
                        .map(|u| u.id),
                    (None, None) => None,
                };
                let outcome = if tx.upsert_payment(upsert).await?.is_applied() {
                    WebhookOutcome::Applied
                } else {
                    WebhookOutcome::Stale
                };
                Ok((outcome, Vec::new()))
            }
            _ => ignored("event type not used by Tollbooth"),
        }
    }
}

/// The event's `data.object` as `T`; a known event type with an unexpected shape is an
/// error (400) rather than a silent skip, so it is retried once the parser is fixed.
fn object<T: DeserializeOwned>(event: &Event) -> Result<T> {
    serde_json::from_value(event.data.object.clone()).map_err(|e| BillingError::InvalidPayload {
        reason: format!("`{}` object: {e}", event.event_type),
    })
}

async fn find_user(tx: &Tx, user_id: Option<Uuid>) -> Result<Option<User>> {
    match user_id {
        Some(id) => Ok(tx.find_user(id).await?),
        None => Ok(None),
    }
}

/// Stores the customer on the user if the user has none yet.
async fn link_customer(tx: &Tx, user: &User, customer: &str) -> Result<()> {
    if user.stripe_customer_id.is_none() {
        tx.set_stripe_customer_id(user.id, customer).await?;
    }
    Ok(())
}
