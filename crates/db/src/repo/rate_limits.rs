//! Fixed-window rate-limit counters kept in the database, so every instance sharing it
//! enforces one limit (in-process counters multiply the limit by the instance count).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::db::sealed::Executor;
use crate::entities::rate_limit::{self, Column, Entity};
use crate::error::{DbError, Result};
use crate::time::micros;

const ENTITY: &str = "rate limit";

/// A counter after a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitHit {
    /// Hits in the current window, this one included.
    pub hits: u32,
    /// When the current window started; it ends `window` later.
    pub window_started_at: DateTime<Utc>,
}

/// A counter as stored, read without counting a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitState {
    /// Hits in the current window (0 if the window has passed).
    pub hits: u32,
    /// When the current window started.
    pub window_started_at: DateTime<Utc>,
    /// The last hit.
    pub last_hit_at: DateTime<Utc>,
}

/// Rate-limit counters.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RateLimitRepo: Send + Sync {
    /// Counts one hit on `key` at `now` in a window of length `window` and returns the
    /// counter. A window older than `window` restarts at `now` with one hit. One atomic
    /// statement (`INSERT … ON CONFLICT DO UPDATE … RETURNING`), so concurrent hits from any
    /// number of instances are all counted.
    async fn hit_rate_limit(
        &self,
        key: &str,
        window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<RateLimitHit>;
    /// Reads `key` without counting a hit; `None` if it was never hit or its window (of
    /// length `window`) has passed at `now`.
    async fn peek_rate_limit(
        &self,
        key: &str,
        window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<RateLimitState>>;
    /// Claims the next attempt on `key` (e.g. the one guess a sign-in backoff allows): marks
    /// it touched at `now` if it still holds `hits` hits and was last touched at or before
    /// `idle_since`. One conditional `UPDATE`, so of any number of concurrent claims on one
    /// state exactly one returns `true`; the others see the new touch time and get `false`.
    async fn claim_rate_limit(
        &self,
        key: &str,
        hits: u32,
        idle_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Forgets `key` (e.g. the failure streak after a successful sign-in).
    async fn reset_rate_limit(&self, key: &str) -> Result<()>;
    /// Deletes counters untouched since `before`; returns how many.
    async fn purge_rate_limits(&self, before: DateTime<Utc>) -> Result<u64>;
}

#[async_trait]
impl<E: Executor> RateLimitRepo for E {
    async fn hit_rate_limit(
        &self,
        key: &str,
        window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<RateLimitHit> {
        let now = micros(now);
        let stale = || Expr::col((Entity, Column::WindowStartedAt)).lte(now - window);
        let model = rate_limit::ActiveModel {
            key: Set(key.to_owned()),
            window_started_at: Set(now),
            hits: Set(1),
            updated_at: Set(now),
        };
        let on_conflict = OnConflict::column(Column::Key)
            .value(
                Column::Hits,
                Expr::case(stale(), 1).finally(Expr::col((Entity, Column::Hits)).add(1)),
            )
            .value(
                Column::WindowStartedAt,
                Expr::case(stale(), now).finally(Expr::col((Entity, Column::WindowStartedAt))),
            )
            .value(Column::UpdatedAt, now)
            .to_owned();
        let row = Entity::insert(model)
            .on_conflict(on_conflict)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(RateLimitHit {
            hits: u32::try_from(row.hits).unwrap_or(0),
            window_started_at: row.window_started_at,
        })
    }

    async fn peek_rate_limit(
        &self,
        key: &str,
        window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<RateLimitState>> {
        let row = Entity::find_by_id(key.to_owned())
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(row
            .filter(|row| row.window_started_at > micros(now) - window)
            .map(|row| RateLimitState {
                hits: u32::try_from(row.hits).unwrap_or(0),
                window_started_at: row.window_started_at,
                last_hit_at: row.updated_at,
            }))
    }

    async fn claim_rate_limit(
        &self,
        key: &str,
        hits: u32,
        idle_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let Ok(hits) = i32::try_from(hits) else {
            return Ok(false); // no stored counter holds more than i32::MAX hits
        };
        let result = Entity::update_many()
            .col_expr(Column::UpdatedAt, Expr::value(micros(now)))
            .filter(Column::Key.eq(key))
            .filter(Column::Hits.eq(hits))
            .filter(Column::UpdatedAt.lte(micros(idle_since)))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<()> {
        Entity::delete_by_id(key.to_owned())
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(())
    }

    async fn purge_rate_limits(&self, before: DateTime<Utc>) -> Result<u64> {
        let result = Entity::delete_many()
            .filter(Column::UpdatedAt.lt(micros(before)))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected)
    }
}
