//! Subscriptions: the local mirror, re-syncs from Stripe, cancel and resume, reconciliation.

use chrono::{DateTime, Utc};
use stripe_billing::subscription::{
    CancelSubscription, ListSubscription, ListSubscriptionStatus, UpdateSubscription,
};
use tollbooth_db::{BillingRepo, Subscription, SubscriptionUpsert, UserRepo};
use uuid::Uuid;

use crate::checkout::LIVE_STATUSES;
use crate::config::{BillingConfig, Plan};
use crate::error::{BillingError, Result};
use crate::service::Billing;
use crate::stripe::types::{self, List, timestamp};

/// What [`Billing::reconcile`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// Customers whose subscriptions were listed.
    pub customers: usize,
    /// Subscription rows written from Stripe's current state.
    pub subscriptions: usize,
    /// Customers that could not be synced (logged; the next run retries them).
    pub failed: usize,
}

impl Billing {
    /// The user's current subscription from the local database — what an application checks
    /// on each request. Live ones (trialing, active, past due, …) first, newest first; `None`
    /// for a user who never subscribed.
    pub async fn get_subscription(&self, user_id: Uuid) -> Result<Option<Subscription>> {
        let subscriptions = self.inner.db.list_subscriptions(user_id).await?;
        let live = subscriptions
            .iter()
            .find(|s| LIVE_STATUSES.contains(&s.status.as_str()))
            .cloned();
        Ok(live.or_else(|| subscriptions.into_iter().next()))
    }

    /// The plan the user is on now (`Free` without a live subscription to a known price).
    pub async fn current_plan(&self, user_id: Uuid) -> Result<Plan> {
        Ok(self
            .get_subscription(user_id)
            .await?
            .filter(|s| LIVE_STATUSES.contains(&s.status.as_str()))
            .and_then(|s| s.plan.parse().ok())
            .unwrap_or(Plan::Free))
    }

    /// Re-reads the user's subscriptions from Stripe and stores them — for the checkout
    /// success page (the UI is right before the webhook lands) and for repairs.
    pub async fn sync_subscription(&self, user_id: Uuid) -> Result<Option<Subscription>> {
        let user = self.user(user_id).await?;
        let Some(customer) = user.stripe_customer_id else {
            return Ok(None);
        };
        self.sync_customer(user.id, &customer).await?;
        self.get_subscription(user.id).await
    }

    /// Cancels the user's live subscription: at the end of the paid period (the user keeps
    /// access until then), or immediately.
    pub async fn cancel_subscription(
        &self,
        user_id: Uuid,
        at_period_end: bool,
    ) -> Result<Subscription> {
        let current = self.live_subscription(user_id).await?;
        let id = current.stripe_subscription_id.clone();
        let updated: types::Subscription = if at_period_end {
            let request = UpdateSubscription::new(id.as_str()).cancel_at_period_end(true);
            self.inner.stripe.send(&request, None).await?
        } else {
            self.inner
                .stripe
                .send(&CancelSubscription::new(id.as_str()), None)
                .await?
        };
        self.store(user_id, &updated, tollbooth_db::now()).await
    }

    /// Undoes a cancellation scheduled for the period end.
    pub async fn resume_subscription(&self, user_id: Uuid) -> Result<Subscription> {
        let current = self.live_subscription(user_id).await?;
        if !current.cancel_at_period_end {
            return Ok(current);
        }
        let request = UpdateSubscription::new(current.stripe_subscription_id.as_str())
            .cancel_at_period_end(false);
        let updated: types::Subscription = self.inner.stripe.send(&request, None).await?;
        self.store(user_id, &updated, tollbooth_db::now()).await
    }

    /// Re-lists the subscriptions of every known customer and repairs local rows — the
    /// resync to run after missed webhooks (a deploy outage, a rotated secret). Safe to run
    /// any time: rows only move to Stripe's current state.
    pub async fn reconcile(&self) -> Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        let mut after = None;
        loop {
            let page = self.inner.db.list_stripe_customers(after, 100).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for user in &page {
                let customer = user.stripe_customer_id.as_deref().unwrap_or_default();
                report.customers += 1;
                match self.sync_customer(user.id, customer).await {
                    Ok(written) => report.subscriptions += written,
                    Err(error) => {
                        report.failed += 1;
                        tracing::warn!(user_id = %user.id, %error, "reconcile: customer not synced");
                    }
                }
            }
        }
        tracing::info!(?report, "reconciled subscriptions with Stripe");
        Ok(report)
    }

    async fn live_subscription(&self, user_id: Uuid) -> Result<Subscription> {
        self.get_subscription(user_id)
            .await?
            .filter(|s| LIVE_STATUSES.contains(&s.status.as_str()))
            .ok_or(BillingError::NotFound {
                what: "subscription",
            })
    }

    /// Stores every subscription of `customer` as Stripe has it now; returns how many.
    async fn sync_customer(&self, user_id: Uuid, customer: &str) -> Result<usize> {
        let mut written = 0;
        let mut starting_after: Option<String> = None;
        loop {
            let mut request = ListSubscription::new()
                .customer(customer)
                .status(ListSubscriptionStatus::All)
                .limit(100);
            if let Some(cursor) = &starting_after {
                request = request.starting_after(cursor.as_str());
            }
            let page: List<types::Subscription> = self.inner.stripe.send(&request, None).await?;
            let now = tollbooth_db::now();
            for subscription in &page.data {
                self.store(user_id, subscription, now).await?;
                written += 1;
            }
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => starting_after = Some(last.id.clone()),
                _ => return Ok(written),
            }
        }
    }

    /// Writes Stripe's view of a subscription fetched at `fetched_at`.
    async fn store(
        &self,
        user_id: Uuid,
        subscription: &types::Subscription,
        fetched_at: DateTime<Utc>,
    ) -> Result<Subscription> {
        let upsert = to_upsert(&self.inner.config, user_id, subscription, fetched_at);
        Ok(self
            .inner
            .db
            .upsert_subscription(upsert)
            .await?
            .into_inner())
    }
}

/// The local row for a Stripe subscription, as of `event_at`.
pub(crate) fn to_upsert(
    config: &BillingConfig,
    user_id: Uuid,
    s: &types::Subscription,
    event_at: DateTime<Utc>,
) -> SubscriptionUpsert {
    let item = s.first_item();
    let price = item.map(|i| i.price.id.clone());
    let plan = price
        .as_deref()
        .and_then(|p| config.plan_of(p))
        .map_or("unknown", Plan::as_str);
    let mut upsert =
        SubscriptionUpsert::new(user_id, &s.id, s.customer.id(), plan, &s.status, event_at);
    upsert.stripe_price_id = price;
    upsert.quantity = item
        .and_then(|i| i.quantity)
        .and_then(|q| i32::try_from(q).ok())
        .unwrap_or(1);
    upsert.trial_end = s.trial_end.and_then(timestamp);
    upsert.current_period_end = s.period_end();
    upsert.cancel_at_period_end = s.cancel_at_period_end;
    upsert.canceled_at = s.canceled_at.and_then(timestamp);
    upsert.ended_at = s.ended_at.and_then(timestamp);
    upsert
}
