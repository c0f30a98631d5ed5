//! Sign-up, sign-in, password change and session management.

use crate::common::*;
use chrono::TimeDelta;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{
    AccountRepo, CREDENTIAL_PROVIDER, NewAccount, NewUser, TwoFactorRepo, UserRepo,
};

/// A bcrypt hash of "Tr0ub4dor&3-staple" at cost 10, made by pyca/bcrypt 5.0 (OpenBSD's code).
const PYCA_COST_10: &str = "$2b$10$iFTjfSy.ycyHbzeO/VjDBOa27tLUCjJmto6WfQ7ULYD/EyPqjfrKO";
/// A bcrypt hash of the 72-byte `"x9#Qv" × 14 + "é"` at cost 10, by pyca/bcrypt 5.0.
const PYCA_72_BYTES: &str = "$2b$10$0ogOW/cjoBJZ.HaUKbr2T.sT.6lBBL1H62ItmHUmt3KWf5UCKWTEm";

/// A strong password of exactly `bytes` bytes, ASCII or with multi-byte characters.
fn password_of(bytes: usize, multibyte: bool) -> String {
    let mut password = String::from("kq8#Lm2p-vessel-");
    let extra: Vec<char> = if multibyte {
        "éà€üßç€ñøå".chars().collect()
    } else {
        "Zq7!vX2#mP9$wR4%".chars().collect()
    };
    for c in extra.iter().cycle() {
        if password.len() + c.len_utf8() > bytes {
            break;
        }
        password.push(*c);
    }
    while password.len() < bytes {
        password.push('x');
    }
    assert_eq!(password.len(), bytes);
    password
}

async fn sign_up_verify_sign_in(db: TestDb) {
    let t = TestAuth::new(db);
    let user = t
        .auth
        .sign_up(" Ada@Example.com ", PASSWORD, Some(" Ada "), &anon())
        .await
        .unwrap();
    assert_eq!(
        (user.email.as_str(), user.name.as_deref()),
        ("ada@example.com", Some("Ada"))
    );
    assert_eq!(user.email_verified_at, None);
    assert!(
        t.db.find_user_account(user.id, CREDENTIAL_PROVIDER)
            .await
            .unwrap()
            .is_some()
    );

    // The welcome e-mail carries an absolute https link built from the configured base URL.
    t.auth.flush_background_tasks().await;
    let mails = t.outbox.sent_to("ada@example.com");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject(), "Welcome to Acme");
    assert_eq!(mails[0].idempotency_key(), format!("welcome/{}", user.id));
    assert!(
        mails[0]
            .text()
            .contains("https://app.acme.example/verify-email?token=")
    );

    // Unverified: the right password says so; a wrong one says nothing more.
    assert!(matches!(
        t.auth.sign_in("ada@example.com", PASSWORD, &anon()).await,
        Err(AuthError::EmailNotVerified)
    ));
    assert!(matches!(
        t.auth.sign_in("ada@example.com", "wrong", &anon()).await,
        Err(AuthError::InvalidCredentials)
    ));

    let token = token_in(mails[0].text());
    let verified = t.auth.verify_email(&token).await.unwrap();
    assert!(verified.email_verified_at.is_some());
    let (session, cookie) = t.sign_in("ADA@example.com").await;
    assert_eq!(session.user.id, user.id);
    assert_eq!(
        t.auth.require_auth(&cookie).await.unwrap().session.id,
        session.id
    );
}

async fn sign_up_refuses_bad_input_and_taken_addresses(db: TestDb) {
    let t = TestAuth::with(db, |c| {
        let mut limits = RateLimits::default();
        limits.sign_up_per_ip = Limit::new(100, TimeDelta::hours(1));
        c.rate_limits(limits)
    });
    t.auth
        .sign_up("ada@example.com", PASSWORD, None, &anon())
        .await
        .unwrap();
    let err = t
        .auth
        .sign_up("ADA@EXAMPLE.COM", "another good passphrase", None, &anon())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::EmailTaken));
    assert_eq!((err.status().as_u16(), err.code()), (409, "email_taken"));

    for (password, expected) in [
        ("short", "at least 8 characters"),
        ("password123", "less common"),
        ("bob@example.com", "less common"),
    ] {
        let err = t
            .auth
            .sign_up("bob@example.com", password, None, &anon())
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 422);
        assert!(err.to_string().contains(expected), "{password}: {err}");
    }
    // Over 72 bytes: refused, never truncated (bcrypt would ignore the tail).
    let long = "Zq7!vX2#mP9$".repeat(7); // 84 bytes
    let err = t
        .auth
        .sign_up("bob@example.com", &long, None, &anon())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at most 72 bytes"), "{err}");

    for email in [
        "not-an-email",
        "bob@",
        "bob@example.com\r\nBcc: x@example.com",
        "",
    ] {
        let err = t
            .auth
            .sign_up(email, PASSWORD, None, &anon())
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::InvalidInput { field: "email", .. }),
            "{email:?}: {err:?}"
        );
    }
    let err = t
        .auth
        .sign_up("bob@example.com", PASSWORD, Some(&"x".repeat(101)), &anon())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::InvalidInput { field: "name", .. }));
    assert_eq!(
        t.db.find_user_by_email("bob@example.com").await.unwrap(),
        None,
        "nothing written"
    );
}

async fn sign_up_is_rate_limited_per_ip(db: TestDb) {
    let t = TestAuth::with(db, |c| {
        let mut limits = RateLimits::default();
        limits.sign_up_per_ip = Limit::new(2, TimeDelta::hours(1));
        c.rate_limits(limits)
    });
    for email in ["a@example.com", "b@example.com"] {
        t.auth
            .sign_up(email, PASSWORD, None, &anon())
            .await
            .unwrap();
    }
    let err = t
        .auth
        .sign_up("c@example.com", PASSWORD, None, &anon())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::RateLimited { .. }), "{err:?}");
    assert_eq!(
        t.db.find_user_by_email("c@example.com").await.unwrap(),
        None
    );
}

async fn unknown_email_and_wrong_password_look_the_same(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let unknown = t
        .auth
        .sign_in("nobody@example.com", PASSWORD, &anon())
        .await
        .unwrap_err();
    let wrong = t
        .auth
        .sign_in("ada@example.com", "not the password", &anon())
        .await
        .unwrap_err();
    assert_eq!(
        (
            unknown.status().as_u16(),
            unknown.code(),
            unknown.to_string()
        ),
        (wrong.status().as_u16(), wrong.code(), wrong.to_string())
    );
    assert!(matches!(wrong, AuthError::InvalidCredentials));
}

async fn an_older_cost_is_upgraded_on_sign_in(db: TestDb) {
    let t = TestAuth::new(db);
    let user =
        t.db.create_user(NewUser::new("ada@example.com").verified_at(tollbooth_db::now()))
            .await
            .unwrap();
    t.db.create_account(NewAccount::credential(user.id, PYCA_COST_10))
        .await
        .unwrap();
    let SignInOutcome::SignedIn(_) = t
        .auth
        .sign_in("ada@example.com", "Tr0ub4dor&3-staple", &anon())
        .await
        .unwrap()
    else {
        panic!("signed in")
    };
    let hash =
        t.db.find_user_account(user.id, CREDENTIAL_PROVIDER)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap();
    assert!(hash.starts_with("$2b$12$"), "rehashed: {hash}");
    assert!(bcrypt::verify("Tr0ub4dor&3-staple", &hash).unwrap());
    // And the new hash works for the next sign-in.
    assert!(
        t.auth
            .sign_in("ada@example.com", "Tr0ub4dor&3-staple", &anon())
            .await
            .is_ok()
    );
}

async fn repeated_failures_back_off_and_the_user_gets_back_in(db: TestDb) {
    let t = TestAuth::with(db, |c| {
        let mut limits = RateLimits::default();
        limits.sign_in_per_account = Limit::new(1000, TimeDelta::minutes(15));
        limits.backoff_after_failures = 3;
        c.rate_limits(limits)
    });
    t.user("ada@example.com").await;
    for _ in 0..3 {
        assert!(matches!(
            t.auth.sign_in("ada@example.com", "guess", &anon()).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    // Even the right password waits out the backoff (1 s after the 3rd failure)…
    match t
        .auth
        .sign_in("ada@example.com", PASSWORD, &anon())
        .await
        .unwrap_err()
    {
        AuthError::RateLimited { retry_after } => assert_eq!(retry_after.as_secs(), 1),
        other => panic!("{other:?}"),
    }
    t.clock.advance(TimeDelta::seconds(1));
    assert!(matches!(
        t.auth.sign_in("ada@example.com", "guess", &anon()).await,
        Err(AuthError::InvalidCredentials)
    ));
    // …which doubles with each further failure…
    match t
        .auth
        .sign_in("ada@example.com", PASSWORD, &anon())
        .await
        .unwrap_err()
    {
        AuthError::RateLimited { retry_after } => assert_eq!(retry_after.as_secs(), 2),
        other => panic!("{other:?}"),
    }
    // …and then the legitimate user is back in, and the streak is forgotten.
    t.clock.advance(TimeDelta::seconds(2));
    t.sign_in("ada@example.com").await;
    assert!(matches!(
        t.auth.sign_in("ada@example.com", "guess", &anon()).await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        t.auth.sign_in("ada@example.com", "guess", &anon()).await,
        Err(AuthError::InvalidCredentials)
    ));
}

async fn consecutive_failures_are_capped_not_locked_forever(db: TestDb) {
    assert_eq!(
        RateLimits::default().max_consecutive_failures,
        100,
        "NIST 800-63B"
    );
    let t = TestAuth::with(db, |c| {
        let mut limits = RateLimits::default();
        limits.sign_in_per_account = Limit::new(1000, TimeDelta::minutes(15));
        limits.backoff_after_failures = 1000;
        limits.max_consecutive_failures = 4;
        c.rate_limits(limits)
    });
    t.user("ada@example.com").await;
    for _ in 0..4 {
        assert!(matches!(
            t.auth.sign_in("ada@example.com", "guess", &anon()).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    match t
        .auth
        .sign_in("ada@example.com", PASSWORD, &anon())
        .await
        .unwrap_err()
    {
        AuthError::RateLimited { retry_after } => {
            assert!(retry_after.as_secs() > 23 * 3600, "{retry_after:?}")
        }
        other => panic!("{other:?}"),
    }
    t.clock.advance(TimeDelta::hours(24));
    t.sign_in("ada@example.com").await;
}

async fn changing_the_password_keeps_this_session_only(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let (_, other_device) = t.sign_in("ada@example.com").await;
    let (session, this_device) = t.sign_in("ada@example.com").await;

    assert!(matches!(
        t.auth
            .change_password(&session, "wrong", "a new passphrase!", &anon())
            .await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        t.auth
            .change_password(&session, PASSWORD, "password", &anon())
            .await,
        Err(AuthError::InvalidPassword { .. })
    ));
    t.auth
        .change_password(&session, PASSWORD, "a new passphrase!", &anon())
        .await
        .unwrap();

    assert!(t.auth.get_session(&this_device).await.unwrap().is_some());
    assert!(t.auth.get_session(&other_device).await.unwrap().is_none());
    assert!(matches!(
        t.auth.sign_in("ada@example.com", PASSWORD, &anon()).await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        t.auth
            .sign_in("ada@example.com", "a new passphrase!", &anon())
            .await,
        Ok(SignInOutcome::SignedIn(_))
    ));
}

async fn sessions_can_be_listed_and_revoked(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    t.user("bob@example.com").await;
    let (laptop, laptop_cookie) = t.sign_in("ada@example.com").await;
    let headers = vec![("user-agent".to_owned(), "Phone/1.0".to_owned())];
    let (phone, _) = t.sign_in_with("ada@example.com", &headers).await;
    let (bob, _) = t.sign_in("bob@example.com").await;

    let list = t.auth.list_sessions(&laptop).await.unwrap();
    assert_eq!(list.len(), 2);
    let current: Vec<_> = list.iter().filter(|s| s.current).map(|s| s.id).collect();
    assert_eq!(current, [laptop.id]);
    let phone_info = list.iter().find(|s| s.id == phone.id).unwrap();
    assert_eq!(phone_info.user_agent.as_deref(), Some("Phone/1.0"));
    assert_eq!(phone_info.ip.as_deref(), Some("203.0.113.7"));

    assert!(
        !t.auth
            .revoke_session(&laptop, bob.id, &anon())
            .await
            .unwrap(),
        "not someone else's"
    );
    assert!(
        t.auth
            .revoke_session(&laptop, phone.id, &anon())
            .await
            .unwrap()
    );
    assert_eq!(t.auth.list_sessions(&laptop).await.unwrap().len(), 1);

    let clearing = t.auth.sign_out_everywhere(&laptop, &anon()).await.unwrap();
    assert!(clearing.as_str().contains("Max-Age=0"));
    assert!(t.auth.get_session(&laptop_cookie).await.unwrap().is_none());
    // Both on the trail, with what they ended; the refused attempt on bob's left nothing.
    let mut query = tollbooth_db::SecurityEventQuery::default();
    query.subject_user_id = Some(laptop.user.id);
    let trail: Vec<_> = tollbooth_db::SecurityEventRepo::list_security_events(&*t.db, &query, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind != "signed_in")
        .map(|e| (e.kind, e.detail.unwrap()))
        .collect();
    assert_eq!(
        trail,
        [
            (
                "signed_out_everywhere".to_owned(),
                serde_json::json!({ "revoked": 1 })
            ),
            (
                "session_revoked".to_owned(),
                serde_json::json!({ "session": phone.id })
            ),
        ]
    );
}

async fn mfa_users_stop_at_a_challenge(db: TestDb) {
    let t = TestAuth::new(db);
    let ada = t.user("ada@example.com").await;
    t.db.begin_two_factor(ada.id, vec![0; 40], "k")
        .await
        .unwrap();
    // A pending (unconfirmed) enrollment does not gate sign-in…
    t.sign_in("ada@example.com").await;
    t.db.enable_two_factor(ada.id, tollbooth_db::now())
        .await
        .unwrap();
    // …an enabled one does: no session, a challenge.
    let before = t.auth.db().clone();
    let outcome = t
        .auth
        .sign_in("ada@example.com", PASSWORD, &anon())
        .await
        .unwrap();
    let SignInOutcome::MfaRequired(challenge) = outcome else {
        panic!("expected a challenge")
    };
    assert_eq!(challenge.token.len(), 43);
    assert!(challenge.expires_at > t.clock.now());
    assert!(!format!("{challenge:?}").contains(&challenge.token));
    let active = tollbooth_db::SessionRepo::list_active_sessions(&before, ada.id, t.clock.now())
        .await
        .unwrap();
    assert_eq!(
        active.len(),
        1,
        "only the session from before MFA was enabled"
    );
}

async fn passwords_of_up_to_72_bytes_work_end_to_end(db: TestDb) {
    let t = TestAuth::with(db, |c| {
        let mut limits = RateLimits::default();
        limits.sign_up_per_ip = Limit::new(100, TimeDelta::hours(1));
        c.rate_limits(limits)
    });
    for (i, multibyte) in [false, true].into_iter().enumerate() {
        for bytes in [71, 72] {
            let email = format!("user{i}-{bytes}@example.com");
            let password = password_of(bytes, multibyte);
            let user = t
                .auth
                .sign_up(&email, &password, None, &anon())
                .await
                .unwrap_or_else(|e| panic!("{bytes} bytes, multibyte {multibyte}: {e:?}"));
            t.db.mark_email_verified(user.id, tollbooth_db::now())
                .await
                .unwrap();
            let SignInOutcome::SignedIn(signed_in) =
                t.auth.sign_in(&email, &password, &anon()).await.unwrap()
            else {
                panic!("signed in")
            };
            // The 72nd byte counts: a password one byte short is wrong.
            let shorter = &password[..password.floor_char_boundary(bytes - 1)];
            assert!(matches!(
                t.auth.sign_in(&email, shorter, &anon()).await,
                Err(AuthError::InvalidCredentials)
            ));
            let changed = password_of(bytes, !multibyte);
            t.auth
                .change_password(&signed_in.session, &password, &changed, &anon())
                .await
                .unwrap();
            t.auth
                .request_password_reset(&email, &anon())
                .await
                .unwrap();
            let token = t.last_token_sent_to(&email).await;
            t.auth
                .reset_password(&token, &password, &anon())
                .await
                .unwrap();
            assert!(t.auth.sign_in(&email, &password, &anon()).await.is_ok());
        }
    }

    // 73 bytes: a clear 422 everywhere, never a 500.
    for multibyte in [false, true] {
        let long = password_of(73, multibyte);
        let err = t
            .auth
            .sign_up("long@example.com", &long, None, &anon())
            .await
            .unwrap_err();
        assert_eq!(
            (err.status().as_u16(), err.code()),
            (422, "invalid_password"),
            "{err:?}"
        );
        let (session, _) = {
            t.user("ada@example.com").await;
            t.sign_in("ada@example.com").await
        };
        let err = t
            .auth
            .change_password(&session, PASSWORD, &long, &anon())
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 422, "{err:?}");
        t.auth
            .request_password_reset("ada@example.com", &anon())
            .await
            .unwrap();
        let token = t.last_token_sent_to("ada@example.com").await;
        let err = t
            .auth
            .reset_password(&token, &long, &anon())
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 422, "{err:?}");
        t.db.delete_user(
            t.db.find_user_by_email("ada@example.com")
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    }

    // A 72-byte password hashed by another bcrypt (OpenBSD's code) verifies.
    let grace =
        t.db.create_user(NewUser::new("grace@example.com").verified_at(tollbooth_db::now()))
            .await
            .unwrap();
    t.db.create_account(NewAccount::credential(grace.id, PYCA_72_BYTES))
        .await
        .unwrap();
    let pyca = format!("{}é", "x9#Qv".repeat(14));
    assert!(
        t.auth
            .sign_in("grace@example.com", &pyca, &anon())
            .await
            .is_ok()
    );
    assert!(matches!(
        t.auth
            .sign_in("grace@example.com", &pyca[..70], &anon())
            .await,
        Err(AuthError::InvalidCredentials)
    ));
}

async fn a_user_updates_their_profile(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let (session, cookie) = t.sign_in("ada@example.com").await;
    let update = ProfileUpdate::new()
        .name("  Ada Lovelace ")
        .image("https://cdn.example.com/ada.png");
    let user = t.auth.update_profile(&session, update).await.unwrap();
    assert_eq!(user.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(
        user.image.as_deref(),
        Some("https://cdn.example.com/ada.png")
    );

    // Bad input changes nothing, not even the valid half.
    let session = t.auth.get_session(&cookie).await.unwrap().unwrap().session;
    for (update, field) in [
        (
            ProfileUpdate::new()
                .name("Bob")
                .image("javascript:alert(1)"),
            "image",
        ),
        (ProfileUpdate::new().name("x".repeat(101)), "name"),
        (ProfileUpdate::new().name("a\u{0}b"), "name"),
    ] {
        match t.auth.update_profile(&session, update).await {
            Err(AuthError::InvalidInput { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{other:?}"),
        }
    }
    let unchanged = t
        .auth
        .get_session(&cookie)
        .await
        .unwrap()
        .unwrap()
        .session
        .user;
    assert_eq!(unchanged.name.as_deref(), Some("Ada Lovelace"));

    // A field left out keeps its value; an empty one clears it.
    let user = t
        .auth
        .update_profile(&session, ProfileUpdate::new().image(""))
        .await
        .unwrap();
    assert_eq!(
        (user.name.as_deref(), user.image),
        (Some("Ada Lovelace"), None)
    );
}

tollbooth_db::engine_tests!(
    a_user_updates_their_profile,
    sign_up_verify_sign_in,
    sign_up_refuses_bad_input_and_taken_addresses,
    sign_up_is_rate_limited_per_ip,
    unknown_email_and_wrong_password_look_the_same,
    an_older_cost_is_upgraded_on_sign_in,
    repeated_failures_back_off_and_the_user_gets_back_in,
    consecutive_failures_are_capped_not_locked_forever,
    changing_the_password_keeps_this_session_only,
    sessions_can_be_listed_and_revoked,
    mfa_users_stop_at_a_challenge,
    passwords_of_up_to_72_bytes_work_end_to_end,
);
