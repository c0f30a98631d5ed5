//! `bookings`: Cal.com bookings, keyed on Cal.com's uid.

use sea_orm::entity::prelude::*;

/// Lifecycle of a booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum BookingStatus {
    /// Booked.
    #[sea_orm(string_value = "created")]
    Created,
    /// Cancelled by either side.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    /// Moved; `rescheduled_to_uid` names the new booking.
    #[sea_orm(string_value = "rescheduled")]
    Rescheduled,
}

/// A booking row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookings")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Cal.com booking uid; unique.
    #[sea_orm(unique)]
    pub calcom_uid: String,
    /// Cal.com event type.
    pub event_type_id: Option<i64>,
    /// The user who booked, when known.
    pub user_id: Option<Uuid>,
    /// The payment that paid for it, when any.
    pub stripe_payment_intent_id: Option<String>,
    /// Start (UTC).
    pub start_at: Option<DateTimeUtc>,
    /// End (UTC).
    pub end_at: Option<DateTimeUtc>,
    /// Lifecycle state.
    pub status: BookingStatus,
    /// The booking this one replaces.
    pub rescheduled_from_uid: Option<String>,
    /// The booking that replaced this one.
    pub rescheduled_to_uid: Option<String>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// Attendee address.
    pub attendee_email: Option<String>,
    /// Organizer address.
    pub organizer_email: Option<String>,
    /// Cal.com metadata (e.g. `videoCallUrl`, our `user_id`).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub metadata: Option<Json>,
    /// Time of the newest webhook applied (for out-of-order deliveries).
    pub last_event_at: DateTimeUtc,
    /// Set when the payment that paid for this booking was refunded in full.
    pub payment_refunded_at: Option<DateTimeUtc>,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last modification time (UTC).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
