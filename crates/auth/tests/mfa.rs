//! TOTP MFA end to end: enrollment, the sign-in gate, replay, backup codes, lock-out.

mod common;

use base64::Engine;
use chrono::TimeDelta;
use common::*;
use tollbooth_auth::*;
use tollbooth_db::TwoFactorRepo;
use tollbooth_db::testing::TestDb;
use totp_rs::{Algorithm, Builder, Secret};

fn with_mfa(db: TestDb) -> TestAuth {
    TestAuth::with(db, |c| {
        c.mfa(MfaConfig::new(EncryptionKey::new("mfa-1", [3; 32]), "Acme"))
    })
}

/// The code an authenticator app shows for `secret` at `t`'s clock (plus `offset` seconds).
fn code(t: &TestAuth, secret: &str, offset: i64) -> String {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let time = u64::try_from(t.clock.now().timestamp() + offset).unwrap();
    totp.generate(time).to_string()
}

/// Enrolls and confirms MFA for a signed-in `email`; returns the secret and backup codes.
async fn enable(t: &TestAuth, email: &str) -> (String, BackupCodes, Session) {
    let (session, _) = t.sign_in(email).await;
    let enrollment = t.auth.mfa_enroll(&session).await.unwrap();
    let codes = t
        .auth
        .mfa_confirm(&session, &code(t, &enrollment.secret, 0))
        .await
        .unwrap();
    (enrollment.secret, codes, session)
}

/// A wrong code for `challenge`: refused as invalid (not locked, not rate-limited).
async fn wrong_code(t: &TestAuth, challenge: &MfaChallenge) {
    assert!(matches!(
        t.auth.mfa_verify(&challenge.token, "000000", &anon()).await,
        Err(AuthError::InvalidMfaCode)
    ));
}

async fn challenge(t: &TestAuth, email: &str) -> MfaChallenge {
    match t.auth.sign_in(email, PASSWORD, &anon()).await.unwrap() {
        SignInOutcome::MfaRequired(challenge) => challenge,
        SignInOutcome::SignedIn(_) => panic!("MFA did not gate the sign-in"),
    }
}

async fn enrollment_is_confirmed_by_a_code_and_revokes_other_sessions(db: TestDb) {
    let t = with_mfa(db);
    let ada = t.user("ada@example.com").await;
    let (_, other_device) = t.sign_in("ada@example.com").await;
    let (session, this_device) = t.sign_in("ada@example.com").await;

    let enrollment = t.auth.mfa_enroll(&session).await.unwrap();
    assert_eq!(
        Secret::try_from_base32(&enrollment.secret)
            .unwrap()
            .as_bytes()
            .to_vec()
            .len(),
        20,
        "160 bits"
    );
    assert!(
        enrollment
            .otpauth_uri
            .starts_with("otpauth://totp/Acme:ada%40example.com?"),
        "{}",
        enrollment.otpauth_uri
    );
    assert!(
        enrollment
            .otpauth_uri
            .contains(&format!("secret={}", enrollment.secret))
    );
    assert!(enrollment.otpauth_uri.contains("issuer=Acme"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(
            enrollment
                .qr_png_base64
                .trim_start_matches("data:image/png;base64,"),
        )
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG image");
    assert!(!format!("{enrollment:?}").contains(&enrollment.secret));

    // Stored sealed, not in clear; pending until confirmed.
    let row = t.db.find_two_factor(ada.id).await.unwrap().unwrap();
    assert_eq!((row.enabled_at, row.key_id.as_str()), (None, "mfa-1"));
    let raw = Secret::try_from_base32(&enrollment.secret)
        .unwrap()
        .as_bytes()
        .to_vec();
    assert!(
        !row.secret_ciphertext
            .windows(raw.len())
            .any(|w| w == raw.as_slice())
    );
    // A pending enrollment does not gate sign-in.
    t.sign_in("ada@example.com").await;

    assert!(matches!(
        t.auth.mfa_confirm(&session, "000000").await,
        Err(AuthError::InvalidMfaCode)
    ));
    let codes = t
        .auth
        .mfa_confirm(&session, &code(&t, &enrollment.secret, 0))
        .await
        .unwrap();
    assert_eq!(codes.0.len(), 10);
    assert!(!format!("{codes:?}").contains(&codes.0[0]));
    assert!(t.auth.get_session(&this_device).await.unwrap().is_some());
    assert!(
        t.auth.get_session(&other_device).await.unwrap().is_none(),
        "enabling MFA revokes other sessions"
    );
    assert_eq!(
        t.auth.mfa_status(&session).await.unwrap(),
        MfaStatus {
            enabled: true,
            backup_codes_left: 10
        }
    );
    assert!(matches!(
        t.auth.mfa_enroll(&session).await,
        Err(AuthError::MfaState { .. })
    ));
}

async fn sign_in_needs_a_fresh_code_once(db: TestDb) {
    let t = with_mfa(db);
    t.user("ada@example.com").await;
    let (secret, _, _) = enable(&t, "ada@example.com").await;
    t.clock.advance(TimeDelta::seconds(30)); // the enrollment used this step

    let first = challenge(&t, "ada@example.com").await;
    assert!(matches!(
        t.auth.mfa_verify(&first.token, "123456", &anon()).await,
        Err(AuthError::InvalidMfaCode)
    ));
    let now_code = code(&t, &secret, 0);
    let signed_in = t
        .auth
        .mfa_verify(&first.token, &now_code, &anon())
        .await
        .unwrap();
    assert!(
        t.auth
            .get_session(&cookie_headers(&signed_in.cookie))
            .await
            .unwrap()
            .is_some()
    );
    // The challenge is single-use…
    assert!(matches!(
        t.auth.mfa_verify(&first.token, &now_code, &anon()).await,
        Err(AuthError::InvalidMfaCode)
    ));
    // …and the same code (same time step) cannot be used again (RFC 6238 §5.2).
    let second = challenge(&t, "ada@example.com").await;
    assert!(matches!(
        t.auth.mfa_verify(&second.token, &now_code, &anon()).await,
        Err(AuthError::InvalidMfaCode)
    ));
    // ±1 step: the next step's code works now; two steps ahead does not.
    assert!(matches!(
        t.auth
            .mfa_verify(&second.token, &code(&t, &secret, 60), &anon())
            .await,
        Err(AuthError::InvalidMfaCode)
    ));
    t.auth
        .mfa_verify(&second.token, &code(&t, &secret, 30), &anon())
        .await
        .unwrap();
    // Earlier steps are refused once a later one was accepted.
    t.clock.advance(TimeDelta::seconds(30));
    let third = challenge(&t, "ada@example.com").await;
    assert!(matches!(
        t.auth
            .mfa_verify(&third.token, &code(&t, &secret, -30), &anon())
            .await,
        Err(AuthError::InvalidMfaCode)
    ));
    // Challenges expire (5 minutes).
    let late = challenge(&t, "ada@example.com").await;
    t.clock.advance(TimeDelta::minutes(6));
    assert!(matches!(
        t.auth
            .mfa_verify(&late.token, &code(&t, &secret, 0), &anon())
            .await,
        Err(AuthError::InvalidMfaCode)
    ));
}

async fn backup_codes_work_once(db: TestDb) {
    let t = with_mfa(db);
    t.user("ada@example.com").await;
    let (_, codes, session) = enable(&t, "ada@example.com").await;
    let backup = codes.0[3].to_lowercase().replace('-', " "); // typed sloppily
    let c = challenge(&t, "ada@example.com").await;
    t.auth.mfa_verify(&c.token, &backup, &anon()).await.unwrap();
    let c = challenge(&t, "ada@example.com").await;
    assert!(matches!(
        t.auth.mfa_verify(&c.token, &codes.0[3], &anon()).await,
        Err(AuthError::InvalidMfaCode)
    ));
    assert_eq!(
        t.auth.mfa_status(&session).await.unwrap().backup_codes_left,
        9
    );
    // A backup code cannot confirm an enrollment or stand in where a TOTP is required… but
    // it can authorize regeneration, which replaces every code.
    let fresh = t
        .auth
        .mfa_regenerate_backup_codes(&session, &codes.0[4])
        .await
        .unwrap();
    assert_eq!(
        t.auth.mfa_status(&session).await.unwrap().backup_codes_left,
        10
    );
    let c = challenge(&t, "ada@example.com").await;
    assert!(
        matches!(
            t.auth.mfa_verify(&c.token, &codes.0[5], &anon()).await,
            Err(AuthError::InvalidMfaCode)
        ),
        "old codes gone"
    );
    t.auth
        .mfa_verify(&c.token, &fresh.0[0], &anon())
        .await
        .unwrap();
}

async fn wrong_codes_lock_mfa_for_a_while(db: TestDb) {
    let t = with_mfa(db);
    t.user("ada@example.com").await;
    let (secret, _, _) = enable(&t, "ada@example.com").await;
    t.clock.advance(TimeDelta::seconds(30));
    let c = challenge(&t, "ada@example.com").await;
    for _ in 0..5 {
        wrong_code(&t, &c).await;
    }
    // Locked: even the right code waits.
    match t
        .auth
        .mfa_verify(&c.token, &code(&t, &secret, 0), &anon())
        .await
        .unwrap_err()
    {
        AuthError::RateLimited { retry_after } => {
            assert!(retry_after.as_secs() > 14 * 60, "{retry_after:?}")
        }
        other => panic!("{other:?}"),
    }
    // After the lock, a new count: one slip does not lock again.
    t.clock.advance(TimeDelta::minutes(16));
    let c = challenge(&t, "ada@example.com").await;
    wrong_code(&t, &c).await;
    t.auth
        .mfa_verify(&c.token, &code(&t, &secret, 0), &anon())
        .await
        .unwrap();
}

async fn a_backup_code_ends_a_failure_streak(db: TestDb) {
    let t = with_mfa(db);
    t.user("ada@example.com").await;
    let (secret, codes, _) = enable(&t, "ada@example.com").await;
    t.clock.advance(TimeDelta::seconds(30));
    let c = challenge(&t, "ada@example.com").await;
    for _ in 0..4 {
        wrong_code(&t, &c).await;
    }
    t.auth
        .mfa_verify(&c.token, &codes.0[0], &anon())
        .await
        .unwrap();
    // Four failures before the backup code and one after are not five in a row.
    let c = challenge(&t, "ada@example.com").await;
    wrong_code(&t, &c).await;
    t.auth
        .mfa_verify(&c.token, &code(&t, &secret, 0), &anon())
        .await
        .unwrap();
}

async fn disabling_needs_a_code_and_reset_never_bypasses_mfa(db: TestDb) {
    let t = with_mfa(db);
    t.user("ada@example.com").await;
    let (secret, _, session) = enable(&t, "ada@example.com").await;

    // A password reset revokes sessions but issues none: the next sign-in still asks for MFA.
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    let token = t.last_token_sent_to("ada@example.com").await;
    t.auth
        .reset_password(&token, "a brand new passphrase")
        .await
        .unwrap();
    let outcome = t
        .auth
        .sign_in("ada@example.com", "a brand new passphrase", &anon())
        .await
        .unwrap();
    assert!(matches!(outcome, SignInOutcome::MfaRequired(_)));

    t.clock.advance(TimeDelta::seconds(30));
    assert!(matches!(
        t.auth.mfa_disable(&session, "000000").await,
        Err(AuthError::InvalidMfaCode)
    ));
    t.auth
        .mfa_disable(&session, &code(&t, &secret, 0))
        .await
        .unwrap();
    assert!(matches!(
        t.auth
            .sign_in("ada@example.com", "a brand new passphrase", &anon())
            .await
            .unwrap(),
        SignInOutcome::SignedIn(_)
    ));
    assert!(matches!(
        t.auth.mfa_disable(&session, "000000").await,
        Err(AuthError::MfaState { .. })
    ));
}

async fn disabling_mfa_keeps_this_session_and_ends_the_others(db: TestDb) {
    let t = with_mfa(db);
    t.user("ada@example.com").await;
    let (secret, _, _) = enable(&t, "ada@example.com").await;
    // Two devices, each signed in with a code.
    let mut devices = Vec::new();
    for _ in 0..2 {
        t.clock.advance(TimeDelta::seconds(30));
        let c = challenge(&t, "ada@example.com").await;
        let signed_in = t
            .auth
            .mfa_verify(&c.token, &code(&t, &secret, 0), &anon())
            .await
            .unwrap();
        devices.push((signed_in.session, cookie_headers(&signed_in.cookie)));
    }
    t.clock.advance(TimeDelta::seconds(30));
    let ((this, this_cookie), (_, other_cookie)) = (&devices[0], &devices[1]);
    t.auth
        .mfa_disable(this, &code(&t, &secret, 0))
        .await
        .unwrap();
    assert!(
        t.auth.get_session(this_cookie).await.unwrap().is_some(),
        "the device that turned MFA off stays signed in"
    );
    assert!(
        t.auth.get_session(other_cookie).await.unwrap().is_none(),
        "every other session ends"
    );
}

async fn without_configuration_mfa_is_refused_clearly(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let (session, _) = t.sign_in("ada@example.com").await;
    let err = t.auth.mfa_enroll(&session).await.unwrap_err();
    assert_eq!(err.to_string(), "MFA is not configured");
    assert_eq!(err.status(), 409);
}

tollbooth_db::engine_tests!(
    enrollment_is_confirmed_by_a_code_and_revokes_other_sessions,
    sign_in_needs_a_fresh_code_once,
    backup_codes_work_once,
    wrong_codes_lock_mfa_for_a_while,
    a_backup_code_ends_a_failure_streak,
    disabling_mfa_keeps_this_session_and_ends_the_others,
    disabling_needs_a_code_and_reset_never_bypasses_mfa,
    without_configuration_mfa_is_refused_clearly,
);
