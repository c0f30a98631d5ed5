//! `email_outbox`: e-mails written in the same transaction as the change that causes them
//! (a sign-up, a password reset, a Stripe event) and delivered from there by a worker, so a
//! crash between commit and send loses nothing and a retry never sends twice.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema::{created_at, drop_tables, index};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    IdempotencyKey,
    Template,
    FromMailbox,
    ReplyTo,
    Recipients,
    Subject,
    Html,
    TextBody,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    SentAt,
    FailedAt,
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
                    .table(EmailOutbox::Table)
                    .col(pk_uuid(EmailOutbox::Id))
                    // One message per key, ever: a second enqueue of it is a no-op, and the
                    // provider dedupes retries on it.
                    .col(text(EmailOutbox::IdempotencyKey).unique_key())
                    .col(text(EmailOutbox::Template))
                    .col(text(EmailOutbox::FromMailbox))
                    .col(text_null(EmailOutbox::ReplyTo))
                    .col(json_binary(EmailOutbox::Recipients))
                    .col(text(EmailOutbox::Subject))
                    .col(text(EmailOutbox::Html))
                    .col(text(EmailOutbox::TextBody))
                    .col(
                        integer(EmailOutbox::Attempts)
                            .default(0)
                            .check(Expr::cust("attempts >= 0")),
                    )
                    .col(timestamp_with_time_zone(EmailOutbox::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(EmailOutbox::LockedUntil))
                    .col(text_null(EmailOutbox::LastError))
                    .col(timestamp_with_time_zone_null(EmailOutbox::SentAt))
                    .col(timestamp_with_time_zone_null(EmailOutbox::FailedAt))
                    .col(created_at())
                    .to_owned(),
            )
            .await?;
        // The worker's scan: unsent messages that are due.
        manager
            .create_index(index(
                EmailOutbox::Table,
                [EmailOutbox::SentAt, EmailOutbox::NextAttemptAt],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![EmailOutbox::Table.into_iden()]).await
    }
}
