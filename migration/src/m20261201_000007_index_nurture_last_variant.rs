//! Indexes `nurture_enrollments.last_variant_id`, the one foreign-key column left without an
//! index: deleting an e-mail variant (`ON DELETE SET NULL`) scanned every enrollment.

use sea_orm_migration::prelude::*;

use crate::schema::index;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum NurtureEnrollments {
    Table,
    LastVariantId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                NurtureEnrollments::Table,
                [NurtureEnrollments::LastVariantId],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_nurture_enrollments_last_variant_id")
                    .table(NurtureEnrollments::Table)
                    .to_owned(),
            )
            .await
    }
}
