//! Users.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::db::sealed::Executor;
use crate::entities::user::{self, Column, Entity};
use crate::error::{DbError, Result};
use crate::time::{micros, micros_opt, now};
use crate::{User, normalize_email};

const ENTITY: &str = "user";

/// What a new user starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewUser {
    /// Any case and surrounding spaces; stored normalized.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL.
    pub image: Option<String>,
    /// Role; `user` unless set.
    pub role: String,
    /// Set when the address is already proven (e.g. a verified OAuth e-mail).
    pub email_verified_at: Option<DateTime<Utc>>,
}

impl NewUser {
    /// A `user`-role account for `email`, unverified, without name or image.
    pub fn new(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            name: None,
            image: None,
            role: "user".to_owned(),
            email_verified_at: None,
        }
    }

    /// Sets the display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Marks the address as verified at `at`.
    pub fn verified_at(mut self, at: DateTime<Utc>) -> Self {
        self.email_verified_at = Some(at);
        self
    }
}

/// Which users [`UserRepo::search_users`] returns, in id (creation) order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserQuery {
    /// Only addresses starting with this (compared normalized).
    pub email_prefix: Option<String>,
    /// Only this role.
    pub role: Option<String>,
    /// Only users whose ban is in force at `now` (`true`) or who are not banned (`false`).
    pub banned: Option<bool>,
    /// Only users created at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Only users created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Keyset pagination: only users after this id (the last of the previous page).
    pub after: Option<Uuid>,
}

/// Users: creation, lookups by id, e-mail and Stripe customer, and the few fields that change.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserRepo: Send + Sync {
    /// Creates a user. An e-mail already taken (in any letter case) is
    /// [`DbError::Conflict`].
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// The user with this id.
    async fn find_user(&self, id: Uuid) -> Result<Option<User>>;
    /// The user with this id, locked against other writers until the transaction ends
    /// (`SELECT … FOR UPDATE` on PostgreSQL; SQLite runs one writing transaction at a time
    /// anyway): serializes read-then-write decisions about one user across instances.
    async fn lock_user(&self, id: Uuid) -> Result<Option<User>>;
    /// The user with this e-mail (compared normalized).
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// The user owning this Stripe customer.
    async fn find_user_by_stripe_customer(&self, customer_id: &str) -> Result<Option<User>>;
    /// Records that the user proved their address; `None` if there is no such user.
    async fn mark_email_verified(&self, id: Uuid, at: DateTime<Utc>) -> Result<Option<User>>;
    /// Gives the user the (normalized) address `email`, verified at `verified_at`. An address
    /// another user has is [`DbError::Conflict`](crate::DbError::Conflict) (the unique index
    /// decides, so two concurrent changes to one address cannot both win).
    async fn set_user_email(
        &self,
        id: Uuid,
        email: &str,
        verified_at: DateTime<Utc>,
    ) -> Result<Option<User>>;
    /// Sets the user's display name and avatar URL (`None` clears); `None` if there is no
    /// such user.
    async fn set_user_profile(
        &self,
        id: Uuid,
        name: Option<String>,
        image: Option<String>,
    ) -> Result<Option<User>>;
    /// Changes the user's role; `None` if there is no such user.
    async fn set_user_role(&self, id: Uuid, role: &str) -> Result<Option<User>>;
    /// Bans the user from `at` (until `expires_at`, or until lifted), with the
    /// administrator's reason; `None` if there is no such user. Ending their sessions is the
    /// caller's, in the same transaction.
    async fn ban_user(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        reason: Option<String>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Option<User>>;
    /// Lifts the user's ban; `None` if there is no such user.
    async fn unban_user(&self, id: Uuid) -> Result<Option<User>>;
    /// The users matching `query` as of `now`, in id order, at most `limit`.
    async fn search_users(
        &self,
        query: &UserQuery,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<User>>;
    /// Attaches a Stripe customer; [`DbError::Conflict`] if another user has it.
    async fn set_stripe_customer_id(&self, id: Uuid, customer_id: &str) -> Result<Option<User>>;
    /// Users with a Stripe customer, in id order, `limit` at a time after `after` (keyset
    /// pagination, for reconciliation jobs).
    async fn list_stripe_customers(&self, after: Option<Uuid>, limit: u64) -> Result<Vec<User>>;
    /// Deletes the user and, by cascade, their accounts, sessions, tokens and subscriptions.
    async fn delete_user(&self, id: Uuid) -> Result<bool>;
}

#[async_trait]
impl<E: Executor> UserRepo for E {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        let email = normalize_email(&user.email)?;
        let at = now();
        let model = user::ActiveModel {
            id: Set(Uuid::now_v7()),
            email: Set(email),
            email_verified_at: Set(micros_opt(user.email_verified_at)),
            name: Set(user.name),
            image: Set(user.image),
            role: Set(user.role),
            stripe_customer_id: Set(None),
            banned_at: Set(None),
            ban_reason: Set(None),
            ban_expires_at: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        };
        Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_user(&self, id: Uuid) -> Result<Option<User>> {
        Entity::find_by_id(id)
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn lock_user(&self, id: Uuid) -> Result<Option<User>> {
        Entity::find_by_id(id)
            .lock_exclusive()
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let Ok(email) = normalize_email(email) else {
            return Ok(None);
        };
        Entity::find()
            .filter(Column::Email.eq(email))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_user_by_stripe_customer(&self, customer_id: &str) -> Result<Option<User>> {
        Entity::find()
            .filter(Column::StripeCustomerId.eq(customer_id))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn mark_email_verified(&self, id: Uuid, at: DateTime<Utc>) -> Result<Option<User>> {
        update_one(self, id, Column::EmailVerifiedAt, Expr::value(micros(at))).await
    }

    async fn set_user_email(
        &self,
        id: Uuid,
        email: &str,
        verified_at: DateTime<Utc>,
    ) -> Result<Option<User>> {
        let email = normalize_email(email)?;
        let values = [
            (Column::Email, Expr::value(email)),
            (Column::EmailVerifiedAt, Expr::value(micros(verified_at))),
        ];
        update(self, id, values).await
    }

    async fn set_user_profile(
        &self,
        id: Uuid,
        name: Option<String>,
        image: Option<String>,
    ) -> Result<Option<User>> {
        let values = [
            (Column::Name, Expr::value(name)),
            (Column::Image, Expr::value(image)),
        ];
        update(self, id, values).await
    }

    async fn set_user_role(&self, id: Uuid, role: &str) -> Result<Option<User>> {
        update_one(self, id, Column::Role, Expr::value(role)).await
    }

    async fn ban_user(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        reason: Option<String>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Option<User>> {
        update(
            self,
            id,
            [
                (Column::BannedAt, Expr::value(micros(at))),
                (Column::BanReason, Expr::value(reason)),
                (Column::BanExpiresAt, Expr::value(micros_opt(expires_at))),
            ],
        )
        .await
    }

    async fn unban_user(&self, id: Uuid) -> Result<Option<User>> {
        let none: Option<DateTime<Utc>> = None;
        update(
            self,
            id,
            [
                (Column::BannedAt, Expr::value(none)),
                (Column::BanReason, Expr::value(None::<String>)),
                (Column::BanExpiresAt, Expr::value(none)),
            ],
        )
        .await
    }

    async fn search_users(
        &self,
        query: &UserQuery,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<User>> {
        let mut select = Entity::find().order_by_asc(Column::Id).limit(limit);
        if let Some(prefix) = &query.email_prefix {
            // LIKE's wildcards in the prefix are literal: `a_b` matches only `a_b…`.
            let mut pattern = String::new();
            for c in prefix.trim().to_lowercase().chars() {
                if matches!(c, '\\' | '%' | '_') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            pattern.push('%');
            let like = LikeExpr::new(pattern).escape('\\');
            select = select.filter(Expr::col(Column::Email).like(like));
        }
        if let Some(role) = &query.role {
            select = select.filter(Column::Role.eq(role.as_str()));
        }
        if let Some(banned) = query.banned {
            let in_force = Condition::all().add(Column::BannedAt.is_not_null()).add(
                Condition::any()
                    .add(Column::BanExpiresAt.is_null())
                    .add(Column::BanExpiresAt.gt(micros(now))),
            );
            select = select.filter(if banned { in_force } else { in_force.not() });
        }
        if let Some(after) = query.created_after {
            select = select.filter(Column::CreatedAt.gte(micros(after)));
        }
        if let Some(before) = query.created_before {
            select = select.filter(Column::CreatedAt.lt(micros(before)));
        }
        if let Some(after) = query.after {
            select = select.filter(Column::Id.gt(after));
        }
        select.all(self.conn()).await.map_err(DbError::on(ENTITY))
    }

    async fn set_stripe_customer_id(&self, id: Uuid, customer_id: &str) -> Result<Option<User>> {
        update_one(self, id, Column::StripeCustomerId, Expr::value(customer_id)).await
    }

    async fn list_stripe_customers(&self, after: Option<Uuid>, limit: u64) -> Result<Vec<User>> {
        let mut query = Entity::find()
            .filter(Column::StripeCustomerId.is_not_null())
            .order_by_asc(Column::Id)
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(Column::Id.gt(after));
        }
        query.all(self.conn()).await.map_err(DbError::on(ENTITY))
    }

    async fn delete_user(&self, id: Uuid) -> Result<bool> {
        let result = Entity::delete_by_id(id)
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }
}

/// Sets one column (and `updated_at`) on the user `id`, returning the updated row.
async fn update_one<E: Executor>(
    executor: &E,
    id: Uuid,
    column: Column,
    value: Expr,
) -> Result<Option<User>> {
    update(executor, id, [(column, value)]).await
}

/// Sets columns (and `updated_at`) on the user `id`, returning the updated row.
async fn update<E: Executor>(
    executor: &E,
    id: Uuid,
    values: impl IntoIterator<Item = (Column, Expr)>,
) -> Result<Option<User>> {
    let mut statement = Entity::update_many();
    for (column, value) in values {
        statement = statement.col_expr(column, value);
    }
    let updated = statement
        .col_expr(Column::UpdatedAt, Expr::value(now()))
        .filter(Column::Id.eq(id))
        .exec_with_returning(executor.conn())
        .await
        .map_err(DbError::on(ENTITY))?;
    Ok(updated.into_iter().next())
}
