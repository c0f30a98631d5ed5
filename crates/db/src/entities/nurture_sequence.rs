//! `nurture_sequences`: a named drip sequence (structure only).

use sea_orm::entity::prelude::*;

/// A sequence row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "nurture_sequences")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Stable key used by code (`onboarding`); unique.
    #[sea_orm(unique)]
    pub key: String,
    /// Display name.
    pub name: String,
    /// Whether new enrollments proceed.
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
