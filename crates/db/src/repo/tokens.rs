//! Single-use verification tokens (e-mail verification, password reset, OAuth state, MFA
//! challenges), looked up by the sha-256 of the bearer token.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::VerificationToken;
use crate::db::sealed::Executor;
use crate::entities::verification_token::{self, Column, Entity, TokenPurpose};
use crate::error::{DbError, Result};
use crate::time::{micros, now};

const ENTITY: &str = "verification token";

/// A token to store (its hash, never the token).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewToken {
    /// What the token may be used for.
    pub purpose: TokenPurpose,
    /// What it is about (an e-mail address, a provider, …).
    pub identifier: String,
    /// The user it belongs to, if any.
    pub user_id: Option<Uuid>,
    /// sha-256 of the bearer token.
    pub token_hash: Vec<u8>,
    /// Purpose-specific data.
    pub payload: Option<serde_json::Value>,
    /// Refused from then on.
    pub expires_at: DateTime<Utc>,
}

impl NewToken {
    /// A token for `purpose` about `identifier`, valid until `expires_at`.
    pub fn new(
        purpose: TokenPurpose,
        identifier: impl Into<String>,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            purpose,
            identifier: identifier.into(),
            user_id: None,
            token_hash,
            payload: None,
            expires_at,
        }
    }

    /// Ties the token to a user (deleted with them).
    pub fn user(mut self, user_id: Uuid) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// Attaches purpose-specific data.
    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = Some(payload);
        self
    }
}

/// Verification tokens: issue, consume exactly once, revoke, purge.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TokenRepo: Send + Sync {
    /// Stores a token. A hash collision (never expected from 256-bit tokens) is
    /// [`DbError::Conflict`].
    async fn create_token(&self, token: NewToken) -> Result<VerificationToken>;
    /// Consumes the token with this hash if it has this purpose, is unexpired at `now` and
    /// unused. Of concurrent calls with the same token exactly one gets `Some`.
    async fn consume_token(
        &self,
        token_hash: &[u8],
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<VerificationToken>>;
    /// The token if it is usable (right purpose, unexpired, unused), without consuming it.
    async fn find_usable_token(
        &self,
        token_hash: &[u8],
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<VerificationToken>>;
    /// Deletes every token of `purpose` about `identifier` (e.g. older reset links when a new
    /// one is issued); returns how many.
    async fn delete_tokens(&self, purpose: TokenPurpose, identifier: &str) -> Result<u64>;
    /// Deletes tokens that expired before `before`; returns how many.
    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64>;
}

#[async_trait]
impl<E: Executor> TokenRepo for E {
    async fn create_token(&self, token: NewToken) -> Result<VerificationToken> {
        let model = verification_token::ActiveModel {
            id: Set(Uuid::now_v7()),
            purpose: Set(token.purpose),
            identifier: Set(token.identifier),
            user_id: Set(token.user_id),
            token_hash: Set(token.token_hash),
            payload: Set(token.payload),
            expires_at: Set(micros(token.expires_at)),
            consumed_at: Set(None),
            created_at: Set(now()),
        };
        Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn consume_token(
        &self,
        token_hash: &[u8],
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<VerificationToken>> {
        let now = micros(now);
        // One conditional UPDATE: the row can flip from unused to used only once, whatever
        // the number of concurrent callers or instances.
        let consumed = Entity::update_many()
            .col_expr(Column::ConsumedAt, Expr::value(now))
            .filter(Column::TokenHash.eq(token_hash.to_vec()))
            .filter(Column::Purpose.eq(purpose))
            .filter(Column::ConsumedAt.is_null())
            .filter(Column::ExpiresAt.gt(now))
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(consumed.into_iter().next())
    }

    async fn find_usable_token(
        &self,
        token_hash: &[u8],
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<VerificationToken>> {
        Entity::find()
            .filter(Column::TokenHash.eq(token_hash.to_vec()))
            .filter(Column::Purpose.eq(purpose))
            .filter(Column::ConsumedAt.is_null())
            .filter(Column::ExpiresAt.gt(micros(now)))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn delete_tokens(&self, purpose: TokenPurpose, identifier: &str) -> Result<u64> {
        let result = Entity::delete_many()
            .filter(Column::Purpose.eq(purpose))
            .filter(Column::Identifier.eq(identifier))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected)
    }

    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64> {
        let result = Entity::delete_many()
            .filter(Column::ExpiresAt.lt(micros(before)))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected)
    }
}
