//! The `tollbooth-migration` binary, run as a user would, on both engines.

use std::path::Path;
use std::process::Command;

use tollbooth_db::testing::TestDb;
use tollbooth_migration::{Migrator, MigratorTrait};

const BIN: &str = env!("CARGO_BIN_EXE_tollbooth-migration");
/// Tables of the full schema (the repository suite names them).
const TABLES: usize = 22;

/// Runs the CLI in `dir` with `DATABASE_URL` set (or unset) and returns its output.
fn cli(dir: &Path, url: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).args(args).env_remove("DATABASE_URL");
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    let out = cmd.output().expect("run tollbooth-migration");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "`{}` failed:\n{text}", args.join(" "));
    text
}

/// up → status → down (all) → status → up → fresh, checking the tables each time.
async fn round_trip(db: &TestDb, dir: &Path, url: Option<&str>) {
    let migrations = Migrator::migrations().len();
    cli(dir, url, &["up"]);
    let status = cli(dir, url, &["status"]);
    assert_eq!(
        status.matches("... Applied").count(),
        migrations,
        "{status}"
    );
    assert!(
        db.table_names()
            .await
            .unwrap()
            .contains(&"users".to_owned())
    );

    cli(dir, url, &["down", "-n", &migrations.to_string()]);
    let status = cli(dir, url, &["status"]);
    assert_eq!(
        status.matches("... Pending").count(),
        migrations,
        "{status}"
    );
    assert!(db.table_names().await.unwrap().is_empty());

    cli(dir, url, &["up"]);
    cli(dir, url, &["fresh"]);
    assert_eq!(db.table_names().await.unwrap().len(), TABLES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_default_file_when_database_url_is_unset() {
    let dir = tempfile::tempdir().unwrap();
    cli(dir.path(), None, &["up"]);
    let file = dir.path().join("tollbooth.db");
    assert!(file.exists(), "the default database is ./tollbooth.db");
    let db = tollbooth_db::connect(format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    assert_eq!(db.table_names().await.unwrap().len(), TABLES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_up_down_up() {
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    round_trip(&db, dir.path(), Some(db.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_up_down_up() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    round_trip(&db, dir.path(), Some(db.url())).await;
}

/// Migration 14 rebuilds SQLite's `subscriptions` and `checkout_sessions`: rows written
/// before it survive rolling it back and applying it again, and the CHECK it adds refuses a
/// row billed to both a user and an organization.
async fn billing_rows_survive_organization_billing(db: &TestDb, dir: &Path, url: &str) {
    use tollbooth_db::sea_orm::ConnectionTrait;
    use tollbooth_db::{
        BillingRepo, Customer, NewCheckoutSession, NewOrganization, NewUser, OrganizationRepo,
        SubscriptionUpsert, UserRepo,
    };

    cli(dir, Some(url), &["fresh"]);
    let db = db.connect_again().await;
    let now = tollbooth_db::now();
    let ada = db
        .create_user(NewUser::new("ada@example.com"))
        .await
        .unwrap();
    let ada_billing = Customer::User(ada.id);
    let written = db
        .upsert_subscription(SubscriptionUpsert::new(
            ada_billing,
            "sub_ada",
            "cus_ada",
            "pro",
            "active",
            now,
        ))
        .await
        .unwrap()
        .into_inner();
    db.insert_checkout_session(NewCheckoutSession::new(
        ada_billing,
        "pro",
        "cs_ada",
        "https://checkout.stripe.com/c/cs_ada",
        now + tollbooth_db::chrono::Duration::hours(1),
    ))
    .await
    .unwrap();

    cli(dir, Some(url), &["down", "-n", "1"]);
    cli(dir, Some(url), &["up"]);
    assert_eq!(
        db.list_subscriptions(ada_billing).await.unwrap(),
        vec![written]
    );
    let open = db.find_open_checkout_session(ada_billing, "pro", now).await;
    assert_eq!(open.unwrap().unwrap().stripe_checkout_session_id, "cs_ada");

    let (acme, _) = db
        .create_organization(NewOrganization::new("Acme", "acme"), ada.id)
        .await
        .unwrap();
    let acme_billing = Customer::Organization(acme.id);
    db.upsert_subscription(SubscriptionUpsert::new(
        acme_billing,
        "sub_acme",
        "cus_acme",
        "team",
        "active",
        now,
    ))
    .await
    .unwrap();
    let acme_rows = db.list_subscriptions(acme_billing).await.unwrap();
    assert_eq!(acme_rows.len(), 1);
    assert_eq!(acme_rows[0].customer(), acme_billing);
    assert_eq!(db.list_subscriptions(ada_billing).await.unwrap().len(), 1);
    let both = "UPDATE subscriptions SET user_id = (SELECT user_id FROM subscriptions WHERE \
                stripe_subscription_id = 'sub_ada') WHERE stripe_subscription_id = 'sub_acme'";
    let refused = db.connection().execute_unprepared(both).await;
    assert!(
        refused.is_err(),
        "a row billed to a user and an organization"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_billing_rows_survive_organization_billing() {
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    billing_rows_survive_organization_billing(&db, dir.path(), db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_billing_rows_survive_organization_billing() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    billing_rows_survive_organization_billing(&db, dir.path(), db.url()).await;
}
