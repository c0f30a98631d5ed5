//! Checkout, portal and subscription management against a local server standing in for
//! Stripe: the exact requests Stripe receives.

use std::collections::HashMap;

use crate::common::*;
use serde_json::json;
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{BillingRepo, SubscriptionUpsert, UserRepo};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const SUCCESS: &str = "https://app.acme.example/billing/success?session={CHECKOUT_SESSION_ID}";
const CANCEL: &str = "https://app.acme.example/pricing";

async fn checkout_stubs(t: &TestBilling) {
    stripe_answers(
        t,
        "POST",
        "/v1/customers",
        json!({ "id": "cus_new", "object": "customer", "email": "ada@example.com" }),
    )
    .await;
    stripe_answers(t, "POST", "/v1/checkout/sessions", json!({
        "id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
        "url": "https://checkout.stripe.com/c/pay/cs_test_1", "customer": "cus_new", "status": "open"
    }))
    .await;
}

async fn checkout_creates_the_customer_once_and_a_trial_session(db: TestDb) {
    let t = TestBilling::new(db).await;
    checkout_stubs(&t).await;
    let ada = t.user("ada@example.com", None).await;

    let url = t
        .billing
        .create_checkout_session(ada.id, "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap();
    assert_eq!(url.as_str(), "https://checkout.stripe.com/c/pay/cs_test_1");

    let customers = requests_to(&t, "/v1/customers").await;
    assert_eq!(customers.len(), 1);
    assert_eq!(
        header(&customers[0], "idempotency-key"),
        format!("customer/{}", ada.id)
    );
    let body = form(&customers[0]);
    assert_eq!(
        (body["email"].as_str(), body["metadata[user_id]"].clone()),
        ("ada@example.com", ada.id.to_string())
    );
    assert_eq!(
        t.db.find_user(ada.id)
            .await
            .unwrap()
            .unwrap()
            .stripe_customer_id
            .as_deref(),
        Some("cus_new")
    );

    let sessions = requests_to(&t, "/v1/checkout/sessions").await;
    let request = &sessions[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(header(request, "authorization"), "Bearer sk_test_123");
    assert_eq!(header(request, "stripe-version"), "2024-04-10");
    assert_eq!(
        header(request, "content-type"),
        "application/x-www-form-urlencoded"
    );
    // The derived key: user, plan, hour, and a digest of the request.
    let window = tollbooth_db::now().timestamp() / 3600;
    let derived = header(request, "idempotency-key");
    let prefix = format!("checkout/{}/pro/", ada.id);
    let rest = derived.strip_prefix(&prefix).expect(derived);
    let (hour, digest) = rest.split_once('/').expect(derived);
    assert!(
        hour.parse::<i64>()
            .is_ok_and(|h| (window - 1..=window).contains(&h)),
        "{derived}"
    );
    assert!(
        digest.len() == 16 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
        "{derived}"
    );
    let body = form(request);
    for (key, value) in [
        ("mode", "subscription"),
        ("customer", "cus_new"),
        ("line_items[0][price]", PRO),
        ("line_items[0][quantity]", "1"),
        ("subscription_data[trial_period_days]", "14"),
        ("subscription_data[metadata][plan]", "pro"),
        ("metadata[plan]", "pro"),
        ("success_url", SUCCESS),
        ("cancel_url", CANCEL),
    ] {
        assert_eq!(
            body.get(key).map(String::as_str),
            Some(value),
            "{key} in {body:?}"
        );
    }
    assert_eq!(body["client_reference_id"], ada.id.to_string());
    assert_eq!(body["metadata[user_id]"], ada.id.to_string());

    // A second checkout (abandoned first one) reuses the customer, and honours a domain key.
    let key = format!("checkout/{}/enterprise", ada.id);
    t.billing
        .create_checkout_session(ada.id, "enterprise", SUCCESS, CANCEL, Some(key.clone()))
        .await
        .unwrap();
    assert_eq!(
        requests_to(&t, "/v1/customers").await.len(),
        1,
        "customer reused"
    );
    let second = &requests_to(&t, "/v1/checkout/sessions").await[1];
    assert_eq!(header(second, "idempotency-key"), key);
    assert_eq!(form(second)["line_items[0][price]"], ENTERPRISE);
}

async fn one_trial_per_customer_and_no_double_subscriptions(db: TestDb) {
    let t = TestBilling::new(db).await;
    checkout_stubs(&t).await;
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    // Ada trialed before and cancelled.
    let mut old = SubscriptionUpsert::new(
        ada.id.into(),
        "sub_old",
        "cus_ada",
        "pro",
        "canceled",
        tollbooth_db::now(),
    );
    old.trial_end = Some(tollbooth_db::now());
    t.db.upsert_subscription(old).await.unwrap();
    t.billing
        .create_checkout_session(ada.id, "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap();
    let body = form(&requests_to(&t, "/v1/checkout/sessions").await[0]);
    assert!(
        !body.contains_key("subscription_data[trial_period_days]"),
        "no second trial: {body:?}"
    );
    assert!(
        requests_to(&t, "/v1/customers").await.is_empty(),
        "existing customer"
    );

    // With a live subscription, checkout is refused: use the portal.
    t.db.upsert_subscription(SubscriptionUpsert::new(
        ada.id.into(),
        "sub_live",
        "cus_ada",
        "pro",
        "active",
        tollbooth_db::now(),
    ))
    .await
    .unwrap();
    let err = t
        .billing
        .create_checkout_session(ada.id, "enterprise", SUCCESS, CANCEL, None)
        .await
        .unwrap_err();
    assert!(matches!(err, BillingError::AlreadySubscribed));
    assert_eq!(err.status().as_u16(), 409);
}

async fn free_and_bad_input_are_refused_before_any_request(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", None).await;
    let err = t
        .billing
        .create_checkout_session(ada.id, "free", SUCCESS, CANCEL, None)
        .await
        .unwrap_err();
    assert!(matches!(err, BillingError::PlanNotPurchasable { .. }));
    assert_eq!(err.status().as_u16(), 422);
    let err = t
        .billing
        .create_checkout_session(ada.id, "pro", "/relative", CANCEL, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        BillingError::InvalidInput {
            field: "success_url",
            ..
        }
    ));
    let err = t
        .billing
        .create_checkout_session(uuid::Uuid::now_v7(), "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap_err();
    assert!(matches!(err, BillingError::NotFound { what: "user" }));
    let err = t
        .billing
        .create_billing_portal_session(ada.id, "https://app.acme.example/billing")
        .await
        .unwrap_err();
    assert!(matches!(err, BillingError::NotFound { what: "customer" }));
    assert!(t.stripe.received_requests().await.unwrap().is_empty());
}

async fn stripe_failures_are_retried_with_the_same_key_then_typed(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({ "error": { "type": "api_error", "message": "boom" } })),
        )
        .up_to_n_times(2)
        .mount(&t.stripe)
        .await;
    stripe_answers(
        &t,
        "POST",
        "/v1/checkout/sessions",
        json!({ "id": "cs_1", "url": "https://checkout.stripe.com/c/pay/cs_1" }),
    )
    .await;
    t.billing
        .create_checkout_session(ada.id, "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap();
    let attempts = requests_to(&t, "/v1/checkout/sessions").await;
    assert_eq!(attempts.len(), 3);
    let keys: Vec<&str> = attempts
        .iter()
        .map(|r| header(r, "idempotency-key"))
        .collect();
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one key across retries: {keys:?}"
    );

    // A refusal is not retried and keeps Stripe's explanation. (Another user: Ada's open
    // session would be handed out again without asking Stripe.)
    let bob = t.user("bob@example.com", Some("cus_bob")).await;
    t.stripe.reset().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({ "error": {
            "type": "invalid_request_error", "code": "resource_missing", "message": "No such price: 'price_pro_monthly'"
        } })))
        .mount(&t.stripe)
        .await;
    match t
        .billing
        .create_checkout_session(bob.id, "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap_err()
    {
        BillingError::Stripe(ProviderError::Refused {
            status,
            kind,
            code,
            message,
        }) => {
            assert_eq!(
                (status, kind.as_deref(), code.as_deref()),
                (400, Some("invalid_request_error"), Some("resource_missing"))
            );
            assert!(message.contains("No such price"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(requests_to(&t, "/v1/checkout/sessions").await.len(), 1);

    // Stripe down for good: a typed, transient error after the bounded retries.
    t.stripe.reset().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&t.stripe)
        .await;
    let err = t
        .billing
        .create_checkout_session(bob.id, "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BillingError::Stripe(ProviderError::Unavailable { attempts: 4, .. })
        ),
        "{err:?}"
    );
    assert_eq!(err.status().as_u16(), 503);
}

async fn portal_sync_cancel_resume_and_reconcile(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    stripe_answers(
        &t,
        "POST",
        "/v1/billing_portal/sessions",
        json!({ "id": "bps_1", "url": "https://billing.stripe.com/p/session/test_1" }),
    )
    .await;
    let url = t
        .billing
        .create_billing_portal_session(ada.id, "https://app.acme.example/billing")
        .await
        .unwrap();
    assert_eq!(url.as_str(), "https://billing.stripe.com/p/session/test_1");
    let portal = form(&requests_to(&t, "/v1/billing_portal/sessions").await[0]);
    assert_eq!(
        (portal["customer"].as_str(), portal["return_url"].as_str()),
        ("cus_ada", "https://app.acme.example/billing")
    );

    // Checkout success page: sync before the webhook lands (a current-version payload).
    let period_end = 1_800_000_000;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .and(query_param("customer", "cus_ada"))
        .and(query_param("status", "all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": false,
            "data": [subscription_current("sub_1", "cus_ada", "trialing", PRO, period_end)]
        })))
        .mount(&t.stripe)
        .await;
    let synced = t.billing.sync_subscription(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (synced.status.as_str(), synced.plan.as_str()),
        ("trialing", "pro")
    );
    assert_eq!(synced.current_period_end.unwrap().timestamp(), period_end);
    let list = &requests_to(&t, "/v1/subscriptions").await[0];
    assert_eq!(header(list, "stripe-version"), "2024-04-10");
    assert_eq!(
        header(list, "idempotency-key"),
        "",
        "no idempotency key on GET"
    );

    // Cancel at period end, then resume (2024-04-10 payloads).
    let mut canceling = subscription_2024("sub_1", "cus_ada", "trialing", PRO, period_end);
    canceling["cancel_at_period_end"] = json!(true);
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_1"))
        .and(wiremock::matchers::body_string_contains(
            "cancel_at_period_end=true",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(canceling))
        .mount(&t.stripe)
        .await;
    let row = t.billing.cancel_subscription(ada.id, true).await.unwrap();
    assert!(row.cancel_at_period_end);
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_1"))
        .and(wiremock::matchers::body_string_contains(
            "cancel_at_period_end=false",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(subscription_2024(
            "sub_1", "cus_ada", "trialing", PRO, period_end,
        )))
        .mount(&t.stripe)
        .await;
    assert!(
        !t.billing
            .resume_subscription(ada.id)
            .await
            .unwrap()
            .cancel_at_period_end
    );

    // Cancel now.
    let mut ended = subscription_2024("sub_1", "cus_ada", "canceled", PRO, period_end);
    ended["ended_at"] = json!(1_790_000_000);
    stripe_answers(&t, "DELETE", "/v1/subscriptions/sub_1", ended).await;
    assert_eq!(
        t.billing
            .cancel_subscription(ada.id, false)
            .await
            .unwrap()
            .status,
        "canceled"
    );
    assert!(matches!(
        t.billing.cancel_subscription(ada.id, false).await,
        Err(BillingError::NotFound { .. })
    ));

    // Reconcile: every known customer re-listed (here Stripe still says trialing: repaired).
    let report = t.billing.reconcile().await.unwrap();
    assert_eq!(
        (report.customers, report.subscriptions, report.failed),
        (1, 1, 0)
    );
    assert_eq!(
        t.billing
            .get_subscription(ada.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "trialing"
    );
}

async fn stripe_timeouts_during_checkout_leave_no_orphan_state(db: TestDb) {
    // Stripe accepts the connection and then hangs past our request timeout.
    let t = TestBilling::with(db, |c| c.timeout(std::time::Duration::from_millis(200))).await;
    let ada = t.user("ada@example.com", None).await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_slow", "object": "customer" }))
                .set_delay(std::time::Duration::from_secs(2)),
        )
        .mount(&t.stripe)
        .await;
    let err = t
        .billing
        .create_checkout_session(ada.id, "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BillingError::Stripe(ProviderError::Unavailable { attempts: 4, .. })
        ),
        "{err:?}"
    );
    assert_eq!(err.status().as_u16(), 503);
    // Every attempt carried the same key, so had Stripe created the customer on a request
    // whose answer we never saw, the retries (and the next checkout) get that one back.
    let attempts = requests_to(&t, "/v1/customers").await;
    assert_eq!(attempts.len(), 4);
    let key = format!("customer/{}", ada.id);
    assert!(attempts.iter().all(|r| header(r, "idempotency-key") == key));
    // Nothing local points at a customer we never heard back about, and no session was tried.
    let stored = t.db.find_user(ada.id).await.unwrap().unwrap();
    assert_eq!(stored.stripe_customer_id, None);
    assert!(requests_to(&t, "/v1/checkout/sessions").await.is_empty());

    // Stripe recovers: the next checkout uses the same customer key and goes through.
    t.stripe.reset().await;
    checkout_stubs(&t).await;
    t.billing
        .create_checkout_session(ada.id, "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap();
    assert_eq!(
        header(
            &requests_to(&t, "/v1/customers").await[0],
            "idempotency-key"
        ),
        key
    );
    let stored = t.db.find_user(ada.id).await.unwrap().unwrap();
    assert_eq!(stored.stripe_customer_id.as_deref(), Some("cus_new"));
}

/// Stands in for `POST /v1/checkout/sessions` as Stripe behaves: a new session per
/// idempotency key, the same answer for a key seen before.
struct IdempotentCheckout {
    sessions: std::sync::Mutex<HashMap<String, String>>,
}

impl wiremock::Respond for IdempotentCheckout {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let key = header(request, "idempotency-key").to_owned();
        let mut sessions = self.sessions.lock().unwrap();
        let next = sessions.len() + 1;
        let id = sessions
            .entry(key)
            .or_insert_with(|| format!("cs_test_{next}"))
            .clone();
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "object": "checkout.session", "mode": "subscription", "status": "open",
            "url": format!("https://checkout.stripe.com/c/pay/{id}"),
            "expires_at": tollbooth_db::now().timestamp() + 86_400
        }))
    }
}

async fn a_repeated_checkout_returns_the_open_session(db: TestDb) {
    let t = TestBilling::new(db).await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(IdempotentCheckout {
            sessions: std::sync::Mutex::default(),
        })
        .mount(&t.stripe)
        .await;
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    let checkout = || {
        let billing = t.billing.clone();
        async move {
            billing
                .create_checkout_session(ada.id, "pro", SUCCESS, CANCEL, None)
                .await
                .unwrap()
        }
    };

    // A double click: two requests at once, one session.
    let (first, second) = tokio::join!(checkout(), checkout());
    assert_eq!(first, second);
    let keys: Vec<String> = requests_to(&t, "/v1/checkout/sessions")
        .await
        .iter()
        .map(|r| header(r, "idempotency-key").to_owned())
        .collect();
    assert!(
        !keys.is_empty() && keys.iter().all(|k| *k == keys[0]),
        "{keys:?}"
    );
    // Later (another tab, the back button): the open session, without asking Stripe.
    let asked = keys.len();
    assert_eq!(checkout().await, first);
    assert_eq!(requests_to(&t, "/v1/checkout/sessions").await.len(), asked);
    // Another plan is another session.
    let enterprise = t
        .billing
        .create_checkout_session(ada.id, "enterprise", SUCCESS, CANCEL, None)
        .await
        .unwrap();
    assert_ne!(enterprise, first);

    // Once it expired, a new one.
    let id = first.path().rsplit('/').next().unwrap().to_owned();
    let expired = event(
        "evt_expired",
        "checkout.session.expired",
        tollbooth_db::now().timestamp(),
        json!({ "id": id, "object": "checkout.session", "mode": "subscription", "status": "expired" }),
    );
    assert_eq!(
        t.deliver(&expired).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let fresh = checkout().await;
    assert_ne!(fresh, first);
    assert_eq!(checkout().await, fresh);
}

async fn a_change_whose_answer_is_unreadable_is_read_back(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    t.db.upsert_subscription(SubscriptionUpsert::new(
        ada.id.into(),
        "sub_1",
        "cus_ada",
        "pro",
        "active",
        tollbooth_db::now(),
    ))
    .await
    .unwrap();
    // Stripe applies the cancellation, but the answer is cut off by a proxy.
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>Bad gateway</html"))
        .mount(&t.stripe)
        .await;
    let mut canceling = subscription_2024("sub_1", "cus_ada", "active", PRO, 1_800_000_000);
    canceling["cancel_at_period_end"] = json!(true);
    stripe_answers(&t, "GET", "/v1/subscriptions/sub_1", canceling).await;

    let row = t.billing.cancel_subscription(ada.id, true).await.unwrap();
    assert!(row.cancel_at_period_end, "what Stripe now holds");
    let stored = t.db.find_subscription("sub_1").await.unwrap().unwrap();
    assert!(stored.cancel_at_period_end);
    let reads: Vec<_> = requests_to(&t, "/v1/subscriptions/sub_1")
        .await
        .into_iter()
        .map(|r| r.method.to_string())
        .collect();
    assert_eq!(reads, ["POST", "GET"]);

    // Read back impossible too: a typed provider error, never a 500.
    t.stripe.reset().await;
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{"))
        .mount(&t.stripe)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&t.stripe)
        .await;
    let err = t.billing.resume_subscription(ada.id).await.unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (503, "payment_provider_unavailable"),
        "{err:?}"
    );
}

async fn provider_errors_never_reach_a_client(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({ "error": {
            "type": "invalid_request_error", "message": "No such customer: 'cus_ada'; a similar object exists in live mode"
        } })))
        .mount(&t.stripe)
        .await;
    let err = t
        .billing
        .create_billing_portal_session(ada.id, "https://app.acme.example/billing")
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (502, "payment_provider_error")
    );
    let message = err.public_message();
    for detail in [
        "Stripe",
        "404",
        "cus_ada",
        "live mode",
        "invalid_request_error",
    ] {
        assert!(!message.contains(detail), "{detail} in {message:?}");
    }
    assert!(
        err.to_string().contains("No such customer"),
        "the log keeps it"
    );
}

async fn a_plan_of_the_catalog_is_bought_and_grants_its_entitlements(db: TestDb) {
    let t = TestBilling::with(db, |c| {
        c.plan(
            Plan::new("pro", "Pro")
                .monthly_price(PRO)
                .feature("api_access")
                .limit("projects", 50),
        )
        .free_plan(Plan::new(FREE_PLAN_ID, "Free").limit("projects", 1))
    })
    .await;
    checkout_stubs(&t).await;
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    let free = t.billing.current_plan(ada.id).await.unwrap();
    assert_eq!((free.id(), free.limit_of("projects")), ("free", Some(1)));
    assert!(!free.has_feature("api_access"));

    // Unknown ids and the free plan cannot be bought, before any request.
    for plan in ["free", "platinum", ""] {
        let err = t
            .billing
            .create_checkout_session(ada.id, plan, SUCCESS, CANCEL, None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "plan_not_purchasable", "{plan}");
    }
    assert!(t.stripe.received_requests().await.unwrap().is_empty());
    t.billing
        .create_checkout_session(ada.id, "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap();
    assert_eq!(
        form(&requests_to(&t, "/v1/checkout/sessions").await[0])["metadata[plan]"],
        "pro"
    );

    t.db.upsert_subscription(SubscriptionUpsert::new(
        ada.id.into(),
        "sub_1",
        "cus_ada",
        "pro",
        "active",
        tollbooth_db::now(),
    ))
    .await
    .unwrap();
    let pro = t.billing.current_plan(ada.id).await.unwrap();
    assert_eq!((pro.name(), pro.limit_of("projects")), ("Pro", Some(50)));
    assert!(pro.has_feature("api_access"));
}

tollbooth_db::engine_tests!(
    checkout_creates_the_customer_once_and_a_trial_session,
    one_trial_per_customer_and_no_double_subscriptions,
    free_and_bad_input_are_refused_before_any_request,
    stripe_failures_are_retried_with_the_same_key_then_typed,
    stripe_timeouts_during_checkout_leave_no_orphan_state,
    portal_sync_cancel_resume_and_reconcile,
    a_repeated_checkout_returns_the_open_session,
    a_change_whose_answer_is_unreadable_is_read_back,
    provider_errors_never_reach_a_client,
    a_plan_of_the_catalog_is_bought_and_grants_its_entitlements,
);
