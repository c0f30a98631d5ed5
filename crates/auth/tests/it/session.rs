//! `get_session` returns `None` for every unauthenticated request, and the session otherwise.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;

/// A live session, and claims for crafting tokens about it.
async fn live(t: &TestAuth) -> (Session, Vec<(String, String)>, Value) {
    t.user("ada@example.com").await;
    let (session, cookie) = t.sign_in("ada@example.com").await;
    let now = t.clock.now().timestamp();
    let claims = json!({
        "sub": session.user.id, "sid": session.id, "iat": now, "exp": now + 900,
        "iss": "https://app.acme.example", "aud": "https://app.acme.example",
    });
    (session, cookie, claims)
}

fn signed(alg: Algorithm, typ: &str, kid: &str, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.typ = Some(typ.to_owned());
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn as_cookie(token: &str) -> Vec<(String, String)> {
    vec![(
        "cookie".to_owned(),
        format!("__Host-tollbooth.session={token}"),
    )]
}

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

async fn none(t: &TestAuth, headers: &[(String, String)], case: &str) {
    let headers = headers.to_vec();
    assert!(
        t.auth.get_session(&headers).await.unwrap().is_none(),
        "{case}: expected no session"
    );
}

async fn a_valid_cookie_or_bearer_token_is_a_session(db: TestDb) {
    let t = TestAuth::new(db);
    let (session, cookie, claims) = live(&t).await;
    let found = t.auth.get_session(&cookie).await.unwrap().expect("session");
    assert!(found.refreshed_cookie.is_none(), "fresh token: no refresh");
    let found = found.session;
    assert_eq!((found.id, found.user.id), (session.id, session.user.id));
    assert_eq!(found.token, jwt_of(&cookie));
    // API clients: the same token as a bearer token.
    let found = t
        .auth
        .get_session(&bearer(&jwt_of(&cookie)))
        .await
        .unwrap()
        .expect("bearer");
    assert_eq!(found.session.id, session.id);
    // A token crafted exactly like ours (control for the negative cases below) is accepted.
    let crafted = signed(Algorithm::HS256, "session+jwt", "k1", SECRET, &claims);
    assert!(
        t.auth
            .get_session(&as_cookie(&crafted))
            .await
            .unwrap()
            .is_some()
    );
}

async fn unauthenticated_requests_have_no_session(db: TestDb) {
    let t = TestAuth::new(db);
    let (_, _, claims) = live(&t).await;
    let valid = signed(Algorithm::HS256, "session+jwt", "k1", SECRET, &claims);
    let [header, payload, signature] = valid.split('.').collect::<Vec<_>>()[..] else {
        panic!()
    };

    none(&t, &no_headers(), "no cookie").await;
    none(&t, &as_cookie("garbage"), "garbage cookie").await;
    none(&t, &as_cookie(""), "empty cookie").await;
    none(&t, &as_cookie(&"a".repeat(10_000)), "oversized cookie").await;
    none(
        &t,
        &as_cookie(&format!("{header}.{payload}.{}", &signature[1..])),
        "wrong signature",
    )
    .await;
    let other_key = b"ffffffffffffffffffffffffffffffff";
    none(
        &t,
        &as_cookie(&signed(
            Algorithm::HS256,
            "session+jwt",
            "k1",
            other_key,
            &claims,
        )),
        "other key",
    )
    .await;
    // Payload swapped under a valid signature.
    let mut tampered = claims.clone();
    tampered["sid"] = json!(uuid::Uuid::now_v7());
    let tampered_payload = URL_SAFE_NO_PAD.encode(tampered.to_string());
    none(
        &t,
        &as_cookie(&format!("{header}.{tampered_payload}.{signature}")),
        "tampered payload",
    )
    .await;

    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("https://other.example");
    none(
        &t,
        &as_cookie(&signed(
            Algorithm::HS256,
            "session+jwt",
            "k1",
            SECRET,
            &wrong_aud,
        )),
        "wrong aud",
    )
    .await;
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    none(
        &t,
        &as_cookie(&signed(
            Algorithm::HS256,
            "session+jwt",
            "k1",
            SECRET,
            &wrong_iss,
        )),
        "wrong iss",
    )
    .await;
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    none(
        &t,
        &as_cookie(&signed(
            Algorithm::HS256,
            "session+jwt",
            "k1",
            SECRET,
            &no_exp,
        )),
        "missing exp",
    )
    .await;

    // alg: none — no signature at all.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"session+jwt","kid":"k1"}"#);
    none(
        &t,
        &as_cookie(&format!("{none_header}.{payload}.")),
        "alg none",
    )
    .await;
    // Algorithm confusion: HS512 with the right secret, and an "RS256" header over an HMAC.
    none(
        &t,
        &as_cookie(&signed(
            Algorithm::HS512,
            "session+jwt",
            "k1",
            SECRET,
            &claims,
        )),
        "HS512",
    )
    .await;
    let rs_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"session+jwt","kid":"k1"}"#);
    none(
        &t,
        &as_cookie(&format!("{rs_header}.{payload}.{signature}")),
        "RS256 header",
    )
    .await;
    // Unknown kid, missing kid, wrong token type.
    none(
        &t,
        &as_cookie(&signed(
            Algorithm::HS256,
            "session+jwt",
            "k9",
            SECRET,
            &claims,
        )),
        "unknown kid",
    )
    .await;
    none(
        &t,
        &as_cookie(&signed(Algorithm::HS256, "JWT", "k1", SECRET, &claims)),
        "typ JWT",
    )
    .await;
    // A session id that does not exist, properly signed.
    let mut ghost = claims.clone();
    ghost["sid"] = json!(uuid::Uuid::now_v7());
    none(
        &t,
        &as_cookie(&signed(
            Algorithm::HS256,
            "session+jwt",
            "k1",
            SECRET,
            &ghost,
        )),
        "unknown sid",
    )
    .await;
    // Someone else's session id under my user id.
    let bob = t.user("bob@example.com").await;
    let mut mixed = claims.clone();
    mixed["sub"] = json!(bob.id);
    none(
        &t,
        &as_cookie(&signed(
            Algorithm::HS256,
            "session+jwt",
            "k1",
            SECRET,
            &mixed,
        )),
        "sub/sid mismatch",
    )
    .await;
}

async fn revoked_and_expired_sessions_are_gone(db: TestDb) {
    let t = TestAuth::with(db, |c| {
        c.idle_timeout(TimeDelta::hours(1))
            .absolute_lifetime(TimeDelta::hours(3))
    });
    t.user("ada@example.com").await;

    // Revoked.
    let (session, cookie) = t.sign_in("ada@example.com").await;
    assert!(
        t.auth
            .revoke_session(&session, session.id, &anon())
            .await
            .unwrap()
    );
    none(&t, &cookie, "revoked").await;

    // Idle: unused for longer than the idle timeout.
    let (_, cookie) = t.sign_in("ada@example.com").await;
    t.clock.advance(TimeDelta::minutes(61));
    none(&t, &cookie, "idle-expired").await;

    // Absolute: however active, the session ends.
    let (_, mut cookie) = t.sign_in("ada@example.com").await;
    for _ in 0..7 {
        t.clock.advance(TimeDelta::minutes(25));
        let found = t
            .auth
            .get_session(&cookie)
            .await
            .unwrap()
            .expect("active use keeps it");
        if let Some(refreshed) = found.refreshed_cookie {
            cookie = cookie_headers(&refreshed);
        }
    }
    t.clock.advance(TimeDelta::minutes(10)); // 3 h 5 min after sign-in
    none(&t, &cookie, "absolute-expired").await;
}

async fn the_jwt_is_refreshed_while_the_row_lives(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let (session, cookie) = t.sign_in("ada@example.com").await;

    // Past half of the 15-minute JWT life: a new token, same session, cookie to send.
    t.clock.advance(TimeDelta::minutes(8));
    let found = t.auth.get_session(&cookie).await.unwrap().unwrap();
    assert_eq!(found.session.id, session.id);
    let set_cookie = found.refreshed_cookie.clone().expect("refreshed cookie");
    assert!(set_cookie.as_str().contains("HttpOnly"));
    assert_ne!(found.session.token, jwt_of(&cookie));

    // A JWT past its own `exp` still works while the row is live (and is refreshed)…
    t.clock.advance(TimeDelta::minutes(20));
    assert!(
        t.auth.verify_session_token(&jwt_of(&cookie)).is_err(),
        "stateless: expired"
    );
    let again = t
        .auth
        .get_session(&cookie)
        .await
        .unwrap()
        .expect("row live");
    assert!(again.refreshed_cookie.is_some());
    // …but not after the row is revoked.
    t.auth.sign_out(&cookie).await.unwrap();
    none(
        &t,
        &cookie_headers(&set_cookie),
        "refreshed cookie after sign-out",
    )
    .await;
}

async fn the_stateless_check_needs_no_database(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let (session, cookie) = t.sign_in("ada@example.com").await;
    let claims = t.auth.verify_session_token(&jwt_of(&cookie)).unwrap();
    assert_eq!((claims.sid, claims.sub), (session.id, session.user.id));
    // It cannot see revocation (documented): valid until the JWT expires.
    t.auth.sign_out(&cookie).await.unwrap();
    assert!(t.auth.verify_session_token(&jwt_of(&cookie)).is_ok());
    t.clock.advance(TimeDelta::minutes(16));
    assert!(matches!(
        t.auth.verify_session_token(&jwt_of(&cookie)),
        Err(AuthError::Unauthorized)
    ));
    assert!(t.auth.verify_session_token("garbage").is_err());
}

async fn rotated_keys_keep_sessions_alive(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let (session, old_cookie) = t.sign_in("ada@example.com").await;
    // New key k2 signs; k1 is still accepted for verification.
    let rotated = tollbooth_auth::AuthConfig::builder("https://app.acme.example")
        .signing_key(SigningKey::new("k2", [42u8; 32]).unwrap())
        .previous_key(key())
        .clock(std::sync::Arc::new(t.clock.clone()))
        .build()
        .unwrap();
    let auth = Auth::new((*t.db).clone(), mailer(&t.outbox), rotated);
    assert_eq!(
        auth.get_session(&old_cookie)
            .await
            .unwrap()
            .unwrap()
            .session
            .id,
        session.id
    );
    t.clock.advance(TimeDelta::minutes(8));
    let refreshed = auth
        .get_session(&old_cookie)
        .await
        .unwrap()
        .unwrap()
        .session;
    let header = jsonwebtoken::decode_header(&refreshed.token).unwrap();
    assert_eq!(
        header.kid.as_deref(),
        Some("k2"),
        "refreshed under the new key"
    );
    // Once k1 is retired, its tokens stop working.
    let retired = tollbooth_auth::AuthConfig::builder("https://app.acme.example")
        .signing_key(SigningKey::new("k2", [42u8; 32]).unwrap())
        .clock(std::sync::Arc::new(t.clock.clone()))
        .build()
        .unwrap();
    let auth = Auth::new((*t.db).clone(), mailer(&t.outbox), retired);
    assert!(auth.get_session(&old_cookie).await.unwrap().is_none());
}

tollbooth_db::engine_tests!(
    a_valid_cookie_or_bearer_token_is_a_session,
    unauthenticated_requests_have_no_session,
    revoked_and_expired_sessions_are_gone,
    the_jwt_is_refreshed_while_the_row_lives,
    the_stateless_check_needs_no_database,
    rotated_keys_keep_sessions_alive,
);
