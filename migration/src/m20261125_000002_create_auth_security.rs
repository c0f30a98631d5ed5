//! Single-use tokens, TOTP two-factor state, backup codes and durable rate-limit counters.

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
enum VerificationTokens {
    Table,
    Id,
    Purpose,
    Identifier,
    UserId,
    TokenHash,
    Payload,
    ExpiresAt,
    ConsumedAt,
}

#[derive(DeriveIden)]
enum TwoFactors {
    Table,
    Id,
    UserId,
    SecretCiphertext,
    KeyId,
    EnabledAt,
    LastUsedStep,
    FailedAttempts,
    LockedUntil,
}

#[derive(DeriveIden)]
enum BackupCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    UsedAt,
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Key,
    WindowStartedAt,
    Hits,
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
                    .table(VerificationTokens::Table)
                    .col(pk_uuid(VerificationTokens::Id))
                    .col(text(VerificationTokens::Purpose))
                    .col(text(VerificationTokens::Identifier))
                    .col(uuid_null(VerificationTokens::UserId))
                    // sha-256 of the bearer token; the token itself is never stored.
                    .col(blob(VerificationTokens::TokenHash).unique_key())
                    .col(json_binary_null(VerificationTokens::Payload))
                    .col(timestamp_with_time_zone(VerificationTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(
                        VerificationTokens::ConsumedAt,
                    ))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        VerificationTokens::Table,
                        VerificationTokens::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                VerificationTokens::Table,
                [VerificationTokens::Purpose, VerificationTokens::Identifier],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                VerificationTokens::Table,
                [VerificationTokens::UserId],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                VerificationTokens::Table,
                [VerificationTokens::ExpiresAt],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TwoFactors::Table)
                    .col(pk_uuid(TwoFactors::Id))
                    .col(uuid(TwoFactors::UserId).unique_key())
                    // nonce || AES-GCM ciphertext of the TOTP secret, under key `key_id`.
                    .col(blob(TwoFactors::SecretCiphertext))
                    .col(text(TwoFactors::KeyId))
                    // NULL while enrollment awaits its first valid code.
                    .col(timestamp_with_time_zone_null(TwoFactors::EnabledAt))
                    .col(big_integer_null(TwoFactors::LastUsedStep))
                    .col(integer(TwoFactors::FailedAttempts).default(0))
                    .col(timestamp_with_time_zone_null(TwoFactors::LockedUntil))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        TwoFactors::Table,
                        TwoFactors::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BackupCodes::Table)
                    .col(pk_uuid(BackupCodes::Id))
                    .col(uuid(BackupCodes::UserId))
                    .col(blob(BackupCodes::CodeHash))
                    .col(timestamp_with_time_zone_null(BackupCodes::UsedAt))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        BackupCodes::Table,
                        BackupCodes::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                BackupCodes::Table,
                [BackupCodes::UserId, BackupCodes::CodeHash],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    // e.g. `sign_in:ip:203.0.113.7`; one row per counter, shared by instances.
                    .col(text(RateLimits::Key).primary_key())
                    .col(timestamp_with_time_zone(RateLimits::WindowStartedAt))
                    .col(integer(RateLimits::Hits))
                    .col(updated_at())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(RateLimits::Table, [Alias::new("updated_at")], false))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                RateLimits::Table.into_iden(),
                BackupCodes::Table.into_iden(),
                TwoFactors::Table.into_iden(),
                VerificationTokens::Table.into_iden(),
            ],
        )
        .await
    }
}
