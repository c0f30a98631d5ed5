//! `memberships`: who belongs to which organization, with which role.

use sea_orm::entity::prelude::*;

/// A membership row; unique per (organization, user).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    /// UUID v7 (also the members list's cursor).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The organization.
    pub organization_id: Uuid,
    /// The member.
    pub user_id: Uuid,
    /// `owner`, `admin`, `member` or an application-defined role.
    pub role: String,
    /// When they joined (UTC).
    pub created_at: DateTimeUtc,
    /// Last role change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
