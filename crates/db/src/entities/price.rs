//! `prices`: a local copy of Stripe prices; money in integer minor units.

use sea_orm::entity::prelude::*;

/// A price row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prices")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Stripe price (`price_…`); unique.
    #[sea_orm(unique)]
    pub stripe_price_id: String,
    /// The product it prices.
    pub product_id: Uuid,
    /// ISO 4217, lower-case (`usd`).
    pub currency: String,
    /// Amount in minor units; `None` for custom or metered prices.
    pub unit_amount: Option<i64>,
    /// `day`, `week`, `month`, `year`; `None` for one-time prices.
    pub recurring_interval: Option<String>,
    /// Intervals between charges.
    pub recurring_interval_count: Option<i32>,
    /// Whether it can be bought.
    pub active: bool,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last modification time (UTC).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
