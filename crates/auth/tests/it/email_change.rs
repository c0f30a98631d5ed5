//! Changing the address (applied by the new address's link, told to the old one, undone by
//! its report) and a first password for a provider-only account.

use chrono::TimeDelta;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{AccountRepo, CREDENTIAL_PROVIDER, NewAccount, NewUser, UserRepo};

use crate::common::*;

/// The audit trail about `user`, oldest first, as (kind, detail).
async fn changes(t: &TestAuth, user: uuid::Uuid) -> Vec<(String, Option<serde_json::Value>)> {
    let events = trail(t, user).await.into_iter();
    events
        .filter(|e| e.kind != "signed_in")
        .map(|e| (e.kind, e.detail))
        .collect()
}

async fn an_address_changes_only_when_the_new_owner_opens_the_link(db: TestDb) {
    let t = TestAuth::new(db);
    let ada = t.user("ada@example.com").await;
    let (asking, asking_cookie) = t.sign_in("ada@example.com").await;
    let (_, other_cookie) = t.sign_in("ada@example.com").await;
    t.db.create_account(NewAccount::oauth(ada.id, "github", "gh-42", None))
        .await
        .unwrap();

    t.auth
        .request_email_change(&asking, "Ada@New.Example", &anon())
        .await
        .unwrap();
    let token = t.last_token_sent_to("ada@new.example").await;
    let link = &t.outbox.sent_to("ada@new.example")[0];
    assert_eq!(link.subject(), "Confirm your new Acme address");
    assert!(
        link.text()
            .contains("https://app.acme.example/confirm-email-change?token="),
        "{}",
        link.text()
    );
    // Nothing changed yet: the old address still signs in, the new one does not.
    let unchanged = t.db.find_user(ada.id).await.unwrap().unwrap();
    assert_eq!(unchanged.email, "ada@example.com");
    assert!(
        t.auth
            .sign_in("ada@new.example", PASSWORD, &anon())
            .await
            .is_err()
    );

    let changed = t.auth.confirm_email_change(&token, &anon()).await.unwrap();
    assert_eq!(changed.email, "ada@new.example");
    assert_eq!(changed.email_verified_at, Some(t.clock.now()));
    // The session that asked stays; every other one ended in the change's transaction.
    assert!(t.auth.get_session(&asking_cookie).await.unwrap().is_some());
    assert!(t.auth.get_session(&other_cookie).await.unwrap().is_none());
    // The password goes with the account; the old address is nobody's now.
    t.sign_in("ada@new.example").await;
    assert!(matches!(
        t.auth.sign_in("ada@example.com", PASSWORD, &anon()).await,
        Err(AuthError::InvalidCredentials)
    ));
    // The provider identity is keyed on the provider's id, not the address.
    let accounts = t.db.list_accounts(ada.id).await.unwrap();
    assert!(accounts.iter().any(|a| a.provider == "github"));
    // The old address is told, with the time, the IP and a way back.
    t.auth.flush_background_tasks().await;
    let notice = t.outbox.sent_to("ada@example.com").pop().unwrap();
    assert_eq!(notice.subject(), "The address of your Acme account changed");
    assert!(notice.text().contains("changed to ada@new.example on "));
    assert!(notice.text().contains("from the address 203.0.113.7"));
    assert!(
        notice
            .text()
            .contains("https://app.acme.example/security-report?token=")
    );
    // The link is spent.
    assert!(matches!(
        t.auth.confirm_email_change(&token, &anon()).await,
        Err(AuthError::InvalidToken)
    ));
    let kinds: Vec<_> = changes(&t, ada.id).await;
    assert_eq!(
        kinds,
        [
            (
                "email_change_requested".to_owned(),
                Some(serde_json::json!({ "to": "ada@new.example" }))
            ),
            (
                "email_changed".to_owned(),
                Some(serde_json::json!({ "from": "ada@example.com", "to": "ada@new.example" }))
            ),
        ]
    );
}

async fn a_change_needs_a_fresh_session_a_free_address_and_the_newest_link(db: TestDb) {
    let t = TestAuth::new(db);
    let ada = t.user("ada@example.com").await;
    t.user("bob@example.com").await;
    let (session, _) = t.sign_in("ada@example.com").await;

    for (address, expected) in [
        ("bob@example.com", "email_taken"),
        ("BOB@example.com", "email_taken"),
        ("ada@example.com", "invalid_input"),
        ("not an address", "invalid_input"),
    ] {
        let err = t
            .auth
            .request_email_change(&session, address, &anon())
            .await
            .unwrap_err();
        assert_eq!(err.code(), expected, "{address}: {err:?}");
    }

    // A newer request kills the older link.
    t.auth
        .request_email_change(&session, "first@example.net", &anon())
        .await
        .unwrap();
    let first = t.last_token_sent_to("first@example.net").await;
    t.auth
        .request_email_change(&session, "second@example.net", &anon())
        .await
        .unwrap();
    let second = t.last_token_sent_to("second@example.net").await;
    assert!(matches!(
        t.auth.confirm_email_change(&first, &anon()).await,
        Err(AuthError::InvalidToken)
    ));
    // An address taken between the request and the link: refused, and the link not used.
    let squatter =
        t.db.create_user(NewUser::new("second@example.net"))
            .await
            .unwrap();
    assert!(matches!(
        t.auth.confirm_email_change(&second, &anon()).await,
        Err(AuthError::EmailTaken)
    ));
    t.db.delete_user(squatter.id).await.unwrap();
    let changed = t.auth.confirm_email_change(&second, &anon()).await.unwrap();
    assert_eq!(changed.email, "second@example.net");

    // A link for an address the account no longer has is refused.
    let (session, _) = t.sign_in("second@example.net").await;
    t.auth
        .request_email_change(&session, "third@example.net", &anon())
        .await
        .unwrap();
    let third = t.last_token_sent_to("third@example.net").await;
    t.db.set_user_email(ada.id, "elsewhere@example.net", t.clock.now())
        .await
        .unwrap();
    assert!(matches!(
        t.auth.confirm_email_change(&third, &anon()).await,
        Err(AuthError::InvalidToken)
    ));

    // A stolen, stale session cannot ask.
    t.clock.advance(TimeDelta::minutes(11));
    assert!(matches!(
        t.auth
            .request_email_change(&session, "thief@example.net", &anon())
            .await,
        Err(AuthError::ReauthenticationRequired)
    ));
    t.auth.flush_background_tasks().await;
    assert!(t.outbox.sent_to("thief@example.net").is_empty());
}

async fn the_old_address_takes_the_account_back(db: TestDb) {
    let t = TestAuth::new(db);
    let ada = t.user("ada@example.com").await;
    let (thief, thief_cookie) = t.sign_in("ada@example.com").await;
    t.auth
        .request_email_change(&thief, "thief@example.net", &anon())
        .await
        .unwrap();
    let token = t.last_token_sent_to("thief@example.net").await;
    t.auth.confirm_email_change(&token, &anon()).await.unwrap();
    let report = t.last_token_sent_to("ada@example.com").await;
    // The thief digs in before the owner reads her mail: a reset link to their address, a
    // second change under way, and an account of their own on her old address.
    t.auth
        .request_password_reset("thief@example.net", &anon())
        .await
        .unwrap();
    let thiefs_reset = t.last_token_sent_to("thief@example.net").await;
    t.auth
        .request_email_change(&thief, "thief2@example.net", &anon())
        .await
        .unwrap();
    let thiefs_change = t.last_token_sent_to("thief2@example.net").await;
    let squatter =
        t.db.create_user(tollbooth_db::NewUser::new("ada@example.com"))
            .await
            .unwrap();

    let reset = t
        .auth
        .report_unauthorized_change(&report, &anon())
        .await
        .unwrap();
    let back = t.db.find_user(ada.id).await.unwrap().unwrap();
    assert_eq!(back.email, "ada@example.com", "the old address is back");
    assert!(
        t.db.find_user(squatter.id).await.unwrap().is_none(),
        "the unverified account on it is gone"
    );
    assert!(
        t.auth.get_session(&thief_cookie).await.unwrap().is_none(),
        "the thief's session ended"
    );
    // Neither of the thief's links works any more.
    assert!(matches!(
        t.auth
            .reset_password(&thiefs_reset, "the thief's passphrase", &anon())
            .await,
        Err(AuthError::InvalidToken)
    ));
    assert!(matches!(
        t.auth.confirm_email_change(&thiefs_change, &anon()).await,
        Err(AuthError::InvalidToken)
    ));
    t.auth
        .reset_password(&reset, "the owner's new passphrase", &anon())
        .await
        .unwrap();
    t.auth
        .sign_in("ada@example.com", "the owner's new passphrase", &anon())
        .await
        .unwrap();
    let kinds: Vec<_> = changes(&t, ada.id)
        .await
        .into_iter()
        .map(|(kind, detail)| (kind, detail.and_then(|d| d.get("restored").cloned())))
        .collect();
    assert_eq!(
        kinds,
        [
            ("email_change_requested".to_owned(), None),
            ("email_changed".to_owned(), None),
            ("email_change_requested".to_owned(), None),
            ("email_changed".to_owned(), Some(serde_json::json!(true))),
            ("password_reset".to_owned(), None),
        ]
    );
}

/// A pending change dies with the session that asked: the owner who signs out everywhere
/// (or reports a notice, or resets the password) ends a thief's change under way.
async fn a_change_needs_its_asking_session_alive(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    let (owner, _) = t.sign_in("ada@example.com").await;
    let (thief, _) = t.sign_in("ada@example.com").await;
    t.auth
        .request_email_change(&thief, "thief@example.net", &anon())
        .await
        .unwrap();
    let change = t.last_token_sent_to("thief@example.net").await;
    t.auth.sign_out_everywhere(&owner, &anon()).await.unwrap();
    assert!(matches!(
        t.auth.confirm_email_change(&change, &anon()).await,
        Err(AuthError::InvalidToken)
    ));
    let ada = t.db.find_user_by_email("ada@example.com").await.unwrap();
    assert!(ada.is_some(), "the address did not move");
}

async fn a_provider_only_user_adds_a_password_by_email(db: TestDb) {
    let t = TestAuth::new(db);
    let ada = t.user("ada@example.com").await;
    let (session, _) = t.sign_in("ada@example.com").await;
    // A user who has signed in with a password cannot ask for a first one.
    assert_eq!(
        t.auth
            .request_password_setup(&session, &anon())
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    // Now only GitHub signs them in.
    t.db.create_account(NewAccount::oauth(ada.id, "github", "gh-42", None))
        .await
        .unwrap();
    t.db.delete_account(ada.id, CREDENTIAL_PROVIDER)
        .await
        .unwrap();
    assert!(
        t.auth
            .sign_in("ada@example.com", PASSWORD, &anon())
            .await
            .is_err()
    );

    t.auth
        .request_password_setup(&session, &anon())
        .await
        .unwrap();
    let token = t.last_token_sent_to("ada@example.com").await;
    let mail = t.outbox.sent_to("ada@example.com").pop().unwrap();
    assert_eq!(mail.subject(), "Choose a password for Acme");
    // "Forgot password" from a provider-only account sends the same words.
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    let newer = t.last_token_sent_to("ada@example.com").await;
    assert_eq!(
        t.outbox.sent_to("ada@example.com").pop().unwrap().subject(),
        "Choose a password for Acme"
    );
    assert!(matches!(
        t.auth
            .reset_password(&token, "a password of my own", &anon())
            .await,
        Err(AuthError::InvalidToken)
    ));
    t.auth
        .reset_password(&newer, "a password of my own", &anon())
        .await
        .unwrap();
    // Both ways in work.
    t.auth
        .sign_in("ada@example.com", "a password of my own", &anon())
        .await
        .unwrap();
    let accounts = t.db.list_accounts(ada.id).await.unwrap();
    assert!(accounts.iter().any(|a| a.provider == "github"));
    let kinds: Vec<_> = changes(&t, ada.id)
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(kinds, ["password_set"]);
}

tollbooth_db::engine_tests!(
    an_address_changes_only_when_the_new_owner_opens_the_link,
    a_change_needs_a_fresh_session_a_free_address_and_the_newest_link,
    the_old_address_takes_the_account_back,
    a_change_needs_its_asking_session_alive,
    a_provider_only_user_adds_a_password_by_email,
);
