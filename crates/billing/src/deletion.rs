//! Ending what Stripe could still bill before an account is deleted.

use stripe_billing::subscription::{CancelSubscription, RetrieveSubscription, UpdateSubscription};
use stripe_checkout::checkout_session::{ExpireCheckoutSession, RetrieveCheckoutSession};
use tollbooth_core::{BeforeAccountDeletion, DeletionRefused};
use tollbooth_db::{BillingRepo, UserRepo};
use uuid::Uuid;

use crate::error::{BillingError, ProviderError, Result};
use crate::service::Billing;
use crate::stripe::types::{self, CheckoutSession};
use crate::subscriptions::status_of;

impl Billing {
    /// Ends everything Stripe could still bill `user_id` for, before their account is
    /// deleted; returns how many subscriptions it cancelled. In order:
    ///
    /// 1. every open Checkout session the user started is expired, so none can start a
    ///    subscription once the account is gone (one completed meanwhile shows up in 2);
    /// 2. the customer's subscriptions are read from Stripe itself, not only the local
    ///    mirror, so one whose webhook has not arrived yet is cancelled too;
    /// 3. every subscription that is not over is cancelled: at once, or at the end of the
    ///    paid period as configured
    ///    ([`BillingConfigBuilder::cancel_at_period_end_on_account_deletion`](crate::BillingConfigBuilder::cancel_at_period_end_on_account_deletion)).
    ///    A period-end cancellation is a POST with an idempotency key named after the user
    ///    and the subscription; an immediate one a DELETE, which Stripe needs no key for —
    ///    and a retry reads it back cancelled, so it is not sent again.
    ///
    /// The Stripe customer stays, with its invoices and payments, for the merchant's records.
    /// Stripe unreachable or refusing is an error before the account is touched; running
    /// this again resumes where it stopped. `Billing` runs it as a [`BeforeAccountDeletion`]
    /// step: give it to `tollbooth-auth`'s `AuthConfigBuilder::before_account_deletion`.
    pub async fn end_billing_for_deletion(&self, user_id: Uuid) -> Result<usize> {
        let db = &self.inner.db;
        let Some(user) = db.find_user(user_id).await? else {
            return Ok(0);
        };
        let Some(customer) = user.stripe_customer_id else {
            // Checkout creates the customer first: without one, Stripe holds nothing.
            return Ok(0);
        };
        self.expire_open_checkouts(user_id).await?;
        self.sync_customer(user_id, &customer).await?;
        let at_period_end = self.inner.config.cancel_at_period_end_on_deletion;
        let live: Vec<_> = db
            .list_subscriptions(user_id)
            .await?
            .into_iter()
            .filter(|s| status_of(s).blocks_checkout())
            .filter(|s| !(at_period_end && s.cancel_at_period_end))
            .collect();
        let stripe = &self.inner.stripe;
        for subscription in &live {
            let id = subscription.stripe_subscription_id.as_str();
            let read_back = RetrieveSubscription::new(id);
            let ended: types::Subscription = if at_period_end {
                let request = UpdateSubscription::new(id).cancel_at_period_end(true);
                let key = format!("tollbooth-account-deletion/{user_id}/{id}");
                stripe.mutate(&request, Some(key), &read_back).await?
            } else {
                stripe
                    .mutate(&CancelSubscription::new(id), None, &read_back)
                    .await?
            };
            self.store(user_id, &ended, tollbooth_db::now()).await?;
            tracing::info!(%user_id, subscription = %id, at_period_end, "subscription cancelled before account deletion");
        }
        Ok(live.len())
    }

    /// Expires the user's open Checkout sessions. Stripe refuses to expire one that is no
    /// longer open (completed or expired meanwhile): that is read back and, if so, closed
    /// here too.
    async fn expire_open_checkouts(&self, user_id: Uuid) -> Result<()> {
        let db = &self.inner.db;
        let stripe = &self.inner.stripe;
        for open in db
            .list_open_checkout_sessions(user_id, tollbooth_db::now())
            .await?
        {
            let id = open.stripe_checkout_session_id.as_str();
            let expired = stripe
                .send::<CheckoutSession>(&ExpireCheckoutSession::new(id), None)
                .await;
            match expired {
                Ok(_) => {}
                Err(refused @ BillingError::Stripe(ProviderError::Refused { .. })) => {
                    let now: CheckoutSession =
                        stripe.send(&RetrieveCheckoutSession::new(id), None).await?;
                    if now.status.as_deref() == Some("open") {
                        return Err(refused);
                    }
                }
                Err(other) => return Err(other),
            }
            db.close_checkout_session(id, tollbooth_db::now()).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BeforeAccountDeletion for Billing {
    /// [`end_billing_for_deletion`](Billing::end_billing_for_deletion); its error refuses
    /// the deletion, answered as itself (Stripe down: 503 `payment_provider_unavailable`).
    async fn before_account_deletion(&self, user_id: Uuid) -> Result<(), DeletionRefused> {
        self.end_billing_for_deletion(user_id)
            .await
            .map(drop)
            .map_err(|e| Box::new(e) as DeletionRefused)
    }
}
