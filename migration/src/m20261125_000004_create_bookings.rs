//! Cal.com bookings, keyed on Cal.com's booking uid.

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
enum Bookings {
    Table,
    Id,
    CalcomUid,
    EventTypeId,
    UserId,
    StripePaymentIntentId,
    StartAt,
    EndAt,
    Status,
    RescheduledFromUid,
    RescheduledToUid,
    CancellationReason,
    AttendeeEmail,
    OrganizerEmail,
    Metadata,
    LastEventAt,
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
                    .table(Bookings::Table)
                    .col(pk_uuid(Bookings::Id))
                    .col(text(Bookings::CalcomUid).unique_key())
                    .col(big_integer_null(Bookings::EventTypeId))
                    .col(uuid_null(Bookings::UserId))
                    .col(text_null(Bookings::StripePaymentIntentId))
                    .col(timestamp_with_time_zone_null(Bookings::StartAt))
                    .col(timestamp_with_time_zone_null(Bookings::EndAt))
                    .col(text(Bookings::Status))
                    .col(text_null(Bookings::RescheduledFromUid))
                    .col(text_null(Bookings::RescheduledToUid))
                    .col(text_null(Bookings::CancellationReason))
                    .col(text_null(Bookings::AttendeeEmail))
                    .col(text_null(Bookings::OrganizerEmail))
                    .col(json_binary_null(Bookings::Metadata))
                    .col(timestamp_with_time_zone(Bookings::LastEventAt))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        Bookings::Table,
                        Bookings::UserId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Bookings::Table, [Bookings::UserId], false))
            .await?;
        manager
            .create_index(index(
                Bookings::Table,
                [Bookings::StripePaymentIntentId],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![Bookings::Table.into_iden()]).await
    }
}
