//! Stripe mirror: catalog (products, prices), subscriptions and one-time payments. Every
//! write is an upsert keyed on the Stripe id, so webhook deliveries in any order converge.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use tollbooth_core::Customer;
use uuid::Uuid;

use crate::db::sealed::Executor;
use crate::entities::{checkout_session, payment, price, product, subscription};
use crate::error::{DbError, Result};
use crate::time::{micros, micros_opt, now};
use crate::{CheckoutSession, Payment, Price, Product, Subscription};

/// A product as Stripe describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProductUpsert {
    /// `prod_…`.
    pub stripe_product_id: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Purchasable.
    pub active: bool,
    /// Stripe metadata.
    pub metadata: Option<serde_json::Value>,
}

impl ProductUpsert {
    /// An active product without description or metadata.
    pub fn new(stripe_product_id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            stripe_product_id: stripe_product_id.into(),
            name: name.into(),
            description: None,
            active: true,
            metadata: None,
        }
    }
}

/// A price as Stripe describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PriceUpsert {
    /// `price_…`.
    pub stripe_price_id: String,
    /// Local product id (upsert the product first).
    pub product_id: Uuid,
    /// ISO 4217, lower-case.
    pub currency: String,
    /// Minor units; `None` for custom or metered prices.
    pub unit_amount: Option<i64>,
    /// `month`, `year`, …; `None` for one-time prices.
    pub recurring_interval: Option<String>,
    /// Intervals between charges.
    pub recurring_interval_count: Option<i32>,
    /// Purchasable.
    pub active: bool,
}

impl PriceUpsert {
    /// An active one-time price of `unit_amount` minor units of `currency`.
    pub fn new(
        stripe_price_id: impl Into<String>,
        product_id: Uuid,
        currency: impl Into<String>,
        unit_amount: i64,
    ) -> Self {
        Self {
            stripe_price_id: stripe_price_id.into(),
            product_id,
            currency: currency.into(),
            unit_amount: Some(unit_amount),
            recurring_interval: None,
            recurring_interval_count: None,
            active: true,
        }
    }

    /// Makes it a recurring price (`month`, `year`, …).
    pub fn recurring(mut self, interval: impl Into<String>, count: i32) -> Self {
        self.recurring_interval = Some(interval.into());
        self.recurring_interval_count = Some(count);
        self
    }
}

/// A subscription's state as of one Stripe event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionUpsert {
    /// Subscriber (kept from the first write).
    pub customer: Customer,
    /// `sub_…`.
    pub stripe_subscription_id: String,
    /// `cus_…`.
    pub stripe_customer_id: String,
    /// Price of the (first) item.
    pub stripe_price_id: Option<String>,
    /// Plan name.
    pub plan: String,
    /// Stripe status, verbatim.
    pub status: String,
    /// Seats.
    pub quantity: i32,
    /// Trial end.
    pub trial_end: Option<DateTime<Utc>>,
    /// Paid-period end.
    pub current_period_end: Option<DateTime<Utc>>,
    /// Cancels at period end.
    pub cancel_at_period_end: bool,
    /// Cancellation request time.
    pub canceled_at: Option<DateTime<Utc>>,
    /// End time.
    pub ended_at: Option<DateTime<Utc>>,
    /// Stripe's `created` of the subscription itself.
    pub stripe_created_at: Option<DateTime<Utc>>,
    /// Stripe `created` of the event this state comes from — or, when [`fetched`](Self::fetched),
    /// when it was read from Stripe.
    pub event_at: DateTime<Utc>,
    /// Read from Stripe's API rather than from an event: Stripe's current state, so it also
    /// applies over a row of the same time (which an event does not: see
    /// [`BillingRepo::upsert_subscription`]).
    pub fetched: bool,
}

impl SubscriptionUpsert {
    /// A subscription state with one seat and no trial or cancellation; set the rest by field.
    pub fn new(
        customer: Customer,
        stripe_subscription_id: impl Into<String>,
        stripe_customer_id: impl Into<String>,
        plan: impl Into<String>,
        status: impl Into<String>,
        event_at: DateTime<Utc>,
    ) -> Self {
        Self {
            customer,
            stripe_subscription_id: stripe_subscription_id.into(),
            stripe_customer_id: stripe_customer_id.into(),
            stripe_price_id: None,
            plan: plan.into(),
            status: status.into(),
            quantity: 1,
            trial_end: None,
            current_period_end: None,
            cancel_at_period_end: false,
            canceled_at: None,
            ended_at: None,
            stripe_created_at: None,
            event_at,
            fetched: false,
        }
    }

    /// Whether `row` already holds exactly this state (the fields Stripe reports).
    fn matches(&self, row: &Subscription) -> bool {
        let plan_matches = self.plan == row.plan || self.plan == UNKNOWN_PLAN;
        plan_matches
            && self.stripe_price_id == row.stripe_price_id
            && self.status == row.status
            && self.quantity == row.quantity
            && micros_opt(self.trial_end) == row.trial_end
            && micros_opt(self.current_period_end) == row.current_period_end
            && self.cancel_at_period_end == row.cancel_at_period_end
            && micros_opt(self.canceled_at) == row.canceled_at
            && micros_opt(self.ended_at) == row.ended_at
    }
}

/// The plan of a price the configuration does not map. Written on a new row; on an
/// existing row the plan already known is kept, so an unmapped price never downgrades.
pub const UNKNOWN_PLAN: &str = "unknown";

/// What an ordered upsert did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upsert<T> {
    /// The row now reflects the write.
    Applied(T),
    /// The row already reflected a newer event; it is returned unchanged.
    Stale(T),
    /// The row reflects another event of the same time (Stripe's `created` has one-second
    /// resolution) with a different state: neither is known to be the newer, so nothing was
    /// written. Read the object from Stripe and write that (`fetched`).
    Tied(T),
}

impl<T> Upsert<T> {
    /// The row, whichever happened.
    pub fn into_inner(self) -> T {
        match self {
            Self::Applied(row) | Self::Stale(row) | Self::Tied(row) => row,
        }
    }

    /// Whether the write was applied.
    pub fn is_applied(&self) -> bool {
        matches!(self, Self::Applied(_))
    }
}

/// PaymentIntent statuses that never change again.
pub const PAYMENT_FINAL_STATUSES: [&str; 2] = ["succeeded", "canceled"];

/// A one-time payment as Stripe describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaymentUpsert {
    /// `pi_…`.
    pub stripe_payment_intent_id: String,
    /// Payer, when known (an update never clears it).
    pub user_id: Option<Uuid>,
    /// Minor units (> 0).
    pub amount: i64,
    /// ISO 4217, lower-case.
    pub currency: String,
    /// Stripe status, verbatim.
    pub status: String,
    /// Stripe metadata (`None` keeps the row's).
    pub metadata: Option<serde_json::Value>,
    /// Stripe `created` of the event this state comes from, or when it was read from Stripe.
    pub event_at: DateTime<Utc>,
    /// Read from Stripe's API (Stripe's current state) rather than from an event.
    pub fetched: bool,
}

impl PaymentUpsert {
    /// A payment of `amount` minor units of `currency` in `status`, as of now.
    pub fn new(
        stripe_payment_intent_id: impl Into<String>,
        amount: i64,
        currency: impl Into<String>,
        status: impl Into<String>,
    ) -> Self {
        Self {
            stripe_payment_intent_id: stripe_payment_intent_id.into(),
            user_id: None,
            amount,
            currency: currency.into(),
            status: status.into(),
            metadata: None,
            event_at: now(),
            fetched: false,
        }
    }
}

/// A Stripe Checkout session just opened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewCheckoutSession {
    /// Who is subscribing.
    pub customer: Customer,
    /// The plan.
    pub plan: String,
    /// `cs_…`.
    pub stripe_checkout_session_id: String,
    /// Stripe's page.
    pub url: String,
    /// When Stripe expires it.
    pub expires_at: DateTime<Utc>,
}

impl NewCheckoutSession {
    /// A session of `customer` for `plan`.
    pub fn new(
        customer: Customer,
        plan: impl Into<String>,
        stripe_checkout_session_id: impl Into<String>,
        url: impl Into<String>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            customer,
            plan: plan.into(),
            stripe_checkout_session_id: stripe_checkout_session_id.into(),
            url: url.into(),
            expires_at,
        }
    }
}

/// The Stripe mirror.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait BillingRepo: Send + Sync {
    /// Inserts or updates a product by Stripe id.
    async fn upsert_product(&self, product: ProductUpsert) -> Result<Product>;
    /// Inserts or updates a price by Stripe id.
    async fn upsert_price(&self, price: PriceUpsert) -> Result<Price>;
    /// The price with this Stripe id.
    async fn find_price(&self, stripe_price_id: &str) -> Result<Option<Price>>;
    /// Purchasable prices, by product then amount.
    async fn list_active_prices(&self) -> Result<Vec<Price>>;
    /// Inserts or updates a subscription by Stripe id, if `event_at` is newer than what the
    /// row reflects; one atomic statement (`ON CONFLICT DO UPDATE … WHERE`).
    ///
    /// - An older event is [`Upsert::Stale`].
    /// - An event of the **same** time is applied only when it changes nothing (a
    ///   redelivery); otherwise it is [`Upsert::Tied`] and nothing is written: a tie must
    ///   never move a subscription backwards, so the caller reads Stripe's current state and
    ///   writes it with `fetched`, which does apply at an equal time.
    /// - An [`UNKNOWN_PLAN`] keeps the plan the row already has; `status_changed_at` moves
    ///   only when the status does; `duplicate_of` is never touched.
    async fn upsert_subscription(
        &self,
        subscription: SubscriptionUpsert,
    ) -> Result<Upsert<Subscription>>;
    /// Marks a subscription as a duplicate of `duplicate_of` (another live subscription of
    /// the same customer); `None` if there is no such row.
    async fn flag_duplicate_subscription(
        &self,
        stripe_subscription_id: &str,
        duplicate_of: &str,
    ) -> Result<Option<Subscription>>;
    /// The subscription with this Stripe id.
    async fn find_subscription(&self, stripe_subscription_id: &str)
    -> Result<Option<Subscription>>;
    /// The customer's subscriptions, newest first.
    async fn list_subscriptions(&self, customer: Customer) -> Result<Vec<Subscription>>;
    /// Inserts or updates a payment by PaymentIntent id. A payment already in a final
    /// status ([`PAYMENT_FINAL_STATUSES`]) is not changed ([`Upsert::Stale`]); a final status
    /// applies over any other; otherwise the newer state wins as for subscriptions (older:
    /// `Stale`; same time, other status: `Tied` unless `fetched`). An absent user or
    /// metadata keeps the row's.
    async fn upsert_payment(&self, payment: PaymentUpsert) -> Result<Upsert<Payment>>;
    /// Records that `amount_refunded` minor units of the payment have been refunded in all
    /// (Stripe reports the running total); the stored total never decreases, so refund
    /// events in any order end at the largest. `None` if there is no such payment.
    async fn record_payment_refund(
        &self,
        stripe_payment_intent_id: &str,
        amount_refunded: i64,
    ) -> Result<Option<Payment>>;
    /// The payment with this PaymentIntent id.
    async fn find_payment(&self, stripe_payment_intent_id: &str) -> Result<Option<Payment>>;
    /// The user's payments, newest first.
    async fn list_payments(&self, user_id: Uuid) -> Result<Vec<Payment>>;
    /// The payment, locked against other writers until the transaction ends (`SELECT …
    /// FOR UPDATE` on PostgreSQL; SQLite runs one writing transaction at a time anyway).
    async fn lock_payment(&self, stripe_payment_intent_id: &str) -> Result<Option<Payment>>;
    /// Stores the booking link made for a payment; `None` if there is no such payment.
    async fn set_payment_booking_url(
        &self,
        stripe_payment_intent_id: &str,
        booking_url: &str,
    ) -> Result<Option<Payment>>;
    /// Records a Checkout session just opened (a second record of one session is a no-op).
    async fn insert_checkout_session(&self, session: NewCheckoutSession) -> Result<()>;
    /// The customer's newest Checkout session for `plan` that is neither closed nor expiring
    /// before `open_until`.
    async fn find_open_checkout_session(
        &self,
        customer: Customer,
        plan: &str,
        open_until: DateTime<Utc>,
    ) -> Result<Option<CheckoutSession>>;
    /// Marks a Checkout session completed or expired; `false` if unknown or already closed.
    async fn close_checkout_session(
        &self,
        stripe_checkout_session_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// How many of the customer's Checkout sessions for `plan` have closed.
    async fn count_closed_checkout_sessions(&self, customer: Customer, plan: &str) -> Result<u64>;
}

#[async_trait]
impl<E: Executor> BillingRepo for E {
    async fn upsert_product(&self, p: ProductUpsert) -> Result<Product> {
        use product::Column;
        let at = now();
        let model = product::ActiveModel {
            id: Set(Uuid::now_v7()),
            stripe_product_id: Set(p.stripe_product_id),
            name: Set(p.name),
            description: Set(p.description),
            active: Set(p.active),
            metadata: Set(p.metadata),
            created_at: Set(at),
            updated_at: Set(at),
        };
        let on_conflict = OnConflict::column(Column::StripeProductId)
            .update_columns([
                Column::Name,
                Column::Description,
                Column::Active,
                Column::Metadata,
                Column::UpdatedAt,
            ])
            .to_owned();
        product::Entity::insert(model)
            .on_conflict(on_conflict)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on("product"))
    }

    async fn upsert_price(&self, p: PriceUpsert) -> Result<Price> {
        use price::Column;
        let at = now();
        let model = price::ActiveModel {
            id: Set(Uuid::now_v7()),
            stripe_price_id: Set(p.stripe_price_id),
            product_id: Set(p.product_id),
            currency: Set(p.currency.to_ascii_lowercase()),
            unit_amount: Set(p.unit_amount),
            recurring_interval: Set(p.recurring_interval),
            recurring_interval_count: Set(p.recurring_interval_count),
            active: Set(p.active),
            created_at: Set(at),
            updated_at: Set(at),
        };
        let on_conflict = OnConflict::column(Column::StripePriceId)
            .update_columns([
                Column::ProductId,
                Column::Currency,
                Column::UnitAmount,
                Column::RecurringInterval,
                Column::RecurringIntervalCount,
                Column::Active,
                Column::UpdatedAt,
            ])
            .to_owned();
        price::Entity::insert(model)
            .on_conflict(on_conflict)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on("price"))
    }

    async fn find_price(&self, stripe_price_id: &str) -> Result<Option<Price>> {
        price::Entity::find()
            .filter(price::Column::StripePriceId.eq(stripe_price_id))
            .one(self.conn())
            .await
            .map_err(DbError::on("price"))
    }

    async fn list_active_prices(&self) -> Result<Vec<Price>> {
        price::Entity::find()
            .filter(price::Column::Active.eq(true))
            .order_by_asc(price::Column::ProductId)
            .order_by_asc(price::Column::UnitAmount)
            .all(self.conn())
            .await
            .map_err(DbError::on("price"))
    }

    async fn upsert_subscription(&self, s: SubscriptionUpsert) -> Result<Upsert<Subscription>> {
        use subscription::Column;
        let at = now();
        let event_at = micros(s.event_at);
        let model = subscription::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(s.customer.user()),
            organization_id: Set(s.customer.organization()),
            stripe_subscription_id: Set(s.stripe_subscription_id.clone()),
            stripe_customer_id: Set(s.stripe_customer_id.clone()),
            stripe_price_id: Set(s.stripe_price_id.clone()),
            plan: Set(s.plan.clone()),
            status: Set(s.status.clone()),
            quantity: Set(s.quantity),
            trial_end: Set(micros_opt(s.trial_end)),
            current_period_end: Set(micros_opt(s.current_period_end)),
            cancel_at_period_end: Set(s.cancel_at_period_end),
            canceled_at: Set(micros_opt(s.canceled_at)),
            ended_at: Set(micros_opt(s.ended_at)),
            last_event_at: Set(event_at),
            stripe_created_at: Set(micros_opt(s.stripe_created_at)),
            status_changed_at: Set(Some(event_at)),
            duplicate_of: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        };
        let row_at = Expr::col((subscription::Entity, Column::LastEventAt));
        let incoming_at = Expr::col((Alias::new("excluded"), Column::LastEventAt));
        let newer = if s.fetched {
            row_at.lte(incoming_at)
        } else {
            row_at.lt(incoming_at)
        };
        let on_conflict = OnConflict::column(Column::StripeSubscriptionId)
            .update_columns([
                Column::StripePriceId,
                Column::Status,
                Column::Quantity,
                Column::TrialEnd,
                Column::CurrentPeriodEnd,
                Column::CancelAtPeriodEnd,
                Column::CanceledAt,
                Column::EndedAt,
                Column::LastEventAt,
                Column::UpdatedAt,
            ])
            .value(
                Column::Plan,
                Expr::cust(format!(
                    "CASE WHEN excluded.plan = '{UNKNOWN_PLAN}' THEN subscriptions.plan ELSE excluded.plan END"
                )),
            )
            .value(
                Column::StatusChangedAt,
                Expr::cust(
                    "CASE WHEN subscriptions.status = excluded.status \
                     THEN COALESCE(subscriptions.status_changed_at, subscriptions.last_event_at) \
                     ELSE excluded.status_changed_at END",
                ),
            )
            .value(
                Column::StripeCreatedAt,
                Expr::cust("COALESCE(excluded.stripe_created_at, subscriptions.stripe_created_at)"),
            )
            .action_and_where(newer)
            .to_owned();
        let written = subscription::Entity::insert(model)
            .on_conflict(on_conflict)
            .exec_without_returning(self.conn())
            .await
            .map_err(DbError::on("subscription"))?;
        let row = self
            .find_subscription(&s.stripe_subscription_id)
            .await?
            .ok_or_else(|| DbError::Query {
                source: format!(
                    "subscription {} vanished after its upsert",
                    s.stripe_subscription_id
                )
                .into(),
            })?;
        Ok(if written == 1 {
            Upsert::Applied(row)
        } else if row.last_event_at != event_at {
            Upsert::Stale(row)
        } else if s.matches(&row) {
            // A redelivery of the state the row holds.
            Upsert::Applied(row)
        } else {
            Upsert::Tied(row)
        })
    }

    async fn flag_duplicate_subscription(
        &self,
        stripe_subscription_id: &str,
        duplicate_of: &str,
    ) -> Result<Option<Subscription>> {
        let updated = subscription::Entity::update_many()
            .col_expr(subscription::Column::DuplicateOf, Expr::value(duplicate_of))
            .col_expr(subscription::Column::UpdatedAt, Expr::value(now()))
            .filter(subscription::Column::StripeSubscriptionId.eq(stripe_subscription_id))
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on("subscription"))?;
        Ok(updated.into_iter().next())
    }

    async fn find_subscription(
        &self,
        stripe_subscription_id: &str,
    ) -> Result<Option<Subscription>> {
        subscription::Entity::find()
            .filter(subscription::Column::StripeSubscriptionId.eq(stripe_subscription_id))
            .one(self.conn())
            .await
            .map_err(DbError::on("subscription"))
    }

    async fn list_subscriptions(&self, customer: Customer) -> Result<Vec<Subscription>> {
        let owner = match customer {
            Customer::User(id) => subscription::Column::UserId.eq(id),
            Customer::Organization(id) => subscription::Column::OrganizationId.eq(id),
        };
        subscription::Entity::find()
            .filter(owner)
            .order_by_desc(subscription::Column::CreatedAt)
            .order_by_desc(subscription::Column::Id)
            .all(self.conn())
            .await
            .map_err(DbError::on("subscription"))
    }

    async fn upsert_payment(&self, p: PaymentUpsert) -> Result<Upsert<Payment>> {
        use payment::Column;
        let at = now();
        let event_at = micros(p.event_at);
        let mut columns = vec![
            Column::Amount,
            Column::Currency,
            Column::Status,
            Column::LastEventAt,
            Column::UpdatedAt,
        ];
        if p.user_id.is_some() {
            columns.push(Column::UserId);
        }
        if p.metadata.is_some() {
            columns.push(Column::Metadata);
        }
        let model = payment::ActiveModel {
            id: Set(Uuid::now_v7()),
            stripe_payment_intent_id: Set(p.stripe_payment_intent_id.clone()),
            user_id: Set(p.user_id),
            amount: Set(p.amount),
            currency: Set(p.currency.to_ascii_lowercase()),
            status: Set(p.status.clone()),
            metadata: Set(p.metadata),
            booking_url: Set(None),
            amount_refunded: Set(0),
            last_event_at: Set(Some(event_at)),
            created_at: Set(at),
            updated_at: Set(at),
        };
        // `succeeded` and `canceled` are final in Stripe: nothing after them applies (a late
        // `payment_intent.payment_failed`, a slow confirm response), and they apply over any
        // other state whatever its time. Between other states the newer wins.
        let row_at = Expr::col((payment::Entity, Column::LastEventAt));
        let incoming_at = Expr::col((Alias::new("excluded"), Column::LastEventAt));
        let newer = if p.fetched {
            row_at.clone().lte(incoming_at)
        } else {
            row_at.clone().lt(incoming_at)
        };
        let applies = Expr::col((payment::Entity, Column::Status))
            .is_not_in(PAYMENT_FINAL_STATUSES)
            .and(
                Expr::col((Alias::new("excluded"), Column::Status))
                    .is_in(PAYMENT_FINAL_STATUSES)
                    .or(row_at.is_null())
                    .or(newer),
            );
        let on_conflict = OnConflict::column(Column::StripePaymentIntentId)
            .update_columns(columns)
            .action_and_where(applies)
            .to_owned();
        let written = payment::Entity::insert(model)
            .on_conflict(on_conflict)
            .exec_without_returning(self.conn())
            .await
            .map_err(DbError::on("payment"))?;
        let row = self
            .find_payment(&p.stripe_payment_intent_id)
            .await?
            .ok_or_else(|| DbError::Query {
                source: format!(
                    "payment {} vanished after its upsert",
                    p.stripe_payment_intent_id
                )
                .into(),
            })?;
        let final_row = PAYMENT_FINAL_STATUSES.contains(&row.status.as_str());
        Ok(if written == 1 {
            Upsert::Applied(row)
        } else if final_row || row.last_event_at != Some(event_at) {
            Upsert::Stale(row)
        } else if row.status == p.status {
            Upsert::Applied(row)
        } else {
            Upsert::Tied(row)
        })
    }

    async fn record_payment_refund(
        &self,
        stripe_payment_intent_id: &str,
        amount_refunded: i64,
    ) -> Result<Option<Payment>> {
        use payment::Column;
        let refunded = Expr::case(
            Expr::col(Column::AmountRefunded).lt(amount_refunded),
            amount_refunded,
        )
        .finally(Expr::col(Column::AmountRefunded));
        let updated = payment::Entity::update_many()
            .col_expr(Column::AmountRefunded, refunded.into())
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::StripePaymentIntentId.eq(stripe_payment_intent_id))
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on("payment"))?;
        Ok(updated.into_iter().next())
    }

    async fn lock_payment(&self, stripe_payment_intent_id: &str) -> Result<Option<Payment>> {
        payment::Entity::find()
            .filter(payment::Column::StripePaymentIntentId.eq(stripe_payment_intent_id))
            .lock_exclusive()
            .one(self.conn())
            .await
            .map_err(DbError::on("payment"))
    }

    async fn find_payment(&self, stripe_payment_intent_id: &str) -> Result<Option<Payment>> {
        payment::Entity::find()
            .filter(payment::Column::StripePaymentIntentId.eq(stripe_payment_intent_id))
            .one(self.conn())
            .await
            .map_err(DbError::on("payment"))
    }

    async fn list_payments(&self, user_id: Uuid) -> Result<Vec<Payment>> {
        payment::Entity::find()
            .filter(payment::Column::UserId.eq(user_id))
            .order_by_desc(payment::Column::CreatedAt)
            .order_by_desc(payment::Column::Id)
            .all(self.conn())
            .await
            .map_err(DbError::on("payment"))
    }

    async fn set_payment_booking_url(
        &self,
        stripe_payment_intent_id: &str,
        booking_url: &str,
    ) -> Result<Option<Payment>> {
        let updated = payment::Entity::update_many()
            .col_expr(payment::Column::BookingUrl, Expr::value(booking_url))
            .col_expr(payment::Column::UpdatedAt, Expr::value(now()))
            .filter(payment::Column::StripePaymentIntentId.eq(stripe_payment_intent_id))
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on("payment"))?;
        Ok(updated.into_iter().next())
    }

    async fn insert_checkout_session(&self, c: NewCheckoutSession) -> Result<()> {
        let model = checkout_session::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(c.customer.user()),
            organization_id: Set(c.customer.organization()),
            plan: Set(c.plan),
            stripe_checkout_session_id: Set(c.stripe_checkout_session_id),
            url: Set(c.url),
            expires_at: Set(micros(c.expires_at)),
            closed_at: Set(None),
            created_at: Set(now()),
        };
        checkout_session::Entity::insert(model)
            .on_conflict(
                OnConflict::column(checkout_session::Column::StripeCheckoutSessionId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(self.conn())
            .await
            .map_err(DbError::on("checkout session"))?;
        Ok(())
    }

    async fn find_open_checkout_session(
        &self,
        customer: Customer,
        plan: &str,
        open_until: DateTime<Utc>,
    ) -> Result<Option<CheckoutSession>> {
        use checkout_session::Column;
        checkout_session::Entity::find()
            .filter(checkout_owner(customer))
            .filter(Column::Plan.eq(plan))
            .filter(Column::ClosedAt.is_null())
            .filter(Column::ExpiresAt.gt(micros(open_until)))
            .order_by_desc(Column::CreatedAt)
            .one(self.conn())
            .await
            .map_err(DbError::on("checkout session"))
    }

    async fn close_checkout_session(
        &self,
        stripe_checkout_session_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        use checkout_session::Column;
        let closed = checkout_session::Entity::update_many()
            .col_expr(Column::ClosedAt, Expr::value(micros(at)))
            .filter(Column::StripeCheckoutSessionId.eq(stripe_checkout_session_id))
            .filter(Column::ClosedAt.is_null())
            .exec(self.conn())
            .await
            .map_err(DbError::on("checkout session"))?;
        Ok(closed.rows_affected == 1)
    }

    async fn count_closed_checkout_sessions(&self, customer: Customer, plan: &str) -> Result<u64> {
        use checkout_session::Column;
        checkout_session::Entity::find()
            .filter(checkout_owner(customer))
            .filter(Column::Plan.eq(plan))
            .filter(Column::ClosedAt.is_not_null())
            .count(self.conn())
            .await
            .map_err(DbError::on("checkout session"))
    }
}

/// The checkout sessions of `customer`.
fn checkout_owner(customer: Customer) -> sea_orm::sea_query::SimpleExpr {
    match customer {
        Customer::User(id) => checkout_session::Column::UserId.eq(id),
        Customer::Organization(id) => checkout_session::Column::OrganizationId.eq(id),
    }
}
