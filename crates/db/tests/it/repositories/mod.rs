//! The repository suite, written once and run against SQLite and a real PostgreSQL server:
//! a module per aggregate, whose `engine_tests!` generates its `sqlite::*` and
//! `postgres::*` tests.

mod accounts;
mod billing;
mod bookings;
mod organizations;
mod outbox;
mod rate_limits;
mod retention;
mod schema;
mod sessions;
mod tokens;
mod two_factor;
mod users;
mod webhook_events;

use tollbooth_db::{DbError, NewUser, Result, User, UserRepo};

pub(crate) const TABLES: [&str; 22] = [
    "accounts",
    "backup_codes",
    "bookings",
    "checkout_sessions",
    "email_outbox",
    "invitations",
    "memberships",
    "nurture_email_variants",
    "nurture_enrollments",
    "nurture_sequences",
    "organizations",
    "payments",
    "prices",
    "products",
    "rate_limits",
    "security_events",
    "sessions",
    "subscriptions",
    "two_factors",
    "users",
    "verification_tokens",
    "webhook_events",
];

pub(crate) async fn user(db: &impl UserRepo, email: &str) -> User {
    db.create_user(NewUser::new(email))
        .await
        .expect("create user")
}

pub(crate) fn assert_conflict<T: std::fmt::Debug>(result: Result<T>, expected_entity: &str) {
    match result {
        Err(DbError::Conflict { entity }) => assert_eq!(entity, expected_entity),
        other => panic!("expected Conflict on {expected_entity}, got {other:?}"),
    }
}
