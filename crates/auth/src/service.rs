//! [`Auth`]: the service every operation hangs off.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tollbooth_db::{Db, NewSession, SessionRepo, User};
use tollbooth_email::{EmailError, EmailTemplate, Mailer, Outbox};

use crate::config::AuthConfig;
use crate::cookie::{SetCookie, cookie_values};
use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::jwt::{SessionClaims, TokenCodec};
use crate::limits::RefusedKeys;
use crate::oauth::Jwks;
use crate::password::PasswordHasher;
use crate::session::Session;

/// The authentication service. Cheap to clone; build one at start-up and share it.
///
/// It owns no web framework: every request-facing method takes a [`RequestInfo`] or a
/// [`HeaderView`](crate::HeaderView), and returns the [`SetCookie`] for the adapter to send.
#[derive(Clone)]
pub struct Auth {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) config: AuthConfig,
    pub(crate) tokens: TokenCodec,
    pub(crate) hasher: PasswordHasher,
    /// Auth e-mails, written in the transaction of the change they report.
    pub(crate) outbox: Outbox,
    /// Talks to OAuth providers (no redirects, bounded timeouts).
    pub(crate) oauth_http: reqwest::Client,
    /// Google's signing keys.
    pub(crate) jwks: Jwks,
    /// Rate-limit keys known to be over their limit, to refuse without a database write.
    pub(crate) refused_keys: RefusedKeys,
}

impl Auth {
    /// The service over a migrated database and a mailer.
    pub fn new(db: Db, mailer: Mailer, config: AuthConfig) -> Self {
        let tokens = TokenCodec::new(&config);
        let hasher = PasswordHasher::new(
            config.bcrypt_cost,
            config.hashing_concurrency,
            config.hashing_queue,
        );
        let outbox = Outbox::new(db.clone(), mailer);
        Self {
            inner: Arc::new(Inner {
                db,
                outbox,
                config,
                tokens,
                hasher,
                oauth_http: crate::oauth::http_client(),
                jwks: Jwks::default(),
                refused_keys: RefusedKeys::default(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Delivers every e-mail due in the outbox now and waits for it to be handed to the
    /// transport (graceful shutdown, tests). E-mails that cannot be delivered yet stay in
    /// the outbox for the worker (on this instance or another, or after a restart).
    pub async fn flush_background_tasks(&self) {
        if let Err(error) = self.inner.outbox.flush().await {
            tracing::warn!(%error, "auth e-mails not flushed");
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.config.clock.now()
    }

    /// Writes an e-mail to the outbox inside `tx` (the change it reports commits with it);
    /// call [`Auth::emails_committed`] after the commit. The worker sends it, so a response's
    /// timing does not depend on the provider, and a crash after the commit loses nothing.
    pub(crate) async fn queue_email<T: EmailTemplate>(
        &self,
        tx: &impl tollbooth_db::OutboxRepo,
        to: &str,
        props: &T::Props,
        key: String,
    ) -> Result<()> {
        self.inner
            .outbox
            .queue::<T>(tx, to, props, key)
            .await
            .map(|_| ())
            .map_err(|error| match error {
                EmailError::Storage { source } => AuthError::from(source),
                other => AuthError::internal(other),
            })
    }

    /// Wakes the outbox worker after a transaction that queued e-mails committed.
    pub(crate) fn emails_committed(&self) {
        self.inner.outbox.notify();
    }

    /// Every session token the request presents that verifies (expired or not), with its
    /// claims: `Authorization: Bearer` first, then the session cookie(s).
    pub(crate) fn presented_tokens<'h>(
        &self,
        headers: &'h dyn crate::HeaderView,
    ) -> Vec<(&'h str, SessionClaims)> {
        let now = self.now();
        let bearer = headers
            .header_values("authorization")
            .into_iter()
            .filter_map(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        let cookies = cookie_values(headers, &self.inner.config.cookie_name).into_iter();
        bearer
            .chain(cookies)
            .take(4)
            .map(str::trim)
            .filter_map(
                |token| match self.inner.tokens.verify_ignoring_expiry(token, now) {
                    Ok(claims) => Some((token, claims)),
                    Err(why) => {
                        tracing::debug!(?why, "session token refused");
                        None
                    }
                },
            )
            .collect()
    }

    /// Opens a session for `user` after a successful sign-in (password, OAuth, MFA): always a
    /// new session id, and every session the request presented is revoked (fixation).
    pub(crate) async fn open_session(
        &self,
        user: User,
        request: &RequestInfo<'_>,
    ) -> Result<(Session, SetCookie)> {
        let now = self.now();
        let config = &self.inner.config;
        for (_, claims) in self.presented_tokens(request.headers) {
            self.inner.db.revoke_session(claims.sid, now).await?;
        }
        let mut new = NewSession::new(user.id, now, config.idle_timeout, config.absolute_lifetime);
        new.ip = request.ip.map(|ip| ip.to_string());
        new.user_agent = request.user_agent();
        let row = self.inner.db.create_session(new).await?;
        let token = self.inner.tokens.issue(user.id, row.id, now);
        let cookie = SetCookie::session(
            &config.cookie_name,
            &token,
            (row.absolute_expires_at - now).num_seconds(),
        );
        Ok((Session::new(row, user, token), cookie))
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("db", &self.inner.db)
            .field("tokens", &self.inner.tokens)
            .finish_non_exhaustive()
    }
}
