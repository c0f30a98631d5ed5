//! TOTP MFA end to end: enrollment, the sign-in gate, replay, backup codes, lock-out.

use crate::common::*;
use base64::Engine;
use chrono::TimeDelta;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{TwoFactorRepo, UserRepo};
use totp_rs::{Algorithm, Builder, Secret};

pub(crate) fn with_mfa(db: TestDb) -> TestAuth {
    TestAuth::with(db, mfa)
}

/// `config` with TOTP MFA on.
pub(crate) fn mfa(config: AuthConfigBuilder) -> AuthConfigBuilder {
    config.mfa(MfaConfig::new(EncryptionKey::new("mfa-1", [3; 32]), "Acme"))
}

/// The code an authenticator app shows for `secret` at `t`'s clock (plus `offset` seconds).
pub(crate) fn code(t: &TestAuth, secret: &str, offset: i64) -> String {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let time = u64::try_from(t.clock.now().timestamp() + offset).unwrap();
    totp.generate(time).to_string()
}

/// Enrolls and confirms MFA for a signed-in `email`; returns the secret and backup codes.
pub(crate) async fn enable(t: &TestAuth, email: &str) -> (String, BackupCodes, Session) {
    let (session, _) = t.sign_in(email).await;
    let enrollment = t.auth.mfa_enroll(&session).await.unwrap();
    let codes = t
        .auth
        .mfa_confirm(&session, &code(t, &enrollment.secret, 0), &anon())
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

pub(crate) async fn challenge(t: &TestAuth, email: &str) -> MfaChallenge {
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
        t.auth.mfa_confirm(&session, "000000", &anon()).await,
        Err(AuthError::InvalidMfaCode)
    ));
    let codes = t
        .auth
        .mfa_confirm(&session, &code(&t, &enrollment.secret, 0), &anon())
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
        .mfa_regenerate_backup_codes(&session, &codes.0[4], &anon())
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
        .reset_password(&token, "a brand new passphrase", &anon())
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
        t.auth.mfa_disable(&session, "000000", &anon()).await,
        Err(AuthError::InvalidMfaCode)
    ));
    t.auth
        .mfa_disable(&session, &code(&t, &secret, 0), &anon())
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
        t.auth.mfa_disable(&session, "000000", &anon()).await,
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
        .mfa_disable(this, &code(&t, &secret, 0), &anon())
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
    assert_eq!(err.status().as_u16(), 409);
}

async fn a_stolen_session_cannot_enrol_mfa_and_the_owner_undoes_it(db: TestDb) {
    let t = with_mfa(db);
    t.user("ada@example.com").await;
    let (stolen, cookie) = t.sign_in("ada@example.com").await;
    t.clock.advance(minutes(11));

    // With the session alone: refused, with a code a UI can act on.
    let err = t.auth.mfa_enroll(&stolen).await.unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (403, "reauthentication_required")
    );
    assert!(matches!(
        t.auth
            .reauthenticate(&stolen, Some("not the password"), None)
            .await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        t.auth.reauthenticate(&stolen, None, None).await,
        Err(AuthError::InvalidInput {
            field: "password",
            ..
        })
    ));
    assert!(
        t.outbox.sent().is_empty(),
        "nothing changed, nothing to tell"
    );

    // Re-authenticated (say the password leaked too): the change goes through…
    t.auth
        .reauthenticate(&stolen, Some(PASSWORD), None)
        .await
        .unwrap();
    let fresh = t.auth.require_auth(&cookie).await.unwrap().session;
    assert_eq!(fresh.authenticated_at, t.clock.now());
    let enrollment = t.auth.mfa_enroll(&fresh).await.unwrap();
    let code = code(&t, &enrollment.secret, 0);
    t.auth.mfa_confirm(&fresh, &code, &anon()).await.unwrap();

    // …and the owner is told: what, when, from where, and a way to undo it.
    t.auth.flush_background_tasks().await;
    let notice = t.outbox.sent_to("ada@example.com").pop().unwrap();
    assert_eq!(
        notice.subject(),
        "Two-factor authentication was turned on for your Acme account"
    );
    assert!(
        notice.text().contains("from the address 203.0.113.7"),
        "{}",
        notice.text()
    );
    assert!(
        notice
            .text()
            .contains("https://app.acme.example/security-report?token="),
        "{}",
        notice.text()
    );
    let report = token_in(notice.text());

    // "This wasn't me": every session ends at once, and the recovery reset removes the
    // second factor added in the last 24 hours.
    let reset = t
        .auth
        .report_unauthorized_change(&report, &anon())
        .await
        .unwrap();
    assert!(matches!(
        t.auth.require_auth(&cookie).await,
        Err(AuthError::Unauthorized)
    ));
    assert!(matches!(
        t.auth.report_unauthorized_change(&report, &anon()).await,
        Err(AuthError::InvalidToken)
    ));
    t.auth
        .reset_password(&reset, "a brand new passphrase", &anon())
        .await
        .unwrap();
    let outcome = t
        .auth
        .sign_in("ada@example.com", "a brand new passphrase", &anon())
        .await
        .unwrap();
    assert!(
        matches!(outcome, SignInOutcome::SignedIn(_)),
        "the attacker's second factor is gone"
    );
}

async fn a_recovery_reset_keeps_a_second_factor_older_than_its_window(db: TestDb) {
    let t = with_mfa(db);
    let ada = t.user("ada@example.com").await;
    let (_, _, session) = enable(&t, "ada@example.com").await;
    // Enabled long before anything was reported.
    {
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        use tollbooth_db::entities::two_factor::{Column, Entity};
        Entity::update_many()
            .col_expr(
                Column::EnabledAt,
                Expr::value(tollbooth_db::now() - TimeDelta::days(3)),
            )
            .filter(Column::UserId.eq(ada.id))
            .exec(t.db.connection())
            .await
            .unwrap();
    }
    t.auth.flush_background_tasks().await;
    let report = token_in(t.outbox.sent_to("ada@example.com").pop().unwrap().text());
    let _ = session;
    let reset = t
        .auth
        .report_unauthorized_change(&report, &anon())
        .await
        .unwrap();
    t.auth
        .reset_password(&reset, "a brand new passphrase", &anon())
        .await
        .unwrap();
    assert!(matches!(
        t.auth
            .sign_in("ada@example.com", "a brand new passphrase", &anon())
            .await
            .unwrap(),
        SignInOutcome::MfaRequired(_)
    ));
}

async fn with_mfa_on_reauthentication_needs_a_code_too(db: TestDb) {
    let t = with_mfa(db);
    t.user("ada@example.com").await;
    let (secret, _, session) = enable(&t, "ada@example.com").await;
    t.clock.advance(minutes(11));
    assert!(matches!(
        t.auth.reauthenticate(&session, Some(PASSWORD), None).await,
        Err(AuthError::InvalidInput { field: "code", .. })
    ));
    assert!(matches!(
        t.auth
            .reauthenticate(&session, Some(PASSWORD), Some("000000"))
            .await,
        Err(AuthError::InvalidMfaCode)
    ));
    t.auth
        .reauthenticate(&session, Some(PASSWORD), Some(&code(&t, &secret, 0)))
        .await
        .unwrap();

    // Without a password (OAuth only) and without MFA, the way back is the provider.
    let oauth_only = t
        .db
        .create_user(tollbooth_db::NewUser::new("bob@example.com").verified_at(tollbooth_db::now()))
        .await
        .unwrap();
    let bob = Session {
        user: oauth_only,
        ..session.clone()
    };
    for password in [Some(PASSWORD), None] {
        let err = t
            .auth
            .reauthenticate(&bob, password, None)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("sign in again with your provider"),
            "{err}"
        );
    }
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
    a_stolen_session_cannot_enrol_mfa_and_the_owner_undoes_it,
    a_recovery_reset_keeps_a_second_factor_older_than_its_window,
    with_mfa_on_reauthentication_needs_a_code_too,
);
