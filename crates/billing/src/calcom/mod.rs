//! Cal.com: booking links (e.g. after a payment) and signed booking webhooks.

mod api;
mod config;
mod webhook;

use std::collections::HashMap;

use tollbooth_db::{BillingRepo, BookingRepo, BookingStatus, UserRepo, WebhookSource};
use url::Url;

pub(crate) use api::CalcomApi;
pub use api::Prefill;
pub use config::{CalcomApiKey, CalcomConfig};
pub use webhook::sign as sign_calcom_webhook;

use crate::error::{BillingError, Result};
use crate::service::Billing;
use crate::status::PaymentStatus;
use crate::webhook::WebhookOutcome;

/// The PaymentIntent metadata key naming the Cal.com event type a payment pays for.
pub const EVENT_TYPE_METADATA_KEY: &str = "calcom_event_type_id";

/// The result of [`Billing::handle_calcom_webhook`]; answer 200 for every receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CalcomReceipt {
    /// sha-256 of the delivery (Cal.com sends no event id).
    pub event_id: String,
    /// `BOOKING_CREATED`, …
    pub trigger: String,
    /// What happened.
    pub outcome: WebhookOutcome,
    /// Set when a new booking names a paid session (PaymentIntent id) that already paid for
    /// another live booking — its link was used twice. The booking is stored without the
    /// payment; cancel it in Cal.com or charge for it.
    pub reused_payment: Option<String>,
}

impl Billing {
    /// A booking page URL for Cal.com event type `event_type_id`:
    /// `{booking_base}/{username}/{slug}?metadata[key]=value…` (plus optional name / e-mail
    /// prefill), percent-encoded. The event type is looked up through Cal.com API v2 and
    /// cached. Unknown event type → [`BillingError::NotFound`]; Cal.com down →
    /// [`BillingError::Calcom`] (`Unavailable`) after bounded retries; metadata that would not
    /// survive the round trip → [`BillingError::InvalidInput`].
    pub async fn create_calcom_booking_link(
        &self,
        event_type_id: i64,
        metadata: &HashMap<String, String>,
        prefill: &Prefill,
    ) -> Result<Url> {
        self.calcom()?
            .booking_link(event_type_id, metadata, prefill)
            .await
    }

    /// The booking link for a paid session: the PaymentIntent must have succeeded, not been
    /// refunded in full ([`BillingError::PaymentRefunded`]), and name an event type in its
    /// metadata ([`EVENT_TYPE_METADATA_KEY`]). The link carries the payment and user ids, is
    /// stored with the payment and returned again on later calls — until a booking for the
    /// payment is live ([`BillingError::AlreadyBooked`]): a paid session is booked once. A
    /// booking that was cancelled, or rescheduled and its successor cancelled, frees it.
    pub async fn booking_link_for_payment(&self, payment_intent_id: &str) -> Result<Url> {
        let db = &self.inner.db;
        let payment = db
            .find_payment(payment_intent_id)
            .await?
            .ok_or(BillingError::NotFound { what: "payment" })?;
        if PaymentStatus::parse(&payment.status) != PaymentStatus::Succeeded {
            return Err(BillingError::invalid(
                "payment_intent",
                "the payment has not succeeded",
            ));
        }
        if payment.amount_refunded >= payment.amount {
            return Err(BillingError::PaymentRefunded);
        }
        // A rescheduled booking hands its payment to its successor: only a booking still
        // `created` holds the session.
        let booked = db
            .find_bookings_by_payment(payment_intent_id)
            .await?
            .iter()
            .any(|b| b.status == BookingStatus::Created);
        if booked {
            return Err(BillingError::AlreadyBooked);
        }
        if let Some(url) = payment
            .booking_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
        {
            return Ok(url);
        }
        let metadata: HashMap<String, String> = payment
            .metadata
            .as_ref()
            .and_then(|m| serde_json::from_value(m.clone()).ok())
            .unwrap_or_default();
        let event_type_id = metadata
            .get(EVENT_TYPE_METADATA_KEY)
            .and_then(|id| id.parse::<i64>().ok())
            .ok_or_else(|| {
                BillingError::invalid(
                    "payment_intent",
                    format!("no `{EVENT_TYPE_METADATA_KEY}` in its metadata"),
                )
            })?;
        let mut link_metadata =
            HashMap::from([("payment_intent".to_owned(), payment_intent_id.to_owned())]);
        if let Some(user_id) = payment.user_id {
            link_metadata.insert("user_id".to_owned(), user_id.to_string());
        }
        let prefill = match payment.user_id {
            Some(id) => db
                .find_user(id)
                .await?
                .map(|u| Prefill::new(u.name, Some(u.email)))
                .unwrap_or_default(),
            None => Prefill::default(),
        };
        let url = self
            .create_calcom_booking_link(event_type_id, &link_metadata, &prefill)
            .await?;
        db.set_payment_booking_url(payment_intent_id, url.as_str())
            .await?;
        Ok(url)
    }

    /// Verifies and applies a Cal.com booking webhook (`X-Cal-Signature-256`). Bookings are
    /// keyed on Cal.com's uid; each delivery is recorded once (by the hash of its body) in the
    /// same transaction as its effect; events older than what a booking reflects are
    /// [`WebhookOutcome::Stale`], so a cancel that arrives before its create still ends
    /// cancelled; a reschedule creates the new booking and marks the old one rescheduled,
    /// pointing to it.
    #[tracing::instrument(name = "tollbooth.calcom.webhook", skip_all)]
    pub async fn handle_calcom_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
    ) -> Result<CalcomReceipt> {
        let calcom = self.calcom()?;
        webhook::verify(payload, signature, calcom.config().webhook_secret.as_ref())?;
        let event: webhook::CalcomEvent =
            serde_json::from_slice(payload).map_err(|e| BillingError::InvalidPayload {
                reason: format!("not a Cal.com webhook: {e}"),
            })?;
        let event_id = webhook::event_id(payload);
        let event_at = event.created_at.unwrap_or_else(tollbooth_db::now);
        let receipt = |outcome| CalcomReceipt {
            event_id: event_id.clone(),
            trigger: event.trigger.clone(),
            outcome,
            reused_payment: None,
        };
        let Some(tx) = crate::ledger::begin_once(
            &self.inner.db,
            WebhookSource::Calcom,
            &event_id,
            &event.trigger,
            tollbooth_db::now(),
        )
        .await?
        else {
            return Ok(receipt(WebhookOutcome::Duplicate));
        };
        let applied = webhook::apply(&tx, &event, event_at).await?;
        tx.commit().await?;
        tracing::info!(trigger = %event.trigger, outcome = ?applied.outcome, "Cal.com webhook");
        Ok(CalcomReceipt {
            reused_payment: applied.reused_payment,
            ..receipt(applied.outcome)
        })
    }

    /// Bookings made with a payment's link.
    pub async fn bookings_for_payment(
        &self,
        payment_intent_id: &str,
    ) -> Result<Vec<tollbooth_db::Booking>> {
        Ok(self
            .inner
            .db
            .find_bookings_by_payment(payment_intent_id)
            .await?)
    }

    fn calcom(&self) -> Result<&CalcomApi> {
        self.inner
            .calcom
            .as_ref()
            .ok_or(BillingError::NotConfigured { what: "Cal.com" })
    }
}
