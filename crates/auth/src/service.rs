//! [`Auth`]: the service every operation hangs off.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::task::TaskTracker;
use tollbooth_db::{Db, NewSession, SessionRepo, User};
use tollbooth_email::{EmailTemplate, Mailer, SendOptions};

use crate::config::AuthConfig;
use crate::cookie::{SetCookie, cookie_values};
use crate::error::Result;
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
    pub(crate) mailer: Mailer,
    pub(crate) config: AuthConfig,
    pub(crate) tokens: TokenCodec,
    pub(crate) hasher: PasswordHasher,
    pub(crate) background: TaskTracker,
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
        Self {
            inner: Arc::new(Inner {
                db,
                mailer,
                config,
                tokens,
                hasher,
                background: TaskTracker::new(),
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

    /// Waits until every e-mail sent in the background so far has been handed to the
    /// transport (graceful shutdown, tests).
    pub async fn flush_background_tasks(&self) {
        let tracker = &self.inner.background;
        tracker.close();
        tracker.wait().await;
        tracker.reopen();
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.config.clock.now()
    }

    /// Sends an e-mail without making the caller wait for it, so a response's timing does
    /// not depend on whether a message went out (account enumeration) or on the provider's
    /// latency. Failures are logged; the idempotency key makes a later resend safe.
    pub(crate) fn send_in_background<T>(&self, to: String, props: T::Props, key: String)
    where
        T: EmailTemplate + 'static,
        T::Props: 'static,
    {
        let mailer = self.inner.mailer.clone();
        self.inner.background.spawn(async move {
            let options = SendOptions::idempotency_key(key);
            if let Err(error) = mailer.send::<T>(to, props, options).await {
                tracing::warn!(template = T::NAME, %error, "e-mail not sent");
            }
        });
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
            .filter_map(|token| match self.inner.tokens.verify(token, now, true) {
                Ok(claims) => Some((token, claims)),
                Err(why) => {
                    tracing::debug!(?why, "session token refused");
                    None
                }
            })
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
        Ok((Session::new(row, user, token, None), cookie))
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
