//! `sessions.authenticated_at`: when the session last proved who it is (sign-in, or
//! re-authentication). Sensitive changes (MFA, providers) require it to be recent, so a
//! stolen session cookie alone cannot make them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::timestamp_with_time_zone_null;

use crate::schema::{add_columns, drop_columns};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Sessions {
    Table,
    AuthenticatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            Sessions::Table,
            vec![timestamp_with_time_zone_null(Sessions::AuthenticatedAt)],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, Sessions::Table, [Sessions::AuthenticatedAt]).await
    }
}
