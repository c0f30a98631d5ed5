//! `require_auth`: 401 without a valid session.

use crate::common::*;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;

async fn missing_session_is_401(db: TestDb) {
    let t = TestAuth::new(db);
    let err = t.auth.require_auth(&no_headers()).await.unwrap_err();
    assert!(matches!(err, AuthError::Unauthorized));
    assert_eq!((err.status().as_u16(), err.code()), (401, "unauthorized"));
    let garbage = vec![(
        "cookie".to_owned(),
        "__Host-tollbooth.session=nope".to_owned(),
    )];
    assert_eq!(
        t.auth.require_auth(&garbage).await.unwrap_err().status(),
        401
    );
}

async fn a_signed_in_request_passes(db: TestDb) {
    let t = TestAuth::new(db);
    let ada = t.user("ada@example.com").await;
    let (_, cookie) = t.sign_in("ada@example.com").await;
    let session = t.auth.require_auth(&cookie).await.unwrap().session;
    assert_eq!(session.user_id(), ada.id);
    t.auth.sign_out(&cookie).await.unwrap();
    assert_eq!(
        t.auth.require_auth(&cookie).await.unwrap_err().status(),
        401
    );
}

tollbooth_db::engine_tests!(missing_session_is_401, a_signed_in_request_passes);
