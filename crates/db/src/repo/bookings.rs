//! Cal.com bookings.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::Booking;
use crate::db::sealed::Executor;
use crate::entities::booking::{self, BookingStatus, Column, Entity};
use crate::error::{DbError, Result};
use crate::time::{micros, micros_opt, now};

const ENTITY: &str = "booking";

/// A booking as a Cal.com webhook describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewBooking {
    /// Cal.com uid.
    pub calcom_uid: String,
    /// Event type.
    pub event_type_id: Option<i64>,
    /// Booking user, when known.
    pub user_id: Option<Uuid>,
    /// Paying PaymentIntent, when any.
    pub stripe_payment_intent_id: Option<String>,
    /// Start.
    pub start_at: Option<DateTime<Utc>>,
    /// End.
    pub end_at: Option<DateTime<Utc>>,
    /// Status.
    pub status: BookingStatus,
    /// The booking this one replaces.
    pub rescheduled_from_uid: Option<String>,
    /// Attendee address.
    pub attendee_email: Option<String>,
    /// Organizer address.
    pub organizer_email: Option<String>,
    /// Cal.com metadata.
    pub metadata: Option<serde_json::Value>,
    /// Time of the webhook that reported it.
    pub event_at: DateTime<Utc>,
}

impl NewBooking {
    /// A `created` booking with uid `calcom_uid`, reported at `event_at`.
    pub fn new(calcom_uid: impl Into<String>, event_at: DateTime<Utc>) -> Self {
        Self {
            calcom_uid: calcom_uid.into(),
            event_type_id: None,
            user_id: None,
            stripe_payment_intent_id: None,
            start_at: None,
            end_at: None,
            status: BookingStatus::Created,
            rescheduled_from_uid: None,
            attendee_email: None,
            organizer_email: None,
            metadata: None,
            event_at,
        }
    }
}

/// Bookings, unique per Cal.com uid.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait BookingRepo: Send + Sync {
    /// Stores a booking; a uid already stored is [`DbError::Conflict`].
    async fn insert_booking(&self, booking: NewBooking) -> Result<Booking>;
    /// Stores a booking unless its uid is already stored; `false` then, and nothing changes.
    /// A concurrent insert of the same uid is waited for rather than failing this one.
    async fn insert_booking_if_absent(&self, booking: NewBooking) -> Result<bool>;
    /// The booking with this Cal.com uid.
    async fn find_booking(&self, calcom_uid: &str) -> Result<Option<Booking>>;
    /// The booking with this Cal.com uid, locked against other writers until the
    /// transaction ends (`SELECT … FOR UPDATE` on PostgreSQL; SQLite runs one writing
    /// transaction at a time anyway). Read-then-write inside a transaction uses this.
    async fn lock_booking(&self, calcom_uid: &str) -> Result<Option<Booking>>;
    /// Bookings paid by this PaymentIntent.
    async fn find_bookings_by_payment(
        &self,
        stripe_payment_intent_id: &str,
    ) -> Result<Vec<Booking>>;
    /// The user's bookings, soonest first.
    async fn list_user_bookings(&self, user_id: Uuid) -> Result<Vec<Booking>>;
    /// Writes every field of `booking` (found by id) and returns the stored row.
    async fn update_booking(&self, booking: Booking) -> Result<Booking>;
    /// Marks every booking paid by this PaymentIntent as refunded (those not marked yet) and
    /// returns them.
    async fn flag_refunded_bookings(
        &self,
        stripe_payment_intent_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Booking>>;
}

#[async_trait]
impl<E: Executor> BookingRepo for E {
    async fn insert_booking(&self, b: NewBooking) -> Result<Booking> {
        Entity::insert(new_model(b))
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn insert_booking_if_absent(&self, b: NewBooking) -> Result<bool> {
        let written = Entity::insert(new_model(b))
            .on_conflict(
                OnConflict::column(Column::CalcomUid)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(written == 1)
    }

    async fn find_booking(&self, calcom_uid: &str) -> Result<Option<Booking>> {
        Entity::find()
            .filter(Column::CalcomUid.eq(calcom_uid))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn lock_booking(&self, calcom_uid: &str) -> Result<Option<Booking>> {
        Entity::find()
            .filter(Column::CalcomUid.eq(calcom_uid))
            .lock_exclusive()
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_bookings_by_payment(
        &self,
        stripe_payment_intent_id: &str,
    ) -> Result<Vec<Booking>> {
        Entity::find()
            .filter(Column::StripePaymentIntentId.eq(stripe_payment_intent_id))
            .order_by_asc(Column::CreatedAt)
            .all(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn list_user_bookings(&self, user_id: Uuid) -> Result<Vec<Booking>> {
        Entity::find()
            .filter(Column::UserId.eq(user_id))
            .order_by_asc(Column::StartAt)
            .all(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn update_booking(&self, b: Booking) -> Result<Booking> {
        let model: booking::ActiveModel = Booking {
            start_at: micros_opt(b.start_at),
            end_at: micros_opt(b.end_at),
            last_event_at: micros(b.last_event_at),
            payment_refunded_at: micros_opt(b.payment_refunded_at),
            updated_at: now(),
            ..b
        }
        .into();
        let mut model = model.reset_all();
        // The id and creation time identify the row; they are never rewritten.
        model.id = sea_orm::ActiveValue::Unchanged(*model.id.as_ref());
        model.created_at = sea_orm::ActiveValue::NotSet;
        model.update(self.conn()).await.map_err(DbError::on(ENTITY))
    }

    async fn flag_refunded_bookings(
        &self,
        stripe_payment_intent_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Booking>> {
        Entity::update_many()
            .col_expr(Column::PaymentRefundedAt, Expr::value(micros(at)))
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::StripePaymentIntentId.eq(stripe_payment_intent_id))
            .filter(Column::PaymentRefundedAt.is_null())
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }
}

/// The row to insert for `b`.
fn new_model(b: NewBooking) -> booking::ActiveModel {
    let at = now();
    booking::ActiveModel {
        id: Set(Uuid::now_v7()),
        calcom_uid: Set(b.calcom_uid),
        event_type_id: Set(b.event_type_id),
        user_id: Set(b.user_id),
        stripe_payment_intent_id: Set(b.stripe_payment_intent_id),
        start_at: Set(micros_opt(b.start_at)),
        end_at: Set(micros_opt(b.end_at)),
        status: Set(b.status),
        rescheduled_from_uid: Set(b.rescheduled_from_uid),
        rescheduled_to_uid: Set(None),
        cancellation_reason: Set(None),
        attendee_email: Set(b.attendee_email),
        organizer_email: Set(b.organizer_email),
        metadata: Set(b.metadata),
        last_event_at: Set(micros(b.event_at)),
        payment_refunded_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
}
