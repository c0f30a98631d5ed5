//! Invitations to organizations: a pending one per (organization, address), its token's
//! sha-256, answered once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::Invitation;
use crate::db::sealed::Executor;
use crate::entities::invitation::{self, Column, Entity, InvitationStatus};
use crate::error::{DbError, Result};
use crate::time::{micros, now};

const ENTITY: &str = "invitation";

/// An invitation to store.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewInvitation {
    /// The organization.
    pub organization_id: Uuid,
    /// The invited address, normalized.
    pub email: String,
    /// The role on accepting.
    pub role: String,
    /// Who invites.
    pub inviter_user_id: Uuid,
    /// sha-256 of the token.
    pub token_hash: Vec<u8>,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
}

impl NewInvitation {
    /// An invitation of `email` to `organization_id` as `role`, by `inviter_user_id`.
    pub fn new(
        organization_id: Uuid,
        email: impl Into<String>,
        role: impl Into<String>,
        inviter_user_id: Uuid,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            organization_id,
            email: email.into(),
            role: role.into(),
            inviter_user_id,
            token_hash,
            expires_at,
        }
    }
}

impl std::fmt::Debug for NewInvitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewInvitation")
            .field("organization_id", &self.organization_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Invitations: create, look up by id or token, list pending, answer once.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait InvitationRepo: Send + Sync {
    /// Stores a pending invitation. One already pending for the address is
    /// [`DbError::Conflict`] (expire the stale ones first: [`Self::expire_invitations`]).
    async fn create_invitation(&self, invitation: NewInvitation) -> Result<Invitation>;
    /// The invitation with this id.
    async fn find_invitation(&self, id: Uuid) -> Result<Option<Invitation>>;
    /// The invitation whose token hashes to `token_hash`, whatever its state.
    async fn find_invitation_by_token(&self, token_hash: &[u8]) -> Result<Option<Invitation>>;
    /// The organization's pending invitations, oldest first.
    async fn list_pending_invitations(&self, organization_id: Uuid) -> Result<Vec<Invitation>>;
    /// How many of the organization's invitations are pending and unexpired at `now`.
    async fn count_pending_invitations(
        &self,
        organization_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<u64>;
    /// Marks the organization's pending invitations past their expiry at `now` expired;
    /// returns how many.
    async fn expire_invitations(&self, organization_id: Uuid, now: DateTime<Utc>) -> Result<u64>;
    /// Moves a pending invitation to `status`; `false` if it was not pending (answered by
    /// a concurrent request), so each is answered once.
    async fn answer_invitation(&self, id: Uuid, status: InvitationStatus) -> Result<bool>;
    /// Revokes the organization's pending invitations sent by `inviter_user_id`; returns
    /// how many.
    async fn revoke_invitations_from(
        &self,
        organization_id: Uuid,
        inviter_user_id: Uuid,
    ) -> Result<u64>;
    /// Gives a pending invitation a new token and expiry (the old token stops working);
    /// `None` if it is not pending.
    async fn renew_invitation(
        &self,
        id: Uuid,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<Invitation>>;
}

#[async_trait]
impl<E: Executor> InvitationRepo for E {
    async fn create_invitation(&self, invitation: NewInvitation) -> Result<Invitation> {
        let at = now();
        let row = invitation::ActiveModel {
            id: Set(Uuid::now_v7()),
            organization_id: Set(invitation.organization_id),
            email: Set(invitation.email),
            role: Set(invitation.role),
            inviter_user_id: Set(Some(invitation.inviter_user_id)),
            token_hash: Set(invitation.token_hash),
            status: Set(InvitationStatus::Pending.as_str().to_owned()),
            expires_at: Set(micros(invitation.expires_at)),
            created_at: Set(at),
            updated_at: Set(at),
        };
        Entity::insert(row)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_invitation(&self, id: Uuid) -> Result<Option<Invitation>> {
        Entity::find_by_id(id)
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_invitation_by_token(&self, token_hash: &[u8]) -> Result<Option<Invitation>> {
        Entity::find()
            .filter(Column::TokenHash.eq(token_hash.to_vec()))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn list_pending_invitations(&self, organization_id: Uuid) -> Result<Vec<Invitation>> {
        Entity::find()
            .filter(Column::OrganizationId.eq(organization_id))
            .filter(Column::Status.eq(InvitationStatus::Pending.as_str()))
            .order_by_asc(Column::Id)
            .all(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn count_pending_invitations(
        &self,
        organization_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        Entity::find()
            .filter(Column::OrganizationId.eq(organization_id))
            .filter(Column::Status.eq(InvitationStatus::Pending.as_str()))
            .filter(Column::ExpiresAt.gt(micros(now)))
            .count(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn expire_invitations(&self, organization_id: Uuid, now: DateTime<Utc>) -> Result<u64> {
        let now = micros(now);
        let result = Entity::update_many()
            .col_expr(
                Column::Status,
                Expr::value(InvitationStatus::Expired.as_str()),
            )
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::OrganizationId.eq(organization_id))
            .filter(Column::Status.eq(InvitationStatus::Pending.as_str()))
            .filter(Column::ExpiresAt.lte(now))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected)
    }

    async fn answer_invitation(&self, id: Uuid, status: InvitationStatus) -> Result<bool> {
        let result = Entity::update_many()
            .col_expr(Column::Status, Expr::value(status.as_str()))
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(InvitationStatus::Pending.as_str()))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn revoke_invitations_from(
        &self,
        organization_id: Uuid,
        inviter_user_id: Uuid,
    ) -> Result<u64> {
        let result = Entity::update_many()
            .col_expr(
                Column::Status,
                Expr::value(InvitationStatus::Revoked.as_str()),
            )
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::OrganizationId.eq(organization_id))
            .filter(Column::InviterUserId.eq(inviter_user_id))
            .filter(Column::Status.eq(InvitationStatus::Pending.as_str()))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected)
    }

    async fn renew_invitation(
        &self,
        id: Uuid,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<Invitation>> {
        let result = Entity::update_many()
            .col_expr(Column::TokenHash, Expr::value(token_hash))
            .col_expr(Column::ExpiresAt, Expr::value(micros(expires_at)))
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(InvitationStatus::Pending.as_str()))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        if result.rows_affected == 0 {
            return Ok(None);
        }
        self.find_invitation(id).await
    }
}
