//! The security checklist. Each test fails if its property regresses.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use sha2::{Digest, Sha256};
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{
    AccountRepo, CREDENTIAL_PROVIDER, SessionRepo, TokenPurpose, TokenRepo, UserRepo,
};

async fn stored_hashes_are_bcrypt_cost_12_or_more(db: TestDb) {
    let t = TestAuth::new(db);
    let request = anon();
    let user = t
        .auth
        .sign_up("ada@example.com", PASSWORD, None, &request)
        .await
        .unwrap();
    let account =
        t.db.find_user_account(user.id, CREDENTIAL_PROVIDER)
            .await
            .unwrap()
            .unwrap();
    let hash = account.password_hash.unwrap();
    assert!(hash.starts_with("$2b$12$"), "{hash}");
    assert_eq!(hash.len(), 60);
    assert!(!hash.contains(PASSWORD));

    let err = AuthConfig::builder("https://app.acme.example")
        .signing_key(key())
        .bcrypt_cost(11)
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("bcrypt cost 11 is outside 12..=31"),
        "{err}"
    );
    assert_eq!(
        AuthConfig::builder("https://x.example")
            .signing_key(key())
            .build()
            .unwrap()
            .bcrypt_cost(),
        MIN_BCRYPT_COST
    );
}

async fn the_session_cookie_has_every_flag(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let request = anon();
    let SignInOutcome::SignedIn(signed_in) = t
        .auth
        .sign_in("ada@example.com", PASSWORD, &request)
        .await
        .unwrap()
    else {
        panic!()
    };
    let cookie = signed_in.cookie.as_str();
    let (pair, attributes) = cookie.split_once("; ").unwrap();
    assert!(pair.starts_with("__Host-tollbooth.session=ey"), "{pair}");
    // Exactly these attributes (in whatever order the cookie crate writes them).
    let sorted = |attributes: &str| {
        let mut attributes: Vec<String> = attributes.split("; ").map(str::to_owned).collect();
        attributes.sort();
        attributes
    };
    let max_age = 30 * 24 * 3600; // the absolute lifetime
    assert_eq!(
        sorted(attributes),
        sorted(&format!(
            "Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Strict"
        ))
    );
    assert!(
        !attributes.contains("Domain"),
        "__Host- cookies have no Domain"
    );

    let clearing = t
        .auth
        .sign_out(&cookie_headers(&signed_in.cookie))
        .await
        .unwrap();
    let (pair, attributes) = clearing.as_str().split_once("; ").unwrap();
    assert_eq!(pair, "__Host-tollbooth.session=");
    assert_eq!(
        sorted(attributes),
        sorted("Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict")
    );
}

async fn sign_in_rotates_the_session_and_kills_the_presented_one(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let (first, first_cookie) = t.sign_in("ada@example.com").await;
    // Signing in again from the same browser (presenting the old cookie).
    let (second, second_cookie) = t.sign_in_with("ada@example.com", &first_cookie).await;
    assert_ne!(first.id, second.id, "a new session id on every sign-in");
    assert_ne!(jwt_of(&first_cookie), jwt_of(&second_cookie));
    assert!(
        t.auth.get_session(&first_cookie).await.unwrap().is_none(),
        "presented session revoked"
    );
    assert!(t.auth.get_session(&second_cookie).await.unwrap().is_some());

    // Fixation: a cookie planted before sign-in (the attacker's own session) dies at sign-in.
    t.user("mallory@example.com").await;
    let (_, planted) = t.sign_in("mallory@example.com").await;
    let (victim, _) = t.sign_in_with("ada@example.com", &planted).await;
    assert_eq!(victim.user.email, "ada@example.com");
    assert!(t.auth.get_session(&planted).await.unwrap().is_none());
}

async fn the_jwt_carries_no_personal_data(db: TestDb) {
    let t = TestAuth::new(db);
    let ada = t.user("ada.lovelace@example.com").await;
    tollbooth_db::UserRepo::set_user_role(&*t.db, ada.id, "admin")
        .await
        .unwrap();
    let (session, cookie) = t.sign_in("ada.lovelace@example.com").await;
    let jwt = jwt_of(&cookie);
    let [header, payload, _] = jwt.split('.').collect::<Vec<_>>()[..] else {
        panic!()
    };
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let mut keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["aud", "exp", "iat", "iss", "sid", "sub"]);
    assert_eq!(claims["sub"], session.user.id.to_string());
    assert_eq!(claims["sid"], session.id.to_string());
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    for personal in ["ada", "lovelace", "@", "admin"] {
        assert!(!decoded.contains(personal), "`{personal}` in {decoded}");
    }
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(
        header,
        serde_json::json!({ "alg": "HS256", "typ": "session+jwt", "kid": "k1" })
    );
}

async fn verification_tokens_are_hashed_single_use_and_expire(db: TestDb) {
    let t = TestAuth::new(db);
    let request = anon();
    t.auth
        .sign_up("ada@example.com", PASSWORD, None, &request)
        .await
        .unwrap();
    let token = t.last_token_sent_to("ada@example.com").await;
    assert_eq!(token.len(), 43, "256 bits, base64url");

    // Stored as sha-256, never as the token.
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    let row =
        t.db.find_usable_token(&hash, TokenPurpose::EmailVerification, t.clock.now())
            .await
            .unwrap()
            .expect("stored by hash");
    assert_ne!(row.token_hash, token.as_bytes());
    assert!(row.payload.is_none());

    // Purpose-bound: a verification token does not reset a password.
    assert!(matches!(
        t.auth
            .reset_password(&token, "a new strong passphrase", &anon())
            .await,
        Err(AuthError::InvalidToken)
    ));
    // Single use.
    assert!(
        t.auth
            .verify_email(&token)
            .await
            .unwrap()
            .email_verified_at
            .is_some()
    );
    assert!(matches!(
        t.auth.verify_email(&token).await,
        Err(AuthError::InvalidToken)
    ));

    // Expiry (24 h).
    t.auth
        .sign_up("bob@example.com", PASSWORD, None, &request)
        .await
        .unwrap();
    let token = t.last_token_sent_to("bob@example.com").await;
    t.clock
        .advance(TimeDelta::hours(24) + TimeDelta::seconds(1));
    let err = t.auth.verify_email(&token).await.unwrap_err();
    assert!(matches!(err, AuthError::InvalidToken));
    assert_eq!(err.status().as_u16(), 422);
}

async fn reset_tokens_are_single_use_expire_and_revoke_every_session(db: TestDb) {
    let t = TestAuth::new(db);
    let request = anon();
    t.user("ada@example.com").await;
    let (_, laptop) = t.sign_in("ada@example.com").await;
    let (_, phone) = t.sign_in("ada@example.com").await;

    t.auth
        .request_password_reset("ada@example.com", &request)
        .await
        .unwrap();
    let token = t.last_token_sent_to("ada@example.com").await;
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    assert!(
        t.db.find_usable_token(&hash, TokenPurpose::PasswordReset, t.clock.now())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        matches!(
            t.auth.verify_email(&token).await,
            Err(AuthError::InvalidToken)
        ),
        "purpose-bound"
    );

    t.auth
        .reset_password(&token, "a brand new passphrase", &anon())
        .await
        .unwrap();
    for cookie in [&laptop, &phone] {
        assert!(
            t.auth.get_session(cookie).await.unwrap().is_none(),
            "every session revoked"
        );
    }
    assert!(
        t.auth
            .db()
            .list_active_sessions(
                t.db.find_user_by_email("ada@example.com")
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
                t.clock.now()
            )
            .await
            .unwrap()
            .is_empty(),
        "and no session issued"
    );
    assert!(matches!(
        t.auth
            .reset_password(&token, "another new passphrase", &anon())
            .await,
        Err(AuthError::InvalidToken)
    ));

    // Expiry (1 h).
    t.auth
        .request_password_reset("ada@example.com", &request)
        .await
        .unwrap();
    let token = t.last_token_sent_to("ada@example.com").await;
    t.clock.advance(TimeDelta::minutes(61));
    assert!(matches!(
        t.auth
            .reset_password(&token, "a brand new passphrase 2", &anon())
            .await,
        Err(AuthError::InvalidToken)
    ));
}

async fn rate_limits_hold_across_two_instances(db: TestDb) {
    let t = TestAuth::with(db, |c| {
        let mut limits = RateLimits::default();
        limits.sign_in_per_account = Limit::new(3, TimeDelta::minutes(15));
        c.rate_limits(limits)
    });
    let other = t.second_instance().await;
    let instances = [&t.auth, &other, &t.auth];
    let request = anon();
    for auth in instances {
        let err = auth
            .sign_in("ghost@example.com", "wrong password", &request)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
    }
    // The fourth attempt, on either instance, is refused before any password check.
    for auth in [&other, &t.auth] {
        match auth
            .sign_in("GHOST@example.com", "wrong password", &request)
            .await
            .unwrap_err()
        {
            AuthError::RateLimited { retry_after } => {
                assert!(
                    retry_after.as_secs() > 0 && retry_after.as_secs() <= 15 * 60,
                    "{retry_after:?}"
                );
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }
    let err = t
        .auth
        .sign_in("ghost@example.com", "x", &request)
        .await
        .unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (429, "rate_limited"));
    // The window ends.
    t.clock.advance(TimeDelta::minutes(16));
    assert!(matches!(
        other
            .sign_in("ghost@example.com", "wrong password", &request)
            .await,
        Err(AuthError::InvalidCredentials)
    ));
}

tollbooth_db::engine_tests!(
    stored_hashes_are_bcrypt_cost_12_or_more,
    the_session_cookie_has_every_flag,
    sign_in_rotates_the_session_and_kills_the_presented_one,
    the_jwt_carries_no_personal_data,
    verification_tokens_are_hashed_single_use_and_expire,
    reset_tokens_are_single_use_expire_and_revoke_every_session,
    rate_limits_hold_across_two_instances,
);
