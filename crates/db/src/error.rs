//! The crate's one error type.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use sea_orm::RuntimeErr;
use sea_orm::{DbErr, SqlErr};

/// `Result` with [`DbError`].
pub type Result<T, E = DbError> = std::result::Result<T, E>;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong talking to the database.
///
/// "Not found" is not an error: lookups return `Option`. Constraint violations are typed
/// (classified from the driver's error codes, never from message text), so callers can turn
/// [`Conflict`](Self::Conflict) into a 409 and [`Unavailable`](Self::Unavailable) into a 503.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// A unique constraint refused the write: the row already exists.
    #[error("{entity} already exists")]
    Conflict {
        /// What was being written (`user`, `account`, `webhook event`, …).
        entity: &'static str,
    },
    /// The write references a row that does not exist (foreign key).
    #[error("{entity} references a row that does not exist")]
    MissingReference {
        /// What was being written.
        entity: &'static str,
    },
    /// A value was refused before reaching the database.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The offending field.
        field: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The configuration cannot work (unsupported URL scheme, zero-sized pool, …).
    #[error("invalid database configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The database could not be reached, or no pooled connection freed up in time.
    /// Transient: retrying later may succeed.
    #[error("database unavailable")]
    Unavailable {
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// Applying or rolling back migrations failed.
    #[error("database migration failed")]
    Migration {
        /// The migrator's error.
        #[source]
        source: BoxError,
    },
    /// Any other database failure (a bug, a schema mismatch, a full disk).
    #[error("database query failed")]
    Query {
        /// The driver's error.
        #[source]
        source: BoxError,
    },
}

impl DbError {
    /// Classifies a driver error raised while writing or reading `entity`.
    pub(crate) fn from_db(entity: &'static str, err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => return Self::Conflict { entity },
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                return Self::MissingReference { entity };
            }
            _ => {}
        }
        if is_unavailable(&err) {
            Self::Unavailable {
                source: Box::new(err),
            }
        } else {
            Self::Query {
                source: Box::new(err),
            }
        }
    }

    /// `map_err` adapter: `.map_err(DbError::on("user"))`.
    pub(crate) fn on(entity: &'static str) -> impl FnOnce(DbErr) -> Self {
        move |err| Self::from_db(entity, err)
    }
}

/// Connection-level failures (as opposed to a statement the database refused).
fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            use sea_orm::sqlx::Error as Sqlx;
            match &**e {
                Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed => true,
                // The server ending the session: class 08 (connection exception) and 57P01-03,
                // 57P05 (shut down by an administrator or a crash, not accepting connections
                // yet, idle session timeout). Not 08P01 (protocol violation: a bug on our
                // side) nor 57P04 (database dropped: permanent) — retrying cannot fix those.
                Sqlx::Database(db) => db.code().is_some_and(|code| {
                    (code.starts_with("08") && code != "08P01")
                        || matches!(&*code, "57P01" | "57P02" | "57P03" | "57P05")
                }),
                _ => false,
            }
        }
        _ => false,
    }
}
