//! Sessions: the rows behind session cookies.

use std::sync::OnceLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QueryTrait, Statement,
};
use uuid::Uuid;

use crate::db::sealed::Executor;
use crate::entities::session::{self, Column, Entity};
use crate::entities::user;
use crate::error::{DbError, Result};
use crate::time::micros;
use crate::{SessionRow, User};

const ENTITY: &str = "session";

/// A session to open.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewSession {
    /// Owner.
    pub user_id: Uuid,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// First idle deadline.
    pub idle_expires_at: DateTime<Utc>,
    /// Hard deadline.
    pub absolute_expires_at: DateTime<Utc>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// An impersonation: the administrator's session (see
    /// [`SessionRow::impersonator_session_id`](crate::SessionRow)).
    pub impersonator_session_id: Option<Uuid>,
}

impl NewSession {
    /// A session for `user_id` opened at `now`, idle-expiring after `idle` and ending after
    /// `absolute` at the latest.
    pub fn new(
        user_id: Uuid,
        now: DateTime<Utc>,
        idle: chrono::Duration,
        absolute: chrono::Duration,
    ) -> Self {
        let absolute_expires_at = now + absolute;
        Self {
            user_id,
            created_at: now,
            idle_expires_at: Ord::min(now + idle, absolute_expires_at),
            absolute_expires_at,
            ip: None,
            user_agent: None,
            impersonator_session_id: None,
        }
    }
}

/// Sessions: open, look up, slide, revoke, list.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SessionRepo: Send + Sync {
    /// Opens a session with a fresh id (the JWT `sid`).
    async fn create_session(&self, session: NewSession) -> Result<SessionRow>;
    /// The session with this id, whatever its state (check [`SessionRow::is_active`]).
    async fn find_session(&self, id: Uuid) -> Result<Option<SessionRow>>;
    /// The session and its user in one query (the per-request lookup).
    async fn find_session_with_user(&self, id: Uuid) -> Result<Option<(SessionRow, User)>>;
    /// Records use at `now` and moves the idle deadline (never past the absolute one).
    /// `false` if the session is unknown, revoked or expired.
    async fn touch_session(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Sets (or with `None` clears) the organization the session acts in; `false` if the
    /// session is unknown or revoked. The caller checks membership under the
    /// organization's lock ([`OrganizationRepo::lock_organization`](crate::OrganizationRepo::lock_organization)),
    /// so a concurrent removal cannot leave it set.
    async fn set_active_organization(
        &self,
        id: Uuid,
        organization_id: Option<Uuid>,
    ) -> Result<bool>;
    /// Revokes one session; `false` if it was unknown or already revoked.
    async fn revoke_session(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool>;
    /// Records that the (live) session re-authenticated at `at`; `false` if it is not live.
    async fn mark_session_authenticated(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// Revokes every live session of the user except `keep`; returns how many.
    async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<u64>;
    /// The user's usable sessions at `now`, newest first.
    async fn list_active_sessions(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionRow>>;
    /// Every stored session of the user, live or ended (until the purge), newest first.
    async fn list_user_sessions(&self, user_id: Uuid) -> Result<Vec<SessionRow>>;
    /// Deletes sessions that ended (expired or revoked) before `before`; returns how many.
    async fn purge_sessions(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// The SQL of the per-request lookup (sessions LEFT JOIN users, columns prefixed `A_` / `B_`).
///
/// It runs on every authenticated request, and building it with sea-query took longer than
/// executing it (44 of 107 µs on SQLite in the `get_session` benchmark), so it is built once
/// per backend; each call only binds the id.
fn session_with_user_sql(backend: DbBackend) -> String {
    static SQLITE: OnceLock<String> = OnceLock::new();
    static POSTGRES: OnceLock<String> = OnceLock::new();
    let build = || {
        Entity::find_by_id(Uuid::nil())
            .find_also_related(user::Entity)
            .build(backend)
            .sql
    };
    match backend {
        DbBackend::Sqlite => SQLITE.get_or_init(build).clone(),
        DbBackend::Postgres => POSTGRES.get_or_init(build).clone(),
        _ => build(),
    }
}

/// Not revoked and within both deadlines at `now`.
fn active_at(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(Column::RevokedAt.is_null())
        .add(Column::IdleExpiresAt.gt(now))
        .add(Column::AbsoluteExpiresAt.gt(now))
}

#[async_trait]
impl<E: Executor> SessionRepo for E {
    async fn create_session(&self, session: NewSession) -> Result<SessionRow> {
        let model = session::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(session.user_id),
            created_at: Set(micros(session.created_at)),
            last_seen_at: Set(micros(session.created_at)),
            idle_expires_at: Set(micros(session.idle_expires_at)),
            absolute_expires_at: Set(micros(session.absolute_expires_at)),
            revoked_at: Set(None),
            ip: Set(session.ip),
            user_agent: Set(session.user_agent),
            authenticated_at: Set(None),
            impersonator_session_id: Set(session.impersonator_session_id),
            active_organization_id: Set(None),
        };
        Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_session(&self, id: Uuid) -> Result<Option<SessionRow>> {
        Entity::find_by_id(id)
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_session_with_user(&self, id: Uuid) -> Result<Option<(SessionRow, User)>> {
        let backend = self.conn().get_database_backend();
        let statement =
            Statement::from_sql_and_values(backend, session_with_user_sql(backend), [id.into()]);
        let Some(row) = self
            .conn()
            .query_one_raw(statement)
            .await
            .map_err(DbError::on(ENTITY))?
        else {
            return Ok(None);
        };
        let session = SessionRow::from_query_result(&row, "A_").map_err(DbError::on(ENTITY))?;
        // The foreign key guarantees the user exists; an inner join in spirit.
        let user = User::from_query_result_optional(&row, "B_").map_err(DbError::on(ENTITY))?;
        Ok(user.map(|user| (session, user)))
    }

    async fn touch_session(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let now = micros(now);
        // `MIN(new, absolute)` in SQL keeps the clamp atomic with the update.
        let clamped = Expr::case(
            Expr::col(Column::AbsoluteExpiresAt).lt(micros(idle_expires_at)),
            Expr::col(Column::AbsoluteExpiresAt),
        )
        .finally(Expr::value(micros(idle_expires_at)));
        let result = Entity::update_many()
            .col_expr(Column::LastSeenAt, Expr::value(now))
            .col_expr(Column::IdleExpiresAt, clamped.into())
            .filter(Column::Id.eq(id))
            .filter(active_at(now))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn mark_session_authenticated(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let at = micros(at);
        let result = Entity::update_many()
            .col_expr(Column::AuthenticatedAt, Expr::value(at))
            .filter(Column::Id.eq(id))
            .filter(active_at(at))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn set_active_organization(
        &self,
        id: Uuid,
        organization_id: Option<Uuid>,
    ) -> Result<bool> {
        let result = Entity::update_many()
            .col_expr(Column::ActiveOrganizationId, Expr::value(organization_id))
            .filter(Column::Id.eq(id))
            .filter(Column::RevokedAt.is_null())
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn revoke_session(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
        let result = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(micros(now)))
            .filter(Column::Id.eq(id))
            .filter(Column::RevokedAt.is_null())
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut update = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(micros(now)))
            .filter(Column::UserId.eq(user_id))
            .filter(Column::RevokedAt.is_null());
        if let Some(keep) = keep {
            update = update.filter(Column::Id.ne(keep));
        }
        let result = update
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected)
    }

    async fn list_active_sessions(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionRow>> {
        Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(active_at(micros(now)))
            .order_by_desc(Column::CreatedAt)
            .all(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn list_user_sessions(&self, user_id: Uuid) -> Result<Vec<SessionRow>> {
        Entity::find()
            .filter(Column::UserId.eq(user_id))
            .order_by_desc(Column::CreatedAt)
            .all(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> Result<u64> {
        let before = micros(before);
        let ended = Condition::any()
            .add(Column::AbsoluteExpiresAt.lt(before))
            .add(Column::IdleExpiresAt.lt(before))
            .add(Column::RevokedAt.lt(before));
        let result = Entity::delete_many()
            .filter(ended)
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected)
    }
}
