//! The repository suite, written once and run against SQLite and a real PostgreSQL server
//! (`engine_tests!` at the bottom generates `sqlite::*` and `postgres::*` tests).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tokio::sync::Barrier;
use tollbooth_db::testing::TestDb;
use tollbooth_db::*;
use tollbooth_migration::{Migrator, MigratorTrait};
use uuid::Uuid;

const TABLES: [&str; 18] = [
    "accounts",
    "backup_codes",
    "bookings",
    "checkout_sessions",
    "email_outbox",
    "nurture_email_variants",
    "nurture_enrollments",
    "nurture_sequences",
    "payments",
    "prices",
    "products",
    "rate_limits",
    "sessions",
    "subscriptions",
    "two_factors",
    "users",
    "verification_tokens",
    "webhook_events",
];

async fn user(db: &impl UserRepo, email: &str) -> User {
    db.create_user(NewUser::new(email))
        .await
        .expect("create user")
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T>, expected_entity: &str) {
    match result {
        Err(DbError::Conflict { entity }) => assert_eq!(entity, expected_entity),
        other => panic!("expected Conflict on {expected_entity}, got {other:?}"),
    }
}

async fn migrations_create_every_table_and_roll_back(db: TestDb) {
    assert_eq!(db.table_names().await.unwrap(), TABLES);

    Migrator::down(db.connection(), None).await.expect("down");
    assert!(
        db.table_names().await.unwrap().is_empty(),
        "down leaves no table"
    );

    Migrator::up(db.connection(), None).await.expect("up again");
    assert_eq!(db.table_names().await.unwrap(), TABLES);
    // Re-running is a no-op, so applications can migrate at every start.
    db.migrate().await.expect("idempotent");
    let ada = user(&*db, "ada@example.com").await;
    assert_eq!(db.find_user(ada.id).await.unwrap(), Some(ada));
}

/// Every foreign-key column leads an index: deleting a parent row (a user, a variant) must
/// not scan the child table, and joins from the child stay cheap.
async fn every_foreign_key_column_is_indexed(db: TestDb) {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = match db.engine() {
        Engine::Sqlite => {
            "SELECT m.name || '.' || fk.\"from\" AS fk \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) fk \
             WHERE m.type = 'table' AND NOT EXISTS ( \
                 SELECT 1 FROM pragma_index_list(m.name) il, pragma_index_info(il.name) ii \
                 WHERE ii.seqno = 0 AND ii.name = fk.\"from\") \
             ORDER BY 1"
        }
        Engine::Postgres => {
            "SELECT c.conrelid::regclass::text || '.' || a.attname AS fk \
             FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace \
             AND NOT EXISTS (SELECT 1 FROM pg_index i \
                 WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]) \
             ORDER BY 1"
        }
        other => panic!("no foreign-key query for {other:?}"),
    };
    let backend = db.connection().get_database_backend();
    let rows = db
        .connection()
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap();
    let unindexed: Vec<String> = rows
        .iter()
        .map(|row| row.try_get::<String>("", "fk").unwrap())
        .collect();
    assert_eq!(unindexed, Vec::<String>::new());
    // The query sees foreign keys at all (it is not vacuously empty).
    let count_sql = match db.engine() {
        Engine::Sqlite => {
            "SELECT count(*) AS n FROM sqlite_master m, pragma_foreign_key_list(m.name) fk \
             WHERE m.type = 'table'"
        }
        Engine::Postgres => {
            "SELECT count(*) AS n FROM pg_constraint \
             WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
        }
        other => panic!("no foreign-key query for {other:?}"),
    };
    let row = db
        .connection()
        .query_one_raw(Statement::from_string(backend, count_sql))
        .await
        .unwrap()
        .unwrap();
    let foreign_keys: i64 = row.try_get("", "n").unwrap();
    assert!(foreign_keys >= 10, "{foreign_keys} foreign keys");
}

async fn replicas_starting_together_migrate_once(db: TestDb) {
    Migrator::down(db.connection(), None).await.expect("down");
    // Separate pools, as two processes would have.
    let (a, b) = (
        connect(db.url()).await.unwrap(),
        connect(db.url()).await.unwrap(),
    );
    let (first, second) = tokio::join!(a.migrate(), b.migrate());
    first.expect("first replica migrates");
    second.expect("second replica migrates");
    assert_eq!(db.table_names().await.unwrap(), TABLES);
    let applied = Migrator::get_applied_migrations(db.connection())
        .await
        .unwrap();
    assert_eq!(
        applied.len(),
        Migrator::migrations().len(),
        "each migration recorded once"
    );
}

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

async fn duplicate_webhook_event_is_a_conflict(db: TestDb) {
    let at = now();
    db.record_webhook_event(WebhookSource::Stripe, "evt_1", "invoice.paid", at)
        .await
        .unwrap();
    assert_conflict(
        db.record_webhook_event(WebhookSource::Stripe, "evt_1", "invoice.paid", at)
            .await,
        "webhook event",
    );
    // Ids are unique per source.
    db.record_webhook_event(WebhookSource::Calcom, "evt_1", "BOOKING_CREATED", at)
        .await
        .unwrap();
    let found = db
        .find_webhook_event(WebhookSource::Stripe, "evt_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.event_type.as_str(), found.received_at),
        ("invoice.paid", at)
    );
}

async fn duplicate_booking_uid_is_a_conflict(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let at = now();
    let mut booking = NewBooking::new("uid-1", at);
    booking.user_id = Some(ada.id);
    booking.metadata = Some(serde_json::json!({ "videoCallUrl": "https://cal.com/v/1" }));
    let stored = db.insert_booking(booking.clone()).await.unwrap();
    assert_eq!(stored.status, BookingStatus::Created);
    assert_conflict(db.insert_booking(booking).await, "booking");

    let mut cancelled = stored.clone();
    cancelled.status = BookingStatus::Cancelled;
    cancelled.cancellation_reason = Some("ill".to_owned());
    let updated = db.update_booking(cancelled).await.unwrap();
    assert_eq!(updated.status, BookingStatus::Cancelled);
    assert_eq!(updated.created_at, stored.created_at);
    assert_eq!(db.find_booking("uid-1").await.unwrap(), Some(updated));
    assert_eq!(db.list_user_bookings(ada.id).await.unwrap().len(), 1);
}

async fn deleting_a_user_cascades_or_detaches(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let t = now();
    db.create_account(NewAccount::credential(ada.id, "$2b$12$x"))
        .await
        .unwrap();
    let session = db
        .create_session(NewSession::new(
            ada.id,
            t,
            Duration::hours(1),
            Duration::days(7),
        ))
        .await
        .unwrap();
    db.create_token(
        NewToken::new(
            TokenPurpose::PasswordReset,
            &ada.email,
            vec![1; 32],
            t + Duration::hours(1),
        )
        .user(ada.id),
    )
    .await
    .unwrap();
    db.begin_two_factor(ada.id, vec![9; 40], "k1")
        .await
        .unwrap();
    db.replace_backup_codes(ada.id, vec![vec![1; 32], vec![2; 32]])
        .await
        .unwrap();
    db.upsert_subscription(SubscriptionUpsert::new(
        ada.id, "sub_1", "cus_1", "pro", "active", t,
    ))
    .await
    .unwrap();
    let mut payment = PaymentUpsert::new("pi_1", 5_000, "usd", "succeeded");
    payment.user_id = Some(ada.id);
    db.upsert_payment(payment).await.unwrap();
    let mut booking = NewBooking::new("uid-1", t);
    booking.user_id = Some(ada.id);
    db.insert_booking(booking).await.unwrap();

    assert!(db.delete_user(ada.id).await.unwrap());
    assert!(!db.delete_user(ada.id).await.unwrap());

    assert!(db.list_accounts(ada.id).await.unwrap().is_empty());
    assert_eq!(db.find_session(session.id).await.unwrap(), None);
    assert_eq!(
        db.find_usable_token(&[1; 32], TokenPurpose::PasswordReset, t)
            .await
            .unwrap(),
        None
    );
    assert_eq!(db.find_two_factor(ada.id).await.unwrap(), None);
    assert_eq!(db.count_backup_codes(ada.id).await.unwrap(), 0);
    assert_eq!(db.find_subscription("sub_1").await.unwrap(), None);
    // Bookkeeping outlives the user, detached.
    assert_eq!(
        db.find_payment("pi_1").await.unwrap().unwrap().user_id,
        None
    );
    assert_eq!(
        db.find_booking("uid-1").await.unwrap().unwrap().user_id,
        None
    );
}

async fn foreign_keys_are_enforced(db: TestDb) {
    let result = db
        .create_session(NewSession::new(
            Uuid::now_v7(),
            now(),
            Duration::hours(1),
            Duration::days(1),
        ))
        .await;
    assert!(
        matches!(result, Err(DbError::MissingReference { entity: "session" })),
        "{result:?}"
    );
}

async fn a_rolled_back_transaction_leaves_nothing(db: TestDb) {
    let tx = db.begin().await.unwrap();
    let ada = user(&tx, "ada@example.com").await;
    tx.record_webhook_event(WebhookSource::Stripe, "evt_1", "x", now())
        .await
        .unwrap();
    // Inside the transaction its own writes are visible…
    assert!(tx.find_user(ada.id).await.unwrap().is_some());
    tx.rollback().await.unwrap();
    // …and after rollback none of them exist.
    assert_eq!(db.find_user(ada.id).await.unwrap(), None);
    assert_eq!(
        db.find_webhook_event(WebhookSource::Stripe, "evt_1")
            .await
            .unwrap(),
        None
    );

    // Dropping an uncommitted transaction (an early `?` return) rolls back too.
    {
        let tx = db.begin().await.unwrap();
        user(&tx, "bob@example.com").await;
    }
    assert_eq!(
        db.find_user_by_email("bob@example.com").await.unwrap(),
        None
    );

    // A failure midway: the first write of the transaction does not survive.
    let tx = db.begin().await.unwrap();
    user(&tx, "carol@example.com").await;
    let failed = tx.create_user(NewUser::new("CAROL@example.com")).await;
    assert_conflict(failed, "user");
    drop(tx);
    assert_eq!(
        db.find_user_by_email("carol@example.com").await.unwrap(),
        None
    );

    let tx = db.begin().await.unwrap();
    let dan = user(&tx, "dan@example.com").await;
    tx.commit().await.unwrap();
    assert_eq!(db.find_user(dan.id).await.unwrap(), Some(dan));
}

async fn timestamps_round_trip_in_utc(db: TestDb) {
    // Nanoseconds in, microseconds stored, identical on both engines.
    let created =
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 15).unwrap() + Duration::nanoseconds(123_456_789);
    let ada = user(&*db, "ada@example.com").await;
    let mut new = NewSession::new(ada.id, created, Duration::minutes(30), Duration::days(30));
    new.ip = Some("203.0.113.7".to_owned());
    let stored = db.create_session(new).await.unwrap();
    let expected =
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 15).unwrap() + Duration::microseconds(123_456);
    assert_eq!(stored.created_at, expected);
    let read = db.find_session(stored.id).await.unwrap().unwrap();
    assert_eq!(read, stored);
    assert_eq!(read.created_at.timezone(), Utc);
    assert_eq!(
        read.absolute_expires_at - read.created_at,
        Duration::days(30)
    );

    // A timestamp given in another offset is the same instant.
    let paris = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
    let local = paris.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let verified = db
        .mark_email_verified(ada.id, local.with_timezone(&Utc))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        verified.email_verified_at,
        Some(Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap())
    );
    assert!(verified.updated_at >= verified.created_at);

    // Comparisons in SQL order instants correctly, fractional seconds included.
    let just_before = expected + Duration::minutes(30) - Duration::microseconds(1);
    assert_eq!(
        db.list_active_sessions(ada.id, just_before)
            .await
            .unwrap()
            .len(),
        1
    );
    let at_idle_deadline = expected + Duration::minutes(30);
    assert!(
        db.list_active_sessions(ada.id, at_idle_deadline)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn sessions_slide_revoke_and_purge(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let t0 = now();
    let idle = Duration::minutes(30);
    let a = db
        .create_session(NewSession::new(ada.id, t0, idle, Duration::hours(1)))
        .await
        .unwrap();
    let b = db
        .create_session(NewSession::new(ada.id, t0, idle, Duration::hours(1)))
        .await
        .unwrap();
    assert_ne!(a.id, b.id);
    assert!(a.is_active(t0));
    let (joined, owner) = db.find_session_with_user(a.id).await.unwrap().unwrap();
    assert_eq!((joined, owner.id), (a.clone(), ada.id));
    assert_eq!(
        db.find_session_with_user(Uuid::now_v7()).await.unwrap(),
        None
    );

    // Sliding never passes the absolute deadline.
    let t1 = t0 + Duration::minutes(50);
    assert!(
        !db.touch_session(a.id, t1, t1 + idle).await.unwrap(),
        "idle-expired"
    );
    let t1 = t0 + Duration::minutes(20);
    assert!(
        db.touch_session(a.id, t1, t1 + Duration::hours(5))
            .await
            .unwrap()
    );
    let a = db.find_session(a.id).await.unwrap().unwrap();
    assert_eq!(a.last_seen_at, t1);
    assert_eq!(a.idle_expires_at, a.absolute_expires_at);

    assert!(db.revoke_session(b.id, t1).await.unwrap());
    assert!(
        !db.revoke_session(b.id, t1).await.unwrap(),
        "already revoked"
    );
    assert!(!db.touch_session(b.id, t1, t1 + idle).await.unwrap());
    let active: Vec<_> = db
        .list_active_sessions(ada.id, t1)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(active, [a.id]);

    let c = db
        .create_session(NewSession::new(ada.id, t1, idle, Duration::hours(1)))
        .await
        .unwrap();
    assert_eq!(
        db.revoke_user_sessions(ada.id, Some(c.id), t1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        db.list_active_sessions(ada.id, t1).await.unwrap()[0].id,
        c.id
    );

    assert_eq!(
        db.purge_sessions(t1 + Duration::seconds(1)).await.unwrap(),
        2
    );
    assert!(db.find_session(c.id).await.unwrap().is_some());
}

async fn tokens_are_single_use_purpose_bound_and_expire(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let t = now();
    let hash = vec![7u8; 32];
    db.create_token(
        NewToken::new(
            TokenPurpose::EmailVerification,
            &ada.email,
            hash.clone(),
            t + Duration::hours(24),
        )
        .user(ada.id)
        .payload(serde_json::json!({ "next": "/welcome" })),
    )
    .await
    .unwrap();
    assert_conflict(
        db.create_token(NewToken::new(
            TokenPurpose::PasswordReset,
            "x",
            hash.clone(),
            t,
        ))
        .await,
        "verification token",
    );

    assert_eq!(
        db.consume_token(&hash, TokenPurpose::PasswordReset, t)
            .await
            .unwrap(),
        None,
        "a verification token cannot reset a password"
    );
    assert_eq!(
        db.consume_token(
            &hash,
            TokenPurpose::EmailVerification,
            t + Duration::hours(25)
        )
        .await
        .unwrap(),
        None,
        "expired"
    );
    let used = db
        .consume_token(&hash, TokenPurpose::EmailVerification, t)
        .await
        .unwrap()
        .expect("first use");
    assert_eq!(used.user_id, Some(ada.id));
    assert_eq!(used.consumed_at, Some(t));
    assert_eq!(
        used.payload,
        Some(serde_json::json!({ "next": "/welcome" }))
    );
    assert_eq!(
        db.consume_token(&hash, TokenPurpose::EmailVerification, t)
            .await
            .unwrap(),
        None,
        "second use"
    );

    // Concurrent consumers of one token: exactly one wins.
    let hash = vec![8u8; 32];
    db.create_token(NewToken::new(
        TokenPurpose::PasswordReset,
        &ada.email,
        hash.clone(),
        t + Duration::hours(1),
    ))
    .await
    .unwrap();
    let other = db.connect_again().await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let db = if i % 2 == 0 {
                (*db).clone()
            } else {
                other.clone()
            };
            let hash = hash.clone();
            tokio::spawn(async move {
                db.consume_token(&hash, TokenPurpose::PasswordReset, t)
                    .await
                    .unwrap()
                    .is_some()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);

    assert_eq!(
        db.delete_tokens(TokenPurpose::PasswordReset, &ada.email)
            .await
            .unwrap(),
        1
    );
    db.create_token(NewToken::new(
        TokenPurpose::OAuthState,
        "github",
        vec![9; 32],
        t,
    ))
    .await
    .unwrap();
    assert_eq!(db.purge_tokens(t + Duration::seconds(1)).await.unwrap(), 1);
}

async fn rate_limits_count_every_hit_and_reset_by_window(db: TestDb) {
    let t = now();
    let window = Duration::minutes(1);
    let other = db.connect_again().await;
    // Two "instances" hitting one key concurrently: every hit counts.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let db = if i % 2 == 0 {
                (*db).clone()
            } else {
                other.clone()
            };
            tokio::spawn(async move {
                db.hit_rate_limit("sign_in:ip:203.0.113.7", window, t)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap().hits);
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<u32>>());

    let hit = db
        .hit_rate_limit("sign_in:ip:203.0.113.7", window, t + Duration::seconds(59))
        .await
        .unwrap();
    assert_eq!((hit.hits, hit.window_started_at), (21, t));
    let hit = db
        .hit_rate_limit("sign_in:ip:203.0.113.7", window, t + window)
        .await
        .unwrap();
    assert_eq!(
        (hit.hits, hit.window_started_at),
        (1, t + window),
        "new window"
    );

    let peeked = db
        .peek_rate_limit("sign_in:ip:203.0.113.7", window, t + window)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (peeked.hits, peeked.last_hit_at),
        (1, t + window),
        "peek counts nothing"
    );
    assert_eq!(
        db.peek_rate_limit("sign_in:ip:203.0.113.7", window, t + window * 2)
            .await
            .unwrap(),
        None,
        "window over"
    );
    assert_eq!(db.peek_rate_limit("never", window, t).await.unwrap(), None);

    db.reset_rate_limit("sign_in:ip:203.0.113.7").await.unwrap();
    let hit = db
        .hit_rate_limit("sign_in:ip:203.0.113.7", window, t)
        .await
        .unwrap();
    assert_eq!(hit.hits, 1);
    db.hit_rate_limit("other", window, t - Duration::days(2))
        .await
        .unwrap();
    assert_eq!(
        db.purge_rate_limits(t - Duration::days(1)).await.unwrap(),
        1
    );
}

async fn rate_limit_claims_are_exclusive(db: TestDb) {
    let t = now();
    let window = Duration::minutes(15);
    let key = "sign_in_failures:account:00";
    db.hit_rate_limit(key, window, t).await.unwrap();
    let later = t + Duration::seconds(1);
    // Ten concurrent claims from two "instances" on one state: exactly one wins.
    let other = db.connect_again().await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let db = if i % 2 == 0 {
                (*db).clone()
            } else {
                other.clone()
            };
            tokio::spawn(async move { db.claim_rate_limit(key, 1, t, later).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
    let state = db
        .peek_rate_limit(key, window, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (state.hits, state.last_hit_at),
        (1, later),
        "a claim touches, it does not count"
    );
    // Touched at `later`: not idle since `t`; a changed count is not the claimed state.
    assert!(!db.claim_rate_limit(key, 1, t, later).await.unwrap());
    assert!(!db.claim_rate_limit(key, 2, later, later).await.unwrap());
    assert!(db.claim_rate_limit(key, 1, later, later).await.unwrap());
    assert!(!db.claim_rate_limit("never", 0, later, later).await.unwrap());
}

async fn subscription_upserts_ignore_older_events(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let state = |status: &str, at: DateTime<Utc>| {
        let mut s = SubscriptionUpsert::new(ada.id, "sub_1", "cus_1", "pro", status, at);
        s.stripe_price_id = Some("price_pro".to_owned());
        s.current_period_end = Some(at + Duration::days(30));
        s
    };
    // `updated` (newer) arrives before `created` (older).
    let applied = db
        .upsert_subscription(state("active", t + Duration::seconds(5)))
        .await
        .unwrap();
    assert!(applied.is_applied());
    let stale = db
        .upsert_subscription(state("incomplete", t))
        .await
        .unwrap();
    assert!(!stale.is_applied());
    let row = stale.into_inner();
    assert_eq!(
        (row.status.as_str(), row.last_event_at),
        ("active", t + Duration::seconds(5))
    );

    // A redelivery of the newest event is harmless; a newer one applies.
    assert!(
        db.upsert_subscription(state("active", t + Duration::seconds(5)))
            .await
            .unwrap()
            .is_applied()
    );
    let mut cancel = state("active", t + Duration::seconds(9));
    cancel.cancel_at_period_end = true;
    cancel.canceled_at = Some(t + Duration::seconds(9));
    let row = db.upsert_subscription(cancel).await.unwrap().into_inner();
    assert!(row.cancel_at_period_end);
    assert_eq!(db.list_subscriptions(ada.id).await.unwrap(), vec![row]);
}

async fn catalog_and_payments_upsert_by_stripe_id(db: TestDb) {
    let product = db
        .upsert_product(ProductUpsert::new("prod_1", "Pro"))
        .await
        .unwrap();
    let mut renamed = ProductUpsert::new("prod_1", "Pro plan");
    renamed.metadata = Some(serde_json::json!({ "tier": "2" }));
    let again = db.upsert_product(renamed).await.unwrap();
    assert_eq!((again.id, again.name.as_str()), (product.id, "Pro plan"));

    let price = db
        .upsert_price(PriceUpsert::new("price_1", product.id, "USD", 1_900).recurring("month", 1))
        .await
        .unwrap();
    assert_eq!(
        (price.currency.as_str(), price.unit_amount),
        ("usd", Some(1_900))
    );
    let mut archived = PriceUpsert::new("price_1", product.id, "usd", 1_900);
    archived.active = false;
    db.upsert_price(archived).await.unwrap();
    assert!(db.list_active_prices().await.unwrap().is_empty());
    assert_eq!(
        db.find_price("price_1").await.unwrap().unwrap().id,
        price.id
    );

    let ada = user(&*db, "ada@example.com").await;
    let mut pending = PaymentUpsert::new("pi_1", 2_500, "eur", "requires_payment_method");
    pending.user_id = Some(ada.id);
    pending.metadata = Some(serde_json::json!({ "calcom_event_type_id": "42" }));
    assert!(db.upsert_payment(pending).await.unwrap().is_applied());
    // A later event without the user or metadata keeps the ones already known.
    let paid = db
        .upsert_payment(PaymentUpsert::new("pi_1", 2_500, "eur", "succeeded"))
        .await
        .unwrap();
    assert!(paid.is_applied());
    let paid = paid.into_inner();
    assert_eq!(
        (paid.status.as_str(), paid.user_id),
        ("succeeded", Some(ada.id))
    );
    assert_eq!(
        paid.metadata,
        Some(serde_json::json!({ "calcom_event_type_id": "42" }))
    );
    // `succeeded` is final: a late `payment_failed` snapshot changes nothing.
    let mut late = PaymentUpsert::new("pi_1", 9_900, "usd", "requires_payment_method");
    late.metadata = Some(serde_json::json!({}));
    let written = db.upsert_payment(late).await.unwrap();
    assert_eq!(written, Upsert::Stale(paid.clone()));
    assert_eq!(db.find_payment("pi_1").await.unwrap(), Some(paid));
    // So is `canceled`; any other status moves on.
    for (status, applied) in [
        ("processing", true),
        ("canceled", true),
        ("succeeded", false),
    ] {
        let written = db
            .upsert_payment(PaymentUpsert::new("pi_3", 100, "eur", status))
            .await
            .unwrap();
        assert_eq!(written.is_applied(), applied, "{status}");
    }
    let canceled = db.find_payment("pi_3").await.unwrap().unwrap();
    assert_eq!(canceled.status, "canceled");
    // The schema refuses what no payment can be.
    let refused = db
        .upsert_payment(PaymentUpsert::new("pi_2", 0, "eur", "x"))
        .await;
    assert!(matches!(refused, Err(DbError::Query { .. })), "{refused:?}");
}

async fn totp_steps_and_backup_codes_are_used_once(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let pending = db
        .begin_two_factor(ada.id, vec![1; 44], "k1")
        .await
        .unwrap();
    assert_eq!(pending.enabled_at, None);
    assert!(
        !format!("{pending:?}").contains("[1, 1"),
        "Debug redacts the secret"
    );
    let t = now();
    assert!(db.enable_two_factor(ada.id, t).await.unwrap());
    assert!(
        !db.enable_two_factor(ada.id, t).await.unwrap(),
        "already enabled"
    );

    assert!(db.accept_totp_step(ada.id, 100).await.unwrap());
    assert!(
        !db.accept_totp_step(ada.id, 100).await.unwrap(),
        "replayed step"
    );
    assert!(
        !db.accept_totp_step(ada.id, 99).await.unwrap(),
        "older step"
    );
    assert_eq!(db.record_two_factor_failure(ada.id).await.unwrap(), Some(1));
    assert_eq!(db.record_two_factor_failure(ada.id).await.unwrap(), Some(2));
    assert!(
        db.lock_two_factor(ada.id, t + Duration::minutes(5))
            .await
            .unwrap()
    );
    let locked = db.find_two_factor(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (locked.failed_attempts, locked.locked_until),
        (0, Some(t + Duration::minutes(5))),
        "the lock starts a new count"
    );
    assert_eq!(db.record_two_factor_failure(ada.id).await.unwrap(), Some(1));
    assert!(db.clear_two_factor_failures(ada.id).await.unwrap());
    let cleared = db.find_two_factor(ada.id).await.unwrap().unwrap();
    assert_eq!((cleared.failed_attempts, cleared.locked_until), (0, None));
    db.record_two_factor_failure(ada.id).await.unwrap();
    db.lock_two_factor(ada.id, t + Duration::minutes(5))
        .await
        .unwrap();
    assert!(db.accept_totp_step(ada.id, 101).await.unwrap());
    let row = db.find_two_factor(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (row.last_used_step, row.failed_attempts, row.locked_until),
        (Some(101), 0, None)
    );

    // Re-enrolling replaces the secret and resets state.
    let again = db
        .begin_two_factor(ada.id, vec![2; 44], "k2")
        .await
        .unwrap();
    assert_eq!(
        (
            again.enabled_at,
            again.last_used_step,
            again.key_id.as_str()
        ),
        (None, None, "k2")
    );

    let codes: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 32]).collect();
    db.replace_backup_codes(ada.id, codes).await.unwrap();
    assert_eq!(db.count_backup_codes(ada.id).await.unwrap(), 10);
    assert!(db.consume_backup_code(ada.id, &[3; 32], t).await.unwrap());
    assert!(!db.consume_backup_code(ada.id, &[3; 32], t).await.unwrap());
    assert_eq!(db.count_backup_codes(ada.id).await.unwrap(), 9);
    db.replace_backup_codes(ada.id, vec![vec![42; 32]])
        .await
        .unwrap();
    assert!(
        !db.consume_backup_code(ada.id, &[4; 32], t).await.unwrap(),
        "old codes gone"
    );
    assert!(db.delete_two_factor(ada.id).await.unwrap());
    assert_eq!(db.count_backup_codes(ada.id).await.unwrap(), 0);
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

async fn concurrent_duplicate_webhook_event_applies_once(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let instances = [(*db).clone(), db.connect_again().await];
    let barrier = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = instances
        .into_iter()
        .enumerate()
        .map(|(i, db)| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let tx = db.begin().await?;
                tx.record_webhook_event(
                    WebhookSource::Stripe,
                    "evt_race",
                    "customer.subscription.created",
                    now(),
                )
                .await?;
                // Hold the transaction open so the other delivery runs into it.
                tokio::time::sleep(StdDuration::from_millis(150)).await;
                tx.upsert_subscription(SubscriptionUpsert::new(
                    ada.id,
                    format!("sub_from_instance_{i}"),
                    "cus_1",
                    "pro",
                    "active",
                    now(),
                ))
                .await?;
                tx.commit().await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let winners = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    assert!(
        outcomes.iter().any(|o| matches!(
            o,
            Err(DbError::Conflict {
                entity: "webhook event"
            })
        )),
        "{outcomes:?}"
    );
    assert_eq!(
        db.list_subscriptions(ada.id).await.unwrap().len(),
        1,
        "one effect"
    );
}

async fn subscription_ties_are_never_applied_blind(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let state = |status: &str, plan: &str| {
        SubscriptionUpsert::new(ada.id, "sub_1", "cus_1", plan, status, t)
    };
    assert!(
        db.upsert_subscription(state("canceled", "pro"))
            .await
            .unwrap()
            .is_applied()
    );
    // Another state of the same second: neither is known to be newer; nothing written.
    let tied = db
        .upsert_subscription(state("active", "pro"))
        .await
        .unwrap();
    assert!(
        matches!(&tied, Upsert::Tied(row) if row.status == "canceled"),
        "{tied:?}"
    );
    // The same state again is a harmless redelivery.
    assert!(
        db.upsert_subscription(state("canceled", "pro"))
            .await
            .unwrap()
            .is_applied()
    );
    // Stripe's current state, read from its API, decides a tie.
    let mut fetched = state("past_due", "pro");
    fetched.fetched = true;
    let row = db.upsert_subscription(fetched).await.unwrap();
    assert!(row.is_applied());
    let row = row.into_inner();
    assert_eq!(
        (row.status.as_str(), row.status_changed_at),
        ("past_due", Some(t))
    );

    // `status_changed_at` moves with the status only; an unknown plan keeps the known one.
    let later = t + Duration::hours(1);
    let mut same_status =
        SubscriptionUpsert::new(ada.id, "sub_1", "cus_1", UNKNOWN_PLAN, "past_due", later);
    same_status.quantity = 3;
    let row = db
        .upsert_subscription(same_status)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (row.plan.as_str(), row.quantity, row.status_changed_at),
        ("pro", 3, Some(t))
    );
    let active = SubscriptionUpsert::new(
        ada.id,
        "sub_1",
        "cus_1",
        "enterprise",
        "active",
        later + Duration::hours(1),
    );
    let row = db.upsert_subscription(active).await.unwrap().into_inner();
    assert_eq!(
        (row.plan.as_str(), row.status_changed_at),
        ("enterprise", Some(later + Duration::hours(1)))
    );
    // Flagging a duplicate survives later upserts.
    db.flag_duplicate_subscription("sub_1", "sub_0")
        .await
        .unwrap();
    let again = SubscriptionUpsert::new(
        ada.id,
        "sub_1",
        "cus_1",
        "enterprise",
        "canceled",
        later + Duration::hours(2),
    );
    let row = db.upsert_subscription(again).await.unwrap().into_inner();
    assert_eq!(
        (row.status.as_str(), row.duplicate_of.as_deref()),
        ("canceled", Some("sub_0"))
    );
}

async fn refunds_only_grow(db: TestDb) {
    db.upsert_payment(PaymentUpsert::new("pi_1", 2_000, "usd", "succeeded"))
        .await
        .unwrap();
    for (reported, stored) in [(500, 500), (2_000, 2_000), (500, 2_000)] {
        let row = db
            .record_payment_refund("pi_1", reported)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.amount_refunded, stored, "after {reported}");
    }
    assert_eq!(
        db.record_payment_refund("pi_unknown", 1).await.unwrap(),
        None
    );
    let refused = db.record_payment_refund("pi_1", -1).await;
    assert!(
        refused.is_ok(),
        "a smaller total is ignored, not written: {refused:?}"
    );
}

fn outbox_email(key: &str) -> NewOutboxEmail {
    NewOutboxEmail::new(
        key,
        "welcome",
        "Acme <noreply@acme.example>",
        vec!["ada@example.com".to_owned()],
        "Welcome",
        "<a href=\"https://acme.example/verify?token=secret\">verify</a>",
        "https://acme.example/verify?token=secret",
    )
}

async fn outbox_claims_are_exclusive_and_leased(db: TestDb) {
    assert!(db.enqueue_email(outbox_email("welcome/1")).await.unwrap());
    assert!(
        !db.enqueue_email(outbox_email("welcome/1")).await.unwrap(),
        "one key, one message"
    );

    // Two workers on two pools claim at once: one gets it.
    let other = db.connect_again().await;
    let now = now();
    let lease = Duration::minutes(2);
    let (a, b) = tokio::join!(
        db.claim_due_emails(now, lease, 10),
        other.claim_due_emails(now, lease, 10)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
    let claimed = a.into_iter().chain(b).next().unwrap();
    assert_eq!(claimed.attempts, 1);
    // Leased: nobody else takes it until the lease runs out (a worker that died).
    assert!(
        db.claim_due_emails(now + Duration::minutes(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = db
        .claim_due_emails(now + Duration::minutes(3), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.iter().map(|e| e.attempts).collect::<Vec<_>>(), [2]);

    // A failure to retry later, then success: bodies emptied, never claimed again.
    let id = again[0].id;
    let retry_at = now + Duration::minutes(10);
    db.mark_email_failed(id, "provider down", DeliveryFailure::RetryAt(retry_at), now)
        .await
        .unwrap();
    assert!(
        db.claim_due_emails(now + Duration::minutes(9), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = db.claim_due_emails(retry_at, lease, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    db.mark_email_sent(id, retry_at).await.unwrap();
    let sent = db.find_outbox_email("welcome/1").await.unwrap().unwrap();
    assert!(
        sent.sent_at.is_some() && sent.html.is_empty() && sent.text_body.is_empty(),
        "{sent:?}"
    );
    assert!(
        db.claim_due_emails(retry_at + Duration::days(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!format!("{sent:?}").contains("token=secret"));

    // Given up: emptied too.
    db.enqueue_email(outbox_email("welcome/2")).await.unwrap();
    let now = tollbooth_db::now();
    let row = db.claim_due_emails(now, lease, 10).await.unwrap().remove(0);
    db.mark_email_failed(row.id, "rejected", DeliveryFailure::GiveUp, now)
        .await
        .unwrap();
    let failed = db.find_outbox_email("welcome/2").await.unwrap().unwrap();
    assert!(failed.failed_at.is_some() && failed.text_body.is_empty());
    assert!(
        db.claim_due_emails(now + Duration::days(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn open_checkout_sessions_are_found_until_closed_or_expiring(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let now = now();
    let session = NewCheckoutSession::new(
        ada.id,
        "pro",
        "cs_1",
        "https://checkout.stripe.com/cs_1",
        now + Duration::hours(24),
    );
    db.insert_checkout_session(session.clone()).await.unwrap();
    db.insert_checkout_session(session).await.unwrap(); // recorded once
    let open = db
        .find_open_checkout_session(ada.id, "pro", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.stripe_checkout_session_id, "cs_1");
    assert!(
        db.find_open_checkout_session(ada.id, "enterprise", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.find_open_checkout_session(ada.id, "pro", now + Duration::hours(25))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        db.count_closed_checkout_sessions(ada.id, "pro")
            .await
            .unwrap(),
        0
    );
    assert!(db.close_checkout_session("cs_1", now).await.unwrap());
    assert!(!db.close_checkout_session("cs_1", now).await.unwrap());
    assert!(
        db.find_open_checkout_session(ada.id, "pro", now)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        db.count_closed_checkout_sessions(ada.id, "pro")
            .await
            .unwrap(),
        1
    );
}

tollbooth_db::engine_tests!(
    migrations_create_every_table_and_roll_back,
    replicas_starting_together_migrate_once,
    duplicate_email_is_a_conflict_in_any_case,
    stripe_customer_belongs_to_one_user,
    duplicate_provider_account_is_a_conflict,
    duplicate_webhook_event_is_a_conflict,
    duplicate_booking_uid_is_a_conflict,
    deleting_a_user_cascades_or_detaches,
    foreign_keys_are_enforced,
    a_rolled_back_transaction_leaves_nothing,
    timestamps_round_trip_in_utc,
    sessions_slide_revoke_and_purge,
    tokens_are_single_use_purpose_bound_and_expire,
    rate_limits_count_every_hit_and_reset_by_window,
    rate_limit_claims_are_exclusive,
    subscription_upserts_ignore_older_events,
    catalog_and_payments_upsert_by_stripe_id,
    totp_steps_and_backup_codes_are_used_once,
    concurrent_duplicate_webhook_event_applies_once,
    concurrent_unlinks_never_remove_the_last_sign_in_method,
    every_foreign_key_column_is_indexed,
    subscription_ties_are_never_applied_blind,
    refunds_only_grow,
    outbox_claims_are_exclusive_and_leased,
    open_checkout_sessions_are_found_until_closed_or_expiring,
);
