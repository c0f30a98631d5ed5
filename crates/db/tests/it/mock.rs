//! How other crates unit-test code that depends on a repository: mock the trait.

use mockall::predicate::eq;
use tollbooth_db::{MockUserRepo, User, UserRepo};
use uuid::Uuid;

/// A caller written against the trait, as `tollbooth-auth`'s components are: they take the
/// executor as `&impl TokenRepo`, `&impl RateLimitRepo`, … (its rate limiter's unit tests
/// run on `MockRateLimitRepo`). `Auth` and `Billing` themselves hold a concrete `Db`.
async fn display_name(users: &impl UserRepo, id: Uuid) -> tollbooth_db::Result<String> {
    Ok(match users.find_user(id).await? {
        Some(User {
            name: Some(name), ..
        }) => name,
        Some(user) => user.email,
        None => "unknown".to_owned(),
    })
}

#[tokio::test]
async fn falls_back_to_the_email_then_to_unknown() {
    let id = Uuid::now_v7();
    let now = tollbooth_db::now();
    let mut users = MockUserRepo::new();
    users
        .expect_find_user()
        .with(eq(id))
        .times(1)
        .returning(move |id| {
            Ok(Some(User {
                id,
                email: "ada@example.com".to_owned(),
                email_verified_at: None,
                name: None,
                image: None,
                role: "user".to_owned(),
                stripe_customer_id: None,
                banned_at: None,
                ban_reason: None,
                ban_expires_at: None,
                created_at: now,
                updated_at: now,
            }))
        });
    users.expect_find_user().returning(|_| Ok(None));

    assert_eq!(display_name(&users, id).await.unwrap(), "ada@example.com");
    assert_eq!(
        display_name(&users, Uuid::now_v7()).await.unwrap(),
        "unknown"
    );
}
