//! Organization seats: `organizations.seat_limit`, the most members (and pending
//! invitations) the organization's plan allows — written by billing whenever the
//! organization's subscription changes, read by auth under the organization's lock before
//! an invitation or an acceptance — and `organizations.seat_sync_until`, the lease one
//! instance holds while it sets the Stripe quantity of a per-seat subscription (so two
//! syncs of one organization never interleave, and no database lock is held across a call
//! to Stripe).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema::{add_columns, drop_columns};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Organizations {
    Table,
    SeatLimit,
    SeatSyncUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            Organizations::Table,
            vec![
                integer_null(Organizations::SeatLimit)
                    .check(Expr::cust("seat_limit > 0"))
                    .take(),
                timestamp_with_time_zone_null(Organizations::SeatSyncUntil),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            Organizations::Table,
            [Organizations::SeatSyncUntil, Organizations::SeatLimit],
        )
        .await
    }
}
