//! `subscriptions`: the local mirror of a Stripe subscription, kept by webhooks.

use sea_orm::entity::prelude::*;

/// A subscription row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The subscribing user, for a user's subscription.
    pub user_id: Option<Uuid>,
    /// The subscribing organization, for an organization's (exactly one of the two: a
    /// CHECK); see [`customer`](Self::customer).
    pub organization_id: Option<Uuid>,
    /// Stripe subscription (`sub_…`); unique.
    #[sea_orm(unique)]
    pub stripe_subscription_id: String,
    /// Stripe customer (`cus_…`).
    pub stripe_customer_id: String,
    /// Stripe price of the (first) item.
    pub stripe_price_id: Option<String>,
    /// Plan name (`pro`, `enterprise`, …), resolved from the price by billing.
    pub plan: String,
    /// Stripe status, verbatim (`trialing`, `active`, `past_due`, `canceled`, …).
    pub status: String,
    /// Seats.
    pub quantity: i32,
    /// End of the trial, if any.
    pub trial_end: Option<DateTimeUtc>,
    /// End of the paid period.
    pub current_period_end: Option<DateTimeUtc>,
    /// Cancels when the period ends.
    pub cancel_at_period_end: bool,
    /// When cancellation was requested.
    pub canceled_at: Option<DateTimeUtc>,
    /// When the subscription ended.
    pub ended_at: Option<DateTimeUtc>,
    /// Stripe `created` time of the newest event applied to this row.
    pub last_event_at: DateTimeUtc,
    /// Stripe's `created` of the subscription: of two live subscriptions of one customer,
    /// the later one is the duplicate. `NULL` on rows written before 0.2.
    pub stripe_created_at: Option<DateTimeUtc>,
    /// When the current `status` began (the event that brought it): the `past_due` grace
    /// period counts from here.
    pub status_changed_at: Option<DateTimeUtc>,
    /// Set when this is a second live subscription of a customer who already had one: the
    /// Stripe id of the one it duplicates.
    pub duplicate_of: Option<String>,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last modification time (UTC).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Whose subscription this is.
    pub fn customer(&self) -> tollbooth_core::Customer {
        customer_of(self.user_id, self.organization_id)
    }
}

/// The customer of a row holding exactly one of `user_id` and `organization_id` (the
/// tables' CHECK). A row breaking it — impossible through the constraint — reads as the
/// nil user, who matches nobody.
pub(crate) fn customer_of(
    user_id: Option<Uuid>,
    organization_id: Option<Uuid>,
) -> tollbooth_core::Customer {
    match (user_id, organization_id) {
        (_, Some(organization)) => tollbooth_core::Customer::Organization(organization),
        (user, None) => tollbooth_core::Customer::User(user.unwrap_or_default()),
    }
}
