//! `organizations`: a team of users (see `memberships`) that can own a subscription.

use sea_orm::entity::prelude::*;

/// An organization row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// URL name: lower-case letters, digits and inner hyphens, 2–48 characters; unique.
    #[sea_orm(unique)]
    pub slug: String,
    /// Stripe customer (`cus_…`) when the organization pays; unique.
    #[sea_orm(unique)]
    pub stripe_customer_id: Option<String>,
    /// The most members and pending invitations the organization's plan allows (`NULL`: no
    /// limit); written by billing when its subscription changes.
    pub seat_limit: Option<i32>,
    /// Until when an instance holds the lease to set the Stripe quantity of the
    /// organization's per-seat subscription.
    pub seat_sync_until: Option<DateTimeUtc>,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last modification time (UTC); also written (unchanged) to lock the row.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
