//! `rate_limits`: fixed-window counters shared by every instance on the database.

use sea_orm::entity::prelude::*;

/// A counter row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limits")]
pub struct Model {
    /// The counter's name, e.g. `sign_in:ip:203.0.113.7`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Start of the current window.
    pub window_started_at: DateTimeUtc,
    /// Hits counted in the current window.
    pub hits: i32,
    /// Last hit (for purging idle counters).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
