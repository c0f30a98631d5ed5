//! `nurture_enrollments`: a user's progress through a sequence.

use sea_orm::entity::prelude::*;

/// Enrollment state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum EnrollmentStatus {
    /// Receiving the sequence.
    #[sea_orm(string_value = "active")]
    Active,
    /// Temporarily stopped.
    #[sea_orm(string_value = "paused")]
    Paused,
    /// Every step sent.
    #[sea_orm(string_value = "completed")]
    Completed,
    /// The user opted out.
    #[sea_orm(string_value = "unsubscribed")]
    Unsubscribed,
}

/// An enrollment row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "nurture_enrollments")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Sequence.
    pub sequence_id: Uuid,
    /// Enrolled user; unique per sequence.
    pub user_id: Uuid,
    /// Next step to send.
    pub step: i32,
    /// State.
    pub status: EnrollmentStatus,
    /// When the next step is due.
    pub next_send_at: Option<DateTimeUtc>,
    /// When the last step went out.
    pub last_sent_at: Option<DateTimeUtc>,
    /// Variant used for the last step.
    pub last_variant_id: Option<Uuid>,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last modification time (UTC).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
