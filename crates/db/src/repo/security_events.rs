//! The security audit trail: append, query, purge. Never updated.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::db::sealed::Executor;
use crate::entities::security_event::{self, Column, Entity};
use crate::error::{DbError, Result};
use crate::time::micros;

const ENTITY: &str = "security_event";

/// A row of the audit trail.
pub type SecurityEvent = security_event::Model;

/// What happened: the audit trail's vocabulary, stored as its snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityEventKind {
    /// A session opened (`detail.method`: `password` or a provider; `detail.mfa` when a
    /// second factor completed it).
    SignedIn,
    /// A sign-in refused for a wrong password (`detail.email_key` instead of a user when the
    /// address has no account: a hash, never the address).
    SignInFailed,
    /// A password changed by its owner (who knew the current one).
    PasswordChanged,
    /// A password replaced through an e-mailed reset link (`detail.recovery` when the link
    /// came from a "this wasn't me" report).
    PasswordReset,
    /// A first password set, through an e-mailed link, by a user who signed in only with
    /// providers until then.
    PasswordSet,
    /// A change of address asked for (`detail.to`: the new address, which is sent the link).
    EmailChangeRequested,
    /// The address changed, its new owner having opened the link (`detail.from`, `detail.to`).
    EmailChanged,
    /// The user downloaded everything stored about them.
    DataExported,
    /// The user signed one of their sessions out (`detail.session`).
    SessionRevoked,
    /// The user signed out every session (`detail.revoked`: how many were live).
    SignedOutEverywhere,
    /// The user deleted their account. The event keeps its user id, which no longer names a
    /// user.
    AccountDeleted,
    /// Two-factor authentication turned on.
    MfaEnabled,
    /// Two-factor authentication turned off.
    MfaDisabled,
    /// New backup codes replaced the old ones.
    BackupCodesRegenerated,
    /// A sign-in provider linked (`detail.provider`).
    ProviderLinked,
    /// A sign-in provider unlinked (`detail.provider`).
    ProviderUnlinked,
    /// An administrator banned the user.
    Banned,
    /// An administrator lifted the user's ban.
    Unbanned,
    /// An administrator changed the user's role.
    RoleChanged,
    /// An administrator ended every session of the user.
    SessionsRevokedByAdmin,
    /// An administrator started acting as the user (`detail.session`: the impersonation's
    /// session).
    ImpersonationStarted,
    /// The administrator stopped acting as the user (`detail.session`).
    ImpersonationStopped,
    /// The user created an organization (`detail.organization`, `detail.slug`); they are its
    /// owner. Every organization event carries `detail.organization`.
    OrganizationCreated,
    /// The organization's name or slug changed (`detail.name`, `detail.slug`: `from`, `to`).
    OrganizationUpdated,
    /// The organization was deleted (`detail.name`, `detail.slug`).
    OrganizationDeleted,
    /// The member's role changed (`detail.from`, `detail.to`).
    MemberRoleChanged,
    /// The member was removed by another member (`detail.role`).
    MemberRemoved,
    /// The member left (`detail.role`).
    MemberLeft,
    /// The member was made an owner by an owner who became an admin (`detail.from`).
    OwnershipTransferred,
    /// An address was invited (`detail.invitation`, `detail.email`, `detail.role`;
    /// `detail.resent` when the invitation was sent again with a new token). No subject:
    /// the address may have no account.
    MemberInvited,
    /// A pending invitation was revoked (`detail.invitation`, `detail.email`).
    InvitationRevoked,
    /// The user joined by accepting an invitation (`detail.invitation`, `detail.role`).
    MemberJoined,
}

impl SecurityEventKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 32] = [
        Self::SignedIn,
        Self::SignInFailed,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::PasswordSet,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::DataExported,
        Self::SessionRevoked,
        Self::SignedOutEverywhere,
        Self::AccountDeleted,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::BackupCodesRegenerated,
        Self::ProviderLinked,
        Self::ProviderUnlinked,
        Self::Banned,
        Self::Unbanned,
        Self::RoleChanged,
        Self::SessionsRevokedByAdmin,
        Self::ImpersonationStarted,
        Self::ImpersonationStopped,
        Self::OrganizationCreated,
        Self::OrganizationUpdated,
        Self::OrganizationDeleted,
        Self::MemberRoleChanged,
        Self::MemberRemoved,
        Self::MemberLeft,
        Self::OwnershipTransferred,
        Self::MemberInvited,
        Self::InvitationRevoked,
        Self::MemberJoined,
    ];

    /// The stored name (`password_changed`, `banned`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedIn => "signed_in",
            Self::SignInFailed => "sign_in_failed",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::PasswordSet => "password_set",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::DataExported => "data_exported",
            Self::SessionRevoked => "session_revoked",
            Self::SignedOutEverywhere => "signed_out_everywhere",
            Self::AccountDeleted => "account_deleted",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::BackupCodesRegenerated => "backup_codes_regenerated",
            Self::ProviderLinked => "provider_linked",
            Self::ProviderUnlinked => "provider_unlinked",
            Self::Banned => "banned",
            Self::Unbanned => "unbanned",
            Self::RoleChanged => "role_changed",
            Self::SessionsRevokedByAdmin => "sessions_revoked_by_admin",
            Self::ImpersonationStarted => "impersonation_started",
            Self::ImpersonationStopped => "impersonation_stopped",
            Self::OrganizationCreated => "organization_created",
            Self::OrganizationUpdated => "organization_updated",
            Self::OrganizationDeleted => "organization_deleted",
            Self::MemberRoleChanged => "member_role_changed",
            Self::MemberRemoved => "member_removed",
            Self::MemberLeft => "member_left",
            Self::OwnershipTransferred => "ownership_transferred",
            Self::MemberInvited => "member_invited",
            Self::InvitationRevoked => "invitation_revoked",
            Self::MemberJoined => "member_joined",
        }
    }

    /// The kind with this stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl std::fmt::Display for SecurityEventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event to append.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewSecurityEvent {
    /// What happened.
    pub kind: SecurityEventKind,
    /// When.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor_user_id: Option<Uuid>,
    /// Whose account it concerns.
    pub subject_user_id: Option<Uuid>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// A small detail; never a secret.
    pub detail: Option<serde_json::Value>,
}

impl NewSecurityEvent {
    /// `kind` at `at`, done by `actor` to `subject`'s account.
    pub fn new(
        kind: SecurityEventKind,
        at: DateTime<Utc>,
        actor: Option<Uuid>,
        subject: Option<Uuid>,
    ) -> Self {
        Self {
            kind,
            at,
            actor_user_id: actor,
            subject_user_id: subject,
            ip: None,
            user_agent: None,
            detail: None,
        }
    }
}

/// Which events [`SecurityEventRepo::list_security_events`] returns, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecurityEventQuery {
    /// Only events about this user's account.
    pub subject_user_id: Option<Uuid>,
    /// Only events of this kind.
    pub kind: Option<SecurityEventKind>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
    /// Keyset pagination: only events older than this event id (the last of the previous page).
    pub before: Option<Uuid>,
}

/// The audit trail.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SecurityEventRepo: Send + Sync {
    /// Appends an event. Run it on the [`Tx`](crate::Tx) of the change it records.
    async fn record_security_event(&self, event: NewSecurityEvent) -> Result<SecurityEvent>;
    /// The events matching `query`, newest first, at most `limit`.
    async fn list_security_events(
        &self,
        query: &SecurityEventQuery,
        limit: u64,
    ) -> Result<Vec<SecurityEvent>>;
    /// Deletes events from before `before`; returns how many.
    async fn purge_security_events(&self, before: DateTime<Utc>) -> Result<u64>;
}

#[async_trait]
impl<E: Executor> SecurityEventRepo for E {
    async fn record_security_event(&self, event: NewSecurityEvent) -> Result<SecurityEvent> {
        let model = security_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            at: Set(micros(event.at)),
            kind: Set(event.kind.as_str().to_owned()),
            actor_user_id: Set(event.actor_user_id),
            subject_user_id: Set(event.subject_user_id),
            ip: Set(event.ip),
            user_agent: Set(event.user_agent),
            detail: Set(event.detail),
        };
        Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn list_security_events(
        &self,
        query: &SecurityEventQuery,
        limit: u64,
    ) -> Result<Vec<SecurityEvent>> {
        let mut select = Entity::find().order_by_desc(Column::Id).limit(limit);
        if let Some(subject) = query.subject_user_id {
            select = select.filter(Column::SubjectUserId.eq(subject));
        }
        if let Some(kind) = query.kind {
            select = select.filter(Column::Kind.eq(kind.as_str()));
        }
        if let Some(since) = query.since {
            select = select.filter(Column::At.gte(micros(since)));
        }
        if let Some(until) = query.until {
            select = select.filter(Column::At.lt(micros(until)));
        }
        if let Some(before) = query.before {
            select = select.filter(Column::Id.lt(before));
        }
        select.all(self.conn()).await.map_err(DbError::on(ENTITY))
    }

    async fn purge_security_events(&self, before: DateTime<Utc>) -> Result<u64> {
        let result = Entity::delete_many()
            .filter(Column::At.lt(micros(before)))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected)
    }
}
