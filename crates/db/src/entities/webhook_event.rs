//! `webhook_events`: the ledger of processed webhook deliveries. The unique
//! `(source, event_id)` pair is what makes an event's effect happen exactly once.

use sea_orm::entity::prelude::*;

/// Who sent the webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum WebhookSource {
    /// Stripe (`evt_…` ids).
    #[sea_orm(string_value = "stripe")]
    Stripe,
    /// Cal.com (ids derived from the payload).
    #[sea_orm(string_value = "calcom")]
    Calcom,
}

/// A processed-event row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Sender.
    pub source: WebhookSource,
    /// The sender's event id; unique per source.
    pub event_id: String,
    /// Event type (`customer.subscription.updated`, `BOOKING_CREATED`, …).
    pub event_type: String,
    /// When it was processed (UTC).
    pub received_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
