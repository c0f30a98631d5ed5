//! Plans, Stripe Checkout and the billing portal, the subscription, one-off payments.

use std::collections::HashMap;

use tollbooth_auth::{OrgMember, Session};
use tollbooth_billing::{
    Billing, BillingError, Customer, EVENT_TYPE_METADATA_KEY, PaymentCheckout, SubscriptionStatus,
};
use tollbooth_db::{Subscription, User};
use tollbooth_email::PublicBaseUrl;

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

/// The pages around a customer's billing, relative to the public base URL: where Checkout
/// returns after paying and after giving up, and where the portal returns.
struct BillingPages {
    success: String,
    cancel: String,
    portal_return: String,
}

impl BillingPages {
    fn of(customer: Customer) -> Self {
        match customer {
            Customer::User(_) => Self {
                success: "billing/checkout/success?session_id={CHECKOUT_SESSION_ID}".to_owned(),
                cancel: "pricing".to_owned(),
                portal_return: "account/billing".to_owned(),
            },
            Customer::Organization(id) => Self {
                success: format!("organizations/{id}?checkout=done"),
                cancel: format!("organizations/{id}"),
                portal_return: format!("organizations/{id}"),
            },
        }
    }
}

/// `POST /billing/checkout`: a Stripe Checkout page for a plan.
#[utoipa::path(
    post,
    path = "/billing/checkout",
    tag = "billing",
    request_body = CheckoutBody,
    responses((status = 200, description = "the Checkout page", body = UrlReply))
)]
pub async fn checkout(app: &App, customer: Customer, body: CheckoutBody) -> Answer<UrlReply> {
    let billing = app.billing()?;
    let public = app.auth.config().public_base_url();
    let pages = BillingPages::of(customer);
    let success = on_site(
        public,
        "success_url",
        body.success_url.as_deref(),
        &pages.success,
    )?;
    let cancel = on_site(
        public,
        "cancel_url",
        body.cancel_url.as_deref(),
        &pages.cancel,
    )?;
    let url = billing
        .create_checkout_session(customer, &body.plan, &success, &cancel, None)
        .await?;
    Ok(Reply::ok(UrlReply { url: url.into() }))
}

/// `POST /orgs/{org_id}/billing/checkout`: a Stripe Checkout page where the organization
/// subscribes (owners and `billing:manage`; back to the organization's page).
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/billing/checkout",
    tag = "organizations",
    params(("org_id" = String, Path)),
    request_body = CheckoutBody,
    responses((status = 200, description = "the Checkout page (needs billing:manage)", body = UrlReply))
)]
pub async fn org_checkout(app: &App, member: &OrgMember, body: CheckoutBody) -> Answer<UrlReply> {
    checkout(app, member.billing_customer()?, body).await
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
pub async fn checkout_success(app: &App, customer: Customer) -> Answer<SubscriptionReply> {
    let billing = app.billing()?;
    subscription_reply(
        billing,
        customer,
        billing.sync_subscription(customer).await?,
    )
    .await
}

/// `POST /billing/portal`: a Stripe billing portal page.
#[utoipa::path(
    post,
    path = "/billing/portal",
    tag = "billing",
    responses((status = 200, description = "the billing portal", body = UrlReply))
)]
pub async fn portal(app: &App, customer: Customer) -> Answer<UrlReply> {
    let billing = app.billing()?;
    let return_url = format!(
        "{}{}",
        app.auth.config().public_base_url().as_str(),
        BillingPages::of(customer).portal_return
    );
    let url = billing
        .create_billing_portal_session(customer, &return_url)
        .await?;
    Ok(Reply::ok(UrlReply { url: url.into() }))
}

/// `POST /orgs/{org_id}/billing/portal`: the organization's Stripe billing portal.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/billing/portal",
    tag = "organizations",
    params(("org_id" = String, Path)),
    responses((status = 200, description = "the billing portal (needs billing:manage)", body = UrlReply))
)]
pub async fn org_portal(app: &App, member: &OrgMember) -> Answer<UrlReply> {
    portal(app, member.billing_customer()?).await
}

/// `GET /billing/subscription`: the plan in force and the live subscriptions.
#[utoipa::path(
    get,
    path = "/billing/subscription",
    tag = "billing",
    responses((status = 200, description = "plan and subscriptions", body = SubscriptionReply))
)]
pub async fn subscription(app: &App, customer: Customer) -> Answer<SubscriptionReply> {
    let billing = app.billing()?;
    subscription_reply(billing, customer, billing.get_subscription(customer).await?).await
}

/// `GET /orgs/{org_id}/billing/subscription`: the organization's plan, which every member
/// may read (its subscriptions' details only with billing:manage).
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/billing/subscription",
    tag = "organizations",
    params(("org_id" = String, Path)),
    responses((status = 200, description = "plan and subscriptions", body = SubscriptionReply))
)]
pub async fn org_subscription(app: &App, member: &OrgMember) -> Answer<SubscriptionReply> {
    let organization = Customer::Organization(member.organization.id);
    if member.billing_customer().is_ok() {
        return subscription(app, organization).await;
    }
    let plan = app.billing()?.current_plan(organization).await?;
    Ok(Reply::ok(SubscriptionReply {
        plan: plan.id().to_owned(),
        subscription: None,
        subscriptions: Vec::new(),
    }))
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
    customer: Customer,
    body: Option<CancelBody>,
) -> Answer<SubscriptionReply> {
    let billing = app.billing()?;
    let at_period_end = body.is_none_or(|body| body.at_period_end);
    let cancelled = billing.cancel_subscription(customer, at_period_end).await?;
    subscription_reply(billing, customer, Some(cancelled)).await
}

/// `POST /orgs/{org_id}/billing/subscription/cancel`: the organization's, at the period end
/// unless told otherwise.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/billing/subscription/cancel",
    tag = "organizations",
    params(("org_id" = String, Path)),
    request_body(content = Option<CancelBody>, description = "optional: cancels at the period end without one"),
    responses((status = 200, description = "cancelled (needs billing:manage)", body = SubscriptionReply))
)]
pub async fn org_cancel_subscription(
    app: &App,
    member: &OrgMember,
    body: Option<CancelBody>,
) -> Answer<SubscriptionReply> {
    cancel_subscription(app, member.billing_customer()?, body).await
}

/// `POST /billing/subscription/resume`: undoes a cancellation at the period end.
#[utoipa::path(
    post,
    path = "/billing/subscription/resume",
    tag = "billing",
    responses((status = 200, description = "resumed", body = SubscriptionReply))
)]
pub async fn resume_subscription(app: &App, customer: Customer) -> Answer<SubscriptionReply> {
    let billing = app.billing()?;
    let resumed = billing.resume_subscription(customer).await?;
    subscription_reply(billing, customer, Some(resumed)).await
}

/// `POST /orgs/{org_id}/billing/subscription/resume`: undoes the organization's
/// cancellation at the period end.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/billing/subscription/resume",
    tag = "organizations",
    params(("org_id" = String, Path)),
    responses((status = 200, description = "resumed (needs billing:manage)", body = SubscriptionReply))
)]
pub async fn org_resume_subscription(app: &App, member: &OrgMember) -> Answer<SubscriptionReply> {
    resume_subscription(app, member.billing_customer()?).await
}

async fn subscription_reply(
    billing: &Billing,
    customer: Customer,
    subscription: Option<Subscription>,
) -> Answer<SubscriptionReply> {
    let plan = billing.current_plan(customer).await?;
    // Every subscription not ended, so a second live one (a duplicate) is never hidden.
    let live = billing
        .list_subscriptions(customer)
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
