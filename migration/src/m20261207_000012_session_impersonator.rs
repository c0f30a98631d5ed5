//! `sessions.impersonator_session_id`: set on a session an administrator opened to act as
//! the user (impersonation), naming the administrator's own session. The impersonation
//! lives only while that session does.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::uuid_null;

use crate::schema::{add_columns, drop_columns};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Sessions {
    Table,
    ImpersonatorSessionId,
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
            vec![uuid_null(Sessions::ImpersonatorSessionId)],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, Sessions::Table, [Sessions::ImpersonatorSessionId]).await
    }
}
