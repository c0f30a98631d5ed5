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
