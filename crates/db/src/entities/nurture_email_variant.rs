//! `nurture_email_variants`: weighted subject/template variants of a sequence step.

use sea_orm::entity::prelude::*;

/// A variant row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "nurture_email_variants")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Sequence it belongs to.
    pub sequence_id: Uuid,
    /// Step number (0-based).
    pub step: i32,
    /// Subject line.
    pub subject: String,
    /// Template key the sender renders.
    pub template_key: String,
    /// Relative weight among the step's variants (> 0).
    pub weight: i32,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last modification time (UTC).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
