//! Test tooling (feature `testing`): real databases, thrown away after the test.
//!
//! - [`TestDb::sqlite`]: a migrated SQLite file in a temporary directory.
//! - [`TestDb::postgres`]: a migrated database of its own on a throwaway PostgreSQL cluster
//!   that this tooling starts (once per test process) with the system's `initdb`/`postgres`,
//!   as an unprivileged user, on a free loopback port, in a temporary directory that is
//!   removed when the test process exits. Set `TOLLBOOTH_TEST_POSTGRES_URL` to an admin URL
//!   (`postgres://user:pass@host:port/postgres`) to use an existing server instead.
//!
//! Without a PostgreSQL installation the PostgreSQL half of a suite is skipped with a
//! warning — except when `CI=true`, where that is a test failure.
//!
//! [`engine_tests!`](crate::engine_tests) writes a suite once and runs it on both engines:
//!
//! ```no_run
//! use tollbooth_db::testing::TestDb;
//!
//! async fn users_are_unique(db: TestDb) { /* … */ }
//!
//! tollbooth_db::engine_tests!(users_are_unique);
//! # fn main() {}
//! ```

mod postgres;

use std::ops::Deref;

use tempfile::TempDir;

use crate::{Db, DbConfig, Engine};

/// A migrated, empty database for one test. Derefs to [`Db`].
#[derive(Debug)]
pub struct TestDb {
    db: Db,
    url: String,
    // Holds the SQLite file's directory until the test ends.
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A migrated SQLite database in a new temporary file.
    pub async fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tollbooth-test-")
            .tempdir()
            .expect("create a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        let db = crate::connect(url.clone()).await.expect("open test SQLite");
        db.migrate().await.expect("migrate test SQLite");
        Self {
            db,
            url,
            _dir: Some(dir),
        }
    }

    /// A migrated database of its own on the test PostgreSQL server, or `None` (after a
    /// warning) when no server can be started outside CI. Panics when `CI=true` and no
    /// server can be started: CI must not silently skip the PostgreSQL suite.
    pub async fn postgres() -> Option<Self> {
        let url = match postgres::fresh_database().await {
            Ok(url) => url,
            Err(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true requires the PostgreSQL suite to run, but: {reason}")
            }
            Err(reason) => {
                postgres::warn_skipped(&reason);
                return None;
            }
        };
        let db = crate::connect(url.clone())
            .await
            .expect("open test PostgreSQL");
        Some(Self {
            db,
            url,
            _dir: None,
        })
    }

    /// A fresh database on `engine` (`None`: PostgreSQL unavailable outside CI).
    pub async fn new(engine: Engine) -> Option<Self> {
        match engine {
            Engine::Sqlite => Some(Self::sqlite().await),
            Engine::Postgres => Self::postgres().await,
        }
    }

    /// The URL of this database, e.g. to point a spawned server at it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A second, independent pool on the same database — another "instance".
    pub async fn connect_again(&self) -> Db {
        Db::connect(DbConfig::new(self.url.clone()))
            .await
            .expect("reconnect to the test database")
    }
}

impl Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

/// Runs each listed `async fn name(db: TestDb)` as two tests, `sqlite::name` and
/// `postgres::name`, each on a fresh migrated database. Needs `tokio` as a dev-dependency.
#[macro_export]
macro_rules! engine_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestDb::sqlite().await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::testing::TestDb::postgres().await {
                        super::$name(db).await;
                    }
                }
            )+
        }
    };
}
