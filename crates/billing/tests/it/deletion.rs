//! Before an account is deleted, billing ends everything Stripe could still charge it for:
//! the exact requests Stripe receives, and nothing changed while Stripe is down.

use crate::common::*;
use serde_json::{Value, json};
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{BillingRepo, NewCheckoutSession, now};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const PERIOD_END: i64 = 1_800_000_000;

/// Stripe lists `items` at `route` for `customer`.
async fn stripe_lists(t: &TestBilling, route: &str, customer: &str, items: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path(route))
        .and(query_param("customer", customer))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": false, "data": items
        })))
        .mount(&t.stripe)
        .await;
}

fn checkout_session(id: &str, status: &str) -> Value {
    json!({ "id": id, "object": "checkout.session", "status": status })
}

/// A Checkout session the user opened, as the local record has it.
async fn recorded_checkout(t: &TestBilling, user: uuid::Uuid, id: &str) {
    t.db.insert_checkout_session(NewCheckoutSession::new(
        user.into(),
        "pro",
        id,
        format!("https://checkout.stripe.com/c/pay/{id}"),
        now() + chrono::Duration::hours(23),
    ))
    .await
    .unwrap();
}

async fn refuse(t: &TestBilling, verb: &str, route: &str, status: u16) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(
            ResponseTemplate::new(status).set_body_json(json!({ "error": {
                "type": "invalid_request_error", "message": "refused by Stripe"
            }})),
        )
        .mount(&t.stripe)
        .await;
}

/// Cancelled at once (the default): the open Checkout sessions Stripe lists expired first,
/// the subscription found by asking Stripe (the local mirror never heard of it) deleted.
/// Stripe down: a 503 the deletion answers with, and nothing changed.
async fn billing_ends_at_once_before_an_account_is_deleted(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    recorded_checkout(&t, ada.id, "cs_open").await;

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
    let open =
        t.db.find_open_checkout_session(ada.id.into(), "pro", now())
            .await;
    assert!(open.unwrap().is_some());

    stripe_lists(
        &t,
        "/v1/checkout/sessions",
        "cus_ada",
        vec![
            checkout_session("cs_open", "open"),
            checkout_session("cs_pay", "open"),
        ],
    )
    .await;
    for id in ["cs_open", "cs_pay"] {
        let route = format!("/v1/checkout/sessions/{id}/expire");
        stripe_answers(&t, "POST", &route, checkout_session(id, "expired")).await;
    }
    stripe_lists(
        &t,
        "/v1/subscriptions",
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

    let listed = requests_to(&t, "/v1/checkout/sessions").await;
    assert_eq!(
        listed[0]
            .url
            .query_pairs()
            .find(|(k, _)| k == "status")
            .unwrap()
            .1,
        "open"
    );
    for id in ["cs_open", "cs_pay"] {
        let route = format!("/v1/checkout/sessions/{id}/expire");
        assert_eq!(requests_to(&t, &route).await.len(), 1, "{id}");
    }
    let open =
        t.db.find_open_checkout_session(ada.id.into(), "pro", now())
            .await;
    assert!(open.unwrap().is_none(), "closed in the local record too");
    let cancels = requests_to(&t, "/v1/subscriptions/sub_1").await;
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].method.as_str(), "DELETE");
    let row = t.billing.get_subscription(ada.id).await.unwrap().unwrap();
    assert_eq!(row.status, "canceled");
    // The customer stays, for the merchant's records.
    assert!(requests_to(&t, "/v1/customers/cus_ada").await.is_empty());
}

/// At the period end when configured: a paid-up subscription gets `cancel_at_period_end`
/// (no key of ours: a resume in between must not be undone by a replayed answer), a
/// past-due one is cancelled at once (it would go on collecting its invoice); a Checkout
/// session completed meanwhile (Stripe refuses to expire it) is no error.
async fn billing_ends_at_the_period_end_when_configured(db: TestDb) {
    let t = TestBilling::with(db, |c| c.cancel_at_period_end_on_account_deletion(true)).await;
    let bob = t.user("bob@example.com", Some("cus_bob")).await;
    stripe_lists(
        &t,
        "/v1/checkout/sessions",
        "cus_bob",
        vec![checkout_session("cs_paid", "open")],
    )
    .await;
    refuse(&t, "POST", "/v1/checkout/sessions/cs_paid/expire", 400).await;
    stripe_answers(
        &t,
        "GET",
        "/v1/checkout/sessions/cs_paid",
        checkout_session("cs_paid", "complete"),
    )
    .await;
    let behind = subscription_current("sub_3", "cus_bob", "past_due", PRO, PERIOD_END);
    stripe_lists(
        &t,
        "/v1/subscriptions",
        "cus_bob",
        vec![
            subscription_current("sub_2", "cus_bob", "active", PRO, PERIOD_END),
            behind,
        ],
    )
    .await;
    let mut ending = subscription_2024("sub_2", "cus_bob", "active", PRO, PERIOD_END);
    ending["cancel_at_period_end"] = json!(true);
    stripe_answers(&t, "POST", "/v1/subscriptions/sub_2", ending).await;
    let over = subscription_2024("sub_3", "cus_bob", "canceled", PRO, PERIOD_END);
    stripe_answers(&t, "DELETE", "/v1/subscriptions/sub_3", over).await;

    assert_eq!(t.billing.end_billing_for_deletion(bob.id).await.unwrap(), 2);
    let posts = requests_to(&t, "/v1/subscriptions/sub_2").await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].method.as_str(), "POST");
    assert_eq!(form(&posts[0])["cancel_at_period_end"], "true");
    assert!(!header(&posts[0], "idempotency-key").contains(&bob.id.to_string()));
    let deletes = requests_to(&t, "/v1/subscriptions/sub_3").await;
    assert_eq!(
        deletes[0].method.as_str(),
        "DELETE",
        "the past-due one at once"
    );
    let rows = t.billing.list_subscriptions(bob.id).await.unwrap();
    let by_id = |id: &str| {
        rows.iter()
            .find(|s| s.stripe_subscription_id == id)
            .unwrap()
    };
    assert!(by_id("sub_2").cancel_at_period_end);
    assert_eq!(by_id("sub_3").status, "canceled");
}

/// Stripe refuses to cancel a subscription it has cancelled already (a retry, a concurrent
/// deletion, the duplicate clean-up): read back, it is no error. A Checkout session Stripe
/// will not expire and still calls open is one.
async fn what_stripe_ended_already_is_no_error_what_it_did_not_is(db: TestDb) {
    let t = TestBilling::new(db).await;
    let cy = t.user("cy@example.com", Some("cus_cy")).await;
    stripe_lists(&t, "/v1/checkout/sessions", "cus_cy", vec![]).await;
    stripe_lists(
        &t,
        "/v1/subscriptions",
        "cus_cy",
        vec![subscription_current(
            "sub_4", "cus_cy", "active", PRO, PERIOD_END,
        )],
    )
    .await;
    refuse(&t, "DELETE", "/v1/subscriptions/sub_4", 404).await;
    let gone = subscription_2024("sub_4", "cus_cy", "canceled", PRO, PERIOD_END);
    stripe_answers(&t, "GET", "/v1/subscriptions/sub_4", gone).await;
    assert_eq!(t.billing.end_billing_for_deletion(cy.id).await.unwrap(), 1);
    let row = t.billing.get_subscription(cy.id).await.unwrap().unwrap();
    assert_eq!(row.status, "canceled");

    let di = t.user("di@example.com", Some("cus_di")).await;
    stripe_lists(
        &t,
        "/v1/checkout/sessions",
        "cus_di",
        vec![checkout_session("cs_stuck", "open")],
    )
    .await;
    refuse(&t, "POST", "/v1/checkout/sessions/cs_stuck/expire", 400).await;
    stripe_answers(
        &t,
        "GET",
        "/v1/checkout/sessions/cs_stuck",
        checkout_session("cs_stuck", "open"),
    )
    .await;
    let refused = t.billing.end_billing_for_deletion(di.id).await.unwrap_err();
    assert_eq!(refused.code(), "payment_provider_error");
    let listed = requests_to(&t, "/v1/subscriptions").await;
    assert!(
        listed
            .iter()
            .all(|r| !r.url.query().unwrap_or("").contains("cus_di")),
        "no subscription touched before the checkout is dealt with"
    );
}

/// A user who never reached checkout has nothing in Stripe: no request at all.
async fn a_user_without_a_customer_costs_no_request(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ed = t.user("ed@example.com", None).await;
    assert_eq!(t.billing.end_billing_for_deletion(ed.id).await.unwrap(), 0);
    assert!(t.stripe.received_requests().await.unwrap().is_empty());
}

tollbooth_db::engine_tests!(
    billing_ends_at_once_before_an_account_is_deleted,
    billing_ends_at_the_period_end_when_configured,
    what_stripe_ended_already_is_no_error_what_it_did_not_is,
    a_user_without_a_customer_costs_no_request,
);
