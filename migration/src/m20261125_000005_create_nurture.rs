//! Nurture (drip) e-mail structure: sequences, weighted subject/template variants per step,
//! and per-user enrollments. Structure only; nothing in Tollbooth sends nurture mail.

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
enum NurtureSequences {
    Table,
    Id,
    Key,
    Name,
    Active,
}

#[derive(DeriveIden)]
enum NurtureEmailVariants {
    Table,
    Id,
    SequenceId,
    Step,
    Subject,
    TemplateKey,
    Weight,
}

#[derive(DeriveIden)]
enum NurtureEnrollments {
    Table,
    Id,
    SequenceId,
    UserId,
    Step,
    Status,
    NextSendAt,
    LastSentAt,
    LastVariantId,
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
                    .table(NurtureSequences::Table)
                    .col(pk_uuid(NurtureSequences::Id))
                    .col(text(NurtureSequences::Key).unique_key())
                    .col(text(NurtureSequences::Name))
                    .col(boolean(NurtureSequences::Active).default(true))
                    .col(created_at())
                    .col(updated_at())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(NurtureEmailVariants::Table)
                    .col(pk_uuid(NurtureEmailVariants::Id))
                    .col(uuid(NurtureEmailVariants::SequenceId))
                    .col(integer(NurtureEmailVariants::Step).check(Expr::cust("step >= 0")))
                    .col(text(NurtureEmailVariants::Subject))
                    .col(text(NurtureEmailVariants::TemplateKey))
                    .col(
                        integer(NurtureEmailVariants::Weight)
                            .default(1)
                            .check(Expr::cust("weight > 0")),
                    )
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        NurtureEmailVariants::Table,
                        NurtureEmailVariants::SequenceId,
                        NurtureSequences::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                NurtureEmailVariants::Table,
                [NurtureEmailVariants::SequenceId, NurtureEmailVariants::Step],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(NurtureEnrollments::Table)
                    .col(pk_uuid(NurtureEnrollments::Id))
                    .col(uuid(NurtureEnrollments::SequenceId))
                    .col(uuid(NurtureEnrollments::UserId))
                    .col(integer(NurtureEnrollments::Step).default(0))
                    .col(text(NurtureEnrollments::Status))
                    .col(timestamp_with_time_zone_null(
                        NurtureEnrollments::NextSendAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        NurtureEnrollments::LastSentAt,
                    ))
                    .col(uuid_null(NurtureEnrollments::LastVariantId))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        NurtureEnrollments::Table,
                        NurtureEnrollments::SequenceId,
                        NurtureSequences::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        NurtureEnrollments::Table,
                        NurtureEnrollments::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        NurtureEnrollments::Table,
                        NurtureEnrollments::LastVariantId,
                        NurtureEmailVariants::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                NurtureEnrollments::Table,
                [NurtureEnrollments::SequenceId, NurtureEnrollments::UserId],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                NurtureEnrollments::Table,
                [NurtureEnrollments::UserId],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                NurtureEnrollments::Table,
                [NurtureEnrollments::Status, NurtureEnrollments::NextSendAt],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                NurtureEnrollments::Table.into_iden(),
                NurtureEmailVariants::Table.into_iden(),
                NurtureSequences::Table.into_iden(),
            ],
        )
        .await
    }
}
