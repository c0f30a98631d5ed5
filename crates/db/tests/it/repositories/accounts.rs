//! Sign-in methods: one owner per provider identity, never the last one unlinked.

use tollbooth_db::testing::TestDb;
use tollbooth_db::*;

use super::{assert_conflict, user};

async fn duplicate_provider_account_is_a_conflict(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let bob = user(&*db, "bob@example.com").await;
    db.create_account(NewAccount::oauth(ada.id, "github", "42", None))
        .await
        .unwrap();
    // The same GitHub identity cannot be linked to a second user…
    assert_conflict(
        db.create_account(NewAccount::oauth(bob.id, "github", "42", None))
            .await,
        "account",
    );
    // …nor a second GitHub identity to the same user.
    assert_conflict(
        db.create_account(NewAccount::oauth(ada.id, "github", "43", None))
            .await,
        "account",
    );
    // Another provider with the same id is a different identity.
    db.create_account(NewAccount::oauth(bob.id, "google", "42", None))
        .await
        .unwrap();

    db.create_account(NewAccount::credential(ada.id, "$2b$12$hash"))
        .await
        .unwrap();
    assert_conflict(
        db.create_account(NewAccount::credential(ada.id, "$2b$12$other"))
            .await,
        "account",
    );
    assert!(db.set_password_hash(ada.id, "$2b$12$new").await.unwrap());
    assert!(!db.set_password_hash(bob.id, "$2b$12$new").await.unwrap());
    let credential = db
        .find_user_account(ada.id, CREDENTIAL_PROVIDER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credential.password_hash.as_deref(), Some("$2b$12$new"));
    assert!(
        !format!("{credential:?}").contains("$2b$"),
        "Debug redacts the hash"
    );

    let providers: Vec<_> = db
        .list_accounts(ada.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.provider)
        .collect();
    assert_eq!(providers, ["github", "credential"]);
    assert!(db.delete_account(ada.id, "github").await.unwrap());
    assert_eq!(db.find_account("github", "42").await.unwrap(), None);
}

/// Two instances (separate pools) deliver the same webhook event at the same moment; each
/// records it inside a transaction that also applies its effect. Exactly one commits.
/// Two instances unlinking a user's last two sign-in methods at once: one wins, the user
/// keeps a way in. Repeated, since an unlocked check-then-delete loses only some races.
async fn concurrent_unlinks_never_remove_the_last_sign_in_method(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let other = db.connect_again().await;
    for round in 0..10 {
        for provider in ["github", "google"] {
            let id = format!("{provider}-{round}");
            db.create_account(NewAccount::oauth(ada.id, provider, id, None))
                .await
                .unwrap();
        }
        let (a, b) = tokio::join!(
            db.unlink_account(ada.id, "github"),
            other.unlink_account(ada.id, "google"),
        );
        let mut outcomes = [a.unwrap(), b.unwrap()];
        outcomes.sort_by_key(|o| *o == Unlink::Unlinked);
        assert_eq!(
            outcomes,
            [Unlink::LastSignInMethod, Unlink::Unlinked],
            "round {round}"
        );
        let left = db.list_accounts(ada.id).await.unwrap();
        assert_eq!(left.len(), 1, "round {round}");
        db.delete_account(ada.id, &left[0].provider).await.unwrap();
    }
    assert_eq!(
        db.unlink_account(ada.id, "github").await.unwrap(),
        Unlink::NotLinked
    );
}

tollbooth_db::engine_tests!(
    duplicate_provider_account_is_a_conflict,
    concurrent_unlinks_never_remove_the_last_sign_in_method,
);
