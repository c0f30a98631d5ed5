//! The connection pool ([`Db`]) and explicit transactions ([`Tx`]).

use std::fmt;

#[cfg(feature = "sqlite")]
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tollbooth_migration::{Migrator, MigratorTrait};

use crate::config::{DbConfig, Engine, redact_url};
use crate::error::{DbError, Result};

/// Key of the PostgreSQL advisory lock that serialises concurrent migration runs
/// (the ASCII bytes of "tollboot").
const MIGRATION_LOCK_KEY: i64 = 0x746F_6C6C_626F_6F74;

/// A pool of database connections: cheap to clone, share it across tasks.
///
/// Every repository trait ([`UserRepo`](crate::UserRepo), …) is implemented for `Db` (each
/// call runs on its own pooled connection) and for [`Tx`] (calls run inside the transaction).
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    engine: Engine,
    url: String,
}

/// Opens a pool on `url` with default settings; see [`DbConfig::new`].
///
/// `sqlite://path?mode=rwc` creates the file if needed; `postgres://…` connects to a server.
pub async fn connect(url: impl Into<String>) -> Result<Db> {
    Db::connect(DbConfig::new(url)).await
}

/// Applies every pending migration (idempotent; safe at each start-up).
pub async fn migrate(db: &Db) -> Result<()> {
    db.migrate().await
}

impl Db {
    /// Opens a pool. SQLite connections are set up for a web service: WAL journal (readers
    /// never block the writer), `synchronous=NORMAL`, foreign keys enforced, and a busy
    /// timeout so concurrent writers queue instead of failing.
    pub async fn connect(config: DbConfig) -> Result<Self> {
        let engine = config.validate()?;
        let mut options = ConnectOptions::new(config.url.clone());
        options
            .max_connections(config.effective_max_connections(engine))
            .min_connections(config.min_connections)
            .connect_timeout(config.connect_timeout)
            .acquire_timeout(config.acquire_timeout)
            .test_before_acquire_if_idle_for(config.ping_idle_after)
            .sqlx_logging(config.log_statements)
            .sqlx_logging_level(tracing::log::LevelFilter::Debug);
        if config.is_in_memory() {
            // The database lives as long as its one connection: never recycle it.
            options
                .idle_timeout(None)
                .max_lifetime(None)
                .min_connections(1);
        } else {
            options.idle_timeout(config.idle_timeout);
        }
        #[cfg(feature = "sqlite")]
        if engine == Engine::Sqlite {
            let busy_timeout = config.busy_timeout;
            let in_memory = config.is_in_memory();
            options.map_sqlx_sqlite_opts(move |opts| {
                let opts = opts
                    .foreign_keys(true)
                    .busy_timeout(busy_timeout)
                    .synchronous(SqliteSynchronous::Normal);
                if in_memory {
                    opts
                } else {
                    opts.journal_mode(SqliteJournalMode::Wal)
                }
            });
        }
        let conn = Database::connect(options).await.map_err(|err| {
            match DbError::from_db("connection", err) {
                DbError::Query { source } => DbError::Unavailable { source },
                other => other,
            }
        })?;
        Ok(Self {
            conn,
            engine,
            url: config.url,
        })
    }

    /// Applies every pending migration.
    ///
    /// Safe when several replicas start at once: the whole run is one transaction that first
    /// takes the write lock (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock), so the
    /// replicas migrate one after the other (later ones find nothing pending) and a failed
    /// run leaves no partial schema.
    pub async fn migrate(&self) -> Result<()> {
        let failed = |err| DbError::Migration {
            source: Box::new(err),
        };
        let Tx { tx } = self.begin().await?;
        if self.engine == Engine::Postgres {
            tx.execute_raw(Statement::from_string(
                self.conn.get_database_backend(),
                format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"),
            ))
            .await
            .map_err(failed)?;
        }
        Migrator::up(&tx, None).await.map_err(failed)?;
        tx.commit().await.map_err(failed)
    }

    /// Starts a transaction. Dropping the [`Tx`] without [`Tx::commit`] rolls it back.
    ///
    /// On SQLite the transaction takes the write lock at once (`BEGIN IMMEDIATE`), so two
    /// read-then-write transactions queue on the busy timeout instead of one failing with
    /// `SQLITE_BUSY` when it upgrades.
    pub async fn begin(&self) -> Result<Tx> {
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.engine == Engine::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let tx = self
            .conn
            .begin_with_options(options)
            .await
            .map_err(DbError::on("transaction"))?;
        Ok(Tx { tx })
    }

    /// The engine behind the pool.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        self.conn.ping().await.map_err(DbError::on("ping"))
    }

    /// Names of the application's tables (migration bookkeeping excluded), sorted.
    pub async fn table_names(&self) -> Result<Vec<String>> {
        let sql = match self.engine {
            Engine::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' ORDER BY name"
            }
            Engine::Postgres => {
                "SELECT table_name AS name FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations' \
                 ORDER BY table_name"
            }
        };
        let backend = self.conn.get_database_backend();
        let rows = self
            .conn
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .map_err(DbError::on("table list"))?;
        rows.iter()
            .map(|row| row.try_get::<String>("", "name"))
            .collect::<std::result::Result<_, _>>()
            .map_err(DbError::on("table list"))
    }

    /// Closes every pooled connection.
    pub async fn close(self) -> Result<()> {
        self.conn.close().await.map_err(DbError::on("close"))
    }

    /// The underlying sea-orm connection, for queries the repositories do not cover.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("engine", &self.engine)
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

/// An open transaction. Repository calls on it see each other's writes and become visible
/// to others only on [`commit`](Self::commit); dropping it rolls everything back.
///
/// ```no_run
/// # async fn demo(db: &tollbooth_db::Db) -> tollbooth_db::Result<()> {
/// use tollbooth_db::{WebhookEventRepo, WebhookSource};
///
/// let tx = db.begin().await?;
/// tx.record_webhook_event(WebhookSource::Stripe, "evt_1", "invoice.paid", tollbooth_db::now())
///     .await?; // `Conflict` here means: already processed
/// // … apply the event's change through `tx` …
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct Tx {
    tx: DatabaseTransaction,
}

impl Tx {
    /// Makes the transaction's writes durable and visible.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await.map_err(DbError::on("commit"))
    }

    /// Discards the transaction's writes (same as dropping it, but reports errors).
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await.map_err(DbError::on("rollback"))
    }

    /// The underlying sea-orm transaction, for queries the repositories do not cover.
    pub fn connection(&self) -> &DatabaseTransaction {
        &self.tx
    }
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tx")
    }
}

pub(crate) mod sealed {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    /// Where repository statements run: the pool or an open transaction. Sealed so the
    /// repository traits' blanket implementations cover exactly [`Db`](super::Db) and
    /// [`Tx`](super::Tx).
    pub trait Executor: Send + Sync {
        /// The sea-orm connection type.
        type Conn: ConnectionTrait + TransactionTrait + Send + Sync;
        /// The connection statements run on.
        fn conn(&self) -> &Self::Conn;
    }
}

impl sealed::Executor for Db {
    type Conn = DatabaseConnection;
    fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }
}

impl sealed::Executor for Tx {
    type Conn = DatabaseTransaction;
    fn conn(&self) -> &DatabaseTransaction {
        &self.tx
    }
}
