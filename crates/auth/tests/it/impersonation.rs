//! An administrator acting as a user: marked, time-boxed, unable to change what only the
//! user may, audited, and back to their own session when they stop.

use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{SessionRepo, UserRepo};
use uuid::Uuid;

use crate::common::*;

/// An administrator, signed in (fresh), and their cookie.
async fn admin(t: &TestAuth) -> (Session, Vec<(String, String)>) {
    let admin = t.user("root@example.com").await;
    t.db.set_user_role(admin.id, "admin").await.unwrap();
    t.sign_in("root@example.com").await
}

/// What a browser sends after `switch`: both cookies in one header.
fn cookies_after(switch: &SessionSwitch) -> Vec<(String, String)> {
    let pairs: Vec<String> = switch
        .cookies
        .iter()
        .map(|c| c.as_str().split(';').next().unwrap().to_owned())
        .collect();
    vec![("cookie".to_owned(), pairs.join("; "))]
}

async fn events_about(t: &TestAuth, user: Uuid) -> Vec<(String, Option<Uuid>)> {
    let events = trail(t, user).await.into_iter();
    events
        .filter(|e| e.kind != "signed_in")
        .map(|e| (e.kind, e.actor_user_id))
        .collect()
}

async fn an_administrator_acts_as_a_user_and_comes_back(db: TestDb) {
    let t = TestAuth::new(db);
    let (root, root_cookie) = admin(&t).await;
    let ada = t.user("ada@example.com").await;
    let (ada_session, _) = t.sign_in("ada@example.com").await;
    let request = anon();
    let users = t.auth.user_admin(&root, &request).unwrap();

    let switch = users.impersonate(ada.id).await.unwrap();
    assert_eq!(switch.session.user.id, ada.id);
    assert_eq!(switch.session.impersonated_by, Some(root.user.id));
    assert!(switch.session.expires_at <= t.clock.now() + minutes(60));
    let browser = cookies_after(&switch);
    let acting = t.auth.get_session(&browser).await.unwrap().unwrap().session;
    assert_eq!(
        (acting.user.id, acting.impersonated_by),
        (ada.id, Some(root.user.id))
    );
    // The administrator's own session is parked, not ended.
    assert!(t.auth.get_session(&root_cookie).await.unwrap().is_some());
    // Ada's list of her devices does not show it; her audit trail does.
    let listed = t.auth.list_sessions(&ada_session).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        events_about(&t, ada.id).await,
        [("impersonation_started".to_owned(), Some(root.user.id))]
    );

    let back = t
        .auth
        .stop_impersonating(&acting, &RequestInfo::new(&browser, ip()))
        .await
        .unwrap();
    assert_eq!(back.session.user.id, root.user.id);
    assert_eq!(back.session.impersonated_by, None);
    assert!(!back.cookies[0].is_removal());
    assert!(back.cookies[1].is_removal(), "the parked token is cleared");
    let restored = cookie_headers(&back.cookies[0]);
    let me = t
        .auth
        .get_session(&restored)
        .await
        .unwrap()
        .unwrap()
        .session;
    assert_eq!(
        me.id, root.id,
        "the administrator's own session, not a new one"
    );
    assert!(t.auth.get_session(&browser).await.unwrap().is_none());
    assert_eq!(
        events_about(&t, ada.id).await,
        [
            ("impersonation_started".to_owned(), Some(root.user.id)),
            ("impersonation_stopped".to_owned(), Some(root.user.id)),
        ]
    );
    // Stopping the same impersonation twice (a double click) records one stop.
    let twice = t
        .auth
        .stop_impersonating(&acting, &RequestInfo::new(&browser, ip()))
        .await;
    assert_eq!(twice.unwrap_err().code(), "unauthorized");
    assert_eq!(events_about(&t, ada.id).await.len(), 2);
    // Stopping from a session that is no impersonation is refused.
    assert_eq!(
        t.auth
            .stop_impersonating(&me, &RequestInfo::new(&restored, ip()))
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
}

/// The impersonation cannot change the user's password, address, second factor or
/// providers, export the account, re-authenticate or delete it.
async fn an_impersonation_cannot_change_what_only_the_user_may(db: TestDb) {
    let t = crate::mfa::with_mfa(db);
    let (root, _) = admin(&t).await;
    let ada = t.user("ada@example.com").await;
    let request = anon();
    let users = t.auth.user_admin(&root, &request).unwrap();
    let acting = users.impersonate(ada.id).await.unwrap().session;
    let r = anon();

    let refusals = [
        t.auth
            .change_password(&acting, PASSWORD, "a new passphrase here", &r)
            .await
            .err(),
        t.auth
            .request_email_change(&acting, "thief@example.net", &r)
            .await
            .err(),
        t.auth.request_password_setup(&acting, &r).await.err(),
        t.auth.mfa_enroll(&acting).await.err(),
        t.auth.mfa_confirm(&acting, "123456", &r).await.err(),
        t.auth.mfa_disable(&acting, "123456", &r).await.err(),
        t.auth
            .mfa_regenerate_backup_codes(&acting, "123456", &r)
            .await
            .err(),
        t.auth.sign_out_everywhere(&acting, &r).await.err(),
        t.auth.revoke_session(&acting, acting.id, &r).await.err(),
        t.auth
            .reauthenticate(&acting, Some(PASSWORD), None)
            .await
            .err(),
        t.auth.export_account(&acting, &r).await.err(),
        t.auth.delete_account(&acting, None, &r).await.err(),
        t.auth.require_fresh(&acting).err(),
    ];
    for (i, refused) in refusals.into_iter().enumerate() {
        let code = refused.map(|e| e.code());
        assert_eq!(code, Some("impersonating"), "refusal {i}");
    }
    // Nothing changed: her password still signs in, her address is hers.
    t.sign_in("ada@example.com").await;
    let unchanged = t.db.find_user(ada.id).await.unwrap().unwrap();
    assert_eq!(unchanged.email, "ada@example.com");
    // Her profile is not a credential: support may fix a display name.
    let fixed = t
        .auth
        .update_profile(&acting, ProfileUpdate::new().name("Ada L."))
        .await
        .unwrap();
    assert_eq!(fixed.name.as_deref(), Some("Ada L."));
}

/// Never another administrator or oneself, only from a fresh session; the impersonation
/// ends after its hour, and with the administrator's session or role.
async fn an_impersonation_is_bounded(db: TestDb) {
    let t = TestAuth::new(db);
    let (root, root_cookie) = admin(&t).await;
    let ada = t.user("ada@example.com").await;
    let other_admin = t.user("boss@example.com").await;
    t.db.set_user_role(other_admin.id, "admin").await.unwrap();
    let request = anon();
    let users = t.auth.user_admin(&root, &request).unwrap();
    assert_eq!(
        users.impersonate(other_admin.id).await.unwrap_err().code(),
        "forbidden"
    );
    assert_eq!(
        users.impersonate(root.user.id).await.unwrap_err().code(),
        "invalid_input"
    );

    // The hour passes: the impersonation is over (the administrator's session is not).
    let switch = users.impersonate(ada.id).await.unwrap();
    let browser = cookies_after(&switch);
    t.clock.advance(minutes(9));
    assert!(t.auth.get_session(&browser).await.unwrap().is_some());
    t.clock.advance(minutes(52));
    assert!(t.auth.get_session(&browser).await.unwrap().is_none());
    assert!(t.auth.get_session(&root_cookie).await.unwrap().is_some());
    // …and the administrator, no longer fresh, cannot start another.
    assert_eq!(
        users.impersonate(ada.id).await.unwrap_err().code(),
        "reauthentication_required"
    );

    // Demoted: the impersonation ends for good (promoted again, it stays over).
    let (root, root_cookie) = t.sign_in("root@example.com").await;
    let users = t.auth.user_admin(&root, &request).unwrap();
    let browser = cookies_after(&users.impersonate(ada.id).await.unwrap());
    assert!(t.auth.get_session(&browser).await.unwrap().is_some());
    t.db.set_user_role(root.user.id, "user").await.unwrap();
    assert!(t.auth.get_session(&browser).await.unwrap().is_none());
    t.db.set_user_role(root.user.id, "admin").await.unwrap();
    assert!(t.auth.get_session(&browser).await.unwrap().is_none());
    // The user promoted meanwhile: no impersonation goes on as an administrator.
    let browser = cookies_after(&users.impersonate(ada.id).await.unwrap());
    t.db.set_user_role(ada.id, "admin").await.unwrap();
    assert!(t.auth.get_session(&browser).await.unwrap().is_none());
    t.db.set_user_role(ada.id, "user").await.unwrap();
    // The administrator signs out elsewhere: the impersonation ends with their session.
    let browser = cookies_after(&users.impersonate(ada.id).await.unwrap());
    t.auth.sign_out(&root_cookie).await.unwrap();
    assert!(t.auth.get_session(&browser).await.unwrap().is_none());
    // Signing out while impersonating ends the parked administrator session too.
    let (root, root_cookie) = t.sign_in("root@example.com").await;
    let users = t.auth.user_admin(&root, &request).unwrap();
    let browser = cookies_after(&users.impersonate(ada.id).await.unwrap());
    t.auth.sign_out(&browser).await.unwrap();
    assert!(t.auth.get_session(&browser).await.unwrap().is_none());
    assert!(t.auth.get_session(&root_cookie).await.unwrap().is_none());

    // A parked token from another session does not stop (or hijack) an impersonation.
    let (root, _) = t.sign_in("root@example.com").await;
    let (_, other_cookie) = t.sign_in("root@example.com").await;
    let users = t.auth.user_admin(&root, &request).unwrap();
    let switch = users.impersonate(ada.id).await.unwrap();
    let acting = switch.session.clone();
    let session_cookie = switch.cookies[0].as_str().split(';').next().unwrap();
    let other_token = jwt_of(&other_cookie);
    let parked_name = format!("{}.admin", t.auth.config().cookie_name());
    let forged = vec![(
        "cookie".to_owned(),
        format!("{session_cookie}; {parked_name}={other_token}"),
    )];
    assert_eq!(
        t.auth
            .stop_impersonating(&acting, &RequestInfo::new(&forged, ip()))
            .await
            .unwrap_err()
            .code(),
        "unauthorized"
    );
    assert!(
        t.db.find_session(acting.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
}

tollbooth_db::engine_tests!(
    an_administrator_acts_as_a_user_and_comes_back,
    an_impersonation_cannot_change_what_only_the_user_may,
    an_impersonation_is_bounded,
);
