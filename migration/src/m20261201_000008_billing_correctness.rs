//! What billing needs to follow Stripe exactly (0.2):
//!
//! - `subscriptions.stripe_created_at` (Stripe's `created`: which of two live subscriptions
//!   is the duplicate), `status_changed_at` (when the current status began: the `past_due`
//!   grace period), `duplicate_of` (a second live subscription of one customer, flagged);
//! - `payments.amount_refunded` (mirrored from `charge.refunded`, never decreasing) and
//!   `last_event_at` (event ordering, as for subscriptions);
//! - `bookings.payment_refunded_at` (a booking whose paid session was refunded);
//! - `checkout_sessions`: the open Stripe Checkout sessions Tollbooth created, so a repeated
//!   checkout returns the open one instead of a second subscription.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema::{add_columns, created_at, drop_columns, drop_tables, fk, index};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
}

#[derive(Clone, Copy, DeriveIden)]
enum Subscriptions {
    Table,
    StripeCreatedAt,
    StatusChangedAt,
    DuplicateOf,
}

#[derive(Clone, Copy, DeriveIden)]
enum Payments {
    Table,
    AmountRefunded,
    LastEventAt,
}

#[derive(Clone, Copy, DeriveIden)]
enum Bookings {
    Table,
    PaymentRefundedAt,
}

#[derive(DeriveIden)]
enum CheckoutSessions {
    Table,
    Id,
    UserId,
    Plan,
    StripeCheckoutSessionId,
    Url,
    ExpiresAt,
    ClosedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            Subscriptions::Table,
            vec![
                timestamp_with_time_zone_null(Subscriptions::StripeCreatedAt),
                timestamp_with_time_zone_null(Subscriptions::StatusChangedAt),
                text_null(Subscriptions::DuplicateOf),
            ],
        )
        .await?;
        add_columns(
            manager,
            Payments::Table,
            vec![
                big_integer(Payments::AmountRefunded)
                    .default(0)
                    .check(Expr::cust("amount_refunded >= 0"))
                    .take(),
                timestamp_with_time_zone_null(Payments::LastEventAt),
            ],
        )
        .await?;
        add_columns(
            manager,
            Bookings::Table,
            vec![timestamp_with_time_zone_null(Bookings::PaymentRefundedAt)],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(CheckoutSessions::Table)
                    .col(pk_uuid(CheckoutSessions::Id))
                    .col(uuid(CheckoutSessions::UserId))
                    .col(text(CheckoutSessions::Plan))
                    .col(text(CheckoutSessions::StripeCheckoutSessionId).unique_key())
                    .col(text(CheckoutSessions::Url))
                    .col(timestamp_with_time_zone(CheckoutSessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(CheckoutSessions::ClosedAt))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        CheckoutSessions::Table,
                        CheckoutSessions::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // "The user's open session for this plan" — also the foreign key's index.
        manager
            .create_index(index(
                CheckoutSessions::Table,
                [CheckoutSessions::UserId, CheckoutSessions::Plan],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![CheckoutSessions::Table.into_iden()]).await?;
        drop_columns(manager, Bookings::Table, [Bookings::PaymentRefundedAt]).await?;
        drop_columns(
            manager,
            Payments::Table,
            [Payments::AmountRefunded, Payments::LastEventAt],
        )
        .await?;
        drop_columns(
            manager,
            Subscriptions::Table,
            [
                Subscriptions::StripeCreatedAt,
                Subscriptions::StatusChangedAt,
                Subscriptions::DuplicateOf,
            ],
        )
        .await
    }
}
