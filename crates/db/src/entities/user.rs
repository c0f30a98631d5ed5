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
    /// When an administrator banned the user; `None` when not banned. A ban ends every
    /// session and refuses every way of signing in while it lasts (see [`Model::is_banned`]).
    pub banned_at: Option<DateTimeUtc>,
    /// The administrator's reason, for other administrators (never shown to the user).
    pub ban_reason: Option<String>,
    /// When the ban lapses by itself; `None` for a ban until lifted.
    pub ban_expires_at: Option<DateTimeUtc>,
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
    /// Whether a ban is in force at `now`: banned, and not past the ban's expiry.
    pub fn is_banned(&self, now: DateTimeUtc) -> bool {
        self.banned_at.is_some() && self.ban_expires_at.is_none_or(|until| now < until)
    }
}
