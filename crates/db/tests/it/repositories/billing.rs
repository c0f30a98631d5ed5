//! The billing mirror: ordered upserts, ties, refunds, the catalog, checkout sessions.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tollbooth_db::testing::TestDb;
use tollbooth_db::*;

use super::user;

async fn subscription_upserts_ignore_older_events(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let state = |status: &str, at: DateTime<Utc>| {
        let mut s = SubscriptionUpsert::new(ada.id.into(), "sub_1", "cus_1", "pro", status, at);
        s.stripe_price_id = Some("price_pro".to_owned());
        s.current_period_end = Some(at + Duration::days(30));
        s
    };
    // `updated` (newer) arrives before `created` (older).
    let applied = db
        .upsert_subscription(state("active", t + Duration::seconds(5)))
        .await
        .unwrap();
    assert!(applied.is_applied());
    let stale = db
        .upsert_subscription(state("incomplete", t))
        .await
        .unwrap();
    assert!(!stale.is_applied());
    let row = stale.into_inner();
    assert_eq!(
        (row.status.as_str(), row.last_event_at),
        ("active", t + Duration::seconds(5))
    );

    // A redelivery of the newest event is harmless; a newer one applies.
    assert!(
        db.upsert_subscription(state("active", t + Duration::seconds(5)))
            .await
            .unwrap()
            .is_applied()
    );
    let mut cancel = state("active", t + Duration::seconds(9));
    cancel.cancel_at_period_end = true;
    cancel.canceled_at = Some(t + Duration::seconds(9));
    let row = db.upsert_subscription(cancel).await.unwrap().into_inner();
    assert!(row.cancel_at_period_end);
    assert_eq!(
        db.list_subscriptions(ada.id.into()).await.unwrap(),
        vec![row]
    );
}

async fn catalog_and_payments_upsert_by_stripe_id(db: TestDb) {
    let product = db
        .upsert_product(ProductUpsert::new("prod_1", "Pro"))
        .await
        .unwrap();
    let mut renamed = ProductUpsert::new("prod_1", "Pro plan");
    renamed.metadata = Some(serde_json::json!({ "tier": "2" }));
    let again = db.upsert_product(renamed).await.unwrap();
    assert_eq!((again.id, again.name.as_str()), (product.id, "Pro plan"));

    let price = db
        .upsert_price(PriceUpsert::new("price_1", product.id, "USD", 1_900).recurring("month", 1))
        .await
        .unwrap();
    assert_eq!(
        (price.currency.as_str(), price.unit_amount),
        ("usd", Some(1_900))
    );
    let mut archived = PriceUpsert::new("price_1", product.id, "usd", 1_900);
    archived.active = false;
    db.upsert_price(archived).await.unwrap();
    assert!(db.list_active_prices().await.unwrap().is_empty());
    assert_eq!(
        db.find_price("price_1").await.unwrap().unwrap().id,
        price.id
    );

    let ada = user(&*db, "ada@example.com").await;
    let mut pending = PaymentUpsert::new("pi_1", 2_500, "eur", "requires_payment_method");
    pending.user_id = Some(ada.id);
    pending.metadata = Some(serde_json::json!({ "calcom_event_type_id": "42" }));
    assert!(db.upsert_payment(pending).await.unwrap().is_applied());
    // A later event without the user or metadata keeps the ones already known.
    let paid = db
        .upsert_payment(PaymentUpsert::new("pi_1", 2_500, "eur", "succeeded"))
        .await
        .unwrap();
    assert!(paid.is_applied());
    let paid = paid.into_inner();
    assert_eq!(
        (paid.status.as_str(), paid.user_id),
        ("succeeded", Some(ada.id))
    );
    assert_eq!(
        paid.metadata,
        Some(serde_json::json!({ "calcom_event_type_id": "42" }))
    );
    // `succeeded` is final: a late `payment_failed` snapshot changes nothing.
    let mut late = PaymentUpsert::new("pi_1", 9_900, "usd", "requires_payment_method");
    late.metadata = Some(serde_json::json!({}));
    let written = db.upsert_payment(late).await.unwrap();
    assert_eq!(written, Upsert::Stale(paid.clone()));
    assert_eq!(db.find_payment("pi_1").await.unwrap(), Some(paid));
    // So is `canceled`; any other status moves on.
    for (status, applied) in [
        ("processing", true),
        ("canceled", true),
        ("succeeded", false),
    ] {
        let written = db
            .upsert_payment(PaymentUpsert::new("pi_3", 100, "eur", status))
            .await
            .unwrap();
        assert_eq!(written.is_applied(), applied, "{status}");
    }
    let canceled = db.find_payment("pi_3").await.unwrap().unwrap();
    assert_eq!(canceled.status, "canceled");
    // The schema refuses what no payment can be.
    let refused = db
        .upsert_payment(PaymentUpsert::new("pi_2", 0, "eur", "x"))
        .await;
    assert!(matches!(refused, Err(DbError::Query { .. })), "{refused:?}");
}

async fn subscription_ties_are_never_applied_blind(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let state = |status: &str, plan: &str| {
        SubscriptionUpsert::new(ada.id.into(), "sub_1", "cus_1", plan, status, t)
    };
    assert!(
        db.upsert_subscription(state("canceled", "pro"))
            .await
            .unwrap()
            .is_applied()
    );
    // Another state of the same second: neither is known to be newer; nothing written.
    let tied = db
        .upsert_subscription(state("active", "pro"))
        .await
        .unwrap();
    assert!(
        matches!(&tied, Upsert::Tied(row) if row.status == "canceled"),
        "{tied:?}"
    );
    // The same state again is a harmless redelivery.
    assert!(
        db.upsert_subscription(state("canceled", "pro"))
            .await
            .unwrap()
            .is_applied()
    );
    // Stripe's current state, read from its API, decides a tie.
    let mut fetched = state("past_due", "pro");
    fetched.fetched = true;
    let row = db.upsert_subscription(fetched).await.unwrap();
    assert!(row.is_applied());
    let row = row.into_inner();
    assert_eq!(
        (row.status.as_str(), row.status_changed_at),
        ("past_due", Some(t))
    );

    // `status_changed_at` moves with the status only; an unknown plan keeps the known one.
    let later = t + Duration::hours(1);
    let mut same_status = SubscriptionUpsert::new(
        ada.id.into(),
        "sub_1",
        "cus_1",
        UNKNOWN_PLAN,
        "past_due",
        later,
    );
    same_status.quantity = 3;
    let row = db
        .upsert_subscription(same_status)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (row.plan.as_str(), row.quantity, row.status_changed_at),
        ("pro", 3, Some(t))
    );
    let active = SubscriptionUpsert::new(
        ada.id.into(),
        "sub_1",
        "cus_1",
        "enterprise",
        "active",
        later + Duration::hours(1),
    );
    let row = db.upsert_subscription(active).await.unwrap().into_inner();
    assert_eq!(
        (row.plan.as_str(), row.status_changed_at),
        ("enterprise", Some(later + Duration::hours(1)))
    );
    // Flagging a duplicate survives later upserts.
    db.flag_duplicate_subscription("sub_1", "sub_0")
        .await
        .unwrap();
    let again = SubscriptionUpsert::new(
        ada.id.into(),
        "sub_1",
        "cus_1",
        "enterprise",
        "canceled",
        later + Duration::hours(2),
    );
    let row = db.upsert_subscription(again).await.unwrap().into_inner();
    assert_eq!(
        (row.status.as_str(), row.duplicate_of.as_deref()),
        ("canceled", Some("sub_0"))
    );
}

async fn refunds_only_grow(db: TestDb) {
    db.upsert_payment(PaymentUpsert::new("pi_1", 2_000, "usd", "succeeded"))
        .await
        .unwrap();
    for (reported, stored) in [(500, 500), (2_000, 2_000), (500, 2_000)] {
        let row = db
            .record_payment_refund("pi_1", reported)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.amount_refunded, stored, "after {reported}");
    }
    assert_eq!(
        db.record_payment_refund("pi_unknown", 1).await.unwrap(),
        None
    );
    let refused = db.record_payment_refund("pi_1", -1).await;
    assert!(
        refused.is_ok(),
        "a smaller total is ignored, not written: {refused:?}"
    );
}

async fn open_checkout_sessions_are_found_until_closed_or_expiring(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let now = now();
    let session = NewCheckoutSession::new(
        ada.id.into(),
        "pro",
        "cs_1",
        "https://checkout.stripe.com/cs_1",
        now + Duration::hours(24),
    );
    db.insert_checkout_session(session.clone()).await.unwrap();
    db.insert_checkout_session(session).await.unwrap(); // recorded once
    let open = db
        .find_open_checkout_session(ada.id.into(), "pro", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.stripe_checkout_session_id, "cs_1");
    assert!(
        db.find_open_checkout_session(ada.id.into(), "enterprise", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.find_open_checkout_session(ada.id.into(), "pro", now + Duration::hours(25))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        db.count_closed_checkout_sessions(ada.id.into(), "pro")
            .await
            .unwrap(),
        0
    );
    assert!(db.close_checkout_session("cs_1", now).await.unwrap());
    assert!(!db.close_checkout_session("cs_1", now).await.unwrap());
    assert!(
        db.find_open_checkout_session(ada.id.into(), "pro", now)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        db.count_closed_checkout_sessions(ada.id.into(), "pro")
            .await
            .unwrap(),
        1
    );
}

tollbooth_db::engine_tests!(
    subscription_upserts_ignore_older_events,
    catalog_and_payments_upsert_by_stripe_id,
    subscription_ties_are_never_applied_blind,
    refunds_only_grow,
    open_checkout_sessions_are_found_until_closed_or_expiring,
);
