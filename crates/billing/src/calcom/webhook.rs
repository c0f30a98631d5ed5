//! Cal.com booking webhooks: `X-Cal-Signature-256` = hex HMAC-SHA256 of the raw body.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tollbooth_db::{BillingRepo, Booking, BookingRepo, BookingStatus, NewBooking, Tx, UserRepo};
use uuid::Uuid;

use crate::config::WebhookSecret;
use crate::error::{BillingError, Result};
use crate::webhook::WebhookOutcome;

/// The value Cal.com sends in the signature header when the webhook has no secret.
const NO_SECRET: &str = "no-secret-provided";

/// The envelope of every Cal.com webhook.
#[derive(Debug, Deserialize)]
pub(crate) struct CalcomEvent {
    #[serde(rename = "triggerEvent")]
    pub(crate) trigger: String,
    #[serde(rename = "createdAt", default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) payload: Option<BookingPayload>,
}

/// The booking fields Tollbooth keeps; real deliveries carry many more, and several of
/// these are absent in some of them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct BookingPayload {
    uid: Option<String>,
    event_type_id: Option<i64>,
    start_time: Option<DateTime<Utc>>,
    end_time: Option<DateTime<Utc>>,
    attendees: Vec<Person>,
    organizer: Option<Person>,
    responses: Option<serde_json::Value>,
    metadata: Option<serde_json::Value>,
    cancellation_reason: Option<String>,
    reschedule_uid: Option<String>,
    from_reschedule: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Person {
    email: Option<String>,
}

/// Checks `X-Cal-Signature-256` (missing, empty, `no-secret-provided`, not hex, or wrong →
/// refused), in constant time.
pub(crate) fn verify(
    payload: &[u8],
    header: Option<&str>,
    secret: Option<&WebhookSecret>,
) -> Result<()> {
    let secret = secret.ok_or(BillingError::InvalidSignature)?;
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty() && *h != NO_SECRET)
        .ok_or(BillingError::InvalidSignature)?;
    let signature = hex::decode(header).map_err(|_| BillingError::InvalidSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(BillingError::internal)?;
    mac.update(payload);
    mac.verify_slice(&signature)
        .map_err(|_| BillingError::InvalidSignature)
}

/// The `X-Cal-Signature-256` Cal.com would send for `payload` (tests, replay tools).
pub fn sign(payload: &[u8], secret: &WebhookSecret) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// Cal.com sends no event id: an exact redelivery has the same body, so the body's hash
/// identifies the delivery.
pub(crate) fn event_id(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

/// What applying a booking event did.
#[derive(Debug)]
pub(crate) struct Applied {
    pub(crate) outcome: WebhookOutcome,
    /// A payment that already paid for another live booking, named by this new one.
    pub(crate) reused_payment: Option<String>,
}

impl From<WebhookOutcome> for Applied {
    fn from(outcome: WebhookOutcome) -> Self {
        Self {
            outcome,
            reused_payment: None,
        }
    }
}

/// Applies a booking event inside `tx`.
pub(crate) async fn apply(
    tx: &Tx,
    event: &CalcomEvent,
    event_at: DateTime<Utc>,
) -> Result<Applied> {
    let ignored = |reason| Ok(WebhookOutcome::Ignored { reason }.into());
    let Some(payload) = &event.payload else {
        return ignored("no booking payload");
    };
    let status = match event.trigger.as_str() {
        "BOOKING_CREATED" | "BOOKING_RESCHEDULED" => BookingStatus::Created,
        "BOOKING_CANCELLED" => BookingStatus::Cancelled,
        _ => return ignored("trigger not used by Tollbooth"),
    };
    let uid = payload
        .uid
        .clone()
        .ok_or_else(|| BillingError::InvalidPayload {
            reason: "booking payload without uid".to_owned(),
        })?;
    let mut booking = new_booking(tx, &uid, payload, event_at).await?;
    booking.status = status;
    let reschedule_of = payload
        .reschedule_uid
        .clone()
        .or_else(|| payload.from_reschedule.clone());
    if event.trigger == "BOOKING_RESCHEDULED" && booking.stripe_payment_intent_id.is_none() {
        // The successor carries the payment of the booking it replaces.
        if let Some(old_uid) = &reschedule_of {
            booking.stripe_payment_intent_id = tx
                .find_booking(old_uid)
                .await?
                .and_then(|old| old.stripe_payment_intent_id);
        }
    }
    let mut reused_payment = None;
    let mut refunded_payment = false;
    if event.trigger == "BOOKING_CREATED"
        && let Some(intent) = booking.stripe_payment_intent_id.clone()
    {
        // A paid session is booked once. Locking the payment serializes two bookings made
        // with one link at the same moment (on PostgreSQL; SQLite serializes writers).
        let payment = tx.lock_payment(&intent).await?;
        refunded_payment = payment.is_some_and(|p| p.amount_refunded >= p.amount);
        let taken = tx
            .find_bookings_by_payment(&intent)
            .await?
            .iter()
            .any(|b| b.calcom_uid != uid && b.status == BookingStatus::Created);
        if taken {
            tracing::warn!(payment_intent = %intent, booking = %uid, "a paid session's link booked twice; stored unpaid");
            booking.stripe_payment_intent_id = None;
            reused_payment = Some(intent);
        }
    }
    if event.trigger == "BOOKING_RESCHEDULED" {
        booking.rescheduled_from_uid.clone_from(&reschedule_of);
    }
    let reason = (status == BookingStatus::Cancelled)
        .then(|| payload.cancellation_reason.clone())
        .flatten();
    if refunded_payment {
        tracing::warn!(booking = %uid, "a booking made with the link of a refunded payment; flagged");
    }
    let mut applied = write(tx, booking, event_at, |b| {
        b.cancellation_reason = reason.clone();
        if refunded_payment && b.payment_refunded_at.is_none() {
            b.payment_refunded_at = Some(event_at);
        }
    })
    .await?;

    // The booking a reschedule replaced now points to its successor.
    if let (true, Some(old_uid)) = (event.trigger == "BOOKING_RESCHEDULED", reschedule_of) {
        let mut old = NewBooking::new(&old_uid, event_at);
        old.status = BookingStatus::Rescheduled;
        let new_uid = uid.clone();
        applied |= write(tx, old, event_at, |b| {
            b.rescheduled_to_uid = Some(new_uid.clone())
        })
        .await?;
    }
    let outcome = if applied {
        WebhookOutcome::Applied
    } else {
        WebhookOutcome::Stale
    };
    Ok(Applied {
        outcome,
        reused_payment,
    })
}

/// The row a payload describes. `metadata.user_id` links the user (if they exist) and
/// `metadata.payment_intent` the payment, as set by booking links.
async fn new_booking(
    tx: &Tx,
    uid: &str,
    p: &BookingPayload,
    event_at: DateTime<Utc>,
) -> Result<NewBooking> {
    let meta = |key: &str| {
        p.metadata
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let user_id = match meta("user_id").and_then(|id| Uuid::parse_str(&id).ok()) {
        Some(id) => tx.find_user(id).await?.map(|u| u.id),
        None => None,
    };
    let response_email = p
        .responses
        .as_ref()
        .and_then(|r| r.get("email"))
        .and_then(|e| e.get("value").or(Some(e)))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let mut booking = NewBooking::new(uid, event_at);
    booking.event_type_id = p.event_type_id;
    booking.user_id = user_id;
    booking.stripe_payment_intent_id = meta("payment_intent");
    booking.start_at = p.start_time;
    booking.end_at = p.end_time;
    booking.attendee_email = p
        .attendees
        .iter()
        .find_map(|a| a.email.clone())
        .or(response_email);
    booking.organizer_email = p.organizer.as_ref().and_then(|o| o.email.clone());
    booking.metadata.clone_from(&p.metadata);
    Ok(booking)
}

/// Inserts, or updates when this event is not older than what the row reflects (a cancel
/// that arrived before its create keeps the row cancelled; at the same instant, a create
/// does not undo a cancel or reschedule). Returns whether it wrote. The row is locked
/// between reading and writing, so concurrent deliveries for one booking apply in order.
async fn write(
    tx: &Tx,
    new: NewBooking,
    event_at: DateTime<Utc>,
    finish: impl Fn(&mut Booking),
) -> Result<bool> {
    let inserted = tx.insert_booking_if_absent(new.clone()).await?;
    let existing = tx
        .lock_booking(&new.calcom_uid)
        .await?
        .ok_or_else(|| BillingError::internal(format!("booking {} vanished", new.calcom_uid)))?;
    if inserted {
        let mut row = existing;
        finish(&mut row);
        tx.update_booking(row).await?;
        return Ok(true);
    }
    let event_at = tollbooth_db::micros(event_at);
    let older = existing.last_event_at > event_at
        || (existing.last_event_at == event_at
            && new.status == BookingStatus::Created
            && existing.status != BookingStatus::Created);
    if older {
        return Ok(false);
    }
    let mut row = Booking {
        event_type_id: new.event_type_id.or(existing.event_type_id),
        user_id: new.user_id.or(existing.user_id),
        stripe_payment_intent_id: new
            .stripe_payment_intent_id
            .or(existing.stripe_payment_intent_id.clone()),
        start_at: new.start_at.or(existing.start_at),
        end_at: new.end_at.or(existing.end_at),
        status: new.status,
        rescheduled_from_uid: new
            .rescheduled_from_uid
            .or(existing.rescheduled_from_uid.clone()),
        attendee_email: new.attendee_email.or(existing.attendee_email.clone()),
        organizer_email: new.organizer_email.or(existing.organizer_email.clone()),
        metadata: new.metadata.or(existing.metadata.clone()),
        last_event_at: event_at,
        ..existing
    };
    finish(&mut row);
    tx.update_booking(row).await?;
    Ok(true)
}
