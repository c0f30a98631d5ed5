//! Signed Stripe webhooks against a real database: every event applied, bad signatures
//! refused with nothing written, duplicates and reordering harmless, failures atomic.

mod common;

use std::sync::Arc;

use chrono::TimeDelta;
use common::*;
use mockall::predicate::function;
use sea_orm::ConnectionTrait;
use serde_json::json;
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{BillingRepo, Engine, UserRepo};
use tollbooth_email::{Email, MessageId, MockEmailSender};

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
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap(), Plan::Pro);

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
    assert_eq!(t.billing.current_plan(ada.id).await.unwrap(), Plan::Free);

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
    let good = sign_webhook(&payload, &WebhookSecret::new(SECRET), now.timestamp());

    let mut tampered = payload.clone();
    *tampered.iter_mut().rev().nth(3).unwrap() ^= 1;
    let other_secret = sign_webhook(
        &payload,
        &WebhookSecret::new("whsec_other"),
        now.timestamp(),
    );
    let stale = sign_webhook(&payload, &WebhookSecret::new(SECRET), now.timestamp() - 301);
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
            .handle_webhook(body, header, now)
            .await
            .unwrap_err();
        assert!(
            matches!(err, BillingError::InvalidSignature),
            "{case}: {err:?}"
        );
        assert_eq!((err.status(), err.code()), (400, "invalid_signature"));
    }
    // Signed but not an event.
    let junk = b"{\"hello\":1}";
    let header = sign_webhook(junk, &WebhookSecret::new(SECRET), now.timestamp());
    let err = t
        .billing
        .handle_webhook(junk, Some(&header), now)
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
            .handle_webhook(&payload, Some(&good), now)
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
    let old = sign_webhook(
        &payload,
        &WebhookSecret::new("whsec_retired"),
        now.timestamp(),
    );
    let new = sign_webhook(&payload, &WebhookSecret::new("whsec_new"), now.timestamp());
    let header = format!("{old},v1={}", new.split("v1=").nth(1).unwrap());
    assert_eq!(
        t.billing
            .handle_webhook(&payload, Some(&header), now)
            .await
            .unwrap()
            .outcome,
        WebhookOutcome::Applied
    );
    // Either configured secret verifies on its own.
    let payload = serde_json::to_vec(&event("evt_2", "customer.created", T0, json!({}))).unwrap();
    let header = sign_webhook(&payload, &WebhookSecret::new(SECRET), now.timestamp());
    assert!(
        t.billing
            .handle_webhook(&payload, Some(&header), now)
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
                let header = sign_webhook(&payload, &WebhookSecret::new(SECRET), now.timestamp());
                billing
                    .handle_webhook(&payload, Some(&header), now)
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
    assert_eq!(err.status(), 500, "Stripe retries a 5xx");
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
    let future = sign_webhook(
        &payload,
        &WebhookSecret::new(SECRET),
        (now + TimeDelta::seconds(301)).timestamp(),
    );
    assert!(matches!(
        t.billing.handle_webhook(&payload, Some(&future), now).await,
        Err(BillingError::InvalidSignature)
    ));
    let edge = sign_webhook(
        &payload,
        &WebhookSecret::new(SECRET),
        (now - TimeDelta::seconds(300)).timestamp(),
    );
    assert!(
        t.billing
            .handle_webhook(&payload, Some(&edge), now)
            .await
            .is_ok(),
        "300 s is within tolerance"
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
);
