//! Second factors: each TOTP step and backup code used once.

use chrono::Duration;
use tollbooth_db::testing::TestDb;
use tollbooth_db::*;

use super::user;

async fn totp_steps_and_backup_codes_are_used_once(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let pending = db
        .begin_two_factor(ada.id, vec![1; 44], "k1")
        .await
        .unwrap();
    assert_eq!(pending.enabled_at, None);
    assert!(
        !format!("{pending:?}").contains("[1, 1"),
        "Debug redacts the secret"
    );
    let t = now();
    assert!(db.enable_two_factor(ada.id, t).await.unwrap());
    assert!(
        !db.enable_two_factor(ada.id, t).await.unwrap(),
        "already enabled"
    );

    assert!(db.accept_totp_step(ada.id, 100).await.unwrap());
    assert!(
        !db.accept_totp_step(ada.id, 100).await.unwrap(),
        "replayed step"
    );
    assert!(
        !db.accept_totp_step(ada.id, 99).await.unwrap(),
        "older step"
    );
    assert_eq!(db.record_two_factor_failure(ada.id).await.unwrap(), Some(1));
    assert_eq!(db.record_two_factor_failure(ada.id).await.unwrap(), Some(2));
    assert!(
        db.lock_two_factor(ada.id, t + Duration::minutes(5))
            .await
            .unwrap()
    );
    let locked = db.find_two_factor(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (locked.failed_attempts, locked.locked_until),
        (0, Some(t + Duration::minutes(5))),
        "the lock starts a new count"
    );
    assert_eq!(db.record_two_factor_failure(ada.id).await.unwrap(), Some(1));
    assert!(db.clear_two_factor_failures(ada.id).await.unwrap());
    let cleared = db.find_two_factor(ada.id).await.unwrap().unwrap();
    assert_eq!((cleared.failed_attempts, cleared.locked_until), (0, None));
    db.record_two_factor_failure(ada.id).await.unwrap();
    db.lock_two_factor(ada.id, t + Duration::minutes(5))
        .await
        .unwrap();
    assert!(db.accept_totp_step(ada.id, 101).await.unwrap());
    let row = db.find_two_factor(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (row.last_used_step, row.failed_attempts, row.locked_until),
        (Some(101), 0, None)
    );

    // Re-enrolling replaces the secret and resets state.
    let again = db
        .begin_two_factor(ada.id, vec![2; 44], "k2")
        .await
        .unwrap();
    assert_eq!(
        (
            again.enabled_at,
            again.last_used_step,
            again.key_id.as_str()
        ),
        (None, None, "k2")
    );

    let codes: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 32]).collect();
    db.replace_backup_codes(ada.id, codes).await.unwrap();
    assert_eq!(db.count_backup_codes(ada.id).await.unwrap(), 10);
    assert!(db.consume_backup_code(ada.id, &[3; 32], t).await.unwrap());
    assert!(!db.consume_backup_code(ada.id, &[3; 32], t).await.unwrap());
    assert_eq!(db.count_backup_codes(ada.id).await.unwrap(), 9);
    db.replace_backup_codes(ada.id, vec![vec![42; 32]])
        .await
        .unwrap();
    assert!(
        !db.consume_backup_code(ada.id, &[4; 32], t).await.unwrap(),
        "old codes gone"
    );
    assert!(db.delete_two_factor(ada.id).await.unwrap());
    assert_eq!(db.count_backup_codes(ada.id).await.unwrap(), 0);
}

tollbooth_db::engine_tests!(totp_steps_and_backup_codes_are_used_once,);
