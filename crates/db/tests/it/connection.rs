//! Connecting: failures are typed and say what is wrong.

use std::time::Duration;

use tollbooth_db::{DbConfig, DbError, Engine};

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Bind then drop a listener: nothing accepts on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = DbConfig::new(format!("postgres://app:hunter2@127.0.0.1:{port}/app"))
        .connect_timeout(Duration::from_secs(2))
        .acquire_timeout(Duration::from_secs(2));
    let err = tollbooth_db::Db::connect(config).await.unwrap_err();
    assert!(matches!(err, DbError::Unavailable { .. }), "{err:?}");
    assert_eq!(err.to_string(), "database unavailable");
    assert!(
        !format!("{err:?}").contains("hunter2"),
        "no password in errors"
    );
}

#[tokio::test]
async fn an_unsupported_scheme_is_a_config_error() {
    let err = tollbooth_db::connect("mysql://localhost/app")
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::InvalidConfig { .. }), "{err:?}");
}

#[tokio::test]
async fn a_sqlite_file_in_a_missing_directory_is_unavailable() {
    let err = tollbooth_db::connect("sqlite:///nonexistent-dir/x/tollbooth.db?mode=rwc")
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn in_memory_sqlite_is_one_database_whatever_the_pool_size() {
    let db = tollbooth_db::Db::connect(DbConfig::new("sqlite::memory:").max_connections(8))
        .await
        .unwrap();
    assert_eq!(db.engine(), Engine::Sqlite);
    db.migrate().await.unwrap();
    // With several connections each would see its own empty database and this would fail.
    let (a, b) = tokio::join!(db.table_names(), db.table_names());
    assert_eq!(a.unwrap(), b.unwrap());
    assert!(
        db.table_names()
            .await
            .unwrap()
            .contains(&"users".to_owned())
    );
}

#[tokio::test]
async fn a_sqlite_file_is_created_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let db = tollbooth_db::connect(format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    assert!(path.exists());
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.connection().get_database_backend();
    for (pragma, expected) in [("journal_mode", "wal"), ("foreign_keys", "1")] {
        let row = db
            .connection()
            .query_one_raw(Statement::from_string(backend, format!("PRAGMA {pragma}")))
            .await
            .unwrap()
            .unwrap();
        let value: String = row
            .try_get_by_index::<String>(0)
            .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(value, expected, "PRAGMA {pragma}");
    }
}
