//! Set-up shared by the fuzz targets. Each target is its own binary and includes this module
//! with `mod common;`, so not every item is used by every target.
#![allow(dead_code)]

use std::future::Future;
use std::sync::LazyLock;

use tokio::runtime::Runtime;
use tollbooth_auth::{Auth, AuthConfig, ClientSecret, ProviderConfig, SigningKey};
use tollbooth_billing::{
    Billing, BillingConfig, BillingConfigBuilder, Plan, StripeSecretKey, WebhookSecret,
};
use tollbooth_db::chrono::{DateTime, Utc};
use tollbooth_db::sea_orm::ConnectionTrait;
use tollbooth_db::{Db, NewUser, UserRepo};
use tollbooth_email::{Mailer, MailerConfig, OutboxSender};

/// The application's public URL in every configuration.
pub const PUBLIC_BASE_URL: &str = "https://app.example.com";
/// The Stripe webhook signing secret the fuzzed `Billing` accepts.
pub const STRIPE_SECRET: &str = "whsec_fuzz_stripe";
/// The Cal.com webhook secret the fuzzed `Billing` accepts.
pub const CALCOM_SECRET: &str = "fuzz_calcom_secret";
/// The Stripe customer of the one user in the billing database, so `customer.subscription.*`,
/// `invoice.payment_failed` and `payment_intent.*` events naming it reach the apply paths
/// (and the e-mail templates) instead of being ignored.
pub const STRIPE_CUSTOMER: &str = "cus_fuzz";
/// Key id of the session signing key.
pub const SESSION_KID: &str = "k";
/// `now` for Stripe deliveries: fixed, so a crash reproduces whenever it is replayed.
pub const NOW_SECS: i64 = 1_700_000_000;

/// One current-thread runtime per process; every async call goes through [`block_on`].
static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
});

/// Runs `future` to completion. Never call it from inside another `block_on` (the fixtures'
/// `LazyLock`s must therefore be forced before the first `block_on` of an input).
pub fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.block_on(future)
}

/// The fixed "now" (see [`NOW_SECS`]).
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW_SECS, 0).expect("fixed timestamp in range")
}

/// A migrated in-memory SQLite database.
pub async fn database() -> Db {
    let db = tollbooth_db::connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite");
    tollbooth_db::migrate(&db).await.expect("migrations");
    db
}

/// A mailer over an in-memory outbox.
pub fn mailer() -> (Mailer, OutboxSender) {
    let outbox = OutboxSender::new();
    let config = MailerConfig::new("Fuzz <noreply@fuzz.example>", "Fuzz").expect("mailer config");
    (Mailer::new(outbox.clone(), config), outbox)
}

/// Empties `tables` (raw SQL: the repositories have no bulk delete). Run after each input so
/// every input starts from the same database (reproducible crashes, bounded memory).
pub async fn clear_tables(db: &Db, tables: &[&str]) {
    for table in tables {
        db.connection()
            .execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .unwrap_or_else(|e| panic!("clearing {table}: {e}"));
    }
}

/// The billing configuration every billing target starts from (Stripe webhooks signed with
/// [`STRIPE_SECRET`]; no network call is made by the webhook paths).
pub fn billing_config() -> BillingConfigBuilder {
    BillingConfig::builder(StripeSecretKey::new("sk_test_fuzz"), PUBLIC_BASE_URL)
        .plan(Plan::new("pro", "Pro").monthly_price("price_pro"))
        .plan(Plan::new("enterprise", "Enterprise").monthly_price("price_enterprise"))
        .trial_days(14)
        .webhook_secret(WebhookSecret::new(STRIPE_SECRET))
}

/// A `Billing` over its own database, which holds one user (Stripe customer
/// [`STRIPE_CUSTOMER`]).
pub struct BillingFixture {
    pub billing: Billing,
    pub db: Db,
    pub outbox: OutboxSender,
}

impl BillingFixture {
    /// Builds it (blocks; call from a `LazyLock` initializer, outside any `block_on`).
    pub fn new(config: BillingConfigBuilder) -> Self {
        block_on(async {
            let db = database().await;
            let user = db
                .create_user(NewUser::new("fuzz@example.com").name("Fuzz"))
                .await
                .expect("fixture user");
            db.set_stripe_customer_id(user.id, STRIPE_CUSTOMER)
                .await
                .expect("fixture customer")
                .expect("fixture user exists");
            let (mailer, outbox) = mailer();
            let config = config.build().expect("billing config");
            let billing = Billing::new(db.clone(), mailer, config).expect("billing service");
            Self {
                billing,
                db,
                outbox,
            }
        })
    }

    /// Waits for queued e-mails, then forgets everything an input wrote (the fixture user
    /// stays).
    pub async fn reset(&self) {
        self.billing.flush_background_tasks().await;
        clear_tables(
            &self.db,
            &["bookings", "payments", "subscriptions", "webhook_events"],
        )
        .await;
        self.outbox.clear();
    }
}

/// An `Auth` over its own database, signing sessions with key [`SESSION_KID`] = `[7; 32]`,
/// with GitHub sign-in configured (public endpoints: nothing here ever reaches them, every
/// OAuth callback a fuzzer can make fails before the code exchange).
pub fn auth() -> Auth {
    block_on(async {
        let db = database().await;
        let (mailer, _outbox) = mailer();
        let config = AuthConfig::builder(PUBLIC_BASE_URL)
            .signing_key(SigningKey::new(SESSION_KID, [7u8; 32]).expect("signing key"))
            .oauth_provider(ProviderConfig::github(
                "fuzz-client-id",
                ClientSecret::new("fuzz-client-secret"),
                format!("{PUBLIC_BASE_URL}/auth/github/callback"),
            ))
            .build()
            .expect("auth config");
        Auth::new(db, mailer, config)
    })
}
