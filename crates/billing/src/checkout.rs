//! Checkout and the billing portal.

use std::collections::HashMap;

use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_core::customer::CreateCustomer;
use tollbooth_db::{BillingRepo, DbError, User, UserRepo};
use url::Url;
use uuid::Uuid;

use crate::config::Plan;
use crate::error::{BillingError, Result};
use crate::service::Billing;
use crate::stripe::types::{CheckoutSession, Customer, PortalSession};

/// Stripe statuses in which a subscription is still the customer's current one.
pub(crate) const LIVE_STATUSES: [&str; 5] =
    ["trialing", "active", "past_due", "unpaid", "incomplete"];

impl Billing {
    /// A Stripe Checkout page where `user_id` subscribes to `plan`.
    ///
    /// Creates (once) or reuses the user's Stripe customer, grants the configured free trial
    /// only to a user who never had one, and tags the session with the user id
    /// (`client_reference_id` and metadata) so the webhook can attribute it. Refuses the Free
    /// plan and users who already have a live paid subscription (they change plans in the
    /// billing portal). `idempotency_key` (e.g. `checkout/{user}/{plan}`) makes a retried
    /// call return the same session; without one a random key covers this call's retries.
    pub async fn create_checkout_session(
        &self,
        user_id: Uuid,
        plan: Plan,
        success_url: &str,
        cancel_url: &str,
        idempotency_key: Option<String>,
    ) -> Result<Url> {
        let config = &self.inner.config;
        let price = config
            .price_of(plan)
            .ok_or_else(|| BillingError::PlanNotPurchasable {
                plan: plan.as_str().to_owned(),
            })?
            .to_owned();
        let success_url = absolute_url("success_url", success_url)?;
        let cancel_url = absolute_url("cancel_url", cancel_url)?;
        let user = self.user(user_id).await?;
        let subscriptions = self.inner.db.list_subscriptions(user.id).await?;
        if subscriptions
            .iter()
            .any(|s| LIVE_STATUSES.contains(&s.status.as_str()))
        {
            return Err(BillingError::AlreadySubscribed);
        }
        let had_trial = subscriptions.iter().any(|s| s.trial_end.is_some());
        let customer = self.ensure_customer(&user).await?;

        let metadata = HashMap::from([
            ("user_id".to_owned(), user.id.to_string()),
            ("plan".to_owned(), plan.as_str().to_owned()),
        ]);
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(price);
        item.quantity = Some(1);
        let mut subscription_data = CreateCheckoutSessionSubscriptionData::new();
        subscription_data.metadata = Some(metadata.clone());
        if config.trial_days > 0 && !had_trial {
            subscription_data.trial_period_days = Some(config.trial_days);
        }
        let request = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(customer)
            .client_reference_id(user.id.to_string())
            .line_items(vec![item])
            .subscription_data(subscription_data)
            .metadata(metadata)
            .success_url(success_url.as_str())
            .cancel_url(cancel_url.as_str());
        let session: CheckoutSession = self.inner.stripe.send(&request, idempotency_key).await?;
        let url = session.url.ok_or_else(|| {
            BillingError::internal("Stripe returned a checkout session without a URL")
        })?;
        tracing::info!(user_id = %user.id, plan = %plan, session = %session.id, "checkout session created");
        Url::parse(&url).map_err(BillingError::internal)
    }

    /// A Stripe billing portal page for the user (change plan, card, cancel), returning to
    /// `return_url`.
    pub async fn create_billing_portal_session(
        &self,
        user_id: Uuid,
        return_url: &str,
    ) -> Result<Url> {
        let return_url = absolute_url("return_url", return_url)?;
        let user = self.user(user_id).await?;
        let customer = user
            .stripe_customer_id
            .ok_or(BillingError::NotFound { what: "customer" })?;
        let request = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url.as_str());
        let session: PortalSession = self.inner.stripe.send(&request, None).await?;
        Url::parse(&session.url).map_err(BillingError::internal)
    }

    /// The user's Stripe customer id, creating the customer on first use. The key
    /// `customer/{user_id}` makes concurrent first uses create one customer, and the unique
    /// `users.stripe_customer_id` keeps it one-to-one.
    pub(crate) async fn ensure_customer(&self, user: &User) -> Result<String> {
        if let Some(customer) = &user.stripe_customer_id {
            return Ok(customer.clone());
        }
        let mut request = CreateCustomer::new()
            .email(user.email.as_str())
            .metadata(HashMap::from([("user_id".to_owned(), user.id.to_string())]));
        if let Some(name) = &user.name {
            request = request.name(name.as_str());
        }
        let customer: Customer = self
            .inner
            .stripe
            .send(&request, Some(format!("customer/{}", user.id)))
            .await?;
        match self
            .inner
            .db
            .set_stripe_customer_id(user.id, &customer.id)
            .await
        {
            Ok(_) => Ok(customer.id),
            // Raced with another request that stored the same (idempotent) customer.
            Err(DbError::Conflict { .. }) => Ok(self
                .user(user.id)
                .await?
                .stripe_customer_id
                .unwrap_or(customer.id)),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn user(&self, user_id: Uuid) -> Result<User> {
        self.inner
            .db
            .find_user(user_id)
            .await?
            .ok_or(BillingError::NotFound { what: "user" })
    }
}

/// Stripe requires absolute redirect URLs; refuse others before any network call.
fn absolute_url(field: &'static str, url: &str) -> Result<Url> {
    let parsed =
        Url::parse(url).map_err(|_| BillingError::invalid(field, "not an absolute URL"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(BillingError::invalid(field, "must be an http(s) URL"));
    }
    Ok(parsed)
}
