//! Single-use tokens: purpose-bound, used once, expiring.

use chrono::Duration;
use tollbooth_db::testing::TestDb;
use tollbooth_db::*;

use super::{assert_conflict, user};

async fn tokens_are_single_use_purpose_bound_and_expire(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let t = now();
    let hash = vec![7u8; 32];
    db.create_token(
        NewToken::new(
            TokenPurpose::EmailVerification,
            &ada.email,
            hash.clone(),
            t + Duration::hours(24),
        )
        .user(ada.id)
        .payload(serde_json::json!({ "next": "/welcome" })),
    )
    .await
    .unwrap();
    assert_conflict(
        db.create_token(NewToken::new(
            TokenPurpose::PasswordReset,
            "x",
            hash.clone(),
            t,
        ))
        .await,
        "verification token",
    );

    assert_eq!(
        db.consume_token(&hash, TokenPurpose::PasswordReset, t)
            .await
            .unwrap(),
        None,
        "a verification token cannot reset a password"
    );
    assert_eq!(
        db.consume_token(
            &hash,
            TokenPurpose::EmailVerification,
            t + Duration::hours(25)
        )
        .await
        .unwrap(),
        None,
        "expired"
    );
    let used = db
        .consume_token(&hash, TokenPurpose::EmailVerification, t)
        .await
        .unwrap()
        .expect("first use");
    assert_eq!(used.user_id, Some(ada.id));
    assert_eq!(used.consumed_at, Some(t));
    assert_eq!(
        used.payload,
        Some(serde_json::json!({ "next": "/welcome" }))
    );
    assert_eq!(
        db.consume_token(&hash, TokenPurpose::EmailVerification, t)
            .await
            .unwrap(),
        None,
        "second use"
    );

    // Concurrent consumers of one token: exactly one wins.
    let hash = vec![8u8; 32];
    db.create_token(NewToken::new(
        TokenPurpose::PasswordReset,
        &ada.email,
        hash.clone(),
        t + Duration::hours(1),
    ))
    .await
    .unwrap();
    let other = db.connect_again().await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let db = if i % 2 == 0 {
                (*db).clone()
            } else {
                other.clone()
            };
            let hash = hash.clone();
            tokio::spawn(async move {
                db.consume_token(&hash, TokenPurpose::PasswordReset, t)
                    .await
                    .unwrap()
                    .is_some()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);

    assert_eq!(
        db.delete_tokens(TokenPurpose::PasswordReset, &ada.email)
            .await
            .unwrap(),
        1
    );
    db.create_token(NewToken::new(
        TokenPurpose::OAuthState,
        "github",
        vec![9; 32],
        t,
    ))
    .await
    .unwrap();
    assert_eq!(db.purge_tokens(t + Duration::seconds(1)).await.unwrap(), 1);
}

tollbooth_db::engine_tests!(tokens_are_single_use_purpose_bound_and_expire,);
