//! E-mail + password: sign-up, sign-in, password change.

use chrono::{DateTime, Utc};
use tollbooth_db::{
    AccountRepo, CREDENTIAL_PROVIDER, DbError, NewAccount, NewUser, SessionRepo, TokenPurpose,
    User, UserRepo, normalize_email,
};
use tollbooth_email::Address;

use crate::audit::Change;
use crate::cookie::SetCookie;
use tollbooth_core::DomainEvent;

use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::impersonation::refuse_impersonation;
use crate::limits::{Action, Key};
use crate::service::{Auth, Inner};
use crate::session::{Session, refuse_banned};
use crate::tokens::Issue;

/// A completed sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The new session.
    pub session: Session,
    /// The session cookie for the adapter to send.
    pub cookie: SetCookie,
}

/// A sign-in that needs a second factor: pass `token` with a TOTP or backup code to finish.
#[derive(Clone)]
pub struct MfaChallenge {
    /// Single-use, short-lived challenge token (stored hashed).
    pub token: String,
    /// When the challenge expires.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for MfaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallenge")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a correct password leads to.
///
/// Deliberately exhaustive: a new outcome (another second factor, say) must break callers'
/// `match` at compile time rather than fall into a catch-all that might treat it as success.
#[derive(Debug)]
pub enum SignInOutcome {
    /// Signed in.
    SignedIn(Box<SignedIn>),
    /// The account has MFA: no session yet.
    MfaRequired(MfaChallenge),
}

const MAX_NAME_CHARS: usize = 100;

impl Auth {
    /// Creates an account and sends the welcome e-mail with a verification link (in the
    /// background). The password is checked against the policy, hashed with bcrypt off the
    /// async runtime, and stored on the user's `credential` account.
    ///
    /// An address already registered (in any letter case) is [`AuthError::EmailTaken`]. That
    /// reveals the account exists — which any sign-up form must, to be usable — but nothing
    /// more: the check happens before any hashing, sign-up is rate-limited per IP, and
    /// sign-in and password reset answer identically for unknown addresses.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
        request: &RequestInfo<'_>,
    ) -> Result<User> {
        let Inner {
            db,
            config,
            limiter,
            passwords,
            ..
        } = &*self.inner;
        if let Some(ip) = request.ip {
            let key = Key::ip(Action::SignUp, ip);
            limiter
                .hit(db, &key, limiter.limits().sign_up_per_ip)
                .await?;
        }
        let email = normalize_email(Address::parse(email, "email")?.as_str())?;
        let name = clean_name(name)?;
        passwords.check(password, &email, name.as_deref())?;
        if db.find_user_by_email(&email).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let password_hash = passwords.hasher().hash(password).await?;

        let tx = db.begin().await?;
        let mut new_user = NewUser::new(&email);
        new_user.name = name;
        let user = match tx.create_user(new_user).await {
            Err(DbError::Conflict { .. }) => return Err(AuthError::EmailTaken),
            other => other?,
        };
        tx.create_account(NewAccount::credential(user.id, password_hash))
            .await?;
        let verification = Issue::new(
            TokenPurpose::EmailVerification,
            &email,
            config.verification_ttl,
        );
        let verification = self
            .inner
            .tokens
            .issue(&tx, verification.user(user.id))
            .await?;
        self.inner
            .mail
            .welcome(&tx, &user, Some(&verification))
            .await?;
        tx.commit().await?;
        self.inner.mail.committed();
        tracing::info!(user_id = %user.id, "signed up");
        self.tell(DomainEvent::UserCreated {
            user_id: user.id,
            email: user.email.clone(),
        })
        .await;
        Ok(user)
    }

    /// Checks e-mail and password and opens a session — or stops at an [`MfaChallenge`] when
    /// the user has two-factor authentication enabled.
    ///
    /// - Unknown e-mail and wrong password are indistinguishable: both
    ///   [`AuthError::InvalidCredentials`], both after one bcrypt verification.
    /// - Rate-limited per IP and per account (known or not), with exponential backoff after
    ///   repeated failures and at most 100 consecutive failures per day (NIST 800-63B).
    /// - On success the session id is always new, and any session the request presented is
    ///   revoked (session fixation). A hash below the configured cost is upgraded.
    /// - An unverified address is [`AuthError::EmailNotVerified`] when
    ///   `require_verified_email` is on — said only after the password proved right.
    // No fields: the address is personal data and the password a secret.
    #[tracing::instrument(name = "tollbooth.sign_in", skip_all)]
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        request: &RequestInfo<'_>,
    ) -> Result<SignInOutcome> {
        let Inner {
            db,
            limiter,
            passwords,
            ..
        } = &*self.inner;
        let limits = limiter.limits();
        let email = normalize_email(email).unwrap_or_default();
        limiter
            .hit_both(
                db,
                Action::SignIn,
                request.ip,
                limits.sign_in_per_ip,
                &email,
                limits.sign_in_per_account,
            )
            .await?;
        let failures = Key::sign_in_failures(&email);
        limiter.check_backoff(db, &failures).await?;

        let hasher = passwords.hasher();
        let Some((user, hash)) = self.credential(&email).await? else {
            hasher.verify_dummy(password).await?;
            limiter.record_failure(db, &failures).await?;
            self.record_failed_sign_in(None, &email, request).await?;
            return Err(AuthError::InvalidCredentials);
        };
        if !hasher.verify(password, &hash).await? {
            limiter.record_failure(db, &failures).await?;
            self.record_failed_sign_in(Some(&user), &email, request)
                .await?;
            return Err(AuthError::InvalidCredentials);
        }
        limiter.clear_failures(db, &failures).await?;
        if hasher.needs_rehash(&hash) {
            self.upgrade_hash(&user, password).await;
        }
        if self.inner.config.require_verified_email && user.email_verified_at.is_none() {
            return Err(AuthError::EmailNotVerified);
        }
        self.finish_sign_in(user, request, "password").await
    }

    /// After the first factor: either a session, or an MFA challenge. Shared by password
    /// and OAuth sign-in.
    /// `method` is `password` or the provider, for the audit trail.
    pub(crate) async fn finish_sign_in(
        &self,
        user: User,
        request: &RequestInfo<'_>,
        method: &str,
    ) -> Result<SignInOutcome> {
        // Before the challenge: a banned user is not asked for a second factor either.
        refuse_banned(&user, self.now())?;
        if self.mfa_enabled(&user).await? {
            return Ok(SignInOutcome::MfaRequired(self.mfa_challenge(&user).await?));
        }
        let (session, cookie) = self
            .open_session(user, request, Some(method), false)
            .await?;
        tracing::info!(user_id = %session.user.id, session_id = %session.id, "signed in");
        Ok(SignInOutcome::SignedIn(Box::new(SignedIn {
            session,
            cookie,
        })))
    }

    async fn mfa_challenge(&self, user: &User) -> Result<MfaChallenge> {
        let ttl = self.inner.config.mfa_challenge_ttl;
        let challenge = Issue::new(TokenPurpose::MfaChallenge, user.id.to_string(), ttl);
        let issued = self
            .inner
            .tokens
            .issue(&self.inner.db, challenge.user(user.id))
            .await?;
        Ok(MfaChallenge {
            token: issued.token,
            expires_at: issued.row.expires_at,
        })
    }

    /// Changes the password of the signed-in user after checking the current one (which
    /// re-verifies the session), revokes every other session of the user (this one stays),
    /// and tells the owner by e-mail.
    pub async fn change_password(
        &self,
        session: &Session,
        current: &str,
        new: &str,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        refuse_impersonation(session)?;
        let Inner {
            db,
            limiter,
            passwords,
            ..
        } = &*self.inner;
        let user = &session.user;
        let failures = Key::sign_in_failures(&user.email);
        limiter.check_backoff(db, &failures).await?;
        let Some((_, hash)) = self.credential(&user.email).await? else {
            passwords.hasher().verify_dummy(current).await?;
            return Err(AuthError::InvalidCredentials);
        };
        if !passwords.hasher().verify(current, &hash).await? {
            limiter.record_failure(db, &failures).await?;
            return Err(AuthError::InvalidCredentials);
        }
        let hash = passwords
            .hash_new(new, &user.email, user.name.as_deref())
            .await?;
        let tx = db.begin().await?;
        if !tx.set_password_hash(user.id, &hash).await? {
            tx.create_account(NewAccount::credential(user.id, hash))
                .await?;
        }
        tx.revoke_user_sessions(user.id, Some(session.id), self.now())
            .await?;
        self.security_change(&tx, user, Change::PasswordChanged, request)
            .await?;
        tx.commit().await?;
        self.inner.mail.committed();
        tracing::info!(user_id = %user.id, "password changed; other sessions revoked");
        self.tell(DomainEvent::PasswordChanged { user_id: user.id })
            .await;
        Ok(())
    }

    /// The user with this (normalized) e-mail and their password hash, if they have one.
    pub(crate) async fn credential(&self, email: &str) -> Result<Option<(User, String)>> {
        let db = &self.inner.db;
        let Some(user) = db.find_user_by_email(email).await? else {
            return Ok(None);
        };
        let account = db.find_user_account(user.id, CREDENTIAL_PROVIDER).await?;
        Ok(account
            .and_then(|a| a.password_hash)
            .map(|hash| (user, hash)))
    }

    /// Re-hashes with the configured cost after a successful sign-in. Best effort: a failure
    /// is logged and the sign-in proceeds.
    async fn upgrade_hash(&self, user: &User, password: &str) {
        let result = async {
            let hash = self.inner.passwords.hasher().hash(password).await?;
            self.inner.db.set_password_hash(user.id, &hash).await?;
            Ok::<_, AuthError>(())
        };
        match result.await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, "password hash upgraded to the configured cost")
            }
            Err(error) => tracing::warn!(user_id = %user.id, %error, "password rehash failed"),
        }
    }
}

pub(crate) fn clean_name(name: Option<&str>) -> Result<Option<String>> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AuthError::InvalidInput {
            field: "name",
            reason: "at most 100 characters, no control characters",
        });
    }
    Ok(Some(name.to_owned()))
}
