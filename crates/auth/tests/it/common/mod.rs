//! Shared set-up for the auth integration tests: a real database (SQLite or PostgreSQL via
//! `TestDb`), an in-memory outbox, a manual clock.

#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use chrono::TimeDelta;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{
    AccountRepo, Db, NewAccount, NewUser, SecurityEvent, SecurityEventQuery, SecurityEventRepo,
    User, UserRepo,
};
use tollbooth_email::{Mailer, MailerConfig, OutboxSender};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestAuth {
    pub auth: Auth,
    pub outbox: OutboxSender,
    pub clock: ManualClock,
    pub db: TestDb,
}

pub fn key() -> SigningKey {
    SigningKey::new("k1", *b"0123456789abcdef0123456789abcdef").unwrap()
}

pub fn config(clock: &ManualClock) -> AuthConfigBuilder {
    AuthConfig::builder("https://app.acme.example")
        .signing_key(key())
        .clock(Arc::new(clock.clone()))
}

pub fn mailer(outbox: &OutboxSender) -> Mailer {
    Mailer::new(
        outbox.clone(),
        MailerConfig::new("Acme <noreply@acme.example>", "Acme").unwrap(),
    )
}

impl TestAuth {
    pub fn new(db: TestDb) -> Self {
        Self::with(db, |c| c)
    }

    /// With a customized configuration.
    pub fn with(
        db: TestDb,
        customize: impl FnOnce(AuthConfigBuilder) -> AuthConfigBuilder,
    ) -> Self {
        let clock = ManualClock::new(tollbooth_db::now());
        let outbox = OutboxSender::new();
        let config = customize(config(&clock)).build().unwrap();
        let auth = Auth::new((*db).clone(), mailer(&outbox), config);
        Self {
            auth,
            outbox,
            clock,
            db,
        }
    }

    /// A second service instance on the same database (its own pool), sharing the clock.
    pub async fn second_instance(&self) -> Auth {
        let db: Db = self.db.connect_again().await;
        // Same configuration (and clock) as the first instance.
        Auth::new(db, mailer(&self.outbox), self.auth.config().clone())
    }

    /// A verified user whose password is [`PASSWORD`], created without paying for a hash.
    pub async fn user(&self, email: &str) -> User {
        let user = self
            .db
            .create_user(NewUser::new(email).verified_at(tollbooth_db::now()))
            .await
            .unwrap();
        self.db
            .create_account(NewAccount::credential(user.id, password_hash()))
            .await
            .unwrap();
        user
    }

    /// Signs `email` in with [`PASSWORD`] and returns the session and its cookie header.
    pub async fn sign_in(&self, email: &str) -> (Session, Vec<(String, String)>) {
        self.sign_in_with(email, &[]).await
    }

    /// Signs in presenting `headers` (e.g. an older cookie).
    pub async fn sign_in_with(
        &self,
        email: &str,
        headers: &[(String, String)],
    ) -> (Session, Vec<(String, String)>) {
        let headers = headers.to_vec();
        let request = RequestInfo::new(&headers, ip());
        match self.auth.sign_in(email, PASSWORD, &request).await.unwrap() {
            SignInOutcome::SignedIn(signed_in) => {
                let cookie = cookie_headers(&signed_in.cookie);
                (signed_in.session, cookie)
            }
            SignInOutcome::MfaRequired(_) => panic!("unexpected MFA"),
        }
    }

    /// Waits for background e-mails and returns the token of the last link sent to `to`.
    pub async fn last_token_sent_to(&self, to: &str) -> String {
        self.auth.flush_background_tasks().await;
        let mail = self.outbox.sent_to(to).pop().expect("an e-mail was sent");
        token_in(mail.text())
    }
}

/// The audit trail about `user`, oldest first.
pub async fn trail(t: &TestAuth, user: uuid::Uuid) -> Vec<SecurityEvent> {
    let mut query = SecurityEventQuery::default();
    query.subject_user_id = Some(user);
    let mut events = t.db.list_security_events(&query, 100).await.unwrap();
    events.reverse();
    events
}

pub fn ip() -> IpAddr {
    "203.0.113.7".parse().unwrap()
}

static NO_HEADERS: [(&str, &str); 0] = [];

/// A request with no cookie from the test IP.
pub fn anon() -> RequestInfo<'static> {
    RequestInfo::new(&NO_HEADERS, ip())
}

pub fn no_headers() -> Vec<(String, String)> {
    Vec::new()
}

/// The request headers a browser sends back after receiving `cookie`.
pub fn cookie_headers(cookie: &SetCookie) -> Vec<(String, String)> {
    let pair = cookie.as_str().split(';').next().unwrap().to_owned();
    vec![("cookie".to_owned(), pair)]
}

pub fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("authorization".to_owned(), format!("Bearer {token}"))]
}

/// The session JWT inside a cookie header list.
pub fn jwt_of(headers: &[(String, String)]) -> String {
    headers[0].1.split_once('=').unwrap().1.to_owned()
}

pub fn token_in(text: &str) -> String {
    text.split("token=")
        .nth(1)
        .expect("a link with a token")
        .split(|c: char| c.is_whitespace() || c == '&')
        .next()
        .unwrap()
        .to_owned()
}

/// bcrypt-12 hash of [`PASSWORD`], computed once per test binary.
pub fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| bcrypt::hash(PASSWORD, 12).unwrap())
        .clone()
}

pub fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}
