//! Rate-limit counters: every hit counted, windows, exclusive claims.

use chrono::Duration;
use tollbooth_db::testing::TestDb;
use tollbooth_db::*;

async fn rate_limits_count_every_hit_and_reset_by_window(db: TestDb) {
    let t = now();
    let window = Duration::minutes(1);
    let other = db.connect_again().await;
    // Two "instances" hitting one key concurrently: every hit counts.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let db = if i % 2 == 0 {
                (*db).clone()
            } else {
                other.clone()
            };
            tokio::spawn(async move {
                db.hit_rate_limit("sign_in:ip:203.0.113.7", window, t)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap().hits);
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<u32>>());

    let hit = db
        .hit_rate_limit("sign_in:ip:203.0.113.7", window, t + Duration::seconds(59))
        .await
        .unwrap();
    assert_eq!((hit.hits, hit.window_started_at), (21, t));
    let hit = db
        .hit_rate_limit("sign_in:ip:203.0.113.7", window, t + window)
        .await
        .unwrap();
    assert_eq!(
        (hit.hits, hit.window_started_at),
        (1, t + window),
        "new window"
    );

    let peeked = db
        .peek_rate_limit("sign_in:ip:203.0.113.7", window, t + window)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (peeked.hits, peeked.last_hit_at),
        (1, t + window),
        "peek counts nothing"
    );
    assert_eq!(
        db.peek_rate_limit("sign_in:ip:203.0.113.7", window, t + window * 2)
            .await
            .unwrap(),
        None,
        "window over"
    );
    assert_eq!(db.peek_rate_limit("never", window, t).await.unwrap(), None);

    db.reset_rate_limit("sign_in:ip:203.0.113.7").await.unwrap();
    let hit = db
        .hit_rate_limit("sign_in:ip:203.0.113.7", window, t)
        .await
        .unwrap();
    assert_eq!(hit.hits, 1);
    db.hit_rate_limit("other", window, t - Duration::days(2))
        .await
        .unwrap();
    assert_eq!(
        db.purge_rate_limits(t - Duration::days(1)).await.unwrap(),
        1
    );
}

async fn rate_limit_claims_are_exclusive(db: TestDb) {
    let t = now();
    let window = Duration::minutes(15);
    let key = "sign_in_failures:account:00";
    db.hit_rate_limit(key, window, t).await.unwrap();
    let later = t + Duration::seconds(1);
    // Ten concurrent claims from two "instances" on one state: exactly one wins.
    let other = db.connect_again().await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let db = if i % 2 == 0 {
                (*db).clone()
            } else {
                other.clone()
            };
            tokio::spawn(async move { db.claim_rate_limit(key, 1, t, later).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
    let state = db
        .peek_rate_limit(key, window, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (state.hits, state.last_hit_at),
        (1, later),
        "a claim touches, it does not count"
    );
    // Touched at `later`: not idle since `t`; a changed count is not the claimed state.
    assert!(!db.claim_rate_limit(key, 1, t, later).await.unwrap());
    assert!(!db.claim_rate_limit(key, 2, later, later).await.unwrap());
    assert!(db.claim_rate_limit(key, 1, later, later).await.unwrap());
    assert!(!db.claim_rate_limit("never", 0, later, later).await.unwrap());
}

tollbooth_db::engine_tests!(
    rate_limits_count_every_hit_and_reset_by_window,
    rate_limit_claims_are_exclusive,
);
