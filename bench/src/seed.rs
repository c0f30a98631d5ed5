//! Seeding a benchmark database directly through the repositories: verified users with a
//! credential account (e-mail + password), optionally Stripe customers.

use tollbooth_db::{AccountRepo, Db, NewAccount, NewUser, UserRepo};

/// The password of every seeded user.
pub(crate) const PASSWORD: &str = "correct horse battery staple";
/// bcrypt cost of the seeded hash: the servers' default (and minimum), so no sign-in
/// re-hashes it.
const BCRYPT_COST: u32 = 12;

/// One bcrypt hash of `PASSWORD`, computed once and stored for every seeded user.
pub(crate) async fn password_hash() -> String {
    tokio::task::spawn_blocking(|| bcrypt::hash(PASSWORD, BCRYPT_COST))
        .await
        .expect("the hashing thread")
        .expect("bcrypt hash of the benchmark password")
}

/// The e-mail of seeded user `i`.
pub(crate) fn email(i: usize) -> String {
    format!("bench{i}@example.com")
}

/// The Stripe customer id of seeded user `i` (with `customers`).
pub(crate) fn customer(i: usize) -> String {
    format!("cus_bench_{i}")
}

/// Creates `count` users `email(0..count)`: role `user`, e-mail verified, a credential
/// account holding `hash`, and with `customers` the Stripe customer `customer(i)`. One
/// transaction.
pub(crate) async fn users(db: &Db, count: usize, hash: &str, customers: bool) {
    let tx = db.begin().await.expect("begin the seeding transaction");
    for i in 0..count {
        let user = tx
            .create_user(
                NewUser::new(email(i))
                    .name(format!("Bench {i}"))
                    .verified_at(tollbooth_db::now()),
            )
            .await
            .expect("seed a user");
        tx.create_account(NewAccount::credential(user.id, hash))
            .await
            .expect("seed a credential account");
        if customers {
            tx.set_stripe_customer_id(user.id, &customer(i))
                .await
                .expect("seed a Stripe customer id")
                .expect("the seeded user exists");
        }
    }
    tx.commit().await.expect("commit the seeded users");
}
