//! Changing the account's e-mail address, and a first password for an account that signs in
//! only with providers.
//!
//! An address change is asked for by a fresh session and applied only when the link sent to
//! the *new* address is opened, so nobody moves an account to an address they do not
//! control. The old address is then told, with a "this wasn't me" link that gives it back
//! (see [`Auth::report_unauthorized_change`]). Provider identities are keyed on the
//! provider's account id, not the address, so they keep working.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tollbooth_db::{
    AccountRepo, CREDENTIAL_PROVIDER, DbError, SecurityEventKind, SessionRepo, TokenPurpose, User,
    UserRepo, normalize_email,
};
use tollbooth_email::Address;
use uuid::Uuid;

use crate::audit::Audit;
use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::impersonation::refuse_impersonation;
use crate::limits::Action;
use crate::service::Auth;
use crate::session::{Session, refuse_banned};
use crate::stepup::Restore;
use crate::tokens::Issue;

/// What an e-mail change token carries (its identifier is the address it changes, so a
/// link outlived by another change of address is refused).
#[derive(Debug, Serialize, Deserialize)]
struct EmailChange {
    /// The new address.
    to: String,
    /// The session that asked: it stays signed in, every other one ends.
    session: Uuid,
}

impl Auth {
    /// Asks to change the signed-in user's address to `new_email`: a single-use link (the
    /// configured lifetime, default 1 hour) goes to the new address, and nothing changes
    /// until it is opened ([`confirm_email_change`](Self::confirm_email_change)). A newer
    /// request replaces an older one.
    ///
    /// Needs a fresh session ([`require_fresh`](Self::require_fresh); an MFA user's
    /// re-authentication includes a code). An address with an account is
    /// [`AuthError::EmailTaken`] — what sign-up reveals already, and nothing more. Rate
    /// limited like the other e-mailing endpoints, per new address and per IP.
    pub async fn request_email_change(
        &self,
        session: &Session,
        new_email: &str,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        self.require_fresh(session)?;
        let user = &session.user;
        let to = normalize_email(Address::parse(new_email, "email")?.as_str())?;
        if to == user.email {
            return Err(AuthError::InvalidInput {
                field: "email",
                reason: "that is already the account's address",
            });
        }
        self.limit_emails(Action::Verify, &to, request).await?;
        let db = &self.inner.db;
        if db.find_user_by_email(&to).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let change = EmailChange {
            to: to.clone(),
            session: session.id,
        };
        let ttl = self.inner.config.email_change_ttl;
        let change = Issue::new(TokenPurpose::EmailChange, &user.email, ttl)
            .user(user.id)
            .payload(serde_json::to_value(&change).map_err(AuthError::internal)?)
            .replacing_older();
        let tx = db.begin().await?;
        let change = self.inner.tokens.issue(&tx, change).await?;
        self.inner
            .mail
            .email_change(&tx, user, &to, &change)
            .await?;
        let mut event = Audit::own(SecurityEventKind::EmailChangeRequested, user.id, request);
        event.detail = Some(json!({ "to": to }));
        self.record(&tx, event).await?;
        tx.commit().await?;
        self.inner.mail.committed();
        tracing::info!(user_id = %user.id, "e-mail change asked for; link sent to the new address");
        Ok(())
    }

    /// Applies the e-mail change whose link was sent to the new address: in one transaction
    /// the address changes (and counts as verified: the link proved it), every session but
    /// the one that asked ends, the old address — if it was verified — is sent a notice whose
    /// "this wasn't me" link gives it back, and the change is recorded. Returns the user.
    ///
    /// An unknown, used or expired link, one for an address the account no longer has, or
    /// one whose asking session has ended since (signed out, or every session ended by a
    /// report or a reset) is [`AuthError::InvalidToken`]; a new address taken since the request is
    /// [`AuthError::EmailTaken`] (the link stays unused).
    pub async fn confirm_email_change(
        &self,
        token: &str,
        request: &RequestInfo<'_>,
    ) -> Result<User> {
        let now = self.now();
        let tx = self.inner.db.begin().await?;
        let row = self
            .inner
            .tokens
            .consume(&tx, TokenPurpose::EmailChange, token)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let user_id = row.user_id.ok_or(AuthError::InvalidToken)?;
        let user = tx
            .lock_user(user_id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        if user.email != row.identifier {
            return Err(AuthError::InvalidToken); // the address changed since the request
        }
        refuse_banned(&user, now)?;
        let change: EmailChange = row
            .payload
            .and_then(|payload| serde_json::from_value(payload).ok())
            .ok_or(AuthError::InvalidToken)?;
        // The session that asked must still be signed in: a "this wasn't me" report, a
        // password reset or signing out everywhere ends it, and so kills the pending change.
        let asked_by_live_session = tx
            .find_session(change.session)
            .await?
            .is_some_and(|session| session.user_id == user.id && session.is_active(now));
        if !asked_by_live_session {
            return Err(AuthError::InvalidToken);
        }
        let changed = match tx.set_user_email(user.id, &change.to, now).await {
            Ok(changed) => changed.ok_or(AuthError::InvalidToken)?,
            Err(DbError::Conflict { .. }) => return Err(AuthError::EmailTaken),
            Err(error) => return Err(error.into()),
        };
        let revoked = tx
            .revoke_user_sessions(user.id, Some(change.session), now)
            .await?;
        if user.email_verified_at.is_some() {
            let restore = Restore {
                restore_email: user.email.clone(),
            };
            let report = self.issue_report(&tx, &user, Some(&restore)).await?;
            self.inner
                .mail
                .email_changed(&tx, &user, &changed.email, now, request.ip, &report)
                .await?;
        }
        let mut event = Audit::own(SecurityEventKind::EmailChanged, user.id, request);
        event.detail = Some(json!({ "from": user.email, "to": changed.email }));
        self.record(&tx, event).await?;
        tx.commit().await?;
        self.inner.mail.committed();
        tracing::info!(user_id = %user.id, revoked, "e-mail address changed; other sessions ended");
        self.tell(tollbooth_core::DomainEvent::EmailChanged {
            user_id: user.id,
            from: user.email.clone(),
            to: changed.email.clone(),
        })
        .await;
        Ok(changed)
    }

    /// E-mails the signed-in user a single-use link to choose a first password, for an
    /// account that signs in only with providers (the reset link and page, worded for
    /// them; [`reset_password`](Self::reset_password) then records `password_set`).
    /// Afterwards both ways in work. An account with a password is
    /// [`AuthError::InvalidInput`]: it changes its password instead. Rate limited like a
    /// reset request.
    pub async fn request_password_setup(
        &self,
        session: &Session,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        refuse_impersonation(session)?;
        let user = &session.user;
        if self.has_password(user).await? {
            return Err(AuthError::InvalidInput {
                field: "password",
                reason: "the account has a password already: change it instead",
            });
        }
        self.limit_emails(Action::Reset, &user.email, request)
            .await?;
        self.send_reset_link(user, false).await
    }

    /// Whether `user` can sign in with a password.
    pub(crate) async fn has_password(&self, user: &User) -> Result<bool> {
        let account = self
            .inner
            .db
            .find_user_account(user.id, CREDENTIAL_PROVIDER)
            .await?;
        Ok(account.is_some_and(|account| account.password_hash.is_some()))
    }
}
