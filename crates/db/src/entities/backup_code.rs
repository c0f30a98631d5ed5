//! `backup_codes`: single-use MFA recovery codes, stored hashed.

use sea_orm::entity::prelude::*;

/// A backup-code row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "backup_codes")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Hash of the code; unique per user.
    pub code_hash: Vec<u8>,
    /// Set when the code is used.
    pub used_at: Option<DateTimeUtc>,
    /// Issue time (UTC).
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
