//! `payments`: one-time Stripe PaymentIntents.

use sea_orm::entity::prelude::*;

/// A payment row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Stripe PaymentIntent (`pi_…`); unique.
    #[sea_orm(unique)]
    pub stripe_payment_intent_id: String,
    /// Payer, when known; kept as NULL if the user is deleted.
    pub user_id: Option<Uuid>,
    /// Amount in minor units (> 0).
    pub amount: i64,
    /// ISO 4217, lower-case.
    pub currency: String,
    /// Stripe status, verbatim (`requires_payment_method`, `succeeded`, …).
    pub status: String,
    /// Stripe metadata.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub metadata: Option<Json>,
    /// Cal.com booking link produced for this payment (paid sessions).
    pub booking_url: Option<String>,
    /// Minor units refunded so far (`charge.refunded`); never decreases.
    pub amount_refunded: i64,
    /// Stripe `created` of the newest event applied, or when the state was read from Stripe.
    pub last_event_at: Option<DateTimeUtc>,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last modification time (UTC).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
