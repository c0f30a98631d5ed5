//! Shared set-up: a real database, a local HTTP server standing in for Stripe (wiremock),
//! an in-memory outbox, and helpers to build signed events.

#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{NewUser, User, UserRepo};
use tollbooth_email::{EmailSender, Mailer, MailerConfig, OutboxSender};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const SECRET: &str = "whsec_test_secret";
pub const PRO: &str = "price_pro_monthly";
pub const ENTERPRISE: &str = "price_enterprise_monthly";

pub struct TestBilling {
    pub billing: Billing,
    pub stripe: MockServer,
    pub outbox: OutboxSender,
    pub db: TestDb,
}

pub fn fast_retries() -> RetryPolicy {
    let mut retry = RetryPolicy::default();
    retry.initial_backoff = Duration::from_millis(10);
    retry.max_backoff = Duration::from_millis(20);
    retry
}

pub async fn config(stripe: &MockServer) -> BillingConfigBuilder {
    BillingConfig::builder(
        StripeSecretKey::new("sk_test_123"),
        "https://app.acme.example",
    )
    .api_base(stripe.uri())
    .plan(Plan::new("pro", "Pro").monthly_price(PRO))
    .plan(Plan::new("enterprise", "Enterprise").monthly_price(ENTERPRISE))
    .trial_days(14)
    .webhook_secret(WebhookSecret::new(SECRET))
    .retry(fast_retries())
}

pub fn mailer(sender: impl EmailSender + 'static) -> Mailer {
    Mailer::new(
        sender,
        MailerConfig::new("Acme <billing@acme.example>", "Acme").unwrap(),
    )
}

impl TestBilling {
    pub async fn new(db: TestDb) -> Self {
        Self::with(db, |c| c).await
    }

    pub async fn with(
        db: TestDb,
        customize: impl FnOnce(BillingConfigBuilder) -> BillingConfigBuilder,
    ) -> Self {
        let stripe = MockServer::start().await;
        let outbox = OutboxSender::new();
        let config = customize(config(&stripe).await).build().unwrap();
        let billing = Billing::new((*db).clone(), mailer(outbox.clone()), config).unwrap();
        Self {
            billing,
            stripe,
            outbox,
            db,
        }
    }

    /// A user, optionally already a Stripe customer.
    pub async fn user(&self, email: &str, customer: Option<&str>) -> User {
        let user = self
            .db
            .create_user(NewUser::new(email).name("Ada"))
            .await
            .unwrap();
        match customer {
            Some(customer) => self
                .db
                .set_stripe_customer_id(user.id, customer)
                .await
                .unwrap()
                .unwrap(),
            None => user,
        }
    }

    /// Delivers `event` signed with the test secret, now.
    pub async fn deliver(&self, event: &Value) -> Result<StripeReceipt> {
        deliver_to(&self.billing, event).await
    }

    pub async fn recorded_events(&self) -> usize {
        use sea_orm::{EntityTrait, PaginatorTrait};
        tollbooth_db::entities::webhook_event::Entity::find()
            .count(self.db.connection())
            .await
            .unwrap() as usize
    }
}

/// Delivers `event` to `billing`, signed with the test secret, now.
pub async fn deliver_to(billing: &Billing, event: &Value) -> Result<StripeReceipt> {
    let payload = serde_json::to_vec(event).unwrap();
    let now = tollbooth_db::now();
    let header = sign_stripe_webhook(&payload, &WebhookSecret::new(SECRET), now.timestamp());
    billing
        .handle_stripe_webhook(&payload, Some(&header), now)
        .await
}

/// A Stripe event envelope.
pub fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2024-04-10",
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
        "data": { "object": object }
    })
}

/// A subscription object shaped as API version 2024-04-10 sends it (period end on the
/// subscription).
pub fn subscription_2024(
    id: &str,
    customer: &str,
    status: &str,
    price: &str,
    period_end: i64,
) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "ended_at": null,
        "trial_end": null,
        "current_period_start": period_end - 2_592_000,
        "current_period_end": period_end,
        "collection_method": "charge_automatically",
        "currency": "usd",
        "items": {
            "object": "list",
            "data": [{
                "id": "si_1",
                "object": "subscription_item",
                "price": { "id": price, "object": "price", "unit_amount": 1900, "currency": "usd",
                           "recurring": { "interval": "month", "interval_count": 1 } },
                "quantity": 1
            }],
            "has_more": false
        },
        "metadata": {},
        "livemode": false
    })
}

/// The same subscription as current API versions send it (2025-03-31+: period end moved to
/// the items, extra fields everywhere).
pub fn subscription_current(
    id: &str,
    customer: &str,
    status: &str,
    price: &str,
    period_end: i64,
) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "customer": { "id": customer, "object": "customer", "email": "ada@example.com" },
        "status": status,
        "cancel_at_period_end": false,
        "cancel_at": null,
        "canceled_at": null,
        "ended_at": null,
        "trial_end": null,
        "billing_mode": { "type": "flexible" },
        "items": {
            "object": "list",
            "data": [{
                "id": "si_1",
                "object": "subscription_item",
                "current_period_start": period_end - 2_592_000,
                "current_period_end": period_end,
                "price": { "id": price, "object": "price" },
                "quantity": 2
            }],
            "has_more": false,
            "url": "/v1/subscription_items?subscription=sub_1"
        },
        "metadata": { "user_id": "00000000-0000-0000-0000-000000000000" },
        "livemode": false
    })
}

/// Stripe answers `verb route` with 200 and `body`.
pub async fn stripe_answers(t: &TestBilling, verb: &str, route: &str, body: serde_json::Value) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&t.stripe)
        .await;
}

/// A request's form body.
pub fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// What Stripe received on `route`.
pub async fn requests_to(t: &TestBilling, route: &str) -> Vec<Request> {
    t.stripe
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .collect()
}

/// A request header (empty if absent).
pub fn header<'r>(request: &'r Request, name: &str) -> &'r str {
    request
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}
