//! Users, their sign-in methods (accounts) and their sessions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema::{created_at, drop_tables, fk, index, updated_at};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailVerifiedAt,
    Name,
    Image,
    Role,
    StripeCustomerId,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    UserId,
    Provider,
    ProviderAccountId,
    ProviderEmail,
    PasswordHash,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    LastSeenAt,
    IdleExpiresAt,
    AbsoluteExpiresAt,
    RevokedAt,
    Ip,
    UserAgent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // SQLite DDL is transactional too: a failed step leaves no half-built schema.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    // Stored normalized (trimmed, lower-case): uniqueness is case-insensitive
                    // and the CHECK keeps any writer that skips normalization out.
                    .col(
                        text(Users::Email)
                            .unique_key()
                            .check(Expr::cust("email = lower(email)")),
                    )
                    .col(timestamp_with_time_zone_null(Users::EmailVerifiedAt))
                    .col(text_null(Users::Name))
                    .col(text_null(Users::Image))
                    .col(text(Users::Role).default("user"))
                    .col(text_null(Users::StripeCustomerId).unique_key())
                    .col(created_at())
                    .col(updated_at())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(pk_uuid(Accounts::Id))
                    .col(uuid(Accounts::UserId))
                    .col(text(Accounts::Provider))
                    .col(text(Accounts::ProviderAccountId))
                    .col(text_null(Accounts::ProviderEmail))
                    .col(text_null(Accounts::PasswordHash))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        Accounts::Table,
                        Accounts::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    // A password hash exists exactly on the `credential` account.
                    .check(Expr::cust(
                        "(provider = 'credential') = (password_hash IS NOT NULL)",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                Accounts::Table,
                [Accounts::Provider, Accounts::ProviderAccountId],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                Accounts::Table,
                [Accounts::UserId, Accounts::Provider],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(uuid(Sessions::UserId))
                    .col(created_at())
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(timestamp_with_time_zone(Sessions::IdleExpiresAt))
                    .col(timestamp_with_time_zone(Sessions::AbsoluteExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .col(text_null(Sessions::Ip))
                    .col(text_null(Sessions::UserAgent))
                    .foreign_key(&mut fk(
                        Sessions::Table,
                        Sessions::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Sessions::Table, [Sessions::UserId], false))
            .await?;
        manager
            .create_index(index(Sessions::Table, [Sessions::AbsoluteExpiresAt], false))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                Sessions::Table.into_iden(),
                Accounts::Table.into_iden(),
                Users::Table.into_iden(),
            ],
        )
        .await
    }
}
