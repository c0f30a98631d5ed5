//! Stripe's and Cal.com's webhooks: authenticated by their signatures over the raw body,
//! called cross-site by design (the servers mount them outside the CSRF check).

use super::Answer;
use crate::App;
use crate::reply::Reply;
use crate::wire::*;

/// `POST /webhooks/stripe`: each event applied once, in order.
#[utoipa::path(
    post,
    path = "/webhooks/stripe",
    tag = "webhooks",
    responses((status = 200, description = "recorded", body = StripeWebhookReply))
)]
pub async fn stripe_webhook(
    app: &App,
    body: &[u8],
    signature: Option<&str>,
) -> Answer<StripeWebhookReply> {
    let receipt = app
        .billing()?
        .handle_stripe_webhook(body, signature, tollbooth_db::now())
        .await?;
    Ok(Reply::ok(StripeWebhookReply {
        outcome: outcome_name(&receipt.outcome),
        event_id: receipt.event_id,
    }))
}

/// `POST /webhooks/calcom`: each booking event applied once.
#[utoipa::path(
    post,
    path = "/webhooks/calcom",
    tag = "webhooks",
    responses((status = 200, description = "recorded", body = CalcomWebhookReply))
)]
pub async fn calcom_webhook(
    app: &App,
    body: &[u8],
    signature: Option<&str>,
) -> Answer<CalcomWebhookReply> {
    let receipt = app
        .billing()?
        .handle_calcom_webhook(body, signature)
        .await?;
    if let Some(intent) = &receipt.reused_payment {
        // A real app would cancel the booking in Cal.com or ask for payment.
        tracing::warn!(payment_intent = %intent, "booking made with an already used paid-session link");
    }
    Ok(Reply::ok(CalcomWebhookReply {
        outcome: outcome_name(&receipt.outcome),
        event_id: receipt.event_id,
        reused_payment: receipt.reused_payment,
    }))
}
