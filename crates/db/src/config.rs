//! Connection settings, passed in by the application (libraries never read the environment).

use std::fmt;
use std::time::Duration;

use crate::error::{DbError, Result};

/// The SQL engines Tollbooth supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// SQLite, embedded (the default: `sqlite://tollbooth.db?mode=rwc`).
    Sqlite,
    /// PostgreSQL, for production and several instances sharing one database.
    Postgres,
}

impl Engine {
    /// The engine a URL names, from its scheme.
    pub fn from_url(url: &str) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        let (engine, feature) = match scheme {
            "sqlite" => (Self::Sqlite, "sqlite"),
            "postgres" | "postgresql" => (Self::Postgres, "postgres"),
            _ => {
                return Err(DbError::InvalidConfig {
                    reason: format!(
                        "unsupported database URL scheme `{scheme}:`; use `sqlite://…` or `postgres://…`"
                    ),
                });
            }
        };
        let compiled_in = match engine {
            Self::Sqlite => cfg!(feature = "sqlite"),
            Self::Postgres => cfg!(feature = "postgres"),
        };
        if compiled_in {
            Ok(engine)
        } else {
            Err(DbError::InvalidConfig {
                reason: format!("tollbooth-db was built without its `{feature}` feature"),
            })
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

/// How to connect: URL and pool settings.
///
/// ```
/// use std::time::Duration;
/// use tollbooth_db::DbConfig;
///
/// let config = DbConfig::new("postgres://app:secret@db.internal/app")
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(2));
/// // The password never reaches logs:
/// assert!(!format!("{config:?}").contains("secret"));
/// ```
#[derive(Clone)]
pub struct DbConfig {
    pub(crate) url: String,
    pub(crate) max_connections: Option<u32>,
    pub(crate) min_connections: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) acquire_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) busy_timeout: Duration,
    pub(crate) ping_idle_after: Duration,
    pub(crate) log_statements: bool,
}

impl DbConfig {
    /// Settings for `url` with defaults suited to a web service: up to 10 pooled connections
    /// (5 for a SQLite file, whose writers serialize anyway; 1 for `sqlite::memory:`), 5 s to
    /// connect or acquire, idle connections closed after 10 minutes, SQLite waiting up to 5 s
    /// for a write lock, connections pinged before use only after 30 s idle, statement logging
    /// off.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: None,
            min_connections: 0,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(600)),
            busy_timeout: Duration::from_secs(5),
            ping_idle_after: Duration::from_secs(30),
            log_statements: false,
        }
    }

    /// Largest number of pooled connections.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// Connections kept open even when idle.
    pub fn min_connections(mut self, n: u32) -> Self {
        self.min_connections = n;
        self
    }

    /// How long establishing a connection may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a query may wait for a free pooled connection before
    /// [`DbError::Unavailable`].
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Close connections idle for longer than this (`None`: never).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// SQLite only: how long a writer waits for the write lock before failing.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Ping a pooled connection before use only if it sat idle this long (default 30 s):
    /// stale connections (dropped by a server restart, a proxy, a firewall) are caught,
    /// and hot ones skip a round trip — pinging on every checkout doubled the latency of
    /// the per-request session lookup.
    pub fn ping_idle_after(mut self, idle: Duration) -> Self {
        self.ping_idle_after = idle;
        self
    }

    /// Log every SQL statement at debug level (never enable in production: values are shown).
    pub fn log_statements(mut self, on: bool) -> Self {
        self.log_statements = on;
        self
    }

    /// The engine the URL names.
    pub fn engine(&self) -> Result<Engine> {
        Engine::from_url(&self.url)
    }

    /// The URL, as given. It may contain a password: do not log it (`Debug` redacts it).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn is_in_memory(&self) -> bool {
        self.url.starts_with("sqlite::memory:") || self.url.contains("mode=memory")
    }

    pub(crate) fn effective_max_connections(&self, engine: Engine) -> u32 {
        match (self.max_connections, engine) {
            // Each connection to `sqlite::memory:` would be its own empty database.
            _ if self.is_in_memory() => 1,
            (Some(n), _) => n,
            (None, Engine::Sqlite) => 5,
            (None, Engine::Postgres) => 10,
        }
    }

    pub(crate) fn validate(&self) -> Result<Engine> {
        let engine = self.engine()?;
        let max = self.effective_max_connections(engine);
        if max == 0 {
            return Err(DbError::InvalidConfig {
                reason: "max_connections must be at least 1".to_owned(),
            });
        }
        if self.min_connections > max {
            return Err(DbError::InvalidConfig {
                reason: format!(
                    "min_connections ({}) exceeds max_connections ({max})",
                    self.min_connections
                ),
            });
        }
        Ok(engine)
    }
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("busy_timeout", &self.busy_timeout)
            .field("ping_idle_after", &self.ping_idle_after)
            .field("log_statements", &self.log_statements)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:[redacted]@host/db`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let secret = if userinfo.contains(':') {
                ":[redacted]"
            } else {
                ""
            };
            format!("{scheme}://{user}{secret}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://app:s3cr3t@db:5432/app?sslmode=require"),
            "postgres://app:[redacted]@db:5432/app?sslmode=require"
        );
        assert_eq!(redact_url("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(
            redact_url("sqlite://tollbooth.db?mode=rwc"),
            "sqlite://tollbooth.db?mode=rwc"
        );
        assert_eq!(
            redact_url("postgres://a:p@ss@db/x"),
            "postgres://a:[redacted]@db/x"
        );
    }

    #[test]
    fn engine_comes_from_the_scheme() {
        assert_eq!(Engine::from_url("sqlite::memory:").unwrap(), Engine::Sqlite);
        assert_eq!(
            Engine::from_url("postgresql://localhost/x").unwrap(),
            Engine::Postgres
        );
        let err = Engine::from_url("mysql://localhost/x").unwrap_err();
        assert!(
            err.to_string()
                .contains("unsupported database URL scheme `mysql:`")
        );
    }

    #[test]
    fn pool_limits_are_validated() {
        assert!(DbConfig::new("sqlite::memory:").validate().is_ok());
        assert_eq!(
            DbConfig::new("sqlite::memory:")
                .max_connections(8)
                .effective_max_connections(Engine::Sqlite),
            1
        );
        let err = DbConfig::new("postgres://x/y")
            .max_connections(0)
            .validate()
            .unwrap_err();
        assert!(matches!(err, DbError::InvalidConfig { .. }));
        let err = DbConfig::new("postgres://x/y")
            .max_connections(2)
            .min_connections(3)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("min_connections (3) exceeds"));
    }
}
