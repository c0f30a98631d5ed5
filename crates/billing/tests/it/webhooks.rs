//! Signed Stripe webhooks against a real database: every event applied, bad signatures
//! refused with nothing written, duplicates and reordering harmless, failures atomic.

use std::sync::Arc;

use crate::common::*;
use chrono::TimeDelta;
use mockall::predicate::function;
use sea_orm::ConnectionTrait;
use serde_json::json;
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{BillingRepo, Engine, NewUser, OutboxRepo, UserRepo};
use tollbooth_email::{Email, Mailer, MailerConfig, MessageId, MockEmailSender, OutboxSender};

const T0: i64 = 1_764_000_000;

fn checkout_completed(id: &str, user: uuid::Uuid, customer: &str) -> serde_json::Value {
    event(
        id,
        "checkout.session.completed",
        T0,
        json!({
            "id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
            "customer": customer, "client_reference_id": user.to_string(),
            "subscription": "sub_1", "payment_status": "paid", "status": "complete",
            "amount_total": 1900, "currency": "usd",
            "metadata": { "user_id": user.to_string(), "plan": "pro" }
        }),
    )
}

async fn every_event_type_is_applied(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", None).await;

    // Checkout completes: the customer is linked and a confirmation e-mail goes out.
    let receipt = t
        .deliver(&checkout_completed("evt_1", ada.id, "cus_1"))
        .await
        .unwrap();
    assert_eq!(
        (receipt.event_id.as_str(), &receipt.outcome),
        ("evt_1", &WebhookOutcome::Applied)
    );
    assert_eq!(
        t.db.find_user(ada.id)
            .await
            .unwrap()
            .unwrap()
            .stripe_customer_id
            .as_deref(),
        Some("cus_1")
    );

    // The subscription appears (2024-04-10 payload)…
    let period_end = T0 + 30 * 86_400;
    let created = event(
        "evt_2",
        "customer.subscription.created",
        T0,
        subscription_2024("sub_1", "cus_1", "active", PRO, period_end),
    );
    assert_eq!(
        t.deliver(&created).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let row = t.billing.get_subscription(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.plan.as_str(), row.quantity),
        ("active", "pro", 1)
    );
    assert_eq!(row.current_period_end.unwrap().timestamp(), period_end);
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap().id(), "pro");

    // …is updated (current-version payload: period end on the item, expanded customer)…
    let later = event(
        "evt_3",
        "customer.subscription.updated",
        T0 + 60,
        subscription_current(
            "sub_1",
            "cus_1",
            "past_due",
            ENTERPRISE,
            period_end + 86_400,
        ),
    );
    assert_eq!(
        t.deliver(&later).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let row = t.billing.get_subscription(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.plan.as_str(), row.quantity),
        ("past_due", "enterprise", 2)
    );
    assert_eq!(
        row.current_period_end.unwrap().timestamp(),
        period_end + 86_400
    );

    // A renewal fails (one invoice in each shape): the user is told how much and where to pay.
    let failed_2024 = event(
        "evt_4",
        "invoice.payment_failed",
        T0 + 120,
        json!({
            "id": "in_1", "object": "invoice", "customer": "cus_1", "subscription": "sub_1",
            "amount_due": 4900, "currency": "eur", "next_payment_attempt": T0 + 3 * 86_400, "attempt_count": 1
        }),
    );
    assert_eq!(
        t.deliver(&failed_2024).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let failed_current = event(
        "evt_5",
        "invoice.payment_failed",
        T0 + 180,
        json!({
            "id": "in_2", "object": "invoice", "customer": { "id": "cus_1", "object": "customer" },
            "parent": { "type": "subscription_details", "subscription_details": { "subscription": "sub_1" } },
            "amount_due": 1900, "currency": "usd", "next_payment_attempt": null
        }),
    );
    assert_eq!(
        t.deliver(&failed_current).await.unwrap().outcome,
        WebhookOutcome::Applied
    );

    // The subscription ends.
    let mut gone = subscription_2024("sub_1", "cus_1", "canceled", ENTERPRISE, period_end);
    gone["ended_at"] = json!(T0 + 240);
    gone["canceled_at"] = json!(T0 + 240);
    let deleted = event("evt_6", "customer.subscription.deleted", T0 + 240, gone);
    assert_eq!(
        t.deliver(&deleted).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let row = t.billing.get_subscription(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.ended_at.unwrap().timestamp()),
        ("canceled", T0 + 240)
    );
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap().id(), "free");

    // A one-time payment succeeds.
    let paid = event(
        "evt_7",
        "payment_intent.succeeded",
        T0 + 300,
        json!({
            "id": "pi_1", "object": "payment_intent", "amount": 15000, "currency": "usd",
            "status": "succeeded", "customer": null, "client_secret": "pi_1_secret_x",
            "metadata": { "user_id": ada.id.to_string(), "event_type_id": "42" }
        }),
    );
    assert_eq!(
        t.deliver(&paid).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let payment = t.db.find_payment("pi_1").await.unwrap().unwrap();
    assert_eq!(
        (payment.status.as_str(), payment.amount, payment.user_id),
        ("succeeded", 15000, Some(ada.id))
    );

    // Unknown types and unknown customers are recorded, not errors.
    let unknown = event(
        "evt_8",
        "customer.created",
        T0,
        json!({ "id": "cus_9", "object": "customer" }),
    );
    assert!(matches!(
        t.deliver(&unknown).await.unwrap().outcome,
        WebhookOutcome::Ignored { .. }
    ));
    let stranger = event(
        "evt_9",
        "customer.subscription.created",
        T0,
        subscription_2024("sub_9", "cus_9", "active", PRO, period_end),
    );
    assert!(matches!(
        t.deliver(&stranger).await.unwrap().outcome,
        WebhookOutcome::Ignored { .. }
    ));
    assert_eq!(t.db.find_subscription("sub_9").await.unwrap(), None);
    assert_eq!(t.recorded_events().await, 9);

    // E-mails: one confirmation, two payment failures, each keyed by its event.
    t.billing.flush_background_tasks().await;
    let sent = t.outbox.sent_to("ada@example.com");
    let subjects: Vec<&str> = sent.iter().map(Email::subject).collect();
    assert_eq!(
        subjects,
        [
            "Your Acme Pro subscription is confirmed",
            "Action needed: your Acme payment failed",
            "Action needed: your Acme payment failed",
        ]
    );
    assert_eq!(sent[0].idempotency_key(), "stripe/evt_1/confirmed/0");
    assert!(sent[1].text().contains("€49.00"), "{}", sent[1].text());
    assert!(sent[1].text().contains("https://app.acme.example/billing"));
    assert!(sent[2].text().contains("$19.00"));
}

async fn bad_signatures_write_nothing(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_1")).await;
    let event = event(
        "evt_1",
        "customer.subscription.created",
        T0,
        subscription_2024("sub_1", "cus_1", "active", PRO, T0),
    );
    let payload = serde_json::to_vec(&event).unwrap();
    let now = tollbooth_db::now();
    let good = sign_stripe_webhook(&payload, &WebhookSecret::new(SECRET), now.timestamp());

    let mut tampered = payload.clone();
    *tampered.iter_mut().rev().nth(3).unwrap() ^= 1;
    let other_secret = sign_stripe_webhook(
        &payload,
        &WebhookSecret::new("whsec_other"),
        now.timestamp(),
    );
    let stale = sign_stripe_webhook(&payload, &WebhookSecret::new(SECRET), now.timestamp() - 301);
    let cases: [(&[u8], Option<&str>, &str); 6] = [
        (&tampered, Some(&good), "tampered body"),
        (&payload, Some(&other_secret), "wrong secret"),
        (&payload, Some(&stale), "stale timestamp"),
        (&payload, None, "missing header"),
        (&payload, Some("t=oops,v1=zz"), "malformed header"),
        (&payload, Some(""), "empty header"),
    ];
    for (body, header, case) in cases {
        let err = t
            .billing
            .handle_stripe_webhook(body, header, now)
            .await
            .unwrap_err();
        assert!(
            matches!(err, BillingError::InvalidSignature),
            "{case}: {err:?}"
        );
        assert_eq!(
            (err.status().as_u16(), err.code()),
            (400, "invalid_signature")
        );
    }
    // Signed but not an event.
    let junk = b"{\"hello\":1}";
    let header = sign_stripe_webhook(junk, &WebhookSecret::new(SECRET), now.timestamp());
    let err = t
        .billing
        .handle_stripe_webhook(junk, Some(&header), now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BillingError::InvalidPayload { .. }),
        "{err:?}"
    );

    assert_eq!(t.recorded_events().await, 0);
    assert_eq!(t.billing.get_subscription(ada.id).await.unwrap(), None);
    // The genuine delivery still works afterwards.
    assert_eq!(
        t.billing
            .handle_stripe_webhook(&payload, Some(&good), now)
            .await
            .unwrap()
            .outcome,
        WebhookOutcome::Applied
    );
}

async fn rotated_secrets_and_two_v1_values(db: TestDb) {
    let t = TestBilling::with(db, |c| c.webhook_secret(WebhookSecret::new("whsec_new"))).await;
    t.user("ada@example.com", Some("cus_1")).await;
    let now = tollbooth_db::now();
    let payload = serde_json::to_vec(&event(
        "evt_1",
        "customer.subscription.created",
        T0,
        subscription_2024("sub_1", "cus_1", "active", PRO, T0),
    ))
    .unwrap();
    // Stripe during a secret roll: the same timestamp signed with the old and the new secret.
    let old = sign_stripe_webhook(
        &payload,
        &WebhookSecret::new("whsec_retired"),
        now.timestamp(),
    );
    let new = sign_stripe_webhook(&payload, &WebhookSecret::new("whsec_new"), now.timestamp());
    let header = format!("{old},v1={}", new.split("v1=").nth(1).unwrap());
    assert_eq!(
        t.billing
            .handle_stripe_webhook(&payload, Some(&header), now)
            .await
            .unwrap()
            .outcome,
        WebhookOutcome::Applied
    );
    // Either configured secret verifies on its own.
    let payload = serde_json::to_vec(&event("evt_2", "customer.created", T0, json!({}))).unwrap();
    let header = sign_stripe_webhook(&payload, &WebhookSecret::new(SECRET), now.timestamp());
    assert!(
        t.billing
            .handle_stripe_webhook(&payload, Some(&header), now)
            .await
            .is_ok()
    );
}

async fn duplicates_apply_once_and_email_once(db: TestDb) {
    let mut sender = MockEmailSender::new();
    sender
        .expect_send()
        .with(function(|e: &Email| {
            e.subject() == "Your Acme Pro subscription is confirmed"
        }))
        .times(2) // one per distinct event, never per delivery
        .returning(|e| Ok(MessageId(e.idempotency_key().to_owned())));
    let stripe = wiremock::MockServer::start().await;
    let config = config(&stripe).await.build().unwrap();
    let billing = Billing::new((*db).clone(), mailer(sender), config.clone()).unwrap();
    let t = TestBilling {
        billing,
        stripe,
        outbox: tollbooth_email::OutboxSender::new(),
        db,
    };
    let ada = t.user("ada@example.com", None).await;

    // The same event delivered twice in a row.
    let first = checkout_completed("evt_1", ada.id, "cus_1");
    assert_eq!(
        t.deliver(&first).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(
        t.deliver(&first).await.unwrap().outcome,
        WebhookOutcome::Duplicate
    );

    // Another event delivered concurrently to two instances (separate pools).
    let second = Arc::new(checkout_completed("evt_2", ada.id, "cus_1"));
    let other = Billing::new(t.db.connect_again().await, mailer_of(&t), config).unwrap();
    let outcomes = {
        let deliveries = [t.billing.clone(), other.clone()].map(|billing| {
            let event = second.clone();
            tokio::spawn(async move {
                let payload = serde_json::to_vec(&*event).unwrap();
                let now = tollbooth_db::now();
                let header =
                    sign_stripe_webhook(&payload, &WebhookSecret::new(SECRET), now.timestamp());
                billing
                    .handle_stripe_webhook(&payload, Some(&header), now)
                    .await
                    .unwrap()
                    .outcome
            })
        });
        let mut outcomes = Vec::new();
        for delivery in deliveries {
            outcomes.push(delivery.await.unwrap());
        }
        outcomes
    };
    assert!(
        outcomes.contains(&WebhookOutcome::Applied)
            && outcomes.contains(&WebhookOutcome::Duplicate),
        "{outcomes:?}"
    );
    t.billing.flush_background_tasks().await;
    other.flush_background_tasks().await;
    assert_eq!(t.recorded_events().await, 2);
    // MockEmailSender verifies `times(2)` when dropped with `t`.
}

/// `other` must share the mock: reuse the first instance's mailer.
fn mailer_of(t: &TestBilling) -> tollbooth_email::Mailer {
    t.billing.mailer().clone()
}

async fn out_of_order_events_end_in_the_right_state(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_1")).await;
    let mut newest = subscription_2024("sub_1", "cus_1", "active", PRO, T0 + 30 * 86_400);
    newest["cancel_at_period_end"] = json!(true);
    let updated = event("evt_2", "customer.subscription.updated", T0 + 10, newest);
    let created = event(
        "evt_1",
        "customer.subscription.created",
        T0,
        subscription_2024("sub_1", "cus_1", "incomplete", PRO, T0 + 30 * 86_400),
    );
    let older_update = event(
        "evt_3",
        "customer.subscription.updated",
        T0 + 5,
        subscription_2024("sub_1", "cus_1", "past_due", PRO, T0),
    );

    // `updated` arrives before `created`: the upsert by Stripe id still builds the row.
    assert_eq!(
        t.deliver(&updated).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(
        t.deliver(&created).await.unwrap().outcome,
        WebhookOutcome::Stale
    );
    assert_eq!(
        t.deliver(&older_update).await.unwrap().outcome,
        WebhookOutcome::Stale
    );
    let row = t.billing.get_subscription(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.cancel_at_period_end),
        ("active", true)
    );
    assert_eq!(row.last_event_at.timestamp(), T0 + 10);

    // A payment: `succeeded` is final, so a failure delivered after it (Stripe does not
    // order deliveries) is stale and the paid session's metadata survives.
    let intent = |status: &str, metadata: serde_json::Value| {
        json!({
            "id": "pi_1", "object": "payment_intent", "amount": 15000, "currency": "usd",
            "status": status, "customer": "cus_1", "metadata": metadata
        })
    };
    let paid_for = json!({ "user_id": ada.id.to_string(), "order": "42" });
    let succeeded = event(
        "evt_4",
        "payment_intent.succeeded",
        T0 + 20,
        intent("succeeded", paid_for.clone()),
    );
    let failed = event(
        "evt_5",
        "payment_intent.payment_failed",
        T0 + 15,
        intent("requires_payment_method", json!({})),
    );
    assert_eq!(
        t.deliver(&succeeded).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(
        t.deliver(&failed).await.unwrap().outcome,
        WebhookOutcome::Stale
    );
    let payment = t.db.find_payment("pi_1").await.unwrap().unwrap();
    assert_eq!(
        (payment.status.as_str(), payment.metadata, payment.user_id),
        ("succeeded", Some(paid_for), Some(ada.id))
    );
    assert_eq!(
        t.recorded_events().await,
        5,
        "stale events are still recorded as processed"
    );
}

async fn a_database_failure_mid_event_leaves_nothing_and_the_redelivery_applies(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_1")).await;
    // Inject a failure on the second statement of the event's transaction (the subscription
    // write), after the event id was inserted.
    let conn = t.db.connection();
    conn.execute_unprepared("CREATE TABLE fail_switch (on_ INTEGER)")
        .await
        .unwrap();
    conn.execute_unprepared("INSERT INTO fail_switch VALUES (1)")
        .await
        .unwrap();
    let trigger = match t.db.engine() {
        Engine::Sqlite => "CREATE TRIGGER fail_subscriptions BEFORE INSERT ON subscriptions \
             WHEN (SELECT count(*) FROM fail_switch) > 0 BEGIN SELECT RAISE(ABORT, 'injected'); END"
            .to_owned(),
        _ => {
            conn.execute_unprepared(
                "CREATE FUNCTION fail_subscriptions() RETURNS trigger AS $$ BEGIN \
                 IF EXISTS (SELECT 1 FROM fail_switch) THEN RAISE EXCEPTION 'injected'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql",
            )
            .await
            .unwrap();
            "CREATE TRIGGER fail_subscriptions BEFORE INSERT ON subscriptions \
             FOR EACH ROW EXECUTE FUNCTION fail_subscriptions()"
                .to_owned()
        }
    };
    conn.execute_unprepared(&trigger).await.unwrap();

    let created = event(
        "evt_1",
        "customer.subscription.created",
        T0,
        subscription_2024("sub_1", "cus_1", "active", PRO, T0),
    );
    let err = t.deliver(&created).await.unwrap_err();
    assert!(matches!(err, BillingError::Database { .. }), "{err:?}");
    assert_eq!(err.status().as_u16(), 500, "Stripe retries a 5xx");
    assert_eq!(
        t.recorded_events().await,
        0,
        "the event is not marked processed"
    );
    assert_eq!(t.billing.get_subscription(ada.id).await.unwrap(), None);

    conn.execute_unprepared("DELETE FROM fail_switch")
        .await
        .unwrap();
    assert_eq!(
        t.deliver(&created).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(
        t.deliver(&created).await.unwrap().outcome,
        WebhookOutcome::Duplicate
    );
    assert_eq!(t.recorded_events().await, 1);
}

async fn events_far_in_the_past_or_future_are_refused(db: TestDb) {
    let t = TestBilling::new(db).await;
    let now = tollbooth_db::now();
    let payload = serde_json::to_vec(&event("evt_1", "customer.created", T0, json!({}))).unwrap();
    let future = sign_stripe_webhook(
        &payload,
        &WebhookSecret::new(SECRET),
        (now + TimeDelta::seconds(301)).timestamp(),
    );
    assert!(matches!(
        t.billing
            .handle_stripe_webhook(&payload, Some(&future), now)
            .await,
        Err(BillingError::InvalidSignature)
    ));
    let edge = sign_stripe_webhook(
        &payload,
        &WebhookSecret::new(SECRET),
        (now - TimeDelta::seconds(300)).timestamp(),
    );
    assert!(
        t.billing
            .handle_stripe_webhook(&payload, Some(&edge), now)
            .await
            .is_ok(),
        "300 s is within tolerance"
    );
}

/// A `customer.subscription.*` event for `subscription` of `customer`, created by Stripe at
/// `subscription_created`.
fn subscription_event(
    id: &str,
    kind: &str,
    created: i64,
    (subscription, customer): (&str, &str),
    status: &str,
    subscription_created: i64,
) -> serde_json::Value {
    let mut object = subscription_2024(subscription, customer, status, PRO, T0 + 30 * 86_400);
    object["created"] = json!(subscription_created);
    event(id, kind, created, object)
}

async fn access_follows_what_stripe_says_is_paid(db: TestDb) {
    let t = TestBilling::new(db).await;
    stripe_answers(&t, "POST", "/v1/checkout/sessions", json!({
        "id": "cs_new", "url": "https://checkout.stripe.com/c/pay/cs_new", "expires_at": T0 + 86_400
    }))
    .await;
    // status → (plan granted, a new checkout refused)
    let table = [
        ("trialing", "pro", true),
        ("active", "pro", true),
        ("past_due", "free", true),
        ("unpaid", "free", true),
        ("incomplete", "free", true),
        ("paused", "free", true),
        ("incomplete_expired", "free", false),
        ("canceled", "free", false),
    ];
    for (i, (status, plan, blocks)) in table.into_iter().enumerate() {
        let customer = format!("cus_{i}");
        let user = t
            .user(&format!("user{i}@example.com"), Some(&customer))
            .await;
        let created = subscription_event(
            &format!("evt_{i}"),
            "customer.subscription.created",
            T0,
            (&format!("sub_{i}"), &customer),
            status,
            T0,
        );
        assert_eq!(
            t.deliver(&created).await.unwrap().outcome,
            WebhookOutcome::Applied
        );
        assert_eq!(
            t.billing.current_plan(user.id).await.unwrap().id(),
            plan,
            "{status}"
        );
        let checkout = t
            .billing
            .create_checkout_session(
                user.id,
                "pro",
                "https://app.acme.example/ok",
                "https://app.acme.example/no",
                None,
            )
            .await;
        assert_eq!(
            matches!(checkout, Err(BillingError::AlreadySubscribed)),
            blocks,
            "{status}: {checkout:?}"
        );
        if !blocks {
            assert!(checkout.is_ok(), "{status}: {checkout:?}");
        }
    }
}

async fn past_due_keeps_the_plan_only_within_the_grace_period(db: TestDb) {
    let t = TestBilling::with(db, |c| {
        c.past_due_grace(std::time::Duration::from_secs(3 * 86_400))
    })
    .await;
    let now = tollbooth_db::now().timestamp();
    let day = 86_400;
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    let bob = t.user("bob@example.com", Some("cus_bob")).await;
    // Ada's renewal failed four days ago; a later event (still past due) does not restart the
    // grace period.
    for (id, at) in [("evt_a1", now - 4 * day), ("evt_a2", now - 3600)] {
        let past_due = subscription_event(
            id,
            "customer.subscription.updated",
            at,
            ("sub_ada", "cus_ada"),
            "past_due",
            T0,
        );
        t.deliver(&past_due).await.unwrap();
    }
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap().id(), "free");
    // Bob's failed yesterday: still within the grace period.
    let past_due = subscription_event(
        "evt_b1",
        "customer.subscription.updated",
        now - day,
        ("sub_bob", "cus_bob"),
        "past_due",
        T0,
    );
    t.deliver(&past_due).await.unwrap();
    assert_eq!(t.billing.current_plan(bob.id).await.unwrap().id(), "pro");
    // Paid again: active, whatever the grace.
    let paid = subscription_event(
        "evt_a3",
        "customer.subscription.updated",
        now,
        ("sub_ada", "cus_ada"),
        "active",
        T0,
    );
    t.deliver(&paid).await.unwrap();
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap().id(), "pro");
}

async fn a_plan_maps_from_legacy_prices_and_its_product(db: TestDb) {
    let t = TestBilling::with(db, |c| {
        c.plan(
            Plan::new("pro", "Pro")
                .monthly_price(PRO)
                .legacy_price("price_pro_2024"),
        )
        .plan(
            Plan::new("enterprise", "Enterprise")
                .monthly_price(ENTERPRISE)
                .product("prod_enterprise"),
        )
    })
    .await;
    let with_price = |id: &str, created: i64, sub: (&str, &str), price: &str, product: &str| {
        let mut object = subscription_2024(sub.0, sub.1, "active", price, T0 + 30 * 86_400);
        object["items"]["data"][0]["price"]["product"] = json!(product);
        event(id, "customer.subscription.updated", created, object)
    };
    let ada = t.user("ada@example.com", Some("cus_ada")).await;
    let bob = t.user("bob@example.com", Some("cus_bob")).await;
    let carol = t.user("carol@example.com", Some("cus_carol")).await;

    // A subscriber still on last year's Pro price is on Pro.
    t.deliver(&with_price(
        "evt_1",
        T0,
        ("sub_ada", "cus_ada"),
        "price_pro_2024",
        "prod_pro",
    ))
    .await
    .unwrap();
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap().id(), "pro");
    // A price made in the dashboard for the Enterprise product is Enterprise.
    t.deliver(&with_price(
        "evt_2",
        T0,
        ("sub_bob", "cus_bob"),
        "price_made_in_dashboard",
        "prod_enterprise",
    ))
    .await
    .unwrap();
    assert_eq!(
        t.billing.current_plan(bob.id).await.unwrap().id(),
        "enterprise"
    );
    // A price nothing maps never downgrades a subscriber: the plan stays as it was.
    t.deliver(&with_price(
        "evt_3",
        T0 + 60,
        ("sub_ada", "cus_ada"),
        "price_mystery",
        "prod_mystery",
    ))
    .await
    .unwrap();
    let row = t.db.find_subscription("sub_ada").await.unwrap().unwrap();
    assert_eq!(
        (row.plan.as_str(), row.stripe_price_id.as_deref()),
        ("pro", Some("price_mystery"))
    );
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap().id(), "pro");
    // A new subscription to it has no plan to keep.
    t.deliver(&with_price(
        "evt_4",
        T0,
        ("sub_carol", "cus_carol"),
        "price_mystery",
        "prod_mystery",
    ))
    .await
    .unwrap();
    let row = t.db.find_subscription("sub_carol").await.unwrap().unwrap();
    assert_eq!(row.plan, tollbooth_db::UNKNOWN_PLAN);
    assert_eq!(t.billing.current_plan(carol.id).await.unwrap().id(), "free");

    // One id, one plan.
    let stripe = wiremock::MockServer::start().await;
    let refused = config(&stripe)
        .await
        .plan(
            Plan::new("enterprise", "Enterprise")
                .monthly_price(ENTERPRISE)
                .legacy_price(PRO),
        )
        .build();
    let reason = refused.unwrap_err().reason().to_owned();
    assert!(
        reason.contains("belongs to both pro and enterprise"),
        "{reason}"
    );
}

/// Stripe's answer to cancelling `id`, with its latest invoice expanded.
fn cancelled_with_invoice(id: &str, customer: &str, amount_paid: i64) -> serde_json::Value {
    let mut object = subscription_2024(id, customer, "canceled", PRO, T0 + 30 * 86_400);
    object["created"] = json!(T0 + 5);
    object["latest_invoice"] = json!({
        "id": "in_dup", "object": "invoice", "customer": customer, "amount_due": amount_paid,
        "amount_paid": amount_paid, "currency": "usd", "status": "paid", "payment_intent": "pi_dup"
    });
    object
}

async fn a_second_live_subscription_is_flagged_cancelled_and_refunded(db: TestDb) {
    let t = TestBilling::new(db).await;
    stripe_answers(
        &t,
        "DELETE",
        "/v1/subscriptions/sub_2",
        cancelled_with_invoice("sub_2", "cus_1", 1900),
    )
    .await;
    stripe_answers(
        &t,
        "POST",
        "/v1/refunds",
        json!({ "id": "re_1", "object": "refund", "status": "succeeded" }),
    )
    .await;
    let ada = t.user("ada@example.com", Some("cus_1")).await;

    // The later subscription's event arrives first: creation order decides, not arrival.
    let second = subscription_event(
        "evt_2",
        "customer.subscription.created",
        T0 + 5,
        ("sub_2", "cus_1"),
        "active",
        T0 + 5,
    );
    let first = subscription_event(
        "evt_1",
        "customer.subscription.created",
        T0,
        ("sub_1", "cus_1"),
        "active",
        T0,
    );
    t.deliver(&second).await.unwrap();
    t.deliver(&first).await.unwrap();
    t.billing.flush_background_tasks().await;

    let duplicate = t.db.find_subscription("sub_2").await.unwrap().unwrap();
    assert_eq!(
        (duplicate.duplicate_of.as_deref(), duplicate.status.as_str()),
        (Some("sub_1"), "canceled")
    );
    assert_eq!(
        t.db.find_subscription("sub_1")
            .await
            .unwrap()
            .unwrap()
            .duplicate_of,
        None
    );
    assert_eq!(
        t.billing
            .get_subscription(ada.id)
            .await
            .unwrap()
            .unwrap()
            .stripe_subscription_id,
        "sub_1"
    );
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap().id(), "pro");
    assert_eq!(
        t.billing.list_subscriptions(ada.id).await.unwrap().len(),
        2,
        "never hidden"
    );

    // Stripe: the duplicate cancelled without proration, its payment refunded in full, once.
    let cancels = requests_to(&t, "/v1/subscriptions/sub_2").await;
    assert_eq!(cancels.len(), 1);
    let body = form(&cancels[0]);
    assert_eq!(cancels[0].method.as_str(), "DELETE");
    assert_eq!(
        (body["prorate"].as_str(), body["expand[0]"].as_str()),
        ("false", "latest_invoice")
    );
    let refunds = requests_to(&t, "/v1/refunds").await;
    assert_eq!(refunds.len(), 1);
    let body = form(&refunds[0]);
    assert_eq!(
        (body["payment_intent"].as_str(), body["reason"].as_str()),
        ("pi_dup", "duplicate")
    );
    assert_eq!(
        header(&refunds[0], "idempotency-key"),
        "refund-duplicate/sub_2"
    );

    // Reconciling later finds nothing more to cancel.
    stripe_answers(
        &t,
        "GET",
        "/v1/subscriptions",
        json!({ "object": "list", "data": [], "has_more": false }),
    )
    .await;
    let report = t.billing.reconcile().await.unwrap();
    assert_eq!((report.duplicates_cancelled, report.failed), (0, 0));
    assert_eq!(requests_to(&t, "/v1/subscriptions/sub_2").await.len(), 1);
}

async fn a_live_subscription_is_kept_over_an_incomplete_older_one(db: TestDb) {
    let t = TestBilling::with(db, |c| c.cancel_duplicate_subscriptions(false)).await;
    let ada = t.user("ada@example.com", Some("cus_1")).await;
    // An abandoned 3-D Secure attempt, then a paid subscription.
    let incomplete = subscription_event(
        "evt_1",
        "customer.subscription.created",
        T0,
        ("sub_1", "cus_1"),
        "incomplete",
        T0,
    );
    let paid = subscription_event(
        "evt_2",
        "customer.subscription.created",
        T0 + 5,
        ("sub_2", "cus_1"),
        "active",
        T0 + 5,
    );
    t.deliver(&incomplete).await.unwrap();
    t.deliver(&paid).await.unwrap();
    t.billing.flush_background_tasks().await;
    assert_eq!(
        t.db.find_subscription("sub_1")
            .await
            .unwrap()
            .unwrap()
            .duplicate_of
            .as_deref(),
        Some("sub_2")
    );
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap().id(), "pro");
    // Configured not to cancel: flagged and logged, Stripe untouched.
    assert!(t.stripe.received_requests().await.unwrap().is_empty());
}

async fn concurrent_second_subscriptions_on_two_instances_are_always_flagged(db: TestDb) {
    let t = TestBilling::with(db, |c| c.cancel_duplicate_subscriptions(false)).await;
    let stripe = wiremock::MockServer::start().await;
    let config = config(&stripe)
        .await
        .cancel_duplicate_subscriptions(false)
        .build()
        .unwrap();
    let other = Billing::new(
        t.db.connect_again().await,
        t.billing.mailer().clone(),
        config,
    )
    .unwrap();
    let customers = 40;
    let mut users = Vec::new();
    for i in 0..customers {
        users.push(
            t.user(&format!("user{i}@example.com"), Some(&format!("cus_{i}")))
                .await,
        );
    }
    let mut deliveries = Vec::new();
    for i in 0..customers {
        for (n, billing) in [t.billing.clone(), other.clone()].into_iter().enumerate() {
            let event = subscription_event(
                &format!("evt_{i}_{n}"),
                "customer.subscription.created",
                T0,
                (&format!("sub_{i}_{n}"), &format!("cus_{i}")),
                "active",
                T0 + i64::try_from(n).unwrap(),
            );
            deliveries.push(tokio::spawn(async move {
                let payload = serde_json::to_vec(&event).unwrap();
                let now = tollbooth_db::now();
                let header =
                    sign_stripe_webhook(&payload, &WebhookSecret::new(SECRET), now.timestamp());
                billing
                    .handle_stripe_webhook(&payload, Some(&header), now)
                    .await
                    .unwrap()
                    .outcome
            }));
        }
    }
    for delivery in deliveries {
        assert_eq!(delivery.await.unwrap(), WebhookOutcome::Applied);
    }
    for user in &users {
        let flagged: Vec<_> = t
            .billing
            .list_subscriptions(user.id)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|s| s.duplicate_of.map(|of| (s.stripe_subscription_id, of)))
            .collect();
        assert_eq!(flagged.len(), 1, "{}: {flagged:?}", user.email);
        assert!(
            flagged[0].0.ends_with("_1") && flagged[0].1.ends_with("_0"),
            "{flagged:?}"
        );
    }
}

async fn a_tie_is_decided_by_the_subscription_stripe_holds(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_1")).await;
    let at = T0 + 10;
    let canceled = subscription_event(
        "evt_1",
        "customer.subscription.deleted",
        at,
        ("sub_1", "cus_1"),
        "canceled",
        T0,
    );
    let active = subscription_event(
        "evt_2",
        "customer.subscription.updated",
        at,
        ("sub_1", "cus_1"),
        "active",
        T0,
    );
    let current = canceled["data"]["object"].clone();
    stripe_answers(&t, "GET", "/v1/subscriptions/sub_1", current.clone()).await;

    // The cancel lands first; the update of the same second must not revive it.
    t.deliver(&canceled).await.unwrap();
    assert_eq!(
        t.deliver(&active).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(
        t.db.find_subscription("sub_1")
            .await
            .unwrap()
            .unwrap()
            .status,
        "canceled"
    );
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap().id(), "free");
    assert_eq!(
        requests_to(&t, "/v1/subscriptions/sub_1").await.len(),
        1,
        "read from Stripe"
    );

    // A redelivered state of the same second changes nothing and asks Stripe nothing.
    let again = subscription_event(
        "evt_3",
        "customer.subscription.deleted",
        at,
        ("sub_1", "cus_1"),
        "canceled",
        T0,
    );
    assert_eq!(
        t.deliver(&again).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(requests_to(&t, "/v1/subscriptions/sub_1").await.len(), 1);

    // Stripe unreachable during a tie: 503, nothing recorded, and Stripe's redelivery applies.
    t.stripe.reset().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(500))
        .mount(&t.stripe)
        .await;
    let events = t.recorded_events().await;
    let tied = subscription_event(
        "evt_4",
        "customer.subscription.updated",
        at,
        ("sub_1", "cus_1"),
        "past_due",
        T0,
    );
    let err = t.deliver(&tied).await.unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (503, "payment_provider_unavailable"),
        "{err:?}"
    );
    assert_eq!(t.recorded_events().await, events);
    t.stripe.reset().await;
    stripe_answers(&t, "GET", "/v1/subscriptions/sub_1", current).await;
    assert_eq!(
        t.deliver(&tied).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(
        t.db.find_subscription("sub_1")
            .await
            .unwrap()
            .unwrap()
            .status,
        "canceled"
    );
}

async fn a_payment_tie_is_decided_by_the_payment_stripe_holds(db: TestDb) {
    let t = TestBilling::new(db).await;
    let intent = |status: &str| {
        json!({ "id": "pi_1", "object": "payment_intent", "amount": 15000, "currency": "usd",
                "status": status, "customer": null, "metadata": {} })
    };
    stripe_answers(
        &t,
        "GET",
        "/v1/payment_intents/pi_1",
        intent("requires_payment_method"),
    )
    .await;
    let failed = event(
        "evt_1",
        "payment_intent.payment_failed",
        T0,
        intent("requires_payment_method"),
    );
    let processing = event(
        "evt_2",
        "payment_intent.processing",
        T0,
        intent("processing"),
    );
    t.deliver(&failed).await.unwrap();
    // `payment_intent.processing` is not a type Tollbooth applies; a `canceled` of the same
    // second is final and applies whatever the time.
    assert!(matches!(
        t.deliver(&processing).await.unwrap().outcome,
        WebhookOutcome::Ignored { .. }
    ));
    let late = event(
        "evt_3",
        "payment_intent.succeeded",
        T0,
        intent("requires_action"),
    );
    assert_eq!(
        t.deliver(&late).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(
        t.db.find_payment("pi_1").await.unwrap().unwrap().status,
        "requires_payment_method"
    );
    assert_eq!(requests_to(&t, "/v1/payment_intents/pi_1").await.len(), 1);
    let canceled = event("evt_4", "payment_intent.canceled", T0, intent("canceled"));
    assert_eq!(
        t.deliver(&canceled).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(
        t.db.find_payment("pi_1").await.unwrap().unwrap().status,
        "canceled"
    );
    assert_eq!(
        requests_to(&t, "/v1/payment_intents/pi_1").await.len(),
        1,
        "a final status needs no read"
    );
}

async fn billing_emails_survive_a_stop_between_commit_and_send(db: TestDb) {
    let stripe = wiremock::MockServer::start().await;
    let config = config(&stripe).await.build().unwrap();
    let mut mailer_config = MailerConfig::new("Acme <billing@acme.example>", "Acme").unwrap();
    mailer_config.outbox.initial_backoff = std::time::Duration::from_secs(1);
    let ada = db
        .create_user(NewUser::new("ada@example.com"))
        .await
        .unwrap();

    // The first instance commits the event, but the provider is down and the process stops
    // before any retry.
    let mut down = MockEmailSender::new();
    down.expect_send().returning(|_| {
        Err(tollbooth_email::EmailError::Unavailable {
            attempts: 4,
            source: "connection refused".into(),
        })
    });
    let first = Billing::new(
        (*db).clone(),
        Mailer::new(down, mailer_config.clone()),
        config.clone(),
    )
    .unwrap();
    let completed = checkout_completed("evt_1", ada.id, "cus_1");
    deliver_to(&first, &completed).await.unwrap();
    first.flush_background_tasks().await;
    drop(first);
    let queued = db
        .find_outbox_email("stripe/evt_1/confirmed/0")
        .await
        .unwrap()
        .unwrap();
    assert!(
        queued.sent_at.is_none() && queued.attempts >= 1,
        "{queued:?}"
    );
    assert!(queued.last_error.is_some());

    // The next instance delivers it once, under the key it was queued with.
    let outbox = OutboxSender::new();
    let next = Billing::new(
        (*db).clone(),
        Mailer::new(outbox.clone(), mailer_config),
        config,
    )
    .unwrap();
    // Due a second after the failed attempt.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while outbox.sent().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the retry never came");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        next.flush_background_tasks().await;
    }
    let sent = outbox.sent_to("ada@example.com");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].idempotency_key(), "stripe/evt_1/confirmed/0");
    assert_eq!(sent[0].subject(), "Your Acme Pro subscription is confirmed");
    let row = db
        .find_outbox_email("stripe/evt_1/confirmed/0")
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.sent_at.is_some() && row.html.is_empty() && row.text_body.is_empty(),
        "{row:?}"
    );

    // Stripe redelivers the event: a duplicate, and no second e-mail.
    assert_eq!(
        deliver_to(&next, &completed).await.unwrap().outcome,
        WebhookOutcome::Duplicate
    );
    next.flush_background_tasks().await;
    assert_eq!(outbox.sent().len(), 1);
}

async fn an_event_giving_one_user_another_users_customer_is_ignored_not_retried(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", Some("cus_1")).await;
    let bob = t.user("bob@example.com", None).await;
    // A checkout of Bob's that names Ada's customer (a bad import, a reused customer id).
    let receipt = t
        .deliver(&checkout_completed("evt_1", bob.id, "cus_1"))
        .await
        .expect("answered 2xx: a unique-constraint failure would be retried for days");
    assert_eq!(
        receipt.outcome,
        WebhookOutcome::Ignored {
            reason: "the Stripe customer belongs to another user or organization"
        }
    );
    assert_eq!(t.recorded_events().await, 1, "recorded, so never retried");
    assert_eq!(
        t.db.find_user(bob.id)
            .await
            .unwrap()
            .unwrap()
            .stripe_customer_id,
        None
    );
    assert_eq!(
        t.db.find_user(ada.id)
            .await
            .unwrap()
            .unwrap()
            .stripe_customer_id
            .as_deref(),
        Some("cus_1")
    );
}

tollbooth_db::engine_tests!(
    every_event_type_is_applied,
    bad_signatures_write_nothing,
    rotated_secrets_and_two_v1_values,
    duplicates_apply_once_and_email_once,
    out_of_order_events_end_in_the_right_state,
    a_database_failure_mid_event_leaves_nothing_and_the_redelivery_applies,
    events_far_in_the_past_or_future_are_refused,
    access_follows_what_stripe_says_is_paid,
    past_due_keeps_the_plan_only_within_the_grace_period,
    a_plan_maps_from_legacy_prices_and_its_product,
    a_second_live_subscription_is_flagged_cancelled_and_refunded,
    a_live_subscription_is_kept_over_an_incomplete_older_one,
    concurrent_second_subscriptions_on_two_instances_are_always_flagged,
    a_tie_is_decided_by_the_subscription_stripe_holds,
    a_payment_tie_is_decided_by_the_payment_stripe_holds,
    billing_emails_survive_a_stop_between_commit_and_send,
    an_event_giving_one_user_another_users_customer_is_ignored_not_retried,
);
