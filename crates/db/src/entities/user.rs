//! `users`: one row per person. The email is stored normalized (see
//! [`normalize_email`](crate::normalize_email)); secrets live elsewhere (accounts, two_factors).

use sea_orm::entity::prelude::*;

/// A user row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Normalized (trimmed, lower-case) address; unique.
    #[sea_orm(unique)]
    pub email: String,
    /// When the address was proven to belong to the user.
    pub email_verified_at: Option<DateTimeUtc>,
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL.
    pub image: Option<String>,
    /// Authorization role (`user`, `admin`, or an application-defined one).
    pub role: String,
    /// Stripe customer (`cus_…`); unique.
    #[sea_orm(unique)]
    pub stripe_customer_id: Option<String>,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last modification time (UTC).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
