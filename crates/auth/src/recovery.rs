//! E-mail verification and password reset.

use serde_json::json;
use tollbooth_db::{
    AccountRepo, NewAccount, SecurityEventKind, SessionRepo, TokenPurpose, User, UserRepo,
    normalize_email,
};

use crate::audit::Audit;

use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::limits::{Action, Key};
use crate::service::Auth;
use crate::session::refuse_banned;
use crate::stepup::Recovery;
use crate::tokens::Issue;

impl Auth {
    /// Marks the address verified if `token` is an unused, unexpired verification token for
    /// the user's current address. Single use.
    pub async fn verify_email(&self, token: &str) -> Result<User> {
        let db = &self.inner.db;
        let now = self.now();
        let row = self
            .inner
            .tokens
            .consume(db, TokenPurpose::EmailVerification, token)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let user_id = row.user_id.ok_or(AuthError::InvalidToken)?;
        let user = db
            .find_user(user_id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        if user.email != row.identifier {
            return Err(AuthError::InvalidToken); // the address changed since the link was sent
        }
        if user.email_verified_at.is_some() {
            return Ok(user);
        }
        db.mark_email_verified(user.id, now)
            .await?
            .ok_or(AuthError::InvalidToken)
    }

    /// Sends a new verification link if `email` belongs to an unverified account (older links
    /// stop working). Answers the same whether or not it does; rate-limited per address and
    /// per IP.
    pub async fn resend_verification(&self, email: &str, request: &RequestInfo<'_>) -> Result<()> {
        let email = normalize_email(email).unwrap_or_default();
        self.limit_emails(Action::Verify, &email, request).await?;
        let db = &self.inner.db;
        let Some(user) = db.find_user_by_email(&email).await? else {
            return Ok(());
        };
        if user.email_verified_at.is_some() {
            return Ok(());
        }
        let ttl = self.inner.config.verification_ttl;
        let verification = Issue::new(TokenPurpose::EmailVerification, &user.email, ttl)
            .user(user.id)
            .replacing_older();
        let tx = db.begin().await?;
        let verification = self.inner.tokens.issue(&tx, verification).await?;
        self.inner
            .mail
            .verification(&tx, &user, &verification)
            .await?;
        tx.commit().await?;
        self.inner.mail.committed();
        Ok(())
    }

    /// Sends a password reset link if `email` has an account. The answer and its timing are
    /// the same either way (the e-mail goes out in the background), so the endpoint does not
    /// reveal which addresses are registered. Older reset links stop working. An account
    /// that signs in only with providers gets the same link worded as a first password.
    pub async fn request_password_reset(
        &self,
        email: &str,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let email = normalize_email(email).unwrap_or_default();
        self.limit_emails(Action::Reset, &email, request).await?;
        let db = &self.inner.db;
        let Some(user) = db.find_user_by_email(&email).await? else {
            return Ok(());
        };
        if user.is_banned(self.now()) {
            return Ok(()); // the link would be refused; the answer is the same
        }
        let has_password = self.has_password(&user).await?;
        self.send_reset_link(&user, has_password).await
    }

    /// Issues a reset link for `user` (older ones stop working) and e-mails it, worded as a
    /// reset when the account `has_password`, as a first password otherwise.
    pub(crate) async fn send_reset_link(&self, user: &User, has_password: bool) -> Result<()> {
        let db = &self.inner.db;
        let ttl = self.inner.config.reset_ttl;
        let reset = Issue::new(TokenPurpose::PasswordReset, &user.email, ttl)
            .user(user.id)
            .replacing_older();
        let tx = db.begin().await?;
        let reset = self.inner.tokens.issue(&tx, reset).await?;
        if has_password {
            self.inner.mail.password_reset(&tx, user, &reset).await?;
        } else {
            self.inner.mail.set_password(&tx, user, &reset).await?;
        }
        tx.commit().await?;
        self.inner.mail.committed();
        Ok(())
    }

    /// Sets a new password with a reset token: the policy applies, the token is consumed,
    /// **every** session of the user is revoked, and — deliberately — no session is issued:
    /// the user signs in with the new password (and their second factor, if enabled), so a
    /// reset link alone never yields a session. The link proves the address, so an
    /// unverified one becomes verified; an OAuth-only user gains a password. A recovery
    /// reset (from [`report_unauthorized_change`](Self::report_unauthorized_change)) also
    /// removes the second factor and provider links added in the recovery window. Recorded
    /// as `password_reset`, or `password_set` when the account had no password.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let db = &self.inner.db;
        let tokens = &self.inner.tokens;
        let now = self.now();
        // Look before consuming, so a password refused by the policy does not burn the link.
        let row = tokens
            .peek(db, TokenPurpose::PasswordReset, token)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let user_id = row.user_id.ok_or(AuthError::InvalidToken)?;
        let user = db
            .find_user(user_id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        if user.email != row.identifier {
            // Sent to an address the account no longer has (an address change, or its
            // undoing): whoever holds that mailbox holds no key to this account.
            return Err(AuthError::InvalidToken);
        }
        refuse_banned(&user, now)?;
        let password_hash = self
            .inner
            .passwords
            .hash_new(new_password, &user.email, user.name.as_deref())
            .await?;

        let tx = db.begin().await?;
        if tokens
            .consume(&tx, TokenPurpose::PasswordReset, token)
            .await?
            .is_none()
        {
            return Err(AuthError::InvalidToken); // used concurrently
        }
        let had_password = tx.set_password_hash(user.id, &password_hash).await?;
        if !had_password {
            tx.create_account(NewAccount::credential(user.id, password_hash))
                .await?;
        }
        let revoked = tx.revoke_user_sessions(user.id, None, now).await?;
        if user.email_verified_at.is_none() {
            tx.mark_email_verified(user.id, now).await?;
        }
        let recovery = row
            .payload
            .as_ref()
            .and_then(|p| serde_json::from_value::<Recovery>(p.clone()).ok());
        if let Some(recovery) = &recovery {
            let undone = self
                .undo_changes_since(&tx, &user, recovery.recovery_since)
                .await?;
            tracing::warn!(user_id = %user.id, ?undone, "recovery reset: recent sign-in changes undone");
        }
        let kind = if had_password {
            SecurityEventKind::PasswordReset
        } else {
            SecurityEventKind::PasswordSet
        };
        let mut event = Audit::own(kind, user.id, request);
        event.detail = recovery.is_some().then(|| json!({ "recovery": true }));
        self.record(&tx, event).await?;
        tx.commit().await?;
        let failures = Key::sign_in_failures(&user.email);
        self.inner.limiter.clear_failures(db, &failures).await?;
        tracing::info!(user_id = %user.id, revoked, "password reset; all sessions revoked");
        self.tell(tollbooth_core::DomainEvent::PasswordChanged { user_id: user.id })
            .await;
        Ok(())
    }

    pub(crate) async fn limit_emails(
        &self,
        action: Action,
        email: &str,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let limiter = &self.inner.limiter;
        let limits = limiter.limits();
        limiter
            .hit_both(
                &self.inner.db,
                action,
                request.ip,
                limits.emails_per_ip,
                email,
                limits.emails_per_account,
            )
            .await
    }
}
