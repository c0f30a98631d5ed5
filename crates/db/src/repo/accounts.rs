//! Accounts: the ways a user signs in.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use uuid::Uuid;

use crate::Account;
use crate::db::sealed::Executor;
use crate::entities::account::{self, Column, Entity};
use crate::entities::user;
use crate::error::{DbError, Result};
use crate::time::now;

const ENTITY: &str = "account";

/// The provider name of e-mail + password accounts.
pub const CREDENTIAL_PROVIDER: &str = "credential";

/// A sign-in method to attach to a user.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewAccount {
    /// Owner.
    pub user_id: Uuid,
    /// `credential`, `github`, `google`, …
    pub provider: String,
    /// The provider's stable id for the identity.
    pub provider_account_id: String,
    /// The e-mail the provider reported.
    pub provider_email: Option<String>,
    /// bcrypt hash (credential accounts only).
    pub password_hash: Option<String>,
}

impl NewAccount {
    /// The e-mail + password account of `user_id`.
    pub fn credential(user_id: Uuid, password_hash: impl Into<String>) -> Self {
        Self {
            user_id,
            provider: CREDENTIAL_PROVIDER.to_owned(),
            provider_account_id: user_id.to_string(),
            provider_email: None,
            password_hash: Some(password_hash.into()),
        }
    }

    /// An OAuth identity, keyed on the provider's account id (never on e-mail).
    pub fn oauth(
        user_id: Uuid,
        provider: impl Into<String>,
        provider_account_id: impl Into<String>,
        provider_email: Option<String>,
    ) -> Self {
        Self {
            user_id,
            provider: provider.into(),
            provider_account_id: provider_account_id.into(),
            provider_email,
            password_hash: None,
        }
    }
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("user_id", &self.user_id)
            .field("provider", &self.provider)
            .field("provider_account_id", &self.provider_account_id)
            .field("provider_email", &self.provider_email)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// What [`AccountRepo::unlink_account`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unlink {
    /// The account is gone.
    Unlinked,
    /// The user had no account with that provider.
    NotLinked,
    /// It is the user's only sign-in method; it stays.
    LastSignInMethod,
}

/// Accounts: one row per (provider, provider account id), at most one per provider per user.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AccountRepo: Send + Sync {
    /// Links a sign-in method. The identity already linked (to anyone), or a second account
    /// of the same provider on one user, is [`DbError::Conflict`].
    async fn create_account(&self, account: NewAccount) -> Result<Account>;
    /// The account for a provider identity.
    async fn find_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<Option<Account>>;
    /// The user's account with `provider` (e.g. their `credential` account).
    async fn find_user_account(&self, user_id: Uuid, provider: &str) -> Result<Option<Account>>;
    /// Every sign-in method of the user, oldest first.
    async fn list_accounts(&self, user_id: Uuid) -> Result<Vec<Account>>;
    /// Replaces the password hash; `false` if the user has no credential account.
    async fn set_password_hash(&self, user_id: Uuid, password_hash: &str) -> Result<bool>;
    /// Unlinks the user's `provider` account; `false` if there was none.
    async fn delete_account(&self, user_id: Uuid, provider: &str) -> Result<bool>;
    /// Unlinks the user's `provider` account unless it is their last sign-in method.
    /// Concurrent unlinks of one user's accounts run one after the other (the user's row is
    /// locked first), so two at once cannot remove the last two methods.
    async fn unlink_account(&self, user_id: Uuid, provider: &str) -> Result<Unlink>;
}

#[async_trait]
impl<E: Executor> AccountRepo for E {
    async fn create_account(&self, account: NewAccount) -> Result<Account> {
        let at = now();
        let model = account::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(account.user_id),
            provider: Set(account.provider),
            provider_account_id: Set(account.provider_account_id),
            provider_email: Set(account.provider_email),
            password_hash: Set(account.password_hash),
            created_at: Set(at),
            updated_at: Set(at),
        };
        Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_account(
        &self,
        provider: &str,
        provider_account_id: &str,
    ) -> Result<Option<Account>> {
        Entity::find()
            .filter(Column::Provider.eq(provider))
            .filter(Column::ProviderAccountId.eq(provider_account_id))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_user_account(&self, user_id: Uuid, provider: &str) -> Result<Option<Account>> {
        Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(Column::Provider.eq(provider))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn list_accounts(&self, user_id: Uuid) -> Result<Vec<Account>> {
        Entity::find()
            .filter(Column::UserId.eq(user_id))
            .order_by_asc(Column::CreatedAt)
            .all(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn set_password_hash(&self, user_id: Uuid, password_hash: &str) -> Result<bool> {
        let result = Entity::update_many()
            .col_expr(Column::PasswordHash, Expr::value(password_hash))
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::UserId.eq(user_id))
            .filter(Column::Provider.eq(CREDENTIAL_PROVIDER))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn delete_account(&self, user_id: Uuid, provider: &str) -> Result<bool> {
        let result = Entity::delete_many()
            .filter(Column::UserId.eq(user_id))
            .filter(Column::Provider.eq(provider))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn unlink_account(&self, user_id: Uuid, provider: &str) -> Result<Unlink> {
        // A savepoint when `self` is already a transaction.
        let tx = self.conn().begin().await.map_err(DbError::on(ENTITY))?;
        // A no-op write as the first statement: PostgreSQL locks the row, SQLite takes its
        // write lock, either way until commit. Counting first would let two unlinks each
        // see the other's account.
        user::Entity::update_many()
            .col_expr(user::Column::UpdatedAt, Expr::col(user::Column::UpdatedAt))
            .filter(user::Column::Id.eq(user_id))
            .exec(&tx)
            .await
            .map_err(DbError::on("user"))?;
        let linked = Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(Column::Provider.eq(provider))
            .count(&tx)
            .await
            .map_err(DbError::on(ENTITY))?;
        let all = Entity::find()
            .filter(Column::UserId.eq(user_id))
            .count(&tx)
            .await
            .map_err(DbError::on(ENTITY))?;
        let outcome = match (linked, all) {
            (0, _) => Unlink::NotLinked,
            (_, ..=1) => Unlink::LastSignInMethod,
            _ => {
                Entity::delete_many()
                    .filter(Column::UserId.eq(user_id))
                    .filter(Column::Provider.eq(provider))
                    .exec(&tx)
                    .await
                    .map_err(DbError::on(ENTITY))?;
                Unlink::Unlinked
            }
        };
        tx.commit().await.map_err(DbError::on(ENTITY))?;
        Ok(outcome)
    }
}
