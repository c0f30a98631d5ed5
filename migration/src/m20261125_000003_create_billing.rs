//! The Stripe catalog (products, prices), subscriptions, one-time payments, and the
//! processed-webhook-event ledger that makes webhook effects exactly-once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema::{created_at, drop_tables, fk, index, updated_at};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    StripeProductId,
    Name,
    Description,
    Active,
    Metadata,
}

#[derive(DeriveIden)]
enum Prices {
    Table,
    Id,
    StripePriceId,
    ProductId,
    Currency,
    UnitAmount,
    RecurringInterval,
    RecurringIntervalCount,
    Active,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    UserId,
    StripeSubscriptionId,
    StripeCustomerId,
    StripePriceId,
    Plan,
    Status,
    Quantity,
    TrialEnd,
    CurrentPeriodEnd,
    CancelAtPeriodEnd,
    CanceledAt,
    EndedAt,
    LastEventAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    StripePaymentIntentId,
    UserId,
    Amount,
    Currency,
    Status,
    Metadata,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    Source,
    EventId,
    EventType,
    ReceivedAt,
}

/// ISO 4217 codes are three letters; Stripe sends them lower-case.
fn currency(column: impl IntoIden) -> ColumnDef {
    text(column)
        .check(Expr::cust(
            "length(currency) = 3 AND currency = lower(currency)",
        ))
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .col(pk_uuid(Products::Id))
                    .col(text(Products::StripeProductId).unique_key())
                    .col(text(Products::Name))
                    .col(text_null(Products::Description))
                    .col(boolean(Products::Active))
                    .col(json_binary_null(Products::Metadata))
                    .col(created_at())
                    .col(updated_at())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Prices::Table)
                    .col(pk_uuid(Prices::Id))
                    .col(text(Prices::StripePriceId).unique_key())
                    .col(uuid(Prices::ProductId))
                    .col(currency(Prices::Currency))
                    // Minor units (cents); NULL for custom or metered amounts.
                    .col(big_integer_null(Prices::UnitAmount).check(Expr::cust("unit_amount >= 0")))
                    // NULL for one-time prices.
                    .col(text_null(Prices::RecurringInterval))
                    .col(integer_null(Prices::RecurringIntervalCount))
                    .col(boolean(Prices::Active))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        Prices::Table,
                        Prices::ProductId,
                        Products::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Prices::Table, [Prices::ProductId], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Subscriptions::Table)
                    .col(pk_uuid(Subscriptions::Id))
                    .col(uuid(Subscriptions::UserId))
                    .col(text(Subscriptions::StripeSubscriptionId).unique_key())
                    .col(text(Subscriptions::StripeCustomerId))
                    .col(text_null(Subscriptions::StripePriceId))
                    .col(text(Subscriptions::Plan))
                    // Stripe's own vocabulary (`trialing`, `active`, `past_due`, …), kept verbatim.
                    .col(text(Subscriptions::Status))
                    .col(integer(Subscriptions::Quantity).default(1))
                    .col(timestamp_with_time_zone_null(Subscriptions::TrialEnd))
                    .col(timestamp_with_time_zone_null(
                        Subscriptions::CurrentPeriodEnd,
                    ))
                    .col(boolean(Subscriptions::CancelAtPeriodEnd).default(false))
                    .col(timestamp_with_time_zone_null(Subscriptions::CanceledAt))
                    .col(timestamp_with_time_zone_null(Subscriptions::EndedAt))
                    // Stripe `created` of the newest event applied: older events are skipped.
                    .col(timestamp_with_time_zone(Subscriptions::LastEventAt))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        Subscriptions::Table,
                        Subscriptions::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Subscriptions::Table, [Subscriptions::UserId], false))
            .await?;
        manager
            .create_index(index(
                Subscriptions::Table,
                [Subscriptions::StripeCustomerId],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(pk_uuid(Payments::Id))
                    .col(text(Payments::StripePaymentIntentId).unique_key())
                    .col(uuid_null(Payments::UserId))
                    .col(big_integer(Payments::Amount).check(Expr::cust("amount > 0")))
                    .col(currency(Payments::Currency))
                    .col(text(Payments::Status))
                    .col(json_binary_null(Payments::Metadata))
                    .col(created_at())
                    .col(updated_at())
                    // Payment records outlive a deleted user (bookkeeping).
                    .foreign_key(&mut fk(
                        Payments::Table,
                        Payments::UserId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Payments::Table, [Payments::UserId], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(pk_uuid(WebhookEvents::Id))
                    .col(text(WebhookEvents::Source))
                    .col(text(WebhookEvents::EventId))
                    .col(text(WebhookEvents::EventType))
                    .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                WebhookEvents::Table,
                [WebhookEvents::Source, WebhookEvents::EventId],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                WebhookEvents::Table,
                [WebhookEvents::ReceivedAt],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                WebhookEvents::Table.into_iden(),
                Payments::Table.into_iden(),
                Subscriptions::Table.into_iden(),
                Prices::Table.into_iden(),
                Products::Table.into_iden(),
            ],
        )
        .await
    }
}
