//! Administering users: list and search, look one up, ban and unban, set a role, end
//! sessions, read the audit trail. Every change needs a fresh administrator session and
//! appends its audit event in the change's own transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use tollbooth_core::DomainEvent;
use tollbooth_db::{
    AccountRepo, SecurityEvent, SecurityEventKind, SecurityEventQuery, SecurityEventRepo,
    SessionRepo, Tx, User, UserQuery, UserRepo,
};
use uuid::Uuid;

use crate::audit::{Audit, MAX_EVENTS_PER_PAGE};
use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::service::Auth;
use crate::session::{Role, Session, SessionInfo};

/// The most users one page of [`UserAdmin::list_users`] holds.
pub const MAX_USERS_PER_PAGE: u64 = 100;

const MAX_BAN_REASON_CHARS: usize = 500;

/// The user administration of one administrator's request: get it from
/// [`Auth::user_admin`], which checks the role.
///
/// ```no_run
/// # use tollbooth_auth::*;
/// # async fn demo(auth: &Auth, admin: &Session, request: &RequestInfo<'_>, id: uuid::Uuid)
/// #     -> Result<()> {
/// let users = auth.user_admin(admin, request)?;
/// // Ends every session of the user at once; sign-in is refused until the ban ends.
/// users.ban(id, Ban::new().reason("chargeback fraud")).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UserAdmin<'a> {
    pub(crate) auth: &'a Auth,
    pub(crate) admin: &'a Session,
    pub(crate) request: &'a RequestInfo<'a>,
}

/// A page of users, and the cursor of the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserPage {
    /// The users, in creation order.
    pub users: Vec<User>,
    /// Pass as [`UserQuery::after`] for the next page; `None` on the last.
    pub next: Option<Uuid>,
}

/// One user as an administrator sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserOverview {
    /// The user row (role, ban, Stripe customer…).
    pub user: User,
    /// Their sign-in methods: `credential`, `github`, …
    pub sign_in_methods: Vec<String>,
    /// Their live sessions, newest first (`current` is always false here).
    pub sessions: Vec<SessionInfo>,
    /// Whether two-factor authentication is on.
    pub mfa_enabled: bool,
}

/// A ban to impose: why (for other administrators; never shown to the user) and until when
/// (`None`: until lifted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ban {
    reason: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

impl Ban {
    /// A ban without reason, until lifted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Why: at most 500 characters, no control characters.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// When the ban lapses by itself; must be in the future.
    #[must_use]
    pub fn until(mut self, expires_at: DateTime<Utc>) -> Self {
        self.expires_at = Some(expires_at);
        self
    }
}

impl Auth {
    /// The user administration, for `admin`'s request: [`AuthError::Forbidden`] (403)
    /// unless the session's role is `admin`. Reads need only that; every change also needs a
    /// fresh session ([`require_fresh`](Self::require_fresh)) and is audited.
    pub fn user_admin<'a>(
        &'a self,
        admin: &'a Session,
        request: &'a RequestInfo<'a>,
    ) -> Result<UserAdmin<'a>> {
        admin.require_role(&Role::ADMIN)?;
        Ok(UserAdmin {
            auth: self,
            admin,
            request,
        })
    }
}

impl UserAdmin<'_> {
    /// The users matching `query`, in creation order, at most `limit` (capped at
    /// [`MAX_USERS_PER_PAGE`]).
    pub async fn list_users(&self, query: &UserQuery, limit: u64) -> Result<UserPage> {
        let limit = limit.clamp(1, MAX_USERS_PER_PAGE);
        let db = self.auth.db();
        // One more than asked says whether there is a next page.
        let mut users = db.search_users(query, self.auth.now(), limit + 1).await?;
        let next = if users.len() as u64 > limit {
            users.truncate(limit as usize);
            users.last().map(|user| user.id)
        } else {
            None
        };
        Ok(UserPage { users, next })
    }

    /// One user: sign-in methods, live sessions and whether MFA is on;
    /// [`AuthError::UserNotFound`] (404) if there is none.
    pub async fn user(&self, id: Uuid) -> Result<UserOverview> {
        let db = self.auth.db();
        let user = db.find_user(id).await?.ok_or(AuthError::UserNotFound)?;
        let sign_in_methods = db
            .list_accounts(id)
            .await?
            .into_iter()
            .map(|account| account.provider)
            .collect();
        let sessions = db
            .list_active_sessions(id, self.auth.now())
            .await?
            .into_iter()
            .map(|row| SessionInfo::of(row, None))
            .collect();
        let mfa_enabled = self.auth.mfa_enabled(&user).await?;
        Ok(UserOverview {
            user,
            sign_in_methods,
            sessions,
            mfa_enabled,
        })
    }

    /// Bans the user: in one transaction the ban is set, **every** session of theirs ends
    /// (their next request is 401 on every instance) and the event is recorded. While it
    /// lasts every way of signing in (password, provider, a pending two-factor challenge, a
    /// password reset) is [`AuthError::Banned`]. Banning again replaces the reason and
    /// expiry. An administrator cannot ban themselves.
    pub async fn ban(&self, id: Uuid, ban: Ban) -> Result<User> {
        let now = self.auth.now();
        let reason = clean_reason(ban.reason)?;
        if ban.expires_at.is_some_and(|until| until <= now) {
            return Err(AuthError::InvalidInput {
                field: "expires_at",
                reason: "must be in the future",
            });
        }
        let (tx, _) = self.begin(id).await?;
        let user = tx
            .ban_user(id, now, reason.clone(), ban.expires_at)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        let revoked = tx.revoke_user_sessions(id, None, now).await?;
        let detail = json!({ "reason": reason, "expires_at": ban.expires_at });
        self.commit(tx, SecurityEventKind::Banned, id, Some(detail))
            .await?;
        tracing::warn!(user_id = %id, admin_id = %self.admin.user.id, revoked, "user banned; every session ended");
        let by = self.admin.user.id;
        self.auth
            .tell(DomainEvent::Banned { user_id: id, by })
            .await;
        Ok(user)
    }

    /// Lifts the user's ban (recorded even if there was none).
    pub async fn unban(&self, id: Uuid) -> Result<User> {
        let (tx, _) = self.begin(id).await?;
        let user = tx.unban_user(id).await?.ok_or(AuthError::UserNotFound)?;
        self.commit(tx, SecurityEventKind::Unbanned, id, None)
            .await?;
        tracing::info!(user_id = %id, admin_id = %self.admin.user.id, "user unbanned");
        let by = self.admin.user.id;
        self.auth
            .tell(DomainEvent::Unbanned { user_id: id, by })
            .await;
        Ok(user)
    }

    /// Sets the user's role (`user`, `admin`, or an application's own). Their sessions see
    /// it on their next request. An administrator cannot change their own role.
    pub async fn set_role(&self, id: Uuid, role: &Role) -> Result<User> {
        let name = role.as_str();
        let valid = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-';
        if name.is_empty() || name.len() > 64 || !name.bytes().all(valid) {
            return Err(AuthError::InvalidInput {
                field: "role",
                reason: "1 to 64 characters: a-z, 0-9, '_' or '-'",
            });
        }
        let (tx, before) = self.begin(id).await?;
        let user = tx
            .set_user_role(id, name)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        let detail = json!({ "from": before.role, "to": name });
        self.commit(tx, SecurityEventKind::RoleChanged, id, Some(detail))
            .await?;
        tracing::info!(user_id = %id, admin_id = %self.admin.user.id, role = name, "role changed");
        let (by, role) = (self.admin.user.id, name.to_owned());
        self.auth
            .tell(DomainEvent::RoleChanged {
                user_id: id,
                by,
                role,
            })
            .await;
        Ok(user)
    }

    /// Ends every session of the user; returns how many were live.
    pub async fn revoke_sessions(&self, id: Uuid) -> Result<u64> {
        let (tx, _) = self.begin(id).await?;
        let revoked = tx.revoke_user_sessions(id, None, self.auth.now()).await?;
        let detail = json!({ "revoked": revoked });
        self.commit(
            tx,
            SecurityEventKind::SessionsRevokedByAdmin,
            id,
            Some(detail),
        )
        .await?;
        tracing::info!(user_id = %id, admin_id = %self.admin.user.id, revoked, "sessions revoked by an administrator");
        Ok(revoked)
    }

    /// The audit trail matching `query`, newest first, at most `limit` (capped at
    /// [`MAX_EVENTS_PER_PAGE`]).
    pub async fn security_events(
        &self,
        query: &SecurityEventQuery,
        limit: u64,
    ) -> Result<Vec<SecurityEvent>> {
        let limit = limit.clamp(1, MAX_EVENTS_PER_PAGE);
        Ok(self.auth.db().list_security_events(query, limit).await?)
    }

    /// Starts a change to user `id`: a fresh session is required, never on the
    /// administrator's own account, and the user is locked against concurrent changes
    /// until [`commit`](Self::commit); returns the user as locked.
    pub(crate) async fn begin(&self, id: Uuid) -> Result<(Tx, User)> {
        self.auth.require_fresh(self.admin)?;
        if id == self.admin.user.id {
            return Err(AuthError::InvalidInput {
                field: "user",
                reason: "an administrator cannot change their own account from here",
            });
        }
        let tx = self.auth.db().begin().await?;
        let user = tx.lock_user(id).await?.ok_or(AuthError::UserNotFound)?;
        Ok((tx, user))
    }

    /// Records the change's audit event in its transaction, and commits both.
    pub(crate) async fn commit(
        &self,
        tx: Tx,
        kind: SecurityEventKind,
        subject: Uuid,
        detail: Option<serde_json::Value>,
    ) -> Result<()> {
        let event = Audit {
            kind,
            actor: Some(self.admin.user.id),
            subject: Some(subject),
            request: self.request,
            detail,
        };
        self.auth.record(&tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn clean_reason(reason: Option<String>) -> Result<Option<String>> {
    let Some(reason) = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
    else {
        return Ok(None);
    };
    if reason.chars().count() > MAX_BAN_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(AuthError::InvalidInput {
            field: "reason",
            reason: "at most 500 characters, no control characters",
        });
    }
    Ok(Some(reason))
}
