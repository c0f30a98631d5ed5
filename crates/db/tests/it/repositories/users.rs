//! Users: one account per address in any case, one user per Stripe customer.

use tollbooth_db::testing::TestDb;
use tollbooth_db::*;
use uuid::Uuid;

use super::{assert_conflict, user};

async fn duplicate_email_is_a_conflict_in_any_case(db: TestDb) {
    let ada = user(&*db, "Ada@Example.com").await;
    assert_eq!(ada.email, "ada@example.com");
    assert_eq!(ada.role, "user");
    assert_eq!(ada.id.get_version_num(), 7, "ids are UUID v7");

    assert_conflict(
        db.create_user(NewUser::new("ADA@example.COM ")).await,
        "user",
    );
    assert_eq!(
        db.find_user_by_email(" ADA@EXAMPLE.COM")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ada.id)
    );
    assert_eq!(
        db.find_user_by_email("nobody@example.com").await.unwrap(),
        None
    );
    assert_eq!(db.find_user(Uuid::now_v7()).await.unwrap(), None);
}

async fn stripe_customer_belongs_to_one_user(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let bob = user(&*db, "bob@example.com").await;
    let ada = db
        .set_stripe_customer_id(ada.id, "cus_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ada.stripe_customer_id.as_deref(), Some("cus_1"));
    assert_conflict(db.set_stripe_customer_id(bob.id, "cus_1").await, "user");
    assert_eq!(
        db.find_user_by_stripe_customer("cus_1")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ada.id)
    );
    assert_eq!(
        db.set_stripe_customer_id(Uuid::now_v7(), "cus_2")
            .await
            .unwrap(),
        None
    );
}

tollbooth_db::engine_tests!(
    duplicate_email_is_a_conflict_in_any_case,
    stripe_customer_belongs_to_one_user,
);
