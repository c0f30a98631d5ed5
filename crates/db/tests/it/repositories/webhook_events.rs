//! The webhook ledger: each event recorded once, under concurrency too.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use tokio::sync::Barrier;
use tollbooth_db::testing::TestDb;
use tollbooth_db::*;

use super::{assert_conflict, user};

async fn duplicate_webhook_event_is_a_conflict(db: TestDb) {
    let at = now();
    db.record_webhook_event(WebhookSource::Stripe, "evt_1", "invoice.paid", at)
        .await
        .unwrap();
    assert_conflict(
        db.record_webhook_event(WebhookSource::Stripe, "evt_1", "invoice.paid", at)
            .await,
        "webhook event",
    );
    // Ids are unique per source.
    db.record_webhook_event(WebhookSource::Calcom, "evt_1", "BOOKING_CREATED", at)
        .await
        .unwrap();
    let found = db
        .find_webhook_event(WebhookSource::Stripe, "evt_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.event_type.as_str(), found.received_at),
        ("invoice.paid", at)
    );
}

async fn concurrent_duplicate_webhook_event_applies_once(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let instances = [(*db).clone(), db.connect_again().await];
    let barrier = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = instances
        .into_iter()
        .enumerate()
        .map(|(i, db)| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let tx = db.begin().await?;
                tx.record_webhook_event(
                    WebhookSource::Stripe,
                    "evt_race",
                    "customer.subscription.created",
                    now(),
                )
                .await?;
                // Hold the transaction open so the other delivery runs into it.
                tokio::time::sleep(StdDuration::from_millis(150)).await;
                tx.upsert_subscription(SubscriptionUpsert::new(
                    ada.id.into(),
                    format!("sub_from_instance_{i}"),
                    "cus_1",
                    "pro",
                    "active",
                    now(),
                ))
                .await?;
                tx.commit().await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let winners = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    assert!(
        outcomes.iter().any(|o| matches!(
            o,
            Err(DbError::Conflict {
                entity: "webhook event"
            })
        )),
        "{outcomes:?}"
    );
    assert_eq!(
        db.list_subscriptions(ada.id.into()).await.unwrap().len(),
        1,
        "one effect"
    );
}

tollbooth_db::engine_tests!(
    duplicate_webhook_event_is_a_conflict,
    concurrent_duplicate_webhook_event_applies_once,
);
