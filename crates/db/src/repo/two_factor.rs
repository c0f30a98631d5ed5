//! TOTP enrollment state and backup codes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, TransactionSession,
    TransactionTrait,
};
use uuid::Uuid;

use crate::TwoFactor;
use crate::db::sealed::Executor;
use crate::entities::{backup_code, two_factor};
use crate::error::{DbError, Result};
use crate::time::{micros, now};

const ENTITY: &str = "two-factor enrollment";
const CODE_ENTITY: &str = "backup code";

/// Two-factor state: enrollment, replay-proof step acceptance, failure counting, backup codes.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TwoFactorRepo: Send + Sync {
    /// Starts (or restarts) enrollment with a new sealed secret: the row is pending
    /// (`enabled_at = None`) and its replay and failure state is reset.
    async fn begin_two_factor(
        &self,
        user_id: Uuid,
        secret_ciphertext: Vec<u8>,
        key_id: &str,
    ) -> Result<TwoFactor>;
    /// The user's enrollment, pending or enabled.
    async fn find_two_factor(&self, user_id: Uuid) -> Result<Option<TwoFactor>>;
    /// Confirms a pending enrollment; `false` if there is none.
    async fn enable_two_factor(&self, user_id: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// Removes the enrollment and every backup code; `false` if there was none.
    async fn delete_two_factor(&self, user_id: Uuid) -> Result<bool>;
    /// Accepts TOTP time step `step` only if it is later than every step accepted before
    /// (RFC 6238 §5.2: a code is usable once), clearing failures and lock. Atomic: of two
    /// concurrent calls with the same step exactly one gets `true`.
    async fn accept_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool>;
    /// Counts a failed code and returns the consecutive failures so far.
    async fn record_two_factor_failure(&self, user_id: Uuid) -> Result<Option<i32>>;
    /// Refuses codes until `until`, and starts a new failure count for after the lock.
    async fn lock_two_factor(&self, user_id: Uuid, until: DateTime<Utc>) -> Result<bool>;
    /// Clears the failure count and any lock (a correct backup code was used).
    async fn clear_two_factor_failures(&self, user_id: Uuid) -> Result<bool>;
    /// Replaces all backup codes with these hashes (atomically).
    async fn replace_backup_codes(&self, user_id: Uuid, code_hashes: Vec<Vec<u8>>) -> Result<()>;
    /// Uses the backup code with this hash; `true` exactly once per code.
    async fn consume_backup_code(
        &self,
        user_id: Uuid,
        code_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Unused backup codes left.
    async fn count_backup_codes(&self, user_id: Uuid) -> Result<u64>;
}

#[async_trait]
impl<E: Executor> TwoFactorRepo for E {
    async fn begin_two_factor(
        &self,
        user_id: Uuid,
        secret_ciphertext: Vec<u8>,
        key_id: &str,
    ) -> Result<TwoFactor> {
        use two_factor::Column;
        let at = now();
        let model = two_factor::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id),
            secret_ciphertext: Set(secret_ciphertext),
            key_id: Set(key_id.to_owned()),
            enabled_at: Set(None),
            last_used_step: Set(None),
            failed_attempts: Set(0),
            locked_until: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        };
        let on_conflict = OnConflict::column(Column::UserId)
            .update_columns([
                Column::SecretCiphertext,
                Column::KeyId,
                Column::EnabledAt,
                Column::LastUsedStep,
                Column::FailedAttempts,
                Column::LockedUntil,
                Column::UpdatedAt,
            ])
            .to_owned();
        two_factor::Entity::insert(model)
            .on_conflict(on_conflict)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_two_factor(&self, user_id: Uuid) -> Result<Option<TwoFactor>> {
        two_factor::Entity::find()
            .filter(two_factor::Column::UserId.eq(user_id))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn enable_two_factor(&self, user_id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        use two_factor::Column;
        let result = two_factor::Entity::update_many()
            .col_expr(Column::EnabledAt, Expr::value(micros(at)))
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::UserId.eq(user_id))
            .filter(Column::EnabledAt.is_null())
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn delete_two_factor(&self, user_id: Uuid) -> Result<bool> {
        let tx = self.conn().begin().await.map_err(DbError::on(ENTITY))?;
        backup_code::Entity::delete_many()
            .filter(backup_code::Column::UserId.eq(user_id))
            .exec(&tx)
            .await
            .map_err(DbError::on(CODE_ENTITY))?;
        let result = two_factor::Entity::delete_many()
            .filter(two_factor::Column::UserId.eq(user_id))
            .exec(&tx)
            .await
            .map_err(DbError::on(ENTITY))?;
        tx.commit().await.map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn accept_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool> {
        use two_factor::Column;
        let fresh = Condition::any()
            .add(Column::LastUsedStep.is_null())
            .add(Column::LastUsedStep.lt(step));
        let result = two_factor::Entity::update_many()
            .col_expr(Column::LastUsedStep, Expr::value(step))
            .col_expr(Column::FailedAttempts, Expr::value(0))
            .col_expr(
                Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::UserId.eq(user_id))
            .filter(fresh)
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn record_two_factor_failure(&self, user_id: Uuid) -> Result<Option<i32>> {
        use two_factor::Column;
        let updated = two_factor::Entity::update_many()
            .col_expr(
                Column::FailedAttempts,
                Expr::col(Column::FailedAttempts).add(1),
            )
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::UserId.eq(user_id))
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(updated.first().map(|row| row.failed_attempts))
    }

    async fn lock_two_factor(&self, user_id: Uuid, until: DateTime<Utc>) -> Result<bool> {
        set_lock(self, user_id, Some(until)).await
    }

    async fn clear_two_factor_failures(&self, user_id: Uuid) -> Result<bool> {
        set_lock(self, user_id, None).await
    }

    async fn replace_backup_codes(&self, user_id: Uuid, code_hashes: Vec<Vec<u8>>) -> Result<()> {
        let at = now();
        // A savepoint when `self` is already a transaction.
        let tx = self
            .conn()
            .begin()
            .await
            .map_err(DbError::on(CODE_ENTITY))?;
        backup_code::Entity::delete_many()
            .filter(backup_code::Column::UserId.eq(user_id))
            .exec(&tx)
            .await
            .map_err(DbError::on(CODE_ENTITY))?;
        if !code_hashes.is_empty() {
            let rows = code_hashes
                .into_iter()
                .map(|code_hash| backup_code::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(user_id),
                    code_hash: Set(code_hash),
                    used_at: Set(None),
                    created_at: Set(at),
                });
            backup_code::Entity::insert_many(rows)
                .exec_without_returning(&tx)
                .await
                .map_err(DbError::on(CODE_ENTITY))?;
        }
        tx.commit().await.map_err(DbError::on(CODE_ENTITY))
    }

    async fn consume_backup_code(
        &self,
        user_id: Uuid,
        code_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        use backup_code::Column;
        let result = backup_code::Entity::update_many()
            .col_expr(Column::UsedAt, Expr::value(micros(now)))
            .filter(Column::UserId.eq(user_id))
            .filter(Column::CodeHash.eq(code_hash.to_vec()))
            .filter(Column::UsedAt.is_null())
            .exec(self.conn())
            .await
            .map_err(DbError::on(CODE_ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn count_backup_codes(&self, user_id: Uuid) -> Result<u64> {
        backup_code::Entity::find()
            .filter(backup_code::Column::UserId.eq(user_id))
            .filter(backup_code::Column::UsedAt.is_null())
            .count(self.conn())
            .await
            .map_err(DbError::on(CODE_ENTITY))
    }
}

/// Starts a new failure count, with codes refused until `until` (or not at all).
async fn set_lock<E: Executor>(
    executor: &E,
    user_id: Uuid,
    until: Option<DateTime<Utc>>,
) -> Result<bool> {
    use two_factor::Column;
    let result = two_factor::Entity::update_many()
        .col_expr(Column::LockedUntil, Expr::value(until.map(micros)))
        .col_expr(Column::FailedAttempts, Expr::value(0))
        .col_expr(Column::UpdatedAt, Expr::value(now()))
        .filter(Column::UserId.eq(user_id))
        .exec(executor.conn())
        .await
        .map_err(DbError::on(ENTITY))?;
    Ok(result.rows_affected == 1)
}
