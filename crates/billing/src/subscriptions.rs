//! Subscriptions: the local mirror, which one grants access, re-syncs from Stripe, cancel and
//! resume, duplicates, reconciliation.

use chrono::{DateTime, Utc};
use stripe_billing::subscription::{
    CancelSubscription, ListSubscription, ListSubscriptionStatus, RetrieveSubscription,
    UpdateSubscription,
};
use stripe_core::refund::{CreateRefund, CreateRefundReason};
use tollbooth_db::{
    BillingRepo, Customer, OrganizationRepo, Subscription, SubscriptionUpsert, UNKNOWN_PLAN,
    UserRepo,
};

use crate::config::BillingConfig;
use crate::error::{BillingError, Result};
use crate::plan::Plan;
use crate::service::Billing;
use crate::status::SubscriptionStatus;
use crate::stripe::types::{self, Expandable, LatestInvoice, List, timestamp};

/// What [`Billing::reconcile`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// Customers whose subscriptions were listed.
    pub customers: usize,
    /// Subscription rows written from Stripe's current state.
    pub subscriptions: usize,
    /// Duplicate subscriptions cancelled (and refunded).
    pub duplicates_cancelled: usize,
    /// Customers that could not be synced (logged; the next run retries them).
    pub failed: usize,
}

/// The status of a row.
pub(crate) fn status_of(subscription: &Subscription) -> SubscriptionStatus {
    SubscriptionStatus::parse(&subscription.status)
}

/// Of a customer's subscriptions, the one that decides their plan: the one granting access
/// (a flagged duplicate only if nothing else does), else the one still live, else the newest.
/// Among equals the earliest created wins — the one a duplicate duplicates.
pub(crate) fn primary(
    config: &BillingConfig,
    subscriptions: Vec<Subscription>,
    now: DateTime<Utc>,
) -> Option<Subscription> {
    let grants = |s: &Subscription| {
        status_of(s).grants_access(s.status_changed_at, now, config.past_due_grace)
    };
    let rank = |s: &Subscription| (!grants(s), s.duplicate_of.is_some());
    let best = subscriptions
        .iter()
        .filter(|s| status_of(s).blocks_checkout())
        .min_by_key(|s| (rank(s), creation_order(s)))
        .cloned();
    // Nothing live: the newest (the list is newest first), so a past subscriber sees it.
    best.or_else(|| subscriptions.into_iter().next())
}

/// Creation order of two subscriptions of one customer: Stripe's `created`, then the id
/// (rows from before 0.2 have no `created` and count as the oldest).
pub(crate) fn creation_order(s: &Subscription) -> (Option<DateTime<Utc>>, String) {
    (s.stripe_created_at, s.stripe_subscription_id.clone())
}

impl Billing {
    /// The customer's current subscription from the local database — what decides their
    /// plan (see [`current_plan`](Self::current_plan)); `None` for one who never subscribed.
    /// [`list_subscriptions`](Self::list_subscriptions) shows every one. `customer` is a
    /// [`Customer`] — a user (a bare user id is one) or an organization — here and in every
    /// subscription method.
    pub async fn get_subscription(
        &self,
        customer: impl Into<Customer>,
    ) -> Result<Option<Subscription>> {
        let subscriptions = self.inner.db.list_subscriptions(customer.into()).await?;
        Ok(primary(
            &self.inner.config,
            subscriptions,
            tollbooth_db::now(),
        ))
    }

    /// Every subscription of the customer, newest first — including a second live one
    /// (flagged `duplicate_of`), which [`get_subscription`](Self::get_subscription) never
    /// hides from a caller that lists.
    pub async fn list_subscriptions(
        &self,
        customer: impl Into<Customer>,
    ) -> Result<Vec<Subscription>> {
        Ok(self.inner.db.list_subscriptions(customer.into()).await?)
    }

    /// The plan the customer is on now — its entitlements included: the plan of their current
    /// subscription if its status grants access ([`SubscriptionStatus::grants_access`]:
    /// trialing, active, past due within the grace period), else the free plan. A
    /// subscription to a plan the catalog no longer has grants the free plan (logged).
    pub async fn current_plan(&self, customer: impl Into<Customer>) -> Result<Plan> {
        let customer = customer.into();
        let subscriptions = self.inner.db.list_subscriptions(customer).await?;
        Ok(self.plan_in_force(customer, subscriptions))
    }

    /// [`current_plan`](Self::current_plan) of the customer whose subscriptions these are.
    pub(crate) fn plan_in_force(
        &self,
        customer: Customer,
        subscriptions: Vec<Subscription>,
    ) -> Plan {
        let now = tollbooth_db::now();
        let config = &self.inner.config;
        let subscribed = primary(config, subscriptions, now).filter(|s| {
            status_of(s).grants_access(s.status_changed_at, now, config.past_due_grace)
        });
        let plan = subscribed.and_then(|s| {
            let plan = config.plan(&s.plan);
            if plan.is_none() {
                tracing::error!(%customer, subscription = %s.stripe_subscription_id, plan = %s.plan,
                    "a live subscription to a plan the catalog does not have");
            }
            plan
        });
        plan.unwrap_or(config.free_plan()).clone()
    }

    /// Re-reads the customer's subscriptions from Stripe and stores them — for the checkout
    /// success page (the UI is right before the webhook lands) and for repairs.
    pub async fn sync_subscription(
        &self,
        customer: impl Into<Customer>,
    ) -> Result<Option<Subscription>> {
        let account = self.account(customer.into()).await?;
        let Some(stripe_customer) = account.stripe_customer_id else {
            return Ok(None);
        };
        self.sync_customer(account.customer, &stripe_customer)
            .await?;
        if let Customer::Organization(organization_id) = account.customer {
            // Back from Checkout, the subscription is stored before its webhook arrives
            // (which is then stale and syncs nothing): its seats are synced here.
            if let Err(error) = self.sync_seats(organization_id).await {
                tracing::warn!(%organization_id, %error,
                    "seats not synced yet; the next change or `reconcile` syncs them");
            }
        }
        self.get_subscription(account.customer).await
    }

    /// Cancels the customer's current subscription: at the end of the paid period (access
    /// stays until then), or immediately. Answers what Stripe holds afterwards, even when
    /// Stripe's answer to the change itself could not be read.
    pub async fn cancel_subscription(
        &self,
        customer: impl Into<Customer>,
        at_period_end: bool,
    ) -> Result<Subscription> {
        let customer = customer.into();
        let current = self.live_subscription(customer).await?;
        let id = current.stripe_subscription_id.as_str();
        let stripe = &self.inner.stripe;
        let read_back = RetrieveSubscription::new(id);
        let updated: types::Subscription = if at_period_end {
            let request = UpdateSubscription::new(id).cancel_at_period_end(true);
            stripe.mutate(&request, None, &read_back).await?
        } else {
            stripe
                .mutate(&CancelSubscription::new(id), None, &read_back)
                .await?
        };
        self.store(customer, &updated, tollbooth_db::now()).await
    }

    /// Undoes a cancellation scheduled for the period end.
    pub async fn resume_subscription(&self, customer: impl Into<Customer>) -> Result<Subscription> {
        let customer = customer.into();
        let current = self.live_subscription(customer).await?;
        if !current.cancel_at_period_end {
            return Ok(current);
        }
        let id = current.stripe_subscription_id.as_str();
        let request = UpdateSubscription::new(id).cancel_at_period_end(false);
        let updated: types::Subscription = self
            .inner
            .stripe
            .mutate(&request, None, &RetrieveSubscription::new(id))
            .await?;
        self.store(customer, &updated, tollbooth_db::now()).await
    }

    /// Re-lists the subscriptions of every known customer — users' and organizations' —
    /// and repairs local rows (the resync to run after missed webhooks: a deploy outage, a
    /// rotated secret), cancels flagged duplicates still live (when configured to), and
    /// syncs organizations' seats ([`sync_seats`](Self::sync_seats)). Safe to run any
    /// time: rows only move to Stripe's current state.
    pub async fn reconcile(&self) -> Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        let db = &self.inner.db;
        let mut after = None;
        loop {
            let page = db.list_stripe_customers(after, 100).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for user in page {
                let stripe_customer = user.stripe_customer_id.unwrap_or_default();
                self.reconcile_customer(Customer::User(user.id), &stripe_customer, &mut report)
                    .await;
            }
        }
        let mut after = None;
        loop {
            let page = db.list_organization_customers(after, 100).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for org in page {
                let stripe_customer = org.stripe_customer_id.unwrap_or_default();
                let customer = Customer::Organization(org.id);
                self.reconcile_customer(customer, &stripe_customer, &mut report)
                    .await;
            }
        }
        tracing::info!(?report, "reconciled subscriptions with Stripe");
        Ok(report)
    }

    /// One customer's part of [`reconcile`](Self::reconcile), counted in `report`.
    async fn reconcile_customer(
        &self,
        customer: Customer,
        stripe_customer: &str,
        report: &mut ReconcileReport,
    ) {
        report.customers += 1;
        let synced = async {
            let written = self.sync_customer(customer, stripe_customer).await?;
            let cancelled = self.cancel_flagged_duplicates(customer).await?;
            if let Customer::Organization(organization_id) = customer {
                self.sync_seats(organization_id).await?;
            }
            Ok::<_, BillingError>((written, cancelled))
        };
        match synced.await {
            Ok((written, cancelled)) => {
                report.subscriptions += written;
                report.duplicates_cancelled += cancelled;
            }
            Err(error) => {
                report.failed += 1;
                tracing::warn!(%customer, %error, "reconcile: customer not synced");
            }
        }
    }

    async fn live_subscription(&self, customer: Customer) -> Result<Subscription> {
        self.get_subscription(customer)
            .await?
            .filter(|s| status_of(s).blocks_checkout())
            .ok_or(BillingError::NotFound {
                what: "subscription",
            })
    }

    /// Cancels, now, every flagged duplicate of the customer that is still live, refunding what
    /// its latest invoice collected (a duplicate is a subscription nobody meant to pay for
    /// twice). Returns how many. A no-op unless `cancel_duplicate_subscriptions` is on.
    pub(crate) async fn cancel_flagged_duplicates(&self, customer: Customer) -> Result<usize> {
        if !self.inner.config.cancel_duplicate_subscriptions {
            return Ok(0);
        }
        let mut cancelled = 0;
        for duplicate in self.inner.db.list_subscriptions(customer).await? {
            if duplicate.duplicate_of.is_none() || !status_of(&duplicate).blocks_checkout() {
                continue;
            }
            self.cancel_duplicate(customer, &duplicate.stripe_subscription_id)
                .await?;
            cancelled += 1;
        }
        Ok(cancelled)
    }

    async fn cancel_duplicate(&self, customer: Customer, id: &str) -> Result<()> {
        let expand = || vec!["latest_invoice".to_owned()];
        let stripe = &self.inner.stripe;
        // No proration: the customer is refunded what the duplicate collected, in full.
        let request = CancelSubscription::new(id).prorate(false).expand(expand());
        let read_back = RetrieveSubscription::new(id).expand(expand());
        let cancelled: types::Subscription = stripe.mutate(&request, None, &read_back).await?;
        self.store(customer, &cancelled, tollbooth_db::now())
            .await?;
        let paid = match &cancelled.latest_invoice {
            Some(LatestInvoice::Object(invoice)) if invoice.amount_paid > 0 => invoice,
            _ => {
                tracing::warn!(subscription = %id, "duplicate subscription cancelled; nothing was paid");
                return Ok(());
            }
        };
        let Some(intent) = paid.payment_intent.as_ref().map(Expandable::id) else {
            tracing::error!(subscription = %id, amount_paid = paid.amount_paid,
                "duplicate subscription cancelled, but its payment cannot be found to refund: refund it in the Stripe dashboard");
            return Ok(());
        };
        let refund = CreateRefund::new()
            .payment_intent(intent)
            .reason(CreateRefundReason::Duplicate);
        let _: serde_json::Value = stripe
            .send(&refund, Some(format!("refund-duplicate/{id}")))
            .await?;
        tracing::warn!(subscription = %id, payment_intent = %intent, amount = paid.amount_paid,
            "duplicate subscription cancelled and refunded");
        Ok(())
    }

    /// Stores every subscription of `customer` as Stripe has it now; returns how many.
    pub(crate) async fn sync_customer(
        &self,
        customer: Customer,
        stripe_customer: &str,
    ) -> Result<usize> {
        let mut written = 0;
        let mut starting_after: Option<String> = None;
        loop {
            let mut request = ListSubscription::new()
                .customer(stripe_customer)
                .status(ListSubscriptionStatus::All)
                .limit(100);
            if let Some(cursor) = &starting_after {
                request = request.starting_after(cursor.as_str());
            }
            let page: List<types::Subscription> = self.inner.stripe.send(&request, None).await?;
            let now = tollbooth_db::now();
            for subscription in &page.data {
                self.store(customer, subscription, now).await?;
                written += 1;
            }
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => starting_after = Some(last.id.clone()),
                _ => return Ok(written),
            }
        }
    }

    /// Writes Stripe's current view of a subscription, read at `fetched_at`.
    pub(crate) async fn store(
        &self,
        customer: Customer,
        subscription: &types::Subscription,
        fetched_at: DateTime<Utc>,
    ) -> Result<Subscription> {
        let mut upsert = to_upsert(&self.inner.config, customer, subscription, fetched_at);
        upsert.fetched = true;
        let written = self.inner.db.upsert_subscription(upsert).await?;
        let applied = written.is_applied();
        let row = written.into_inner();
        if applied {
            if let Customer::Organization(organization_id) = customer {
                crate::seats::write_seat_limit(self, &self.inner.db, organization_id).await?;
            }
            self.tell_changed(&row).await;
        }
        Ok(row)
    }

    /// Tells the application's hooks that `row` changed (it has committed).
    pub(crate) async fn tell_changed(&self, row: &Subscription) {
        let event = tollbooth_core::DomainEvent::SubscriptionChanged {
            customer: row.customer(),
            subscription: row.stripe_subscription_id.clone(),
            status: row.status.clone(),
            plan: row.plan.clone(),
        };
        self.inner.config.hooks.notify(event).await;
    }
}

/// The local row for a Stripe subscription, as of `event_at`. A price the configuration
/// maps neither directly nor by product is logged as an error and written as
/// [`UNKNOWN_PLAN`], which keeps the plan the row already had.
pub(crate) fn to_upsert(
    config: &BillingConfig,
    customer: Customer,
    s: &types::Subscription,
    event_at: DateTime<Utc>,
) -> SubscriptionUpsert {
    let item = s.first_item();
    let price = item.map(|i| i.price.id.clone());
    let product = item
        .and_then(|i| i.price.product.as_ref())
        .map(Expandable::id);
    let plan = match price.as_deref() {
        Some(price_id) => match config.plan_of(price_id, product) {
            Some(plan) => plan.id(),
            None => {
                tracing::error!(subscription = %s.id, price = %price_id, product = ?product,
                    "subscription to a price no plan maps (add it to a plan: Plan::legacy_price or Plan::product); its plan is left as it was");
                UNKNOWN_PLAN
            }
        },
        None => UNKNOWN_PLAN,
    };
    let mut upsert =
        SubscriptionUpsert::new(customer, &s.id, s.customer.id(), plan, &s.status, event_at);
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
    upsert.stripe_created_at = s.created.and_then(timestamp);
    upsert
}
