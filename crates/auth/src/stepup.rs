//! Step-up ("sudo mode") before sensitive changes, security notices with a "this wasn't me"
//! link, and the recovery that link starts.
//!
//! A session cookie is a bearer credential: whoever holds it is the user. Without step-up, a
//! stolen session could enrol its own second factor (locking the owner out after their next
//! password reset) or link its own provider identity (a way back in that a reset does not
//! remove), silently. So those changes need a *fresh* session — signed in, or re-verified by
//! password or second-factor code, within [`AuthConfigBuilder::reauthentication_window`] —
//! each sends the owner a notice, and the notice's link undoes them.
//!
//! [`AuthConfigBuilder::reauthentication_window`]: crate::AuthConfigBuilder::reauthentication_window

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tollbooth_db::{
    AccountRepo, CREDENTIAL_PROVIDER, SecurityEventKind, SessionRepo, TokenPurpose, TwoFactorRepo,
    Tx, User, UserRepo,
};
use tollbooth_email::SecurityChange;

use crate::audit::Audit;
use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::impersonation::refuse_impersonation;
use crate::limits::{Action, Key};
use crate::service::{Auth, Inner};
use crate::session::Session;
use crate::tokens::{Issue, Issued};

/// What a recovery reset token carries: sign-in changes made since then are undone.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Recovery {
    pub(crate) recovery_since: DateTime<Utc>,
}

/// What the "this wasn't me" link of an e-mail change notice carries: the address to give
/// the account back.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Restore {
    pub(crate) restore_email: String,
}

impl Auth {
    /// Refuses a sensitive change ([`AuthError::ReauthenticationRequired`], 403
    /// `reauthentication_required`; an impersonation, never fresh: [`AuthError::Impersonating`]) unless `session` signed in or re-authenticated within the
    /// re-authentication window (default 10 minutes). Enrolling MFA and linking or
    /// unlinking a provider check it; the changes that take a password or a code (change
    /// password, disable MFA, new backup codes) are re-verified by that.
    pub fn require_fresh(&self, session: &Session) -> Result<()> {
        refuse_impersonation(session)?;
        let window = self.inner.config.reauthentication_window;
        if self.now() - session.authenticated_at <= window {
            Ok(())
        } else {
            Err(AuthError::ReauthenticationRequired)
        }
    }

    /// Re-verifies the signed-in user without a new session, making `session` fresh (see
    /// [`require_fresh`](Self::require_fresh)): their password if they have one, and a TOTP
    /// or backup code if MFA is on. A user with neither (OAuth only) signs in again with
    /// their provider instead. Failures count against the account's sign-in limits and
    /// backoff, like a sign-in: a stolen session is no password oracle.
    pub async fn reauthenticate(
        &self,
        session: &Session,
        password: Option<&str>,
        code: Option<&str>,
    ) -> Result<()> {
        refuse_impersonation(session)?;
        let Inner {
            db,
            limiter,
            passwords,
            ..
        } = &*self.inner;
        let user = &session.user;
        let per_account = limiter.limits().sign_in_per_account;
        let key = Key::account(Action::SignIn, &user.email);
        limiter.hit(db, &key, per_account).await?;
        let failures = Key::sign_in_failures(&user.email);
        limiter.check_backoff(db, &failures).await?;
        let mfa = self.mfa_enabled(user).await?;
        match (self.credential(&user.email).await?, password) {
            (Some((_, hash)), Some(password)) => {
                if !passwords.hasher().verify(password, &hash).await? {
                    limiter.record_failure(db, &failures).await?;
                    return Err(AuthError::InvalidCredentials);
                }
            }
            (Some(_), None) => {
                return Err(AuthError::InvalidInput {
                    field: "password",
                    reason: "required to confirm it is you",
                });
            }
            (None, _) if !mfa => {
                return Err(AuthError::InvalidInput {
                    field: "password",
                    reason: "this account has no password: sign in again with your provider",
                });
            }
            (None, _) => {}
        }
        if mfa {
            let code = code.ok_or(AuthError::InvalidInput {
                field: "code",
                reason: "required: two-factor authentication is on",
            })?;
            self.check_code(user, code, true).await?;
        }
        limiter.clear_failures(db, &failures).await?;
        if !db
            .mark_session_authenticated(session.id, self.now())
            .await?
        {
            return Err(AuthError::Unauthorized);
        }
        tracing::info!(user_id = %user.id, session_id = %session.id, "re-authenticated");
        Ok(())
    }

    /// Tells the owner of `user`'s verified address what changed, when and from where, with
    /// a single-use "this wasn't me" link ([`report_unauthorized_change`](Self::report_unauthorized_change)).
    /// Written to the outbox inside `tx`, the transaction of the change itself; called
    /// through [`security_change`](Self::security_change), which also records it.
    pub(crate) async fn queue_security_notice(
        &self,
        tx: &Tx,
        user: &User,
        change: SecurityChange,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        if user.email_verified_at.is_none() {
            // Nobody has proved the address: there is no one to tell.
            return Ok(());
        }
        let report = self.issue_report(tx, user, None).await?;
        self.inner
            .mail
            .security_notice(tx, user, change, self.now(), request.ip, &report)
            .await
    }

    /// The single-use token of a "this wasn't me" link to `user`'s address (the report
    /// lifetime), carrying `restore` when the notice is of a change of address. Every
    /// notice that offers the link issues it here.
    pub(crate) async fn issue_report(
        &self,
        tx: &Tx,
        user: &User,
        restore: Option<&Restore>,
    ) -> Result<Issued> {
        let ttl = self.inner.config.security_report_ttl;
        let mut report = Issue::new(TokenPurpose::SecurityReport, &user.email, ttl).user(user.id);
        if let Some(restore) = restore {
            report = report.payload(serde_json::to_value(restore).map_err(AuthError::internal)?);
        }
        self.inner.tokens.issue(tx, report).await
    }

    /// The "this wasn't me" link of a security notice: every session of the user ends at
    /// once, and the returned password-reset token (single-use, the reset lifetime) sets a
    /// new password **and** undoes the sign-in changes made in the recovery window (default
    /// 24 hours) before the notice — second factors enabled and providers linked then are
    /// removed — so an attacker who held a session is locked out by the owner alone. The
    /// notice of an e-mail change also gives the account its old address back — deleting an
    /// unverified account someone made on it meanwhile (only the address's owner could have
    /// verified one) — and a verified holder keeps it, the account the new address (the
    /// reset token still lets the owner in). The link is single-use; an unknown, used or
    /// expired one is [`AuthError::InvalidToken`].
    pub async fn report_unauthorized_change(
        &self,
        token: &str,
        request: &RequestInfo<'_>,
    ) -> Result<String> {
        let config = &self.inner.config;
        let now = self.now();
        let tokens = &self.inner.tokens;
        let tx = self.inner.db.begin().await?;
        let report = tokens
            .consume(&tx, TokenPurpose::SecurityReport, token)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let user_id = report.user_id.ok_or(AuthError::InvalidToken)?;
        let mut user = tx
            .lock_user(user_id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let revoked = tx.revoke_user_sessions(user.id, None, now).await?;
        let mut restored_from = None;
        let restore = report
            .payload
            .and_then(|payload| serde_json::from_value::<Restore>(payload).ok());
        if let Some(Restore { restore_email }) = restore
            && restore_email != user.email
        {
            // While the account had another address, someone may have signed up with the old
            // one to keep it from coming back. Only the old address's owner can verify an
            // account on it, so an unverified holder is such a squatter: it goes.
            let holder = tx.find_user_by_email(&restore_email).await?;
            let free = match holder {
                None => true,
                Some(squatter) if squatter.email_verified_at.is_none() => {
                    tx.delete_user(squatter.id).await?;
                    tracing::warn!(user_id = %user.id, squatter_id = %squatter.id, "an unverified account on the reported old address was deleted to give it back");
                    true
                }
                Some(_) => false,
            };
            if free {
                let restored = tx
                    .set_user_email(user.id, &restore_email, now)
                    .await?
                    .ok_or(AuthError::InvalidToken)?;
                let mut event = Audit::own(SecurityEventKind::EmailChanged, user.id, request);
                event.detail =
                    Some(json!({ "from": user.email, "to": restored.email, "restored": true }));
                self.record(&tx, event).await?;
                restored_from = Some(std::mem::replace(&mut user, restored).email);
            } else {
                tracing::warn!(user_id = %user.id, "unauthorized e-mail change reported; the old address has a verified account now");
            }
        }
        let recovery = Recovery {
            recovery_since: report.created_at - config.recovery_window,
        };
        let reset = Issue::new(TokenPurpose::PasswordReset, &user.email, config.reset_ttl)
            .user(user.id)
            .payload(serde_json::to_value(&recovery).map_err(AuthError::internal)?)
            .replacing_older();
        let reset = tokens.issue(&tx, reset).await?.token;
        tx.commit().await?;
        if let Some(from) = restored_from {
            self.tell(tollbooth_core::DomainEvent::EmailChanged {
                user_id: user.id,
                from,
                to: user.email.clone(),
            })
            .await;
        }
        tracing::warn!(user_id = %user.id, revoked, "unauthorized change reported: every session ended, recovery reset issued");
        Ok(reset)
    }

    /// Inside a recovery reset: removes the second factor if it was enabled, and every
    /// provider identity linked, since `since`. Returns what was removed, for the log.
    pub(crate) async fn undo_changes_since(
        &self,
        tx: &Tx,
        user: &User,
        since: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        let mut undone = Vec::new();
        if tx
            .find_two_factor(user.id)
            .await?
            .is_some_and(|tf| tf.enabled_at.is_some_and(|at| at >= since))
        {
            tx.delete_two_factor(user.id).await?;
            undone.push("two-factor authentication".to_owned());
        }
        for account in tx.list_accounts(user.id).await? {
            if account.provider != CREDENTIAL_PROVIDER && account.created_at >= since {
                tx.delete_account(user.id, &account.provider).await?;
                undone.push(account.provider);
            }
        }
        Ok(undone)
    }
}
