//! Deleting one's own account.
//!
//! Order matters. The user proves who they are (a fresh session, and a code when MFA is
//! on); then every [`BeforeAccountDeletion`](tollbooth_core::BeforeAccountDeletion) step
//! runs — billing cancels the subscriptions there, so a deleted account is never charged
//! again — and any refusal ends the deletion with nothing deleted. Only then, in one
//! transaction, the user row goes: its sessions, sign-in methods, tokens, second factor,
//! subscriptions and checkout sessions go with it (`ON DELETE CASCADE`); payments and
//! bookings stay for the merchant's records, their `user_id` set to null (`ON DELETE SET
//! NULL`); the rate-limit counters kept about the account are deleted; the audit trail keeps
//! its events, `account_deleted` last. The goodbye e-mail commits with it. The only owner
//! of an organization cannot delete their account (it would leave the organization without
//! one): they transfer ownership or delete the organization first.

use tollbooth_db::{RateLimitRepo, SecurityEventKind, SessionRepo, UserRepo};

use crate::audit::Audit;
use crate::cookie::SetCookie;
use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::limits::Key;
use crate::organizations::refuse_sole_owner;
use crate::service::Auth;
use crate::session::{Session, refuse_banned};

impl Auth {
    /// Deletes the signed-in user's account, and answers the cookie that clears the
    /// session's. Needs a fresh session ([`require_fresh`](Self::require_fresh)) and, when
    /// MFA is on, a current TOTP or backup `code` as well (a missing one is
    /// [`AuthError::InvalidInput`]; a wrong one [`AuthError::InvalidMfaCode`]).
    ///
    /// The configured steps
    /// ([`AuthConfigBuilder::before_account_deletion`](crate::AuthConfigBuilder::before_account_deletion))
    /// run first: one that fails is [`AuthError::DeletionRefused`], with nothing of the
    /// account deleted — Stripe down refuses the deletion rather than leave a subscription
    /// billing a deleted account. Then one transaction deletes the account (see the module
    /// documentation for what goes and what stays), records `account_deleted` and queues
    /// `AccountDeletedEmail` to the address. Every session of the user is gone with it, so
    /// their cookies are 401 on the next request, on every instance. Deleting an account a
    /// concurrent request deleted already succeeds; one banned, or whose asking session
    /// ended, while the steps ran is refused ([`AuthError::Banned`],
    /// [`AuthError::Unauthorized`]) — what the steps ended (a cancelled subscription)
    /// stays ended. The only owner of an organization is refused before anything runs
    /// ([`AuthError::LastOwner`]).
    pub async fn delete_account(
        &self,
        session: &Session,
        code: Option<&str>,
        request: &RequestInfo<'_>,
    ) -> Result<SetCookie> {
        self.require_fresh(session)?;
        let user = &session.user;
        if self.mfa_enabled(user).await? {
            let code = code.ok_or(AuthError::InvalidInput {
                field: "code",
                reason: "required: two-factor authentication is on",
            })?;
            self.check_code(user, code, true).await?;
        }
        // Before the steps: a refusal here must not have cancelled billing already.
        refuse_sole_owner(&self.inner.db, user.id, false).await?;
        for step in &self.inner.config.before_deletion.0 {
            step.before_account_deletion(user.id)
                .await
                .map_err(|by| AuthError::DeletionRefused { by })?;
        }
        let tx = self.inner.db.begin().await?;
        let Some(user) = tx.lock_user(user.id).await? else {
            return Ok(self.inner.sessions.clear_cookie());
        };
        // The steps took time: a ban, a "this wasn't me" report or a sign-out everywhere
        // committed meanwhile wins (a banned user must not free their address this way).
        let now = self.now();
        refuse_banned(&user, now)?;
        // Their memberships go with the account (a cascade): each organization's seats change.
        let organizations = refuse_sole_owner(&tx, user.id, true).await?;
        if !tx
            .find_session(session.id)
            .await?
            .is_some_and(|row| row.is_active(now))
        {
            return Err(AuthError::Unauthorized);
        }
        for key in Key::all_of_account(&user.email, user.id) {
            tx.reset_rate_limit(key.as_str()).await?;
        }
        self.record(
            &tx,
            Audit::own(SecurityEventKind::AccountDeleted, user.id, request),
        )
        .await?;
        if user.email_verified_at.is_some() {
            self.inner
                .mail
                .account_deleted(&tx, &user, now, request.ip)
                .await?;
        }
        tx.delete_user(user.id).await?;
        tx.commit().await?;
        self.inner.mail.committed();
        tracing::info!(user_id = %user.id, "account deleted");
        self.tell(tollbooth_core::DomainEvent::AccountDeleted { user_id: user.id })
            .await;
        for organization in organizations {
            self.seats_changed(organization).await;
        }
        Ok(self.inner.sessions.clear_cookie())
    }
}
