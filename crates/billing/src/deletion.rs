//! Ending what Stripe could still bill before an account or an organization is deleted.

use stripe_billing::subscription::{CancelSubscription, RetrieveSubscription, UpdateSubscription};
use stripe_checkout::CheckoutSessionStatus;
use stripe_checkout::checkout_session::{
    ExpireCheckoutSession, ListCheckoutSession, RetrieveCheckoutSession,
};
use tollbooth_core::{BeforeAccountDeletion, BeforeOrganizationDeletion, DeletionRefused};
use tollbooth_db::{BillingRepo, Customer};
use uuid::Uuid;

use crate::customers::account;
use crate::error::{BillingError, ProviderError, Result};
use crate::service::Billing;
use crate::status::SubscriptionStatus;
use crate::stripe::types::{self, CheckoutSession, List};
use crate::subscriptions::status_of;

impl Billing {
    /// Ends everything Stripe could still bill `customer` for, before the account (the
    /// organization) is deleted; returns how many subscriptions it ended. In order:
    ///
    /// 1. every open Checkout session of the Stripe customer — subscription or one-off
    ///    payment, asked of Stripe — is expired, so none can charge the deleted account
    ///    (one completed meanwhile is no error: its subscription shows up in 2);
    /// 2. the customer's subscriptions are read from Stripe itself, not only the local
    ///    mirror, so one whose webhook has not arrived yet is found;
    /// 3. every subscription that is not over is cancelled: at once, or — when configured
    ///    ([`BillingConfigBuilder::cancel_at_period_end_on_account_deletion`](crate::BillingConfigBuilder::cancel_at_period_end_on_account_deletion))
    ///    and only while it is paid up (`active`, `trialing`) — at the end of the period
    ///    paid for. One Stripe says is over already (a retry, a concurrent deletion, the
    ///    duplicate clean-up) is no error.
    ///
    /// The Stripe customer stays, with its invoices and payments, for the merchant's
    /// records. Stripe unreachable or refusing is an error, and nothing is deleted; what
    /// was ended before the error stays ended, and running this again resumes where it
    /// stopped. `Billing` runs it as a [`BeforeAccountDeletion`] and a
    /// [`BeforeOrganizationDeletion`] step: give it to `tollbooth-auth`'s
    /// `AuthConfigBuilder::before_account_deletion` and `before_organization_deletion`.
    pub async fn end_billing_for_deletion(&self, customer: impl Into<Customer>) -> Result<usize> {
        let customer = customer.into();
        let db = &self.inner.db;
        let Some(account) = account(db, customer).await? else {
            return Ok(0);
        };
        let Some(stripe_customer) = account.stripe_customer_id else {
            // Checkout creates the customer first: without one, Stripe holds nothing.
            return Ok(0);
        };
        self.expire_open_checkouts(&stripe_customer).await?;
        self.sync_customer(customer, &stripe_customer).await?;
        let at_period_end = self.inner.config.cancel_at_period_end_on_deletion;
        let mut ended = 0;
        for subscription in db.list_subscriptions(customer).await? {
            let status = status_of(&subscription);
            if status.is_final() {
                continue;
            }
            // Only a paid-up subscription may run to its period end: a past-due one would
            // go on collecting its open invoice from the deleted account.
            let period_end = at_period_end
                && matches!(
                    status,
                    SubscriptionStatus::Active | SubscriptionStatus::Trialing
                );
            if period_end && subscription.cancel_at_period_end {
                continue;
            }
            let id = subscription.stripe_subscription_id.as_str();
            let over = self.end_subscription(id, period_end).await?;
            self.store(customer, &over, tollbooth_db::now()).await?;
            tracing::info!(%customer, subscription = %id, at_period_end = period_end, "subscription ended before deletion");
            ended += 1;
        }
        Ok(ended)
    }

    /// Cancels subscription `id` (at once, or at its period end) and answers what Stripe
    /// then holds. Stripe refuses to cancel one that is over already: it is read back, and
    /// only one still billing is an error.
    async fn end_subscription(&self, id: &str, at_period_end: bool) -> Result<types::Subscription> {
        let stripe = &self.inner.stripe;
        let read_back = RetrieveSubscription::new(id);
        // No idempotency key of our own: a key replays its first answer for 24 hours, which
        // would undo a resume made in between. Setting the flag twice is harmless, and the
        // transport reuses one key across its retries.
        let sent = if at_period_end {
            let request = UpdateSubscription::new(id).cancel_at_period_end(true);
            stripe.mutate(&request, None, &read_back).await
        } else {
            stripe
                .mutate(&CancelSubscription::new(id), None, &read_back)
                .await
        };
        match sent {
            Err(refused @ BillingError::Stripe(ProviderError::Refused { .. })) => {
                let now: types::Subscription = stripe.send(&read_back, None).await?;
                let over = SubscriptionStatus::parse(&now.status).is_final()
                    || (at_period_end && now.cancel_at_period_end);
                if over { Ok(now) } else { Err(refused) }
            }
            sent => sent,
        }
    }

    /// Expires the customer's open Checkout sessions, as Stripe lists them. Stripe refuses
    /// to expire one that is no longer open (completed or expired meanwhile): that is read
    /// back, and only one Stripe still calls open is an error. Each is closed in the local
    /// record too.
    async fn expire_open_checkouts(&self, customer: &str) -> Result<()> {
        let db = &self.inner.db;
        let stripe = &self.inner.stripe;
        let mut starting_after: Option<String> = None;
        loop {
            let mut request = ListCheckoutSession::new()
                .customer(customer)
                .status(CheckoutSessionStatus::Open)
                .limit(100);
            if let Some(cursor) = &starting_after {
                request = request.starting_after(cursor.as_str());
            }
            let page: List<CheckoutSession> = stripe.send(&request, None).await?;
            for open in &page.data {
                let id = open.id.as_str();
                let expired = stripe
                    .send::<CheckoutSession>(&ExpireCheckoutSession::new(id), None)
                    .await;
                match expired {
                    Ok(_) => {}
                    Err(refused @ BillingError::Stripe(ProviderError::Refused { .. })) => {
                        let now: CheckoutSession =
                            stripe.send(&RetrieveCheckoutSession::new(id), None).await?;
                        if !matches!(now.status.as_deref(), Some("complete" | "expired")) {
                            return Err(refused);
                        }
                    }
                    Err(other) => return Err(other),
                }
                db.close_checkout_session(id, tollbooth_db::now()).await?;
                tracing::info!(checkout_session = %id, "checkout session expired before deletion");
            }
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => starting_after = Some(last.id.clone()),
                _ => return Ok(()),
            }
        }
    }
}

#[async_trait::async_trait]
impl BeforeAccountDeletion for Billing {
    /// [`end_billing_for_deletion`](Billing::end_billing_for_deletion); its error refuses
    /// the deletion, answered as itself (Stripe down: 503 `payment_provider_unavailable`).
    async fn before_account_deletion(&self, user_id: Uuid) -> Result<(), DeletionRefused> {
        self.end_billing_for_deletion(Customer::User(user_id))
            .await
            .map(drop)
            .map_err(|e| Box::new(e) as DeletionRefused)
    }
}

#[async_trait::async_trait]
impl BeforeOrganizationDeletion for Billing {
    /// [`end_billing_for_deletion`](Billing::end_billing_for_deletion) of the
    /// organization; its error refuses the deletion, answered as itself.
    async fn before_organization_deletion(
        &self,
        organization_id: Uuid,
    ) -> Result<(), DeletionRefused> {
        self.end_billing_for_deletion(Customer::Organization(organization_id))
            .await
            .map(drop)
            .map_err(|e| Box::new(e) as DeletionRefused)
    }
}
