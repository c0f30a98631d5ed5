//! Administering users: bans seen by every instance and every way of signing in, role
//! changes, session revocation, the filters of the user list, and the audit trail written
//! in the change's own transaction.

use chrono::TimeDelta;
use sea_orm::ConnectionTrait;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{SecurityEventKind, SecurityEventQuery, SessionRepo, User, UserQuery, UserRepo};

use crate::common::*;
use crate::mfa::{challenge, code, enable, with_mfa};

/// An administrator, signed in just now (a fresh session).
async fn admin(t: &TestAuth) -> Session {
    let admin = t.user("root@example.com").await;
    t.db.set_user_role(admin.id, "admin").await.unwrap();
    t.sign_in("root@example.com").await.0
}

/// The audit trail about `user`, oldest first, as (kind, actor).
async fn events_about(t: &TestAuth, user: uuid::Uuid) -> Vec<(String, Option<uuid::Uuid>)> {
    let events = trail(t, user).await.into_iter();
    events.map(|e| (e.kind, e.actor_user_id)).collect()
}

async fn a_ban_ends_every_session_on_every_instance_and_every_way_in(db: TestDb) {
    let t = TestAuth::new(db);
    let root = admin(&t).await;
    let ada = t.user("ada@example.com").await;
    let other = t.second_instance().await;
    let (_, on_first) = t.sign_in("ada@example.com").await;
    let (_, on_second) = t.sign_in("ada@example.com").await;
    // A reset link asked for before the ban.
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    let reset = t.last_token_sent_to("ada@example.com").await;

    let admin_request = RequestInfo::new(&NO_UA, ip());
    let users = t.auth.user_admin(&root, &admin_request).unwrap();
    let banned = users
        .ban(ada.id, Ban::new().reason("chargeback fraud"))
        .await
        .unwrap();
    assert!(banned.is_banned(t.clock.now()));
    assert_eq!(banned.ban_reason.as_deref(), Some("chargeback fraud"));

    // Both sessions are ended in the ban's transaction…
    let live =
        t.db.list_active_sessions(ada.id, t.clock.now())
            .await
            .unwrap();
    assert!(live.is_empty(), "{live:?}");
    // …so both live cookies are refused at once, on this instance and the other.
    assert!(t.auth.get_session(&on_first).await.unwrap().is_none());
    assert!(other.get_session(&on_second).await.unwrap().is_none());
    // Every way in is refused with the one error, after the first factor proved right.
    assert!(matches!(
        t.auth.sign_in("ada@example.com", PASSWORD, &anon()).await,
        Err(AuthError::Banned)
    ));
    assert!(matches!(
        t.auth
            .sign_in("ada@example.com", "wrong password", &anon())
            .await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        t.auth
            .reset_password(&reset, "a brand new passphrase", &anon())
            .await,
        Err(AuthError::Banned)
    ));
    // A new reset link is not even sent (the answer is the same).
    let before = t.outbox.sent_to("ada@example.com").len();
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    t.auth.flush_background_tasks().await;
    assert_eq!(t.outbox.sent_to("ada@example.com").len(), before);

    // Lifted: the user signs in again, and the reset link refused during the ban still works
    // (the refusal consumed nothing).
    users.unban(ada.id).await.unwrap();
    t.auth
        .reset_password(&reset, "a brand new passphrase", &anon())
        .await
        .unwrap();
    assert!(
        t.auth
            .sign_in("ada@example.com", "a brand new passphrase", &anon())
            .await
            .is_ok()
    );
    // The trail: her two sign-ins, the ban, the wrong password during it (the right one,
    // refused, opened nothing and is not a sign-in), the lift, the reset (the refused attempt
    // during the ban changed nothing and left nothing), her sign-in after it.
    let (ada_id, root_id) = (Some(ada.id), Some(root.user.id));
    let event = |kind: &str, actor| (kind.to_owned(), actor);
    assert_eq!(
        events_about(&t, ada.id).await,
        [
            event("signed_in", ada_id),
            event("signed_in", ada_id),
            event("banned", root_id),
            event("sign_in_failed", None),
            event("unbanned", root_id),
            event("password_reset", ada_id),
            event("signed_in", ada_id),
        ]
    );
}

/// A session that escaped the ban's revocation (opened by a sign-in that read the user just
/// before the ban committed) is refused all the same: the lookup checks the ban.
async fn a_session_opened_in_a_race_with_a_ban_is_refused(db: TestDb) {
    let t = TestAuth::new(db);
    let ada = t.user("ada@example.com").await;
    let (_, cookie) = t.sign_in("ada@example.com").await;
    // The ban's row change alone, as if the session were opened after the revocation.
    t.db.ban_user(ada.id, t.clock.now(), None, None)
        .await
        .unwrap();
    assert!(t.auth.get_session(&cookie).await.unwrap().is_none());
    t.db.unban_user(ada.id).await.unwrap();
    assert!(t.auth.get_session(&cookie).await.unwrap().is_some());
}

static NO_UA: [(&str, &str); 1] = [("user-agent", "AdminConsole/1.0")];

async fn a_ban_refuses_a_pending_second_factor_and_lapses_at_its_expiry(db: TestDb) {
    let t = with_mfa(db);
    let root = admin(&t).await;
    let ada = t.user("ada@example.com").await;
    let (secret, _, _) = enable(&t, "ada@example.com").await;
    let pending = challenge(&t, "ada@example.com").await;

    let request = anon();
    let users = t.auth.user_admin(&root, &request).unwrap();
    let until = t.clock.now() + TimeDelta::hours(1);
    users.ban(ada.id, Ban::new().until(until)).await.unwrap();
    t.clock.advance(TimeDelta::seconds(31));
    assert!(matches!(
        t.auth
            .mfa_verify(&pending.token, &code(&t, &secret, 0), &anon())
            .await,
        Err(AuthError::Banned)
    ));

    // Past its expiry the ban lapses by itself: the password leads to the second factor.
    t.clock.advance(TimeDelta::hours(1));
    let after = challenge(&t, "ada@example.com").await;
    assert!(
        t.auth
            .mfa_verify(&after.token, &code(&t, &secret, 0), &anon())
            .await
            .is_ok()
    );
}

async fn admin_changes_need_a_fresh_admin_session_and_another_account(db: TestDb) {
    let t = TestAuth::new(db);
    let root = admin(&t).await;
    let ada = t.user("ada@example.com").await;
    let (ada_session, ada_cookie) = t.sign_in("ada@example.com").await;
    let request = anon();

    assert!(matches!(
        t.auth.user_admin(&ada_session, &request),
        Err(AuthError::Forbidden)
    ));
    let users = t.auth.user_admin(&root, &request).unwrap();
    let refused = |result: Result<User>, expected: &str| match result {
        Err(error) => assert_eq!(error.code(), expected, "{error:?}"),
        Ok(user) => panic!("expected {expected}, changed {user:?}"),
    };
    refused(users.ban(root.user.id, Ban::new()).await, "invalid_input");
    refused(
        users.ban(uuid::Uuid::now_v7(), Ban::new()).await,
        "user_not_found",
    );
    refused(
        users
            .ban(
                ada.id,
                Ban::new().until(t.clock.now() - TimeDelta::seconds(1)),
            )
            .await,
        "invalid_input",
    );
    refused(
        users.ban(ada.id, Ban::new().reason("x".repeat(501))).await,
        "invalid_input",
    );
    refused(
        users.set_role(ada.id, &Role::new("Root Admin")).await,
        "invalid_input",
    );

    // Past the re-authentication window, every change is refused until the admin re-proves.
    t.clock.advance(TimeDelta::minutes(11));
    let stale = t.auth.get_session(&ada_cookie).await.unwrap();
    assert!(stale.is_some(), "ada's session is live");
    refused(
        users.ban(ada.id, Ban::new()).await,
        "reauthentication_required",
    );
    refused(
        users.set_role(ada.id, &Role::ADMIN).await,
        "reauthentication_required",
    );
    assert!(matches!(
        users.revoke_sessions(ada.id).await,
        Err(AuthError::ReauthenticationRequired)
    ));
    // Reads need no step-up.
    assert_eq!(users.user(ada.id).await.unwrap().sessions.len(), 1);
    assert!(
        !t.db
            .find_user(ada.id)
            .await
            .unwrap()
            .unwrap()
            .is_banned(t.clock.now())
    );
    assert_eq!(
        events_about(&t, ada.id).await,
        [("signed_in".to_owned(), Some(ada.id))],
        "nothing refused is recorded"
    );
}

async fn role_changes_and_revocations_are_audited_with_their_request(db: TestDb) {
    let t = TestAuth::new(db);
    let root = admin(&t).await;
    let ada = t.user("ada@example.com").await;
    let (_, cookie) = t.sign_in("ada@example.com").await;
    t.sign_in("ada@example.com").await;
    let request = RequestInfo::new(&NO_UA, ip());
    let users = t.auth.user_admin(&root, &request).unwrap();

    let overview = users.user(ada.id).await.unwrap();
    assert_eq!(
        (
            overview.sign_in_methods.as_slice(),
            overview.sessions.len(),
            overview.mfa_enabled
        ),
        (["credential".to_owned()].as_slice(), 2, false)
    );
    let promoted = users.set_role(ada.id, &Role::new("editor")).await.unwrap();
    assert_eq!(promoted.role, "editor");
    // The live session sees the new role on its next request.
    let lookup = t.auth.get_session(&cookie).await.unwrap().unwrap();
    assert_eq!(lookup.session.role(), Role::new("editor"));
    assert_eq!(users.revoke_sessions(ada.id).await.unwrap(), 2);
    assert!(t.auth.get_session(&cookie).await.unwrap().is_none());

    let mut query = SecurityEventQuery::default();
    query.subject_user_id = Some(ada.id);
    let events = users.security_events(&query, 10).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "sessions_revoked_by_admin",
            "role_changed",
            "signed_in",
            "signed_in"
        ]
    );
    assert_eq!(
        events[2].detail,
        Some(serde_json::json!({ "method": "password", "mfa": false }))
    );
    let role_changed = &events[1];
    assert_eq!(
        role_changed.detail,
        Some(serde_json::json!({ "from": "user", "to": "editor" }))
    );
    assert_eq!(role_changed.actor_user_id, Some(root.user.id));
    assert_eq!(role_changed.ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(role_changed.user_agent.as_deref(), Some("AdminConsole/1.0"));
    assert_eq!(events[0].detail, Some(serde_json::json!({ "revoked": 2 })));
    query.kind = Some(SecurityEventKind::RoleChanged);
    query.subject_user_id = None;
    assert_eq!(users.security_events(&query, 10).await.unwrap().len(), 1);
}

async fn a_user_reads_their_own_security_activity(db: TestDb) {
    let t = with_mfa(db);
    t.user("ada@example.com").await;
    t.user("bob@example.com").await;
    let (ada, _) = t.sign_in("ada@example.com").await;
    let (bob, _) = t.sign_in("bob@example.com").await;
    t.auth
        .change_password(&ada, PASSWORD, "another fine passphrase", &anon())
        .await
        .unwrap();
    let kinds = |events: Vec<tollbooth_db::SecurityEvent>| -> Vec<String> {
        events.into_iter().map(|e| e.kind).collect()
    };
    let own = t.auth.security_activity(&ada, None, 50).await.unwrap();
    assert_eq!(own[0].actor_user_id, Some(ada.user.id));
    assert_eq!(kinds(own), ["password_changed", "signed_in"]);
    let bobs = t.auth.security_activity(&bob, None, 50).await.unwrap();
    assert_eq!(kinds(bobs), ["signed_in"]);
    // Paging: a page of one, then what is older than it.
    let first = t.auth.security_activity(&ada, None, 1).await.unwrap();
    let older = t.auth.security_activity(&ada, Some(first[0].id), 50).await;
    assert_eq!(kinds(older.unwrap()), ["signed_in"]);

    // Each second-factor change leaves exactly one event, with the request it came from.
    let (secret, _, bob) = enable(&t, "bob@example.com").await;
    t.clock.advance(TimeDelta::seconds(31));
    let request = RequestInfo::new(&NO_UA, ip());
    t.auth
        .mfa_regenerate_backup_codes(&bob, &code(&t, &secret, 0), &request)
        .await
        .unwrap();
    t.clock.advance(TimeDelta::seconds(31));
    t.auth
        .mfa_disable(&bob, &code(&t, &secret, 0), &request)
        .await
        .unwrap();
    let events = t.auth.security_activity(&bob, None, 50).await.unwrap();
    assert_eq!(events[0].user_agent.as_deref(), Some("AdminConsole/1.0"));
    let expected = [
        "mfa_disabled",
        "backup_codes_regenerated",
        "mfa_enabled",
        "signed_in",
        "signed_in",
    ];
    assert_eq!(kinds(events), expected);
    // A refused change (MFA is already off) records nothing.
    assert!(t.auth.mfa_disable(&bob, "000000", &request).await.is_err());
    let after = t.auth.security_activity(&bob, None, 50).await.unwrap();
    assert_eq!(kinds(after), expected);
}

/// The event is written in the change's transaction: when it cannot be written, the change
/// is not made either (the ban is not set, the sessions stay live).
async fn a_change_whose_event_cannot_be_written_is_not_made(db: TestDb) {
    let t = TestAuth::new(db);
    let root = admin(&t).await;
    let ada = t.user("ada@example.com").await;
    let (_, cookie) = t.sign_in("ada@example.com").await;
    t.db.connection()
        .execute_unprepared("DROP TABLE security_events")
        .await
        .unwrap();
    let request = anon();
    let users = t.auth.user_admin(&root, &request).unwrap();
    let failed = users.ban(ada.id, Ban::new()).await.unwrap_err();
    assert_eq!(failed.code(), "internal");
    assert!(
        !t.db
            .find_user(ada.id)
            .await
            .unwrap()
            .unwrap()
            .is_banned(t.clock.now())
    );
    assert!(t.auth.get_session(&cookie).await.unwrap().is_some());
    assert!(users.set_role(ada.id, &Role::ADMIN).await.is_err());
    assert_eq!(t.db.find_user(ada.id).await.unwrap().unwrap().role, "user");
}

async fn users_are_listed_by_filter_a_page_at_a_time(db: TestDb) {
    let t = TestAuth::new(db);
    let root = admin(&t).await;
    let mut made = Vec::new();
    for name in ["ann", "anna", "annie", "bob", "a_n"] {
        made.push(t.user(&format!("{name}@example.com")).await);
    }
    let request = anon();
    let users = t.auth.user_admin(&root, &request).unwrap();
    users
        .ban(
            made[1].id,
            Ban::new().until(t.clock.now() + TimeDelta::hours(1)),
        )
        .await
        .unwrap();
    let emails =
        |page: &UserPage| -> Vec<String> { page.users.iter().map(|u| u.email.clone()).collect() };

    let mut query = UserQuery::default();
    query.email_prefix = Some("AnN".to_owned());
    let first = users.list_users(&query, 2).await.unwrap();
    assert_eq!(emails(&first), ["ann@example.com", "anna@example.com"]);
    query.after = first.next;
    let second = users.list_users(&query, 2).await.unwrap();
    assert_eq!(emails(&second), ["annie@example.com"]);
    assert_eq!(second.next, None);

    // LIKE's wildcards are literal: `a_` matches only `a_n`, not `ann`.
    let mut literal = UserQuery::default();
    literal.email_prefix = Some("a_".to_owned());
    assert_eq!(
        emails(&users.list_users(&literal, 10).await.unwrap()),
        ["a_n@example.com"]
    );

    let mut banned = UserQuery::default();
    banned.banned = Some(true);
    assert_eq!(
        emails(&users.list_users(&banned, 10).await.unwrap()),
        ["anna@example.com"]
    );
    banned.banned = Some(false);
    assert_eq!(users.list_users(&banned, 10).await.unwrap().users.len(), 5);
    let mut admins = UserQuery::default();
    admins.role = Some("admin".to_owned());
    assert_eq!(
        emails(&users.list_users(&admins, 10).await.unwrap()),
        ["root@example.com"]
    );
    // A lapsed ban is no ban.
    t.clock.advance(TimeDelta::hours(2));
    let mut banned = UserQuery::default();
    banned.banned = Some(true);
    // The repository compares with the time the service passes: the clock's.
    assert!(
        users
            .list_users(&banned, 10)
            .await
            .unwrap()
            .users
            .is_empty()
    );
}

tollbooth_db::engine_tests!(
    a_ban_ends_every_session_on_every_instance_and_every_way_in,
    a_ban_refuses_a_pending_second_factor_and_lapses_at_its_expiry,
    a_session_opened_in_a_race_with_a_ban_is_refused,
    admin_changes_need_a_fresh_admin_session_and_another_account,
    role_changes_and_revocations_are_audited_with_their_request,
    a_user_reads_their_own_security_activity,
    a_change_whose_event_cannot_be_written_is_not_made,
    users_are_listed_by_filter_a_page_at_a_time,
);
