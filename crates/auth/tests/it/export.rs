//! "Download my data": everything stored about the user, and not one secret.

use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{
    AccountRepo, BillingRepo, CREDENTIAL_PROVIDER, NewAccount, PaymentUpsert, SecurityEventQuery,
    SecurityEventRepo,
};

use crate::common::*;
use crate::mfa::{challenge, enable, with_mfa};

async fn the_export_holds_the_account_and_no_secret(db: TestDb) {
    let t = with_mfa(db);
    let ada = t.user("ada@example.com").await;
    t.db.create_account(NewAccount::oauth(
        ada.id,
        "github",
        "gh-42",
        Some("ada@users.github.example".to_owned()),
    ))
    .await
    .unwrap();
    let mut payment = PaymentUpsert::new("pi_ada_1", 4_900, "eur", "succeeded");
    payment.user_id = Some(ada.id);
    t.db.upsert_payment(payment).await.unwrap();
    // Every kind of secret the account has: a password, a second factor and its backup
    // codes, a session (its JWT), and e-mailed single-use links still unused.
    let (totp_secret, backup_codes, _) = enable(&t, "ada@example.com").await;
    let report = t.last_token_sent_to("ada@example.com").await;
    let pending = challenge(&t, "ada@example.com").await;
    let signed_in = t
        .auth
        .mfa_verify(&pending.token, &backup_codes.0[0], &anon())
        .await
        .unwrap();
    let session = signed_in.session;
    let jwt = jwt_of(&cookie_headers(&signed_in.cookie));
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    let reset = t.last_token_sent_to("ada@example.com").await;
    t.auth
        .request_email_change(&session, "ada@new.example", &anon())
        .await
        .unwrap();
    let change = t.last_token_sent_to("ada@new.example").await;
    let password_hash =
        t.db.find_user_account(ada.id, CREDENTIAL_PROVIDER)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap();

    let export = t.auth.export_account(&session, &anon()).await.unwrap();
    let json = serde_json::to_string_pretty(&export).unwrap();

    // Everything stored about her…
    assert_eq!(export.user.email, "ada@example.com");
    let methods: Vec<_> = export
        .sign_in_methods
        .iter()
        .map(|m| (m.provider.as_str(), m.provider_account_id.as_deref()))
        .collect();
    assert_eq!(methods, [("credential", None), ("github", Some("gh-42"))]);
    assert_eq!(export.sessions.len(), 2, "{json}"); // the one that enabled MFA, the MFA sign-in
    assert!(
        export
            .sessions
            .iter()
            .all(|s| s.ip.as_deref() == Some("203.0.113.7"))
    );
    assert!(export.two_factor.enabled_at.is_some());
    assert_eq!(
        export.two_factor.backup_codes_left,
        u64::try_from(backup_codes.0.len() - 1).unwrap()
    );
    assert_eq!(export.payments.len(), 1);
    assert_eq!(
        (
            export.payments[0].amount,
            export.payments[0].currency.as_str()
        ),
        (4_900, "eur")
    );
    let kinds: Vec<_> = export
        .security_events
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    for kind in ["signed_in", "mfa_enabled", "email_change_requested"] {
        assert!(kinds.contains(&kind), "{kind}: {kinds:?}");
    }
    assert!(export.security_events.iter().all(|e| e.by_user));
    // …and not one secret, in any form the account holds it.
    let mut secrets = vec![
        ("the password", PASSWORD.to_owned()),
        ("the password hash", password_hash),
        ("the TOTP secret", totp_secret),
        ("the session JWT", jwt),
        ("the security report link", report),
        ("the reset link", reset),
        ("the e-mail change link", change),
    ];
    for code in &backup_codes.0 {
        secrets.push(("a backup code", code.clone()));
    }
    for (what, secret) in secrets {
        assert!(!secret.is_empty());
        assert!(!json.contains(&secret), "{what} is in the export:\n{json}");
    }
    // What is stored is hashes and ciphertexts, not the secrets above: no field of the
    // export is one.
    fn keys(value: &serde_json::Value, into: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    into.push(key.clone());
                    keys(value, into);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| keys(item, into)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    keys(&serde_json::to_value(&export).unwrap(), &mut names);
    for name in &names {
        for word in ["hash", "secret", "token", "cipher", "password", "code"] {
            assert!(
                !name.contains(word) || name == "backup_codes_left",
                "a field named {name} in the export"
            );
        }
    }
    // The export itself is on the trail.
    let mut exported = SecurityEventQuery::default();
    exported.subject_user_id = Some(ada.id);
    exported.kind = Some(tollbooth_db::SecurityEventKind::DataExported);
    assert_eq!(
        t.db.list_security_events(&exported, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn a_stale_session_cannot_export(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let (session, cookie) = t.sign_in("ada@example.com").await;
    t.clock.advance(minutes(11));
    assert!(matches!(
        t.auth.export_account(&session, &anon()).await,
        Err(AuthError::ReauthenticationRequired)
    ));
    t.auth
        .reauthenticate(&session, Some(PASSWORD), None)
        .await
        .unwrap();
    let session = t.auth.get_session(&cookie).await.unwrap().unwrap().session;
    let export = t.auth.export_account(&session, &anon()).await.unwrap();
    assert_eq!(export.user.email, "ada@example.com");
}

tollbooth_db::engine_tests!(
    the_export_holds_the_account_and_no_secret,
    a_stale_session_cannot_export,
);
