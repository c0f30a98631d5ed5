//! An organization as the billed customer: its own Stripe customer, checkout, webhooks that
//! reach it (and its owners' inboxes) and never a user, and billing ended before it is
//! deleted.

use crate::common::*;
use serde_json::{Value, json};
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{NewOrganization, Organization, OrganizationRepo, User, UserRepo};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const SUCCESS: &str = "https://app.acme.example/orgs/done";
const CANCEL: &str = "https://app.acme.example/orgs";
const T0: i64 = 1_790_000_000;
const PERIOD_END: i64 = 1_800_000_000;

/// Ada owns Acme; Bob is a plain member (no billing e-mails).
async fn acme(t: &TestBilling, customer: Option<&str>) -> (User, Organization) {
    let ada = t.user("ada@example.com", None).await;
    let bob = t.user("bob@example.com", None).await;
    let (acme, _) =
        t.db.create_organization(NewOrganization::new("Acme Team", "acme"), ada.id)
            .await
            .unwrap();
    t.db.add_member(acme.id, bob.id, "member").await.unwrap();
    let acme = match customer {
        Some(customer) => {
            t.db.set_organization_stripe_customer_id(acme.id, customer)
                .await
                .unwrap()
                .unwrap()
        }
        None => acme,
    };
    (ada, acme)
}

fn org_checkout_completed(id: &str, org: &Organization, customer: &str) -> Value {
    event(
        id,
        "checkout.session.completed",
        T0,
        json!({
            "id": "cs_org", "object": "checkout.session", "mode": "subscription",
            "customer": customer, "client_reference_id": null,
            "subscription": "sub_org", "payment_status": "paid", "status": "complete",
            "metadata": { "organization_id": org.id.to_string(), "plan": "pro" }
        }),
    )
}

fn subscription_event(id: &str, subscription: Value) -> Value {
    event(id, "customer.subscription.created", T0, subscription)
}

/// Checkout for an organization makes the organization's own Stripe customer (named after
/// it, tagged with its id, no one's e-mail), tags the session with the organization, and a
/// second click gets the same session. The webhooks then give the organization — not the
/// owner who paid — the plan, and tell its owners.
async fn an_organization_subscribes_and_its_owners_are_told(db: TestDb) {
    let t = TestBilling::new(db).await;
    let (ada, acme) = acme(&t, None).await;
    stripe_answers(
        &t,
        "POST",
        "/v1/customers",
        json!({ "id": "cus_acme", "object": "customer" }),
    )
    .await;
    stripe_answers(&t, "POST", "/v1/checkout/sessions", json!({
        "id": "cs_org", "object": "checkout.session", "mode": "subscription",
        "url": "https://checkout.stripe.com/c/pay/cs_org", "customer": "cus_acme", "status": "open"
    }))
    .await;
    let billed = Customer::Organization(acme.id);

    let url = t
        .billing
        .create_checkout_session(billed, "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap();
    assert_eq!(url.as_str(), "https://checkout.stripe.com/c/pay/cs_org");
    let again = t
        .billing
        .create_checkout_session(billed, "pro", SUCCESS, CANCEL, None)
        .await
        .unwrap();
    assert_eq!(again, url, "a second click reuses the open session");

    let customers = requests_to(&t, "/v1/customers").await;
    assert_eq!(customers.len(), 1);
    let created = form(&customers[0]);
    assert_eq!(created["name"], "Acme Team");
    assert_eq!(created["metadata[organization_id]"], acme.id.to_string());
    assert!(!created.contains_key("email"), "{created:?}");
    assert!(!created.contains_key("metadata[user_id]"), "{created:?}");
    assert_eq!(
        header(&customers[0], "idempotency-key"),
        format!("customer/organization/{}", acme.id)
    );
    let org = t.db.find_organization(acme.id).await.unwrap().unwrap();
    assert_eq!(org.stripe_customer_id.as_deref(), Some("cus_acme"));
    let user = t.billing.get_subscription(ada.id).await.unwrap();
    assert!(user.is_none());

    let sessions = requests_to(&t, "/v1/checkout/sessions").await;
    assert_eq!(sessions.len(), 1, "one session for two clicks");
    let session = form(&sessions[0]);
    assert_eq!(session["customer"], "cus_acme");
    assert_eq!(session["metadata[organization_id]"], acme.id.to_string());
    assert_eq!(
        session["subscription_data[metadata][organization_id]"],
        acme.id.to_string()
    );
    assert!(!session.contains_key("client_reference_id"), "{session:?}");
    assert!(!session.contains_key("metadata[user_id]"), "{session:?}");
    assert!(
        header(&sessions[0], "idempotency-key")
            .starts_with(&format!("checkout/organization/{}/pro/", acme.id))
    );

    let receipt = t
        .deliver(&org_checkout_completed("evt_c", &acme, "cus_acme"))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, WebhookOutcome::Applied);
    let mut subscription = subscription_2024("sub_org", "cus_acme", "active", PRO, PERIOD_END);
    // Metadata naming a user loses to the customer the subscription belongs to.
    subscription["metadata"] = json!({ "user_id": ada.id.to_string() });
    let receipt = t
        .deliver(&subscription_event("evt_s", subscription))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, WebhookOutcome::Applied);

    assert_eq!(t.billing.current_plan(billed).await.unwrap().id(), "pro");
    assert_eq!(
        t.billing.current_plan(ada.id).await.unwrap().id(),
        FREE_PLAN_ID,
        "the owner's own plan is untouched"
    );
    let rows = t.billing.list_subscriptions(billed).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].customer(), billed);
    assert_eq!(
        (rows[0].user_id, rows[0].organization_id),
        (None, Some(acme.id))
    );

    t.billing.flush_background_tasks().await;
    let confirmations = t.outbox.sent_to("ada@example.com");
    assert_eq!(confirmations.len(), 1);
    assert_eq!(
        confirmations[0].idempotency_key(),
        "stripe/evt_c/confirmed/0"
    );
    assert!(
        confirmations[0].text().contains(&format!(
            "https://app.acme.example/organizations/{}",
            acme.id
        )),
        "links to the organization's page: {}",
        confirmations[0].text()
    );
    assert!(
        t.outbox.sent_to("bob@example.com").is_empty(),
        "members who are not owners get no billing e-mail"
    );
}

/// A Stripe customer is one customer's: an event tying a user's Stripe customer to an
/// organization (or the reverse) is ignored and recorded, never applied or retried.
async fn a_stripe_customer_never_crosses_between_a_user_and_an_organization(db: TestDb) {
    let t = TestBilling::new(db).await;
    let (ada, acme) = acme(&t, Some("cus_acme")).await;
    t.db.set_stripe_customer_id(ada.id, "cus_ada")
        .await
        .unwrap();
    let another = "the Stripe customer belongs to another user or organization";

    let receipt = t
        .deliver(&org_checkout_completed("evt_1", &acme, "cus_ada"))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, WebhookOutcome::Ignored { reason: another });
    let mut subscription = subscription_2024("sub_x", "cus_acme", "active", PRO, PERIOD_END);
    subscription["metadata"] = json!({ "user_id": ada.id.to_string() });
    t.deliver(&subscription_event("evt_2", subscription))
        .await
        .unwrap();
    assert!(t.billing.get_subscription(ada.id).await.unwrap().is_none());
    assert_eq!(
        t.billing
            .list_subscriptions(Customer::Organization(acme.id))
            .await
            .unwrap()
            .len(),
        1,
        "the subscription of the organization's customer is the organization's"
    );
    let org = t.db.find_organization(acme.id).await.unwrap().unwrap();
    assert_eq!(org.stripe_customer_id.as_deref(), Some("cus_acme"));

    // A user's one-off payment whose application metadata happens to name the
    // organization is still the user's: `client_reference_id` decides.
    let paid = event(
        "evt_3",
        "checkout.session.completed",
        T0,
        json!({
            "id": "cs_pay", "object": "checkout.session", "mode": "payment",
            "customer": "cus_ada", "client_reference_id": ada.id.to_string(),
            "payment_status": "paid", "status": "complete",
            "metadata": { "organization_id": acme.id.to_string(), "user_id": ada.id.to_string() }
        }),
    );
    assert_eq!(
        t.deliver(&paid).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
}

/// Deleting an organization first ends what Stripe could bill it for, exactly as for an
/// account; Stripe down refuses the deletion (503) with nothing ended.
async fn billing_ends_before_an_organization_is_deleted(db: TestDb) {
    let t = TestBilling::new(db).await;
    let (_, acme) = acme(&t, Some("cus_acme")).await;
    t.deliver(&subscription_event(
        "evt_1",
        subscription_2024("sub_org", "cus_acme", "active", PRO, PERIOD_END),
    ))
    .await
    .unwrap();

    let down = Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&t.stripe)
        .await;
    let refused = t
        .billing
        .before_organization_deletion(acme.id)
        .await
        .unwrap_err();
    assert_eq!(
        (refused.status().as_u16(), refused.code()),
        (503, "payment_provider_unavailable")
    );
    drop(down);
    let billed = Customer::Organization(acme.id);
    let live = t.billing.get_subscription(billed).await.unwrap().unwrap();
    assert_eq!(live.status, "active");

    for route in ["/v1/checkout/sessions", "/v1/subscriptions"] {
        let items = if route == "/v1/subscriptions" {
            vec![subscription_2024(
                "sub_org", "cus_acme", "active", PRO, PERIOD_END,
            )]
        } else {
            Vec::new()
        };
        Mock::given(method("GET"))
            .and(path(route))
            .and(query_param("customer", "cus_acme"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "list", "has_more": false, "data": items
            })))
            .mount(&t.stripe)
            .await;
    }
    let mut ended = subscription_2024("sub_org", "cus_acme", "canceled", PRO, PERIOD_END);
    ended["ended_at"] = json!(T0 + 10);
    stripe_answers(&t, "DELETE", "/v1/subscriptions/sub_org", ended).await;
    t.billing
        .before_organization_deletion(acme.id)
        .await
        .unwrap();
    let cancels = requests_to(&t, "/v1/subscriptions/sub_org").await;
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].method.as_str(), "DELETE");
    let row = t.billing.get_subscription(billed).await.unwrap().unwrap();
    assert_eq!(row.status, "canceled");
}

tollbooth_db::engine_tests!(
    an_organization_subscribes_and_its_owners_are_told,
    a_stripe_customer_never_crosses_between_a_user_and_an_organization,
    billing_ends_before_an_organization_is_deleted,
);
