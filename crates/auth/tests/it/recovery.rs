//! E-mail verification and password reset flows.

use crate::common::*;
use chrono::TimeDelta;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{AccountRepo, CREDENTIAL_PROVIDER, NewAccount, NewUser, UserRepo};

async fn reset_answers_the_same_for_unknown_addresses(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    t.auth
        .request_password_reset("nobody@example.com", &anon())
        .await
        .unwrap();
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    t.auth.flush_background_tasks().await;
    let sent = t.outbox.sent();
    assert_eq!(sent.len(), 1, "only the real account gets an e-mail");
    assert_eq!(sent[0].to()[0].address().as_str(), "ada@example.com");
    assert_eq!(sent[0].subject(), "Reset your Acme password");
    assert!(
        sent[0]
            .text()
            .contains("https://app.acme.example/reset-password?token=")
    );
    assert!(sent[0].text().contains("expires in 1 hour"));
}

async fn a_new_reset_link_replaces_the_old_one(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    let first = t.last_token_sent_to("ada@example.com").await;
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    let second = t.last_token_sent_to("ada@example.com").await;
    assert_ne!(first, second);
    assert!(matches!(
        t.auth
            .reset_password(&first, "a brand new passphrase", &anon())
            .await,
        Err(AuthError::InvalidToken)
    ));
    t.auth
        .reset_password(&second, "a brand new passphrase", &anon())
        .await
        .unwrap();
}

async fn a_refused_password_does_not_burn_the_link(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    let token = t.last_token_sent_to("ada@example.com").await;
    let err = t
        .auth
        .reset_password(&token, "12345678", &anon())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::InvalidPassword { .. }));
    t.auth
        .reset_password(&token, "a brand new passphrase", &anon())
        .await
        .unwrap();
    // The new password works; the old one does not; the reset created no session.
    assert!(matches!(
        t.auth.sign_in("ada@example.com", PASSWORD, &anon()).await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        t.auth
            .sign_in("ada@example.com", "a brand new passphrase", &anon())
            .await,
        Ok(SignInOutcome::SignedIn(_))
    ));
}

async fn a_reset_gives_an_oauth_only_user_a_password_and_verifies_the_address(db: TestDb) {
    let t = TestAuth::new(db);
    let user =
        t.db.create_user(NewUser::new("ada@example.com"))
            .await
            .unwrap();
    t.db.create_account(NewAccount::oauth(user.id, "github", "42", None))
        .await
        .unwrap();
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    let token = t.last_token_sent_to("ada@example.com").await;
    t.auth
        .reset_password(&token, "a brand new passphrase", &anon())
        .await
        .unwrap();
    assert!(
        t.db.find_user_account(user.id, CREDENTIAL_PROVIDER)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        t.db.find_user(user.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at
            .is_some()
    );
}

async fn reset_requests_are_rate_limited_per_address(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    for _ in 0..3 {
        t.auth
            .request_password_reset("ada@example.com", &anon())
            .await
            .unwrap();
    }
    let err = t
        .auth
        .request_password_reset("Ada@Example.com", &anon())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::RateLimited { .. }), "{err:?}");
    // Unknown addresses are limited identically (no enumeration through 429s).
    for _ in 0..3 {
        t.auth
            .request_password_reset("nobody@example.com", &anon())
            .await
            .unwrap();
    }
    assert!(matches!(
        t.auth
            .request_password_reset("nobody@example.com", &anon())
            .await,
        Err(AuthError::RateLimited { .. })
    ));
}

async fn resending_verification(db: TestDb) {
    let t = TestAuth::new(db);
    t.auth
        .sign_up("ada@example.com", PASSWORD, None, &anon())
        .await
        .unwrap();
    let first = t.last_token_sent_to("ada@example.com").await;
    t.auth
        .resend_verification("ADA@example.com", &anon())
        .await
        .unwrap();
    let second = t.last_token_sent_to("ada@example.com").await;
    assert_ne!(first, second);
    assert!(
        matches!(
            t.auth.verify_email(&first).await,
            Err(AuthError::InvalidToken)
        ),
        "old link dead"
    );
    t.auth.verify_email(&second).await.unwrap();

    // Verified or unknown: nothing is sent, same answer.
    let before = t.outbox.sent().len();
    t.auth
        .resend_verification("ada@example.com", &anon())
        .await
        .unwrap();
    t.auth
        .resend_verification("nobody@example.com", &anon())
        .await
        .unwrap();
    t.auth.flush_background_tasks().await;
    assert_eq!(t.outbox.sent().len(), before);
}

async fn a_link_for_an_old_address_does_not_verify_the_new_one(db: TestDb) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    use tollbooth_db::entities::user;

    let t = TestAuth::new(db);
    let ada = t
        .auth
        .sign_up("ada@example.com", PASSWORD, None, &anon())
        .await
        .unwrap();
    let token = t.last_token_sent_to("ada@example.com").await;
    // The address changes (e.g. by an admin) before the link is used.
    user::Entity::update_many()
        .col_expr(user::Column::Email, Expr::value("ada@new.example"))
        .filter(user::Column::Id.eq(ada.id))
        .exec(t.db.connection())
        .await
        .unwrap();
    assert!(matches!(
        t.auth.verify_email(&token).await,
        Err(AuthError::InvalidToken)
    ));
    let user = t.db.find_user(ada.id).await.unwrap().unwrap();
    assert_eq!(
        user.email_verified_at, None,
        "the new address is not verified by the old link"
    );
    assert!(matches!(
        t.auth.verify_email("not-a-token").await,
        Err(AuthError::InvalidToken)
    ));
    t.clock.advance(TimeDelta::seconds(1));
}

tollbooth_db::engine_tests!(
    reset_answers_the_same_for_unknown_addresses,
    a_new_reset_link_replaces_the_old_one,
    a_refused_password_does_not_burn_the_link,
    a_reset_gives_an_oauth_only_user_a_password_and_verifies_the_address,
    reset_requests_are_rate_limited_per_address,
    resending_verification,
    a_link_for_an_old_address_does_not_verify_the_new_one,
);
