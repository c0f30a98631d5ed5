//! Bans on `users` (`banned_at`, `ban_reason`, `ban_expires_at`) and `security_events`, the
//! append-only audit trail: who did what to which account, when and from where. Events are
//! written in the transaction of the change they record; their user ids are plain columns,
//! not foreign keys, so the trail outlives a deleted account.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema::{add_columns, drop_columns, drop_tables, index};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Users {
    Table,
    BannedAt,
    BanReason,
    BanExpiresAt,
}

#[derive(Clone, Copy, DeriveIden)]
enum SecurityEvents {
    Table,
    Id,
    At,
    Kind,
    ActorUserId,
    SubjectUserId,
    Ip,
    UserAgent,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            Users::Table,
            vec![
                timestamp_with_time_zone_null(Users::BannedAt),
                text_null(Users::BanReason),
                timestamp_with_time_zone_null(Users::BanExpiresAt),
            ],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecurityEvents::Table)
                    .col(pk_uuid(SecurityEvents::Id))
                    .col(timestamp_with_time_zone(SecurityEvents::At))
                    .col(text(SecurityEvents::Kind))
                    .col(uuid_null(SecurityEvents::ActorUserId))
                    .col(uuid_null(SecurityEvents::SubjectUserId))
                    .col(text_null(SecurityEvents::Ip))
                    .col(text_null(SecurityEvents::UserAgent))
                    .col(json_binary_null(SecurityEvents::Detail))
                    .to_owned(),
            )
            .await?;
        // A user's own activity page and an admin's query by user.
        manager
            .create_index(index(
                SecurityEvents::Table,
                [SecurityEvents::SubjectUserId, SecurityEvents::At],
                false,
            ))
            .await?;
        // An admin's query by kind; the retention purge by time.
        manager
            .create_index(index(
                SecurityEvents::Table,
                [SecurityEvents::Kind, SecurityEvents::At],
                false,
            ))
            .await?;
        manager
            .create_index(index(SecurityEvents::Table, [SecurityEvents::At], false))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![SecurityEvents::Table.into_iden()]).await?;
        drop_columns(
            manager,
            Users::Table,
            [Users::BannedAt, Users::BanReason, Users::BanExpiresAt],
        )
        .await
    }
}
