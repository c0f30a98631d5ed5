//! Organization billing: a subscription and a Checkout session belong to a user *or* to an
//! organization. `subscriptions` and `checkout_sessions` gain a nullable
//! `organization_id` (deleted with the organization), `user_id` becomes nullable, and a
//! CHECK holds exactly one of the two.
//!
//! PostgreSQL alters the tables in place. SQLite cannot drop a NOT NULL or add a constraint
//! to an existing table, so there each table is rebuilt: renamed aside, created anew with
//! the same columns, indexes and foreign keys, filled, and the old one dropped (no table
//! references either, so no foreign key is touched).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::schema::{created_at, fk, index, updated_at};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    UserId,
    OrganizationId,
    StripeSubscriptionId,
    StripeCustomerId,
    StripePriceId,
    Plan,
    Status,
    Quantity,
    TrialEnd,
    CurrentPeriodEnd,
    CancelAtPeriodEnd,
    CanceledAt,
    EndedAt,
    LastEventAt,
    StripeCreatedAt,
    StatusChangedAt,
    DuplicateOf,
}

#[derive(Clone, Copy, DeriveIden)]
enum CheckoutSessions {
    Table,
    Id,
    UserId,
    OrganizationId,
    Plan,
    StripeCheckoutSessionId,
    Url,
    ExpiresAt,
    ClosedAt,
}

#[derive(Clone, Copy, DeriveIden)]
enum Users {
    Table,
}

#[derive(Clone, Copy, DeriveIden)]
enum Organizations {
    Table,
}

/// Exactly one owner: a user or an organization.
const ONE_CUSTOMER: &str = "(user_id IS NULL) <> (organization_id IS NULL)";

/// The columns both tables had before this migration, in the order SQLite copies them.
const SUBSCRIPTION_COLUMNS: &str = "id, user_id, stripe_subscription_id, stripe_customer_id, \
    stripe_price_id, plan, status, quantity, trial_end, current_period_end, \
    cancel_at_period_end, canceled_at, ended_at, last_event_at, created_at, updated_at, \
    stripe_created_at, status_changed_at, duplicate_of";
const CHECKOUT_COLUMNS: &str =
    "id, user_id, plan, stripe_checkout_session_id, url, expires_at, closed_at, created_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Sqlite {
            rebuild(
                manager,
                "subscriptions",
                subscriptions(true),
                SUBSCRIPTION_COLUMNS,
            )
            .await?;
            rebuild(
                manager,
                "checkout_sessions",
                checkout_sessions(true),
                CHECKOUT_COLUMNS,
            )
            .await?;
        } else {
            for table in ["subscriptions", "checkout_sessions"] {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} ALTER COLUMN user_id DROP NOT NULL;
                     ALTER TABLE {table} ADD COLUMN organization_id uuid NULL
                         CONSTRAINT fk_{table}_organization_id REFERENCES organizations (id)
                         ON DELETE CASCADE ON UPDATE CASCADE;
                     ALTER TABLE {table} ADD CONSTRAINT ck_{table}_one_customer CHECK ({ONE_CUSTOMER});"
                ))
                .await?;
            }
        }
        create_indexes(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Organizations' billing rows have no place in the older schema.
        for table in ["subscriptions", "checkout_sessions"] {
            db.execute_unprepared(&format!(
                "DELETE FROM {table} WHERE organization_id IS NOT NULL"
            ))
            .await?;
        }
        if db.get_database_backend() == DbBackend::Sqlite {
            rebuild(
                manager,
                "subscriptions",
                subscriptions(false),
                SUBSCRIPTION_COLUMNS,
            )
            .await?;
            rebuild(
                manager,
                "checkout_sessions",
                checkout_sessions(false),
                CHECKOUT_COLUMNS,
            )
            .await?;
            create_indexes(manager, false).await
        } else {
            for table in ["subscriptions", "checkout_sessions"] {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} DROP CONSTRAINT ck_{table}_one_customer;
                     ALTER TABLE {table} DROP COLUMN organization_id;
                     ALTER TABLE {table} ALTER COLUMN user_id SET NOT NULL;"
                ))
                .await?;
            }
            Ok(())
        }
    }
}

/// SQLite: `table` recreated as `definition`, keeping its rows. Its indexes go with the old
/// table; [`create_indexes`] makes them again.
async fn rebuild(
    manager: &SchemaManager<'_>,
    table: &str,
    definition: TableCreateStatement,
    columns: &str,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&format!("ALTER TABLE {table} RENAME TO {table}_rebuilt"))
        .await?;
    // Index names are global: the old table's must go before the new table's are made.
    let indexes: Vec<String> = db
        .query_all_raw(sea_orm_migration::sea_orm::Statement::from_string(
            DbBackend::Sqlite,
            format!(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}_rebuilt' \
                 AND sql IS NOT NULL"
            ),
        ))
        .await?
        .into_iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect::<Result<_, _>>()?;
    for name in indexes {
        db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
    }
    manager.create_table(definition).await?;
    db.execute_unprepared(&format!(
        "INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_rebuilt;
         DROP TABLE {table}_rebuilt;"
    ))
    .await?;
    Ok(())
}

/// `subscriptions` as of migration 8, with (`organizations`) or without the organization.
fn subscriptions(organizations: bool) -> TableCreateStatement {
    let mut table = Table::create();
    table
        .table(Subscriptions::Table)
        .col(pk_uuid(Subscriptions::Id))
        .col(customer_column(Subscriptions::UserId, organizations))
        .col(text(Subscriptions::StripeSubscriptionId).unique_key())
        .col(text(Subscriptions::StripeCustomerId))
        .col(text_null(Subscriptions::StripePriceId))
        .col(text(Subscriptions::Plan))
        .col(text(Subscriptions::Status))
        .col(integer(Subscriptions::Quantity).default(1))
        .col(timestamp_with_time_zone_null(Subscriptions::TrialEnd))
        .col(timestamp_with_time_zone_null(
            Subscriptions::CurrentPeriodEnd,
        ))
        .col(boolean(Subscriptions::CancelAtPeriodEnd).default(false))
        .col(timestamp_with_time_zone_null(Subscriptions::CanceledAt))
        .col(timestamp_with_time_zone_null(Subscriptions::EndedAt))
        .col(timestamp_with_time_zone(Subscriptions::LastEventAt))
        .col(created_at())
        .col(updated_at())
        .col(timestamp_with_time_zone_null(
            Subscriptions::StripeCreatedAt,
        ))
        .col(timestamp_with_time_zone_null(
            Subscriptions::StatusChangedAt,
        ))
        .col(text_null(Subscriptions::DuplicateOf))
        .foreign_key(&mut fk(
            Subscriptions::Table,
            Subscriptions::UserId,
            Users::Table,
            ForeignKeyAction::Cascade,
        ));
    if organizations {
        with_organization(
            &mut table,
            Subscriptions::Table,
            Subscriptions::OrganizationId,
        );
    }
    table.take()
}

/// `checkout_sessions` as of migration 8, with or without the organization.
fn checkout_sessions(organizations: bool) -> TableCreateStatement {
    let mut table = Table::create();
    table
        .table(CheckoutSessions::Table)
        .col(pk_uuid(CheckoutSessions::Id))
        .col(customer_column(CheckoutSessions::UserId, organizations))
        .col(text(CheckoutSessions::Plan))
        .col(text(CheckoutSessions::StripeCheckoutSessionId).unique_key())
        .col(text(CheckoutSessions::Url))
        .col(timestamp_with_time_zone(CheckoutSessions::ExpiresAt))
        .col(timestamp_with_time_zone_null(CheckoutSessions::ClosedAt))
        .col(created_at())
        .foreign_key(&mut fk(
            CheckoutSessions::Table,
            CheckoutSessions::UserId,
            Users::Table,
            ForeignKeyAction::Cascade,
        ));
    if organizations {
        with_organization(
            &mut table,
            CheckoutSessions::Table,
            CheckoutSessions::OrganizationId,
        );
    }
    table.take()
}

/// `user_id`: nullable once an organization may own the row instead.
fn customer_column(column: impl IntoIden, organizations: bool) -> ColumnDef {
    if organizations {
        uuid_null(column)
    } else {
        uuid(column)
    }
}

/// Adds `organization_id` (deleted with the organization) and the one-customer CHECK.
fn with_organization(
    table: &mut TableCreateStatement,
    name: impl IntoIden + Copy,
    column: impl IntoIden + Copy,
) {
    table
        .col(uuid_null(column))
        .foreign_key(&mut fk(
            name,
            column,
            Organizations::Table,
            ForeignKeyAction::Cascade,
        ))
        .check(Expr::cust(ONE_CUSTOMER));
}

/// The tables' indexes: those of migrations 3 and 8, and (`organizations`) the
/// organization's, which also serve its foreign keys.
async fn create_indexes(manager: &SchemaManager<'_>, organizations: bool) -> Result<(), DbErr> {
    let sqlite = manager.get_database_backend() == DbBackend::Sqlite;
    if sqlite {
        manager
            .create_index(index(Subscriptions::Table, [Subscriptions::UserId], false))
            .await?;
        manager
            .create_index(index(
                Subscriptions::Table,
                [Subscriptions::StripeCustomerId],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                CheckoutSessions::Table,
                [CheckoutSessions::UserId, CheckoutSessions::Plan],
                false,
            ))
            .await?;
    }
    if organizations {
        manager
            .create_index(index(
                Subscriptions::Table,
                [Subscriptions::OrganizationId],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                CheckoutSessions::Table,
                [CheckoutSessions::OrganizationId, CheckoutSessions::Plan],
                false,
            ))
            .await?;
    }
    Ok(())
}
