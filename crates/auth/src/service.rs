//! [`Auth`]: the service every operation hangs off.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tollbooth_db::Db;
use tollbooth_email::{Mailer, Outbox};

use crate::config::AuthConfig;
use crate::limits::RateLimiter;
use crate::mail::AuthMail;
use crate::oauth::OAuthClients;
use crate::password::{PasswordHasher, Passwords};
use crate::session::Sessions;
use crate::tokens::OneTimeTokens;

/// The authentication service. Cheap to clone; build one at start-up and share it.
///
/// It owns no web framework: every request-facing method takes a [`RequestInfo`](crate::RequestInfo)
/// or a [`HeaderView`](crate::HeaderView), and returns the [`SetCookie`](crate::SetCookie)
/// for the adapter to send.
///
/// Inside, it is a facade over components that each own their state — sessions (JWT
/// codec, lifetimes, cookie), passwords (policy, hasher), one-time tokens, the rate
/// limiter, auth mail (templates, links, idempotency keys) and the OAuth clients — and take
/// the executor to run on, so one flow can run several of them in one transaction. Its
/// public methods are short compositions of them.
#[derive(Clone)]
pub struct Auth {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) config: AuthConfig,
    pub(crate) sessions: Sessions,
    pub(crate) passwords: Passwords,
    pub(crate) tokens: OneTimeTokens,
    pub(crate) limiter: RateLimiter,
    pub(crate) mail: AuthMail,
    pub(crate) oauth: OAuthClients,
}

impl Auth {
    /// The service over a migrated database and a mailer.
    pub fn new(db: Db, mailer: Mailer, config: AuthConfig) -> Self {
        let hasher = PasswordHasher::new(
            config.bcrypt_cost,
            config.hashing_concurrency,
            config.hashing_queue,
        );
        let outbox = Outbox::new(db.clone(), mailer);
        Self {
            inner: Arc::new(Inner {
                sessions: Sessions::new(&config),
                passwords: Passwords::new(config.password_policy.clone(), hasher),
                tokens: OneTimeTokens::new(config.clock.clone()),
                limiter: RateLimiter::new(config.rate_limits.clone(), config.clock.clone()),
                mail: AuthMail::new(outbox, &config),
                oauth: OAuthClients::default(),
                db,
                config,
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
        self.inner.mail.flush().await;
    }

    /// Tells the application's hooks of `event`, which has committed.
    pub(crate) async fn tell(&self, event: tollbooth_core::DomainEvent) {
        self.inner.config.hooks.notify(event).await;
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.config.clock.now()
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("db", &self.inner.db)
            .field("sessions", &self.inner.sessions)
            .finish_non_exhaustive()
    }
}
