//! A Stripe event, parsed once: the envelope (id, type, time) and the object of the types
//! Tollbooth applies, typed.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{BillingError, Result};
use crate::stripe::types::{self, Charge, CheckoutSession, Invoice, PaymentIntent, timestamp};

/// A verified, parsed Stripe event ([`Billing::verify_stripe_webhook`](crate::Billing::verify_stripe_webhook)).
/// The object of the event types Tollbooth applies is kept typed inside; any other type is
/// recorded and ignored.
#[derive(Clone, Debug)]
pub struct StripeEvent {
    id: String,
    event_type: String,
    created: DateTime<Utc>,
    pub(crate) object: EventObject,
}

/// The object of an event, by what Tollbooth does with it.
#[derive(Clone, Debug)]
pub(crate) enum EventObject {
    CheckoutCompleted(CheckoutSession),
    CheckoutExpired(CheckoutSession),
    Subscription(types::Subscription),
    InvoicePaymentFailed(Invoice),
    PaymentIntent(PaymentIntent),
    ChargeRefunded(Charge),
    /// A type Tollbooth does not use.
    Unknown,
}

/// The envelope as Stripe sends it; `data.object` is read by type.
#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: serde_json::Value,
}

impl StripeEvent {
    /// Parses a webhook body. Not a Stripe event, an id outside 1 to 255 characters, a time
    /// out of range, or a type Tollbooth applies with an object of another shape is
    /// [`BillingError::InvalidPayload`] (400: retried by Stripe once the parser is fixed,
    /// rather than skipped silently).
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let envelope: Envelope =
            serde_json::from_slice(payload).map_err(|e| BillingError::InvalidPayload {
                reason: format!("not a Stripe event: {e}"),
            })?;
        if envelope.id.is_empty() || envelope.id.len() > 255 {
            return Err(BillingError::InvalidPayload {
                reason: "event id must be 1 to 255 characters".to_owned(),
            });
        }
        let created = timestamp(envelope.created).ok_or_else(|| BillingError::InvalidPayload {
            reason: "event `created` out of range".to_owned(),
        })?;
        let (kind, object) = (envelope.event_type.as_str(), envelope.data.object);
        let object = match kind {
            "checkout.session.completed" => EventObject::CheckoutCompleted(read(kind, object)?),
            "checkout.session.expired" => EventObject::CheckoutExpired(read(kind, object)?),
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted" => EventObject::Subscription(read(kind, object)?),
            "invoice.payment_failed" => EventObject::InvoicePaymentFailed(read(kind, object)?),
            "payment_intent.succeeded"
            | "payment_intent.payment_failed"
            | "payment_intent.canceled" => EventObject::PaymentIntent(read(kind, object)?),
            "charge.refunded" => EventObject::ChargeRefunded(read(kind, object)?),
            _ => EventObject::Unknown,
        };
        Ok(Self {
            id: envelope.id,
            event_type: envelope.event_type,
            created,
            object,
        })
    }

    /// `evt_…`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `customer.subscription.updated`, …
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// When Stripe created it (one-second resolution).
    pub fn created(&self) -> DateTime<Utc> {
        self.created
    }

    /// Whether Tollbooth acts on events of this type (others are recorded and ignored).
    pub fn is_applied_type(&self) -> bool {
        !matches!(self.object, EventObject::Unknown)
    }
}

fn read<T: DeserializeOwned>(event_type: &str, object: serde_json::Value) -> Result<T> {
    serde_json::from_value(object).map_err(|e| BillingError::InvalidPayload {
        reason: format!("`{event_type}` object: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_matched_once_and_bad_envelopes_refused() {
        let event = |kind: &str, object: &str| {
            format!(
                r#"{{"id":"evt_1","type":"{kind}","created":1764000000,"data":{{"object":{object}}}}}"#
            )
        };
        let unknown = StripeEvent::parse(event("customer.created", "{}").as_bytes()).unwrap();
        assert_eq!(
            (unknown.id(), unknown.event_type()),
            ("evt_1", "customer.created")
        );
        assert!(!unknown.is_applied_type());
        assert_eq!(unknown.created().timestamp(), 1_764_000_000);

        let refund = r#"{"id":"ch_1","payment_intent":"pi_1","amount":100,"amount_refunded":100}"#;
        let parsed = StripeEvent::parse(event("charge.refunded", refund).as_bytes()).unwrap();
        assert!(
            matches!(parsed.object, EventObject::ChargeRefunded(ref c) if c.amount_refunded == 100)
        );

        // A known type with an object of another shape is refused, not skipped.
        let err =
            StripeEvent::parse(event("charge.refunded", r#"{"id":7}"#).as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("`charge.refunded` object"),
            "{err}"
        );
        for bad in [
            "not json".to_owned(),
            r#"{"id":"evt_1"}"#.to_owned(),
            event("x", "{}").replace("evt_1", ""),
            event("x", "{}").replace("evt_1", &"e".repeat(256)),
            event("x", "{}").replace("1764000000", "99999999999999"),
        ] {
            assert!(
                matches!(
                    StripeEvent::parse(bad.as_bytes()),
                    Err(BillingError::InvalidPayload { .. })
                ),
                "{bad}"
            );
        }
    }
}
