//! Before an account is deleted, billing ends everything Stripe could still charge it for:
//! the exact requests Stripe receives, and nothing changed while Stripe is down.

use crate::common::*;
use serde_json::json;
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{BillingRepo, NewCheckoutSession, now};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const PERIOD_END: i64 = 1_800_000_000;

/// Stripe lists `subscriptions` for `customer`.
async fn stripe_lists(t: &TestBilling, customer: &str, subscriptions: Vec<serde_json::Value>) {
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .and(query_param("customer", customer))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": false, "data": subscriptions
        })))
        .mount(&t.stripe)
        .await;
}

async fn open_checkout(t: &TestBilling, user: uuid::Uuid, id: &str) {
    t.db.insert_checkout_session(NewCheckoutSession::new(
        user,
        "pro",
        id,
        format!("https://checkout.stripe.com/c/pay/{id}"),
        now() + chrono::Duration::hours(23),
    ))
    .await
    .unwrap();
}

/// Cancelled at once (the default): the open Checkout session expired first, the
/// subscription found by asking Stripe (the local mirror never heard of it) and deleted. Stripe down: an error, and nothing changed.
async fn billing_ends_at_once_before_an_account_is_deleted(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    open_checkout(&t, ada.id, "cs_open").await;

    // Stripe down: refused as a 503 the deletion answers with, nothing expired or cancelled.
    let down = Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&t.stripe)
        .await;
    let refused = t.billing.before_account_deletion(ada.id).await.unwrap_err();
    assert_eq!(
        (refused.status().as_u16(), refused.code()),
        (503, "payment_provider_unavailable")
    );
    drop(down);
    assert_eq!(
        t.db.list_open_checkout_sessions(ada.id, now())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(requests_to(&t, "/v1/subscriptions/sub_1").await.is_empty());

    stripe_answers(
        &t,
        "POST",
        "/v1/checkout/sessions/cs_open/expire",
        json!({
            "id": "cs_open", "object": "checkout.session", "status": "expired"
        }),
    )
    .await;
    stripe_lists(
        &t,
        "cus_ada",
        vec![subscription_current(
            "sub_1", "cus_ada", "active", PRO, PERIOD_END,
        )],
    )
    .await;
    let mut ended = subscription_2024("sub_1", "cus_ada", "canceled", PRO, PERIOD_END);
    ended["ended_at"] = json!(1_790_000_000);
    stripe_answers(&t, "DELETE", "/v1/subscriptions/sub_1", ended).await;
    assert_eq!(t.billing.end_billing_for_deletion(ada.id).await.unwrap(), 1);

    assert!(
        t.db.list_open_checkout_sessions(ada.id, now())
            .await
            .unwrap()
            .is_empty()
    );
    let cancels = requests_to(&t, "/v1/subscriptions/sub_1").await;
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].method.as_str(), "DELETE");
    let row = t.billing.get_subscription(ada.id).await.unwrap().unwrap();
    assert_eq!(row.status, "canceled");
    // The customer stays, for the merchant's records.
    assert!(requests_to(&t, "/v1/customers/cus_ada").await.is_empty());
}

/// At the period end when configured: a POST setting `cancel_at_period_end`, keyed; a
/// Checkout session completed meanwhile (Stripe refuses to expire it) is no error, and the
/// subscription it started, known only to Stripe, is cancelled too.
async fn billing_ends_at_the_period_end_when_configured(db: TestDb) {
    let t = TestBilling::with(db, |c| c.cancel_at_period_end_on_account_deletion(true)).await;
    let bob = t.user("bob@example.com", Some("cus_bob")).await;
    open_checkout(&t, bob.id, "cs_paid").await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions/cs_paid/expire"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({ "error": {
            "type": "invalid_request_error",
            "message": "Only Checkout Sessions with a status in [\"open\"] can be expired."
        }})))
        .mount(&t.stripe)
        .await;
    stripe_answers(
        &t,
        "GET",
        "/v1/checkout/sessions/cs_paid",
        json!({
            "id": "cs_paid", "object": "checkout.session", "status": "complete"
        }),
    )
    .await;
    stripe_lists(
        &t,
        "cus_bob",
        vec![subscription_current(
            "sub_2", "cus_bob", "active", PRO, PERIOD_END,
        )],
    )
    .await;
    let mut ending = subscription_2024("sub_2", "cus_bob", "active", PRO, PERIOD_END);
    ending["cancel_at_period_end"] = json!(true);
    stripe_answers(&t, "POST", "/v1/subscriptions/sub_2", ending).await;

    assert_eq!(t.billing.end_billing_for_deletion(bob.id).await.unwrap(), 1);
    let posts = requests_to(&t, "/v1/subscriptions/sub_2").await;
    assert_eq!(posts.len(), 1);
    assert_eq!(form(&posts[0])["cancel_at_period_end"], "true");
    assert_eq!(
        header(&posts[0], "idempotency-key"),
        format!("tollbooth-account-deletion/{}/sub_2", bob.id)
    );
    assert!(
        t.db.list_open_checkout_sessions(bob.id, now())
            .await
            .unwrap()
            .is_empty()
    );
    let row = t.billing.get_subscription(bob.id).await.unwrap().unwrap();
    assert!(row.cancel_at_period_end);
}

/// A Checkout session Stripe will not expire and still calls open is an error: deleting
/// the account then could leave a subscription nobody owns.
async fn a_checkout_stripe_cannot_expire_refuses_the_deletion(db: TestDb) {
    let t = TestBilling::new(db).await;
    let cy = t.user("cy@example.com", Some("cus_cy")).await;
    open_checkout(&t, cy.id, "cs_stuck").await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions/cs_stuck/expire"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({ "error": {
            "type": "invalid_request_error", "message": "try later"
        }})))
        .mount(&t.stripe)
        .await;
    stripe_answers(
        &t,
        "GET",
        "/v1/checkout/sessions/cs_stuck",
        json!({
            "id": "cs_stuck", "object": "checkout.session", "status": "open"
        }),
    )
    .await;
    let refused = t.billing.end_billing_for_deletion(cy.id).await.unwrap_err();
    assert_eq!(refused.code(), "payment_provider_error");
    assert_eq!(
        t.db.list_open_checkout_sessions(cy.id, now())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(requests_to(&t, "/v1/subscriptions").await.is_empty());
}

/// A user who never reached checkout has nothing in Stripe: no request at all.
async fn a_user_without_a_customer_costs_no_request(db: TestDb) {
    let t = TestBilling::new(db).await;
    let di = t.user("di@example.com", None).await;
    assert_eq!(t.billing.end_billing_for_deletion(di.id).await.unwrap(), 0);
    assert!(t.stripe.received_requests().await.unwrap().is_empty());
}

tollbooth_db::engine_tests!(
    billing_ends_at_once_before_an_account_is_deleted,
    billing_ends_at_the_period_end_when_configured,
    a_checkout_stripe_cannot_expire_refuses_the_deletion,
    a_user_without_a_customer_costs_no_request,
);
