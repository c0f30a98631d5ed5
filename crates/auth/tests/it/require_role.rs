//! `require_role`: 403 for the wrong role, the session for the right one.

use crate::common::*;
use tollbooth_auth::*;
use tollbooth_db::UserRepo;
use tollbooth_db::testing::TestDb;

async fn the_wrong_role_is_403(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let (_, cookie) = t.sign_in("ada@example.com").await;
    let err = t
        .auth
        .require_role(&cookie, &Role::ADMIN)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Forbidden));
    assert_eq!((err.status().as_u16(), err.code()), (403, "forbidden"));
    assert!(
        t.auth
            .require_role(&cookie, &Role::new("editor"))
            .await
            .is_err()
    );
    // Without a session it is 401, not 403.
    let err = t
        .auth
        .require_role(&no_headers(), &Role::ADMIN)
        .await
        .unwrap_err();
    assert_eq!(err.status().as_u16(), 401);
}

async fn the_right_role_passes_and_changes_apply_at_once(db: TestDb) {
    let t = TestAuth::new(db);
    let ada = t.user("ada@example.com").await;
    let (_, cookie) = t.sign_in("ada@example.com").await;
    assert_eq!(
        t.auth
            .require_role(&cookie, &Role::USER)
            .await
            .unwrap()
            .session
            .user_id(),
        ada.id
    );

    // The role is read from the database on each request: a promotion needs no new sign-in.
    t.db.set_user_role(ada.id, "editor").await.unwrap();
    let session = t
        .auth
        .require_role(&cookie, &Role::new("editor"))
        .await
        .unwrap()
        .session;
    assert_eq!(session.role(), Role::new("editor"));
    assert!(
        t.auth.require_role(&cookie, &Role::USER).await.is_err(),
        "exact match"
    );

    // Admin satisfies every role.
    t.db.set_user_role(ada.id, "admin").await.unwrap();
    for role in [Role::ADMIN, Role::USER, Role::new("editor")] {
        let lookup = t.auth.require_role(&cookie, &role).await;
        assert_eq!(lookup.unwrap().session.user.id, ada.id, "{role:?}");
    }
    // And a demotion applies on the very next request.
    t.db.set_user_role(ada.id, "user").await.unwrap();
    assert_eq!(
        t.auth
            .require_role(&cookie, &Role::ADMIN)
            .await
            .unwrap_err()
            .status(),
        403
    );
}

tollbooth_db::engine_tests!(
    the_wrong_role_is_403,
    the_right_role_passes_and_changes_apply_at_once
);
