//! Organizations and their memberships.
//!
//! "Every organization keeps an owner" spans rows, so no constraint can hold it: the
//! membership changes that could break it run under [`OrganizationRepo::lock_organization`]
//! in one transaction, and count the owners after taking the lock.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionSession, TransactionTrait,
};

use uuid::Uuid;

use crate::db::sealed::Executor;
use crate::entities::{membership, organization, session, user};
use crate::error::{DbError, Result};
use crate::time::{micros, now};
use crate::{Membership, Organization, User};

const ENTITY: &str = "organization";
const MEMBERSHIP: &str = "membership";

/// The role that may do everything in an organization, including delete it; every
/// organization keeps at least one.
pub const OWNER_ROLE: &str = "owner";

/// An organization to create.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewOrganization {
    /// Display name.
    pub name: String,
    /// Canonical slug (lower-case letters, digits, inner hyphens).
    pub slug: String,
}

impl NewOrganization {
    /// An organization named `name` at `slug`.
    pub fn new(name: impl Into<String>, slug: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            slug: slug.into(),
        }
    }
}

/// Organizations, memberships and the lock that orders membership changes.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OrganizationRepo: Send + Sync {
    /// Creates the organization with `owner` as its first member (role [`OWNER_ROLE`]),
    /// both or neither. A taken slug is [`DbError::Conflict`].
    async fn create_organization(
        &self,
        organization: NewOrganization,
        owner: Uuid,
    ) -> Result<(Organization, Membership)>;
    /// The organization with this id.
    async fn find_organization(&self, id: Uuid) -> Result<Option<Organization>>;
    /// The organization with this (canonical) slug.
    async fn find_organization_by_slug(&self, slug: &str) -> Result<Option<Organization>>;
    /// Writes the name and slug; `None` if the organization is gone. A taken slug is
    /// [`DbError::Conflict`].
    async fn update_organization(
        &self,
        id: Uuid,
        name: &str,
        slug: &str,
    ) -> Result<Option<Organization>>;
    /// Locks the organization's row until the transaction ends (a row lock on PostgreSQL,
    /// the write lock on SQLite), so membership changes of one organization run one after
    /// the other; `None` if it does not exist. Call it first, on a [`Tx`](crate::Tx).
    async fn lock_organization(&self, id: Uuid) -> Result<Option<Organization>>;
    /// Deletes the organization (memberships and invitations cascade) and clears it as the
    /// active organization of every session; `false` if it was gone.
    async fn delete_organization(&self, id: Uuid) -> Result<bool>;
    /// The user's membership of the organization.
    async fn find_membership(
        &self,
        organization_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Membership>>;
    /// Every organization the user belongs to, with their membership, oldest membership
    /// first.
    async fn user_organizations(&self, user_id: Uuid) -> Result<Vec<(Organization, Membership)>>;
    /// A page of members with their users, in joining order, after the membership `after`.
    async fn list_members(
        &self,
        organization_id: Uuid,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<(Membership, User)>>;
    /// How many members the organization has.
    async fn count_members(&self, organization_id: Uuid) -> Result<u64>;
    /// The organization's owners ([`OWNER_ROLE`]), in joining order: whom billing e-mails
    /// reach.
    async fn list_owners(&self, organization_id: Uuid) -> Result<Vec<User>>;
    /// The organization whose Stripe customer this is.
    async fn find_organization_by_stripe_customer(
        &self,
        customer_id: &str,
    ) -> Result<Option<Organization>>;
    /// Stores the organization's Stripe customer; `None` if it is gone. A customer already
    /// stored on another organization is [`DbError::Conflict`].
    async fn set_organization_stripe_customer_id(
        &self,
        id: Uuid,
        customer_id: &str,
    ) -> Result<Option<Organization>>;
    /// A page of the organizations that have a Stripe customer, by id, after `after`.
    async fn list_organization_customers(
        &self,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Organization>>;
    /// How many of them are owners ([`OWNER_ROLE`]).
    async fn count_owners(&self, organization_id: Uuid) -> Result<u64>;
    /// Adds the user with `role`; already a member is [`DbError::Conflict`].
    async fn add_member(
        &self,
        organization_id: Uuid,
        user_id: Uuid,
        role: &str,
    ) -> Result<Membership>;
    /// Changes the member's role; `None` if they are not a member.
    async fn set_member_role(
        &self,
        organization_id: Uuid,
        user_id: Uuid,
        role: &str,
    ) -> Result<Option<Membership>>;
    /// Removes the member and clears the organization as the active one of their sessions,
    /// both or neither; `false` if they were not a member.
    async fn remove_member(&self, organization_id: Uuid, user_id: Uuid) -> Result<bool>;
    /// Writes the organization's seat limit (`None`: no limit).
    async fn set_seat_limit(&self, id: Uuid, seat_limit: Option<i32>) -> Result<()>;
    /// Takes the organization's seat-sync lease until `until`, if no one holds it at `now`;
    /// `false` when another holder's lease runs.
    async fn claim_seat_sync(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Moves the end of the seat-sync lease held until `held` to `until`; `false` if the
    /// lease is no longer that one (it expired and another instance took it).
    async fn extend_seat_sync(
        &self,
        id: Uuid,
        held: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Gives back the seat-sync lease held until `held` (a lease taken over since by
    /// another instance stays theirs).
    async fn release_seat_sync(&self, id: Uuid, held: DateTime<Utc>) -> Result<()>;
}

#[async_trait]
impl<E: Executor> OrganizationRepo for E {
    async fn create_organization(
        &self,
        organization: NewOrganization,
        owner: Uuid,
    ) -> Result<(Organization, Membership)> {
        let at = now();
        // A savepoint when `self` is already a transaction.
        let tx = self.conn().begin().await.map_err(DbError::on(ENTITY))?;
        let row = organization::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set(organization.name),
            slug: Set(organization.slug),
            stripe_customer_id: Set(None),
            seat_limit: Set(None),
            seat_sync_until: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        };
        let organization = organization::Entity::insert(row)
            .exec_with_returning(&tx)
            .await
            .map_err(DbError::on(ENTITY))?;
        let membership = insert_membership(&tx, organization.id, owner, OWNER_ROLE).await?;
        tx.commit().await.map_err(DbError::on(ENTITY))?;
        Ok((organization, membership))
    }

    async fn find_organization(&self, id: Uuid) -> Result<Option<Organization>> {
        organization::Entity::find_by_id(id)
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_organization_by_slug(&self, slug: &str) -> Result<Option<Organization>> {
        organization::Entity::find()
            .filter(organization::Column::Slug.eq(slug))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn update_organization(
        &self,
        id: Uuid,
        name: &str,
        slug: &str,
    ) -> Result<Option<Organization>> {
        let result = organization::Entity::update_many()
            .col_expr(organization::Column::Name, Expr::value(name))
            .col_expr(organization::Column::Slug, Expr::value(slug))
            .col_expr(organization::Column::UpdatedAt, Expr::value(now()))
            .filter(organization::Column::Id.eq(id))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        if result.rows_affected == 0 {
            return Ok(None);
        }
        self.find_organization(id).await
    }

    async fn lock_organization(&self, id: Uuid) -> Result<Option<Organization>> {
        // A no-op write: PostgreSQL locks the row, SQLite takes its write lock, either way
        // until commit. Reading first would let two changes each count the other's owner.
        let result = organization::Entity::update_many()
            .col_expr(
                organization::Column::UpdatedAt,
                Expr::col(organization::Column::UpdatedAt),
            )
            .filter(organization::Column::Id.eq(id))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        if result.rows_affected == 0 {
            return Ok(None);
        }
        self.find_organization(id).await
    }

    async fn delete_organization(&self, id: Uuid) -> Result<bool> {
        let tx = self.conn().begin().await.map_err(DbError::on(ENTITY))?;
        clear_active(&tx, id, None).await?;
        let result = organization::Entity::delete_by_id(id)
            .exec(&tx)
            .await
            .map_err(DbError::on(ENTITY))?;
        tx.commit().await.map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected == 1)
    }

    async fn find_membership(
        &self,
        organization_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Membership>> {
        membership::Entity::find()
            .filter(membership::Column::OrganizationId.eq(organization_id))
            .filter(membership::Column::UserId.eq(user_id))
            .one(self.conn())
            .await
            .map_err(DbError::on(MEMBERSHIP))
    }

    async fn user_organizations(&self, user_id: Uuid) -> Result<Vec<(Organization, Membership)>> {
        let memberships = membership::Entity::find()
            .filter(membership::Column::UserId.eq(user_id))
            .order_by_asc(membership::Column::Id)
            .all(self.conn())
            .await
            .map_err(DbError::on(MEMBERSHIP))?;
        let mut organizations: HashMap<Uuid, Organization> = organization::Entity::find()
            .filter(organization::Column::Id.is_in(memberships.iter().map(|m| m.organization_id)))
            .all(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?
            .into_iter()
            .map(|org| (org.id, org))
            .collect();
        Ok(memberships
            .into_iter()
            .filter_map(|m| Some((organizations.remove(&m.organization_id)?, m)))
            .collect())
    }

    async fn list_members(
        &self,
        organization_id: Uuid,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<(Membership, User)>> {
        let mut query = membership::Entity::find()
            .filter(membership::Column::OrganizationId.eq(organization_id))
            .order_by_asc(membership::Column::Id)
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(membership::Column::Id.gt(after));
        }
        let memberships = query
            .all(self.conn())
            .await
            .map_err(DbError::on(MEMBERSHIP))?;
        with_users(self, memberships).await
    }

    async fn count_members(&self, organization_id: Uuid) -> Result<u64> {
        membership::Entity::find()
            .filter(membership::Column::OrganizationId.eq(organization_id))
            .count(self.conn())
            .await
            .map_err(DbError::on(MEMBERSHIP))
    }

    async fn list_owners(&self, organization_id: Uuid) -> Result<Vec<User>> {
        let owners = membership::Entity::find()
            .filter(membership::Column::OrganizationId.eq(organization_id))
            .filter(membership::Column::Role.eq(OWNER_ROLE))
            .order_by_asc(membership::Column::Id)
            .all(self.conn())
            .await
            .map_err(DbError::on(MEMBERSHIP))?;
        let owners = with_users(self, owners).await?;
        Ok(owners.into_iter().map(|(_, user)| user).collect())
    }

    async fn find_organization_by_stripe_customer(
        &self,
        customer_id: &str,
    ) -> Result<Option<Organization>> {
        organization::Entity::find()
            .filter(organization::Column::StripeCustomerId.eq(customer_id))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn set_organization_stripe_customer_id(
        &self,
        id: Uuid,
        customer_id: &str,
    ) -> Result<Option<Organization>> {
        let updated = organization::Entity::update_many()
            .col_expr(
                organization::Column::StripeCustomerId,
                Expr::value(customer_id),
            )
            .col_expr(organization::Column::UpdatedAt, Expr::value(now()))
            .filter(organization::Column::Id.eq(id))
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(updated.into_iter().next())
    }

    async fn list_organization_customers(
        &self,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Organization>> {
        let mut query = organization::Entity::find()
            .filter(organization::Column::StripeCustomerId.is_not_null())
            .order_by_asc(organization::Column::Id)
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(organization::Column::Id.gt(after));
        }
        query.all(self.conn()).await.map_err(DbError::on(ENTITY))
    }

    async fn set_seat_limit(&self, id: Uuid, seat_limit: Option<i32>) -> Result<()> {
        organization::Entity::update_many()
            .col_expr(organization::Column::SeatLimit, Expr::value(seat_limit))
            .filter(organization::Column::Id.eq(id))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(())
    }

    async fn claim_seat_sync(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        use organization::Column;
        // One conditional write: of two instances claiming at once, one updates the row.
        let claimed = organization::Entity::update_many()
            .col_expr(Column::SeatSyncUntil, Expr::value(micros(until)))
            .filter(Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(Column::SeatSyncUntil.is_null())
                    .add(Column::SeatSyncUntil.lte(micros(now))),
            )
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(claimed.rows_affected == 1)
    }

    async fn extend_seat_sync(
        &self,
        id: Uuid,
        held: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        use organization::Column;
        let extended = organization::Entity::update_many()
            .col_expr(Column::SeatSyncUntil, Expr::value(micros(until)))
            .filter(Column::Id.eq(id))
            .filter(Column::SeatSyncUntil.eq(micros(held)))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(extended.rows_affected == 1)
    }

    async fn release_seat_sync(&self, id: Uuid, held: DateTime<Utc>) -> Result<()> {
        use organization::Column;
        organization::Entity::update_many()
            .col_expr(
                Column::SeatSyncUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(Column::Id.eq(id))
            .filter(Column::SeatSyncUntil.eq(micros(held)))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(())
    }

    async fn count_owners(&self, organization_id: Uuid) -> Result<u64> {
        membership::Entity::find()
            .filter(membership::Column::OrganizationId.eq(organization_id))
            .filter(membership::Column::Role.eq(OWNER_ROLE))
            .count(self.conn())
            .await
            .map_err(DbError::on(MEMBERSHIP))
    }

    async fn add_member(
        &self,
        organization_id: Uuid,
        user_id: Uuid,
        role: &str,
    ) -> Result<Membership> {
        insert_membership(self.conn(), organization_id, user_id, role).await
    }

    async fn set_member_role(
        &self,
        organization_id: Uuid,
        user_id: Uuid,
        role: &str,
    ) -> Result<Option<Membership>> {
        let result = membership::Entity::update_many()
            .col_expr(membership::Column::Role, Expr::value(role))
            .col_expr(membership::Column::UpdatedAt, Expr::value(now()))
            .filter(membership::Column::OrganizationId.eq(organization_id))
            .filter(membership::Column::UserId.eq(user_id))
            .exec(self.conn())
            .await
            .map_err(DbError::on(MEMBERSHIP))?;
        if result.rows_affected == 0 {
            return Ok(None);
        }
        self.find_membership(organization_id, user_id).await
    }

    async fn remove_member(&self, organization_id: Uuid, user_id: Uuid) -> Result<bool> {
        let tx = self.conn().begin().await.map_err(DbError::on(MEMBERSHIP))?;
        let result = membership::Entity::delete_many()
            .filter(membership::Column::OrganizationId.eq(organization_id))
            .filter(membership::Column::UserId.eq(user_id))
            .exec(&tx)
            .await
            .map_err(DbError::on(MEMBERSHIP))?;
        clear_active(&tx, organization_id, Some(user_id)).await?;
        tx.commit().await.map_err(DbError::on(MEMBERSHIP))?;
        Ok(result.rows_affected == 1)
    }
}

/// Each membership with its user, in the memberships' order (one query for the users).
async fn with_users<E: Executor>(
    executor: &E,
    memberships: Vec<Membership>,
) -> Result<Vec<(Membership, User)>> {
    let mut users: HashMap<Uuid, User> = user::Entity::find()
        .filter(user::Column::Id.is_in(memberships.iter().map(|m| m.user_id)))
        .all(executor.conn())
        .await
        .map_err(DbError::on("user"))?
        .into_iter()
        .map(|user| (user.id, user))
        .collect();
    Ok(memberships
        .into_iter()
        .filter_map(|m| {
            let user = users.remove(&m.user_id)?;
            Some((m, user))
        })
        .collect())
}

async fn insert_membership(
    conn: &impl sea_orm::ConnectionTrait,
    organization_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<Membership> {
    let at = now();
    let row = membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(organization_id),
        user_id: Set(user_id),
        role: Set(role.to_owned()),
        created_at: Set(at),
        updated_at: Set(at),
    };
    membership::Entity::insert(row)
        .exec_with_returning(conn)
        .await
        .map_err(DbError::on(MEMBERSHIP))
}

/// Clears `organization_id` as the active organization of the sessions (of `user_id`, or
/// everyone's).
async fn clear_active(
    conn: &impl sea_orm::ConnectionTrait,
    organization_id: Uuid,
    user_id: Option<Uuid>,
) -> Result<()> {
    let mut update = session::Entity::update_many()
        .col_expr(
            session::Column::ActiveOrganizationId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(session::Column::ActiveOrganizationId.eq(organization_id));
    if let Some(user_id) = user_id {
        update = update.filter(session::Column::UserId.eq(user_id));
    }
    update.exec(conn).await.map_err(DbError::on("session"))?;
    Ok(())
}
