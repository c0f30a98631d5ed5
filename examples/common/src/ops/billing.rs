//! Plans, Stripe Checkout and the billing portal, the subscription, one-off payments.

use std::collections::HashMap;

use tollbooth_auth::Session;
use tollbooth_billing::{
    Billing, BillingError, EVENT_TYPE_METADATA_KEY, PaymentCheckout, SubscriptionStatus,
};
use tollbooth_db::{Subscription, User};
use tollbooth_email::PublicBaseUrl;
use uuid::Uuid;

use super::Answer;
use crate::App;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::wire::*;

/// `GET /billing/plans`: the catalog, the free plan first.
#[utoipa::path(
    get,
    path = "/billing/plans",
    tag = "billing",
    responses((status = 200, description = "the catalog", body = PlansReply))
)]
pub fn plans(app: &App) -> Answer<PlansReply> {
    let config = app.billing()?.config();
    let plans = std::iter::once(config.free_plan())
        .chain(config.plans())
        .map(PlanBody::from)
        .collect();
    Ok(Reply::ok(PlansReply { plans }))
}

/// `POST /billing/checkout`: a Stripe Checkout page for a plan.
#[utoipa::path(
    post,
    path = "/billing/checkout",
    tag = "billing",
    request_body = CheckoutBody,
    responses((status = 200, description = "the Checkout page", body = UrlReply))
)]
pub async fn checkout(app: &App, session: &Session, body: CheckoutBody) -> Answer<UrlReply> {
    let billing = app.billing()?;
    let public = app.auth.config().public_base_url();
    let success = on_site(
        public,
        "success_url",
        body.success_url.as_deref(),
        "billing/checkout/success?session_id={CHECKOUT_SESSION_ID}",
    )?;
    let cancel = on_site(public, "cancel_url", body.cancel_url.as_deref(), "pricing")?;
    let url = billing
        .create_checkout_session(session.user.id, &body.plan, &success, &cancel, None)
        .await?;
    Ok(Reply::ok(UrlReply { url: url.into() }))
}

/// Where Stripe sends the browser back: a client-chosen path (`/welcome`) or absolute URL
/// on the public origin, else `default` under the public base URL. Another origin is
/// refused (422), or the server would be an open redirect by way of Stripe.
fn on_site(
    public: &PublicBaseUrl,
    field: &'static str,
    chosen: Option<&str>,
    default: &str,
) -> Result<String, ApiError> {
    let base = public.as_url();
    match base.join(chosen.unwrap_or(default)) {
        Ok(url) if url.origin() == base.origin() => Ok(url.into()),
        _ => Err(ApiError::Billing(BillingError::InvalidInput {
            field,
            reason: format!("must be a path or URL on {}", public.origin()),
        })),
    }
}

/// `GET /billing/checkout/success`: where Checkout returns; syncs the subscription from Stripe.
#[utoipa::path(
    get,
    path = "/billing/checkout/success",
    tag = "billing",
    params(("session_id" = Option<String>, Query)),
    responses((status = 200, description = "synced from Stripe", body = SubscriptionReply))
)]
pub async fn checkout_success(app: &App, session: &Session) -> Answer<SubscriptionReply> {
    let billing = app.billing()?;
    let user = session.user.id;
    subscription_reply(billing, user, billing.sync_subscription(user).await?).await
}

/// `POST /billing/portal`: a Stripe billing portal page.
#[utoipa::path(
    post,
    path = "/billing/portal",
    tag = "billing",
    responses((status = 200, description = "the billing portal", body = UrlReply))
)]
pub async fn portal(app: &App, session: &Session) -> Answer<UrlReply> {
    let billing = app.billing()?;
    let return_url = format!(
        "{}account/billing",
        app.auth.config().public_base_url().as_str()
    );
    let url = billing
        .create_billing_portal_session(session.user.id, &return_url)
        .await?;
    Ok(Reply::ok(UrlReply { url: url.into() }))
}

/// `GET /billing/subscription`: the plan in force and the live subscriptions.
#[utoipa::path(
    get,
    path = "/billing/subscription",
    tag = "billing",
    responses((status = 200, description = "plan and subscriptions", body = SubscriptionReply))
)]
pub async fn subscription(app: &App, session: &Session) -> Answer<SubscriptionReply> {
    let billing = app.billing()?;
    let user = session.user.id;
    subscription_reply(billing, user, billing.get_subscription(user).await?).await
}

/// `POST /billing/subscription/cancel`: at the period end unless told otherwise.
#[utoipa::path(
    post,
    path = "/billing/subscription/cancel",
    tag = "billing",
    request_body(content = Option<CancelBody>, description = "optional: cancels at the period end without one"),
    responses((status = 200, description = "cancelled (at the period end by default)", body = SubscriptionReply))
)]
pub async fn cancel_subscription(
    app: &App,
    session: &Session,
    body: Option<CancelBody>,
) -> Answer<SubscriptionReply> {
    let billing = app.billing()?;
    let user = session.user.id;
    let at_period_end = body.is_none_or(|body| body.at_period_end);
    let cancelled = billing.cancel_subscription(user, at_period_end).await?;
    subscription_reply(billing, user, Some(cancelled)).await
}

/// `POST /billing/subscription/resume`: undoes a cancellation at the period end.
#[utoipa::path(
    post,
    path = "/billing/subscription/resume",
    tag = "billing",
    responses((status = 200, description = "resumed", body = SubscriptionReply))
)]
pub async fn resume_subscription(app: &App, session: &Session) -> Answer<SubscriptionReply> {
    let billing = app.billing()?;
    let user = session.user.id;
    let resumed = billing.resume_subscription(user).await?;
    subscription_reply(billing, user, Some(resumed)).await
}

async fn subscription_reply(
    billing: &Billing,
    user_id: Uuid,
    subscription: Option<Subscription>,
) -> Answer<SubscriptionReply> {
    let plan = billing.current_plan(user_id).await?;
    // Every subscription not ended, so a second live one (a duplicate) is never hidden.
    let live = billing
        .list_subscriptions(user_id)
        .await?
        .iter()
        .filter(|s| SubscriptionStatus::parse(&s.status).blocks_checkout())
        .map(SubscriptionBody::from)
        .collect();
    Ok(Reply::ok(SubscriptionReply {
        plan: plan.id().to_owned(),
        subscription: subscription.as_ref().map(SubscriptionBody::from),
        subscriptions: live,
    }))
}

/// `POST /billing/payments`: a PaymentIntent for a one-off payment.
#[utoipa::path(
    post,
    path = "/billing/payments",
    tag = "billing",
    request_body = PaymentBody,
    responses((status = 201, description = "a PaymentIntent", body = CreatedPaymentReply))
)]
pub async fn create_payment(
    app: &App,
    session: &Session,
    body: PaymentBody,
) -> Answer<CreatedPaymentReply> {
    let billing = app.billing()?;
    let mut metadata = HashMap::from([("user_id".to_owned(), session.user.id.to_string())]);
    if let Some(event_type) = body.calcom_event_type_id {
        metadata.insert(EVENT_TYPE_METADATA_KEY.to_owned(), event_type.to_string());
    }
    let created = billing
        .create_payment_intent(body.amount, &body.currency, metadata)
        .await?;
    Ok(Reply::created(CreatedPaymentReply {
        id: created.id,
        client_secret: created.client_secret,
    }))
}

/// `POST /billing/payments/{id}/confirm`: the payment's state, from Stripe.
#[utoipa::path(
    post,
    path = "/billing/payments/{id}/confirm",
    tag = "billing",
    params(("id" = String, Path)),
    responses((status = 200, description = "its state", body = PaymentReply))
)]
pub async fn confirm_payment(app: &App, session: &Session, id: &str) -> Answer<PaymentReply> {
    let billing = app.billing()?;
    own_payment(billing, &session.user, id).await?;
    let payment = billing.confirm_payment(id).await?;
    Ok(Reply::ok(PaymentReply::from(&payment)))
}

/// `POST /billing/payments/checkout`: a Stripe Checkout page for a one-off payment.
#[utoipa::path(
    post,
    path = "/billing/payments/checkout",
    tag = "billing",
    request_body = PaymentCheckoutBody,
    responses((status = 200, description = "the Checkout page", body = UrlReply))
)]
pub async fn payment_checkout(
    app: &App,
    session: &Session,
    body: PaymentCheckoutBody,
) -> Answer<UrlReply> {
    let billing = app.billing()?;
    let public = app.auth.config().public_base_url();
    let success = on_site(
        public,
        "success_url",
        body.success_url.as_deref(),
        "billing/payments/checkout/success?session_id={CHECKOUT_SESSION_ID}",
    )?;
    let cancel = on_site(public, "cancel_url", body.cancel_url.as_deref(), "pricing")?;
    let mut purchase = PaymentCheckout::new(body.name, body.amount, &body.currency)?;
    if let Some(event_type) = body.calcom_event_type_id {
        purchase = purchase.with_metadata(EVENT_TYPE_METADATA_KEY, event_type.to_string());
    }
    let url = billing
        .create_payment_checkout(
            session.user.id,
            &purchase,
            &success,
            &cancel,
            body.idempotency_key.as_deref(),
        )
        .await?;
    Ok(Reply::ok(UrlReply { url: url.into() }))
}

/// `GET /billing/payments/checkout/success`: where a payment's Checkout returns; records
/// the payment from Stripe.
#[utoipa::path(
    get,
    path = "/billing/payments/checkout/success",
    tag = "billing",
    params(("session_id" = String, Query, description = "the Checkout session (`cs_…`)")),
    responses((status = 200, description = "the payment, synced from Stripe", body = PaymentReply))
)]
pub async fn payment_checkout_success(
    app: &App,
    session: &Session,
    query: CheckoutSessionQuery,
) -> Answer<PaymentReply> {
    let billing = app.billing()?;
    let checkout = query.session_id.ok_or(ApiError::InvalidQuery(
        "session_id: the Checkout session id is required".into(),
    ))?;
    let payment = billing
        .sync_payment_checkout(session.user.id, &checkout)
        .await?;
    Ok(Reply::ok(PaymentReply::from(&payment)))
}

/// `GET /billing/payments`: the user's payments.
#[utoipa::path(
    get,
    path = "/billing/payments",
    tag = "billing",
    responses((status = 200, description = "newest first", body = PaymentsReply))
)]
pub async fn list_payments(app: &App, session: &Session) -> Answer<PaymentsReply> {
    let billing = app.billing()?;
    let payments = billing.list_payments(session.user.id).await?;
    Ok(Reply::ok(PaymentsReply {
        payments: payments.iter().map(PaymentReply::from).collect(),
    }))
}

/// `GET /billing/payments/{id}/booking-link`: the Cal.com page a paid session books on.
#[utoipa::path(
    get,
    path = "/billing/payments/{id}/booking-link",
    tag = "billing",
    params(("id" = String, Path)),
    responses((status = 200, description = "the paid booking page", body = UrlReply))
)]
pub async fn payment_booking_link(app: &App, session: &Session, id: &str) -> Answer<UrlReply> {
    let billing = app.billing()?;
    own_payment(billing, &session.user, id).await?;
    let url = billing.booking_link_for_payment(id).await?;
    Ok(Reply::ok(UrlReply { url: url.into() }))
}

/// A user may act only on their own payments (404, not 403: no existence oracle).
async fn own_payment(billing: &Billing, user: &User, id: &str) -> Result<(), ApiError> {
    match billing.get_payment(id).await? {
        Some(p) if p.user_id == Some(user.id) => Ok(()),
        _ => Err(BillingError::NotFound { what: "payment" }.into()),
    }
}
