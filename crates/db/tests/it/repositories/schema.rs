//! The schema: every table, indexed foreign keys, one migration across replicas, cascades, transactions and UTC.

use chrono::{Duration, TimeZone, Utc};
use tollbooth_db::testing::TestDb;
use tollbooth_db::*;
use tollbooth_migration::{Migrator, MigratorTrait};
use uuid::Uuid;

use super::{TABLES, assert_conflict, user};

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
        ada.id.into(),
        "sub_1",
        "cus_1",
        "pro",
        "active",
        t,
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

tollbooth_db::engine_tests!(
    migrations_create_every_table_and_roll_back,
    every_foreign_key_column_is_indexed,
    replicas_starting_together_migrate_once,
    foreign_keys_are_enforced,
    a_rolled_back_transaction_leaves_nothing,
    timestamps_round_trip_in_utc,
    deleting_a_user_cascades_or_detaches,
);
