//! Checkout and the billing portal.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use tollbooth_db::{BillingRepo, Customer, NewCheckoutSession};
use url::Url;

use crate::error::{BillingError, Result};
use crate::plan::Interval;
use crate::service::Billing;
use crate::stripe::types::{CheckoutSession, PortalSession, timestamp};
use crate::subscriptions::status_of;

/// Requests for one customer and plan within this window share a derived idempotency key, so
/// concurrent clicks open one Checkout session.
const CHECKOUT_KEY_WINDOW_SECS: i64 = 3600;
/// A recorded session this close to its expiry is not handed out again.
const REUSE_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

impl Billing {
    /// A Stripe Checkout page where `customer` — a user (a bare user id is one) or an
    /// organization — subscribes to the plan with id `plan` (its monthly price; the free
    /// plan, an unknown id or a plan without a price is [`BillingError::PlanNotPurchasable`]).
    ///
    /// Creates (once) or reuses the customer's Stripe customer, grants the configured free
    /// trial only to a customer who never had one, and tags the session with the user or
    /// organization id (metadata `user_id` / `organization_id`; a user's id also as
    /// `client_reference_id`) so the webhook can attribute it. Refuses the Free plan and
    /// customers with a subscription that still blocks checkout (any status but `canceled`
    /// and `incomplete_expired`: they change plans in the billing portal, or complete the
    /// incomplete one).
    ///
    /// Billing trusts the customer it is given: check first that whoever asks may act for
    /// it (`tollbooth-auth`'s `OrgMember::billing_customer` for an organization).
    ///
    /// **One session per customer and plan**: while a session this returned is open, a
    /// repeated call (a double click, a second tab, two billing admins) returns it again
    /// instead of opening a second one — two completed sessions would be two subscriptions,
    /// charged twice. Concurrent calls share an idempotency key derived from the customer,
    /// plan, hour and request, so Stripe itself answers them with one session.
    /// `idempotency_key` replaces the derived key.
    pub async fn create_checkout_session(
        &self,
        customer: impl Into<Customer>,
        plan: &str,
        success_url: &str,
        cancel_url: &str,
        idempotency_key: Option<String>,
    ) -> Result<Url> {
        let config = &self.inner.config;
        let not_purchasable = || BillingError::PlanNotPurchasable {
            plan: plan.chars().take(64).collect(),
        };
        let plan = config.plan(plan).ok_or_else(not_purchasable)?;
        let price = plan
            .price(Interval::Monthly)
            .filter(|_| !plan.is_free())
            .ok_or_else(not_purchasable)?
            .to_owned();
        let plan = plan.id();
        let success_url = absolute_url("success_url", success_url)?;
        let cancel_url = absolute_url("cancel_url", cancel_url)?;
        let account = self.account(customer.into()).await?;
        let customer = account.customer;
        let db = &self.inner.db;
        let subscriptions = db.list_subscriptions(customer).await?;
        if subscriptions.iter().any(|s| status_of(s).blocks_checkout()) {
            return Err(BillingError::AlreadySubscribed);
        }
        let now = tollbooth_db::now();
        if let Some(open) = db
            .find_open_checkout_session(customer, plan, now + REUSE_MARGIN)
            .await?
        {
            tracing::info!(%customer, plan = %plan, session = %open.stripe_checkout_session_id, "checkout session reused");
            return Url::parse(&open.url).map_err(BillingError::internal);
        }
        let had_trial = subscriptions.iter().any(|s| s.trial_end.is_some());
        let trial_days = (config.trial_days > 0 && !had_trial).then_some(config.trial_days);
        let stripe_customer = self.ensure_customer(&account).await?;
        let closed = db.count_closed_checkout_sessions(customer, plan).await?;
        let idempotency_key = idempotency_key.unwrap_or_else(|| {
            // Everything that shapes the session is in the key: the same key with other
            // parameters would be refused by Stripe, and a changed situation (a session since
            // completed or expired, a subscription since ended) must open a new session.
            let request = format!(
                "{price}\n{success_url}\n{cancel_url}\n{trial_days:?}\n{}\n{closed}",
                subscriptions.len()
            );
            let digest = hex::encode(&Sha256::digest(request.as_bytes())[..8]);
            let window = now.timestamp().div_euclid(CHECKOUT_KEY_WINDOW_SECS);
            let owner = match customer {
                Customer::User(id) => id.to_string(),
                Customer::Organization(id) => format!("organization/{id}"),
            };
            format!("checkout/{owner}/{plan}/{window}/{digest}")
        });

        let owner_key = match customer {
            Customer::User(_) => "user_id",
            Customer::Organization(_) => "organization_id",
        };
        let metadata = HashMap::from([
            (owner_key.to_owned(), customer.id().to_string()),
            ("plan".to_owned(), plan.to_owned()),
        ]);
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(price);
        item.quantity = Some(1);
        let mut subscription_data = CreateCheckoutSessionSubscriptionData::new();
        subscription_data.metadata = Some(metadata.clone());
        subscription_data.trial_period_days = trial_days;
        let mut request = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(stripe_customer)
            .line_items(vec![item])
            .subscription_data(subscription_data)
            .metadata(metadata)
            .success_url(success_url.as_str())
            .cancel_url(cancel_url.as_str());
        if let Customer::User(id) = customer {
            request = request.client_reference_id(id.to_string());
        }
        let session: CheckoutSession = self
            .inner
            .stripe
            .send(&request, Some(idempotency_key))
            .await?;
        let url = session.url.ok_or_else(|| {
            BillingError::internal("Stripe returned a checkout session without a URL")
        })?;
        let parsed = Url::parse(&url).map_err(BillingError::internal)?;
        // Stripe's default lifetime is 24 hours.
        let expires_at = session
            .expires_at
            .and_then(timestamp)
            .unwrap_or(now + chrono::Duration::hours(24));
        db.insert_checkout_session(NewCheckoutSession::new(
            customer,
            plan,
            &session.id,
            &url,
            expires_at,
        ))
        .await?;
        tracing::info!(%customer, plan = %plan, session = %session.id, "checkout session created");
        Ok(parsed)
    }

    /// A Stripe billing portal page for the customer (change plan, card, cancel), returning
    /// to `return_url`. One that never checked out has no Stripe customer:
    /// [`BillingError::NotFound`].
    pub async fn create_billing_portal_session(
        &self,
        customer: impl Into<Customer>,
        return_url: &str,
    ) -> Result<Url> {
        let return_url = absolute_url("return_url", return_url)?;
        let stripe_customer = self
            .account(customer.into())
            .await?
            .stripe_customer_id
            .ok_or(BillingError::NotFound { what: "customer" })?;
        let request = CreateBillingPortalSession::new()
            .customer(stripe_customer)
            .return_url(return_url.as_str());
        let session: PortalSession = self.inner.stripe.send(&request, None).await?;
        Url::parse(&session.url).map_err(BillingError::internal)
    }
}

/// Stripe requires absolute redirect URLs; refuse others before any network call.
pub(crate) fn absolute_url(field: &'static str, url: &str) -> Result<Url> {
    let parsed =
        Url::parse(url).map_err(|_| BillingError::invalid(field, "not an absolute URL"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(BillingError::invalid(field, "must be an http(s) URL"));
    }
    Ok(parsed)
}
