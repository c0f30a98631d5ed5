//! `checkout_sessions`: the Stripe Checkout sessions Tollbooth opened, so a repeated
//! checkout (a double click, a second tab) returns the open session instead of a second one.

use sea_orm::entity::prelude::*;

/// A checkout session row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "checkout_sessions")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The subscribing user, for a user's session.
    pub user_id: Option<Uuid>,
    /// The subscribing organization, for an organization's (exactly one of the two).
    pub organization_id: Option<Uuid>,
    /// The plan being bought.
    pub plan: String,
    /// Stripe Checkout session (`cs_…`); unique.
    #[sea_orm(unique)]
    pub stripe_checkout_session_id: String,
    /// Stripe's page for it.
    pub url: String,
    /// When Stripe expires it.
    pub expires_at: DateTimeUtc,
    /// When it completed or expired (`checkout.session.completed` / `.expired`).
    pub closed_at: Option<DateTimeUtc>,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Who is subscribing.
    pub fn customer(&self) -> tollbooth_core::Customer {
        super::subscription::customer_of(self.user_id, self.organization_id)
    }
}
