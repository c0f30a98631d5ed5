//! Organizations: `organizations`, `memberships` (who belongs with which role) and
//! `invitations` (a pending seat offered to an e-mail address, its token stored as sha-256),
//! plus `sessions.active_organization_id`, the organization a session acts in.
//!
//! The invariants the database can hold itself are constraints: one membership per
//! (organization, user), one *pending* invitation per (organization, e-mail) (a partial
//! unique index), unique slugs in canonical form. "At least one owner" spans rows: the
//! library keeps it under the organization row's lock.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema::{add_columns, created_at, drop_columns, drop_tables, fk, index, updated_at};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    Slug,
    StripeCustomerId,
}

#[derive(Clone, Copy, DeriveIden)]
enum Memberships {
    Table,
    Id,
    OrganizationId,
    UserId,
    Role,
}

#[derive(Clone, Copy, DeriveIden)]
enum Invitations {
    Table,
    Id,
    OrganizationId,
    Email,
    Role,
    InviterUserId,
    TokenHash,
    Status,
    ExpiresAt,
}

#[derive(Clone, Copy, DeriveIden)]
enum Users {
    Table,
}

#[derive(Clone, Copy, DeriveIden)]
enum Sessions {
    Table,
    ActiveOrganizationId,
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
                    .table(Organizations::Table)
                    .col(pk_uuid(Organizations::Id))
                    .col(text(Organizations::Name).check(Expr::cust("length(name) > 0")))
                    // Lower-case letters, digits and inner hyphens: the library
                    // canonicalises, the CHECK keeps any writer that skips it out.
                    .col(text(Organizations::Slug).unique_key().check(Expr::cust(
                        "slug = lower(slug) AND length(slug) BETWEEN 2 AND 48",
                    )))
                    .col(text_null(Organizations::StripeCustomerId).unique_key())
                    .col(created_at())
                    .col(updated_at())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(pk_uuid(Memberships::Id))
                    .col(uuid(Memberships::OrganizationId))
                    .col(uuid(Memberships::UserId))
                    .col(text(Memberships::Role).check(Expr::cust("length(role) > 0")))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        Memberships::Table,
                        Memberships::OrganizationId,
                        Organizations::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        Memberships::Table,
                        Memberships::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                Memberships::Table,
                [Memberships::OrganizationId, Memberships::UserId],
                true,
            ))
            .await?;
        // A user's organizations.
        manager
            .create_index(index(Memberships::Table, [Memberships::UserId], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(pk_uuid(Invitations::Id))
                    .col(uuid(Invitations::OrganizationId))
                    .col(text(Invitations::Email).check(Expr::cust("email = lower(email)")))
                    .col(text(Invitations::Role).check(Expr::cust("length(role) > 0")))
                    // The inviter's account may go; the invitation keeps its history.
                    .col(uuid_null(Invitations::InviterUserId))
                    .col(blob(Invitations::TokenHash).unique_key())
                    .col(text(Invitations::Status).check(Expr::cust(
                        "status IN ('pending', 'accepted', 'revoked', 'expired')",
                    )))
                    .col(timestamp_with_time_zone(Invitations::ExpiresAt))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        Invitations::Table,
                        Invitations::OrganizationId,
                        Organizations::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        Invitations::Table,
                        Invitations::InviterUserId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        // An organization's invitations by status (its pending list; the cascade when it
        // goes, which the partial index below cannot serve).
        manager
            .create_index(index(
                Invitations::Table,
                [Invitations::OrganizationId, Invitations::Status],
                false,
            ))
            .await?;
        // The inviter's invitations (`SET NULL` when their account goes).
        manager
            .create_index(index(
                Invitations::Table,
                [Invitations::InviterUserId],
                false,
            ))
            .await?;
        // One pending invitation per (organization, address); answered ones stay as history.
        manager
            .create_index(
                index(
                    Invitations::Table,
                    [Invitations::OrganizationId, Invitations::Email],
                    true,
                )
                .name("uq_invitations_organization_id_email_pending")
                .and_where(Expr::col(Invitations::Status).eq("pending"))
                .to_owned(),
            )
            .await?;

        add_columns(
            manager,
            Sessions::Table,
            vec![uuid_null(Sessions::ActiveOrganizationId)],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, Sessions::Table, [Sessions::ActiveOrganizationId]).await?;
        drop_tables(
            manager,
            vec![
                Invitations::Table.into_iden(),
                Memberships::Table.into_iden(),
                Organizations::Table.into_iden(),
            ],
        )
        .await
    }
}
