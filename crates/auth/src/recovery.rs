//! E-mail verification and password reset.

use tollbooth_db::{
    AccountRepo, NewAccount, NewToken, SessionRepo, TokenPurpose, TokenRepo, User, UserRepo,
    normalize_email,
};
use tollbooth_email::{Link, PasswordResetEmail, PasswordResetProps, WelcomeEmail, WelcomeProps};

use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::limits::keys;
use crate::secret::{hash_token, new_token};
use crate::service::Auth;
use crate::stepup::Recovery;

impl Auth {
    /// Marks the address verified if `token` is an unused, unexpired verification token for
    /// the user's current address. Single use.
    pub async fn verify_email(&self, token: &str) -> Result<User> {
        let db = &self.inner.db;
        let now = self.now();
        let row = db
            .consume_token(&hash_token(token), TokenPurpose::EmailVerification, now)
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
        self.limit_emails("verify", &email, request).await?;
        let db = &self.inner.db;
        let Some(user) = db.find_user_by_email(&email).await? else {
            return Ok(());
        };
        if user.email_verified_at.is_some() {
            return Ok(());
        }
        let tx = db.begin().await?;
        tx.delete_tokens(TokenPurpose::EmailVerification, &user.email)
            .await?;
        let (token, hash) = new_token();
        let ttl = self.inner.config.verification_ttl;
        let row = tx
            .create_token(
                NewToken::new(
                    TokenPurpose::EmailVerification,
                    &user.email,
                    hash,
                    self.now() + ttl,
                )
                .user(user.id),
            )
            .await?;
        let props = WelcomeProps {
            name: user.name.clone(),
            verify_url: Some(self.verification_link(&token)),
        };
        self.queue_email::<WelcomeEmail>(
            &tx,
            &user.email,
            &props,
            format!("verify-email/{}", row.id),
        )
        .await?;
        tx.commit().await?;
        self.emails_committed();
        Ok(())
    }

    /// Sends a password reset link if `email` has an account. The answer and its timing are
    /// the same either way (the e-mail goes out in the background), so the endpoint does not
    /// reveal which addresses are registered. Older reset links stop working.
    pub async fn request_password_reset(
        &self,
        email: &str,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let email = normalize_email(email).unwrap_or_default();
        self.limit_emails("reset", &email, request).await?;
        let db = &self.inner.db;
        let Some(user) = db.find_user_by_email(&email).await? else {
            return Ok(());
        };
        let tx = db.begin().await?;
        tx.delete_tokens(TokenPurpose::PasswordReset, &user.email)
            .await?;
        let (token, hash) = new_token();
        let ttl = self.inner.config.reset_ttl;
        let row = tx
            .create_token(
                NewToken::new(
                    TokenPurpose::PasswordReset,
                    &user.email,
                    hash,
                    self.now() + ttl,
                )
                .user(user.id),
            )
            .await?;
        let config = &self.inner.config;
        let props = PasswordResetProps {
            name: user.name.clone(),
            reset_url: config
                .public_base_url
                .link(&config.reset_password_path, &[("token", &token)]),
            expires_in: ttl,
        };
        self.queue_email::<PasswordResetEmail>(
            &tx,
            &user.email,
            &props,
            format!("password-reset/{}", row.id),
        )
        .await?;
        tx.commit().await?;
        self.emails_committed();
        Ok(())
    }

    /// Sets a new password with a reset token: the policy applies, the token is consumed,
    /// **every** session of the user is revoked, and — deliberately — no session is issued:
    /// the user signs in with the new password (and their second factor, if enabled), so a
    /// reset link alone never yields a session. The link proves the address, so an
    /// unverified one becomes verified; an OAuth-only user gains a password. A recovery
    /// reset (from [`report_unauthorized_change`](Self::report_unauthorized_change)) also
    /// removes the second factor and provider links added in the recovery window.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<()> {
        let db = &self.inner.db;
        let now = self.now();
        let hash = hash_token(token);
        // Look before consuming, so a password refused by the policy does not burn the link.
        let row = db
            .find_usable_token(&hash, TokenPurpose::PasswordReset, now)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let user_id = row.user_id.ok_or(AuthError::InvalidToken)?;
        let user = db
            .find_user(user_id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let password_hash = self.hash_for(&user, new_password).await?;

        let tx = db.begin().await?;
        if tx
            .consume_token(&hash, TokenPurpose::PasswordReset, now)
            .await?
            .is_none()
        {
            return Err(AuthError::InvalidToken); // used concurrently
        }
        if !tx.set_password_hash(user.id, &password_hash).await? {
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
        if let Some(recovery) = recovery {
            let undone = self
                .undo_changes_since(&tx, &user, recovery.recovery_since)
                .await?;
            tracing::warn!(user_id = %user.id, ?undone, "recovery reset: recent sign-in changes undone");
        }
        tx.commit().await?;
        self.clear_failures(&keys::account("sign_in_failures", &user.email))
            .await?;
        tracing::info!(user_id = %user.id, revoked, "password reset; all sessions revoked");
        Ok(())
    }

    pub(crate) fn verification_link(&self, token: &str) -> Link {
        let config = &self.inner.config;
        config
            .public_base_url
            .link(&config.verify_email_path, &[("token", token)])
    }

    async fn limit_emails(
        &self,
        action: &str,
        email: &str,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let limits = &self.inner.config.rate_limits;
        if let Some(ip) = request.ip {
            self.limit(&keys::ip(action, ip), limits.emails_per_ip)
                .await?;
        }
        self.limit(&keys::account(action, email), limits.emails_per_account)
            .await
    }
}
