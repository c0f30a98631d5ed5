//! Session rows: sliding, revocation, purge.

use chrono::Duration;
use tollbooth_db::testing::TestDb;
use tollbooth_db::*;
use uuid::Uuid;

use super::user;

async fn sessions_slide_revoke_and_purge(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let t0 = now();
    let idle = Duration::minutes(30);
    let a = db
        .create_session(NewSession::new(ada.id, t0, idle, Duration::hours(1)))
        .await
        .unwrap();
    let b = db
        .create_session(NewSession::new(ada.id, t0, idle, Duration::hours(1)))
        .await
        .unwrap();
    assert_ne!(a.id, b.id);
    assert!(a.is_active(t0));
    let (joined, owner) = db.find_session_with_user(a.id).await.unwrap().unwrap();
    assert_eq!((joined, owner.id), (a.clone(), ada.id));
    assert_eq!(
        db.find_session_with_user(Uuid::now_v7()).await.unwrap(),
        None
    );

    // Sliding never passes the absolute deadline.
    let t1 = t0 + Duration::minutes(50);
    assert!(
        !db.touch_session(a.id, t1, t1 + idle).await.unwrap(),
        "idle-expired"
    );
    let t1 = t0 + Duration::minutes(20);
    assert!(
        db.touch_session(a.id, t1, t1 + Duration::hours(5))
            .await
            .unwrap()
    );
    let a = db.find_session(a.id).await.unwrap().unwrap();
    assert_eq!(a.last_seen_at, t1);
    assert_eq!(a.idle_expires_at, a.absolute_expires_at);

    assert!(db.revoke_session(b.id, t1).await.unwrap());
    assert!(
        !db.revoke_session(b.id, t1).await.unwrap(),
        "already revoked"
    );
    assert!(!db.touch_session(b.id, t1, t1 + idle).await.unwrap());
    let active: Vec<_> = db
        .list_active_sessions(ada.id, t1)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(active, [a.id]);

    let c = db
        .create_session(NewSession::new(ada.id, t1, idle, Duration::hours(1)))
        .await
        .unwrap();
    assert_eq!(
        db.revoke_user_sessions(ada.id, Some(c.id), t1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        db.list_active_sessions(ada.id, t1).await.unwrap()[0].id,
        c.id
    );

    assert_eq!(
        db.purge_sessions(t1 + Duration::seconds(1)).await.unwrap(),
        2
    );
    assert!(db.find_session(c.id).await.unwrap().is_some());
}

tollbooth_db::engine_tests!(sessions_slide_revoke_and_purge,);
