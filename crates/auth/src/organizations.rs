//! Organizations: teams of users with roles, the organization a session acts in, and the
//! guards that check both.
//!
//! Every organization keeps at least one owner. No constraint can say that (it spans rows),
//! so every change that could take an owner away — a role change, a removal, leaving,
//! transferring ownership, deleting the member's account — first locks the organization's
//! row ([`OrganizationRepo::lock_organization`]), then reads the memberships it decides on,
//! all in one transaction: two administrators demoting the last two owners at once run one
//! after the other, and the second is refused.
//!
//! An organization a user does not belong to answers [`AuthError::OrganizationNotFound`]
//! (404), exactly like one that does not exist, so ids and slugs cannot be probed.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::json;
use tollbooth_db::{
    DbError, InvitationRepo, Membership, NewOrganization, OWNER_ROLE, Organization,
    OrganizationRepo, SecurityEventKind, SessionRepo, Tx, User,
};
use uuid::Uuid;

use crate::audit::Audit;
use crate::credentials::clean_name;
use crate::error::{AuthError, Result};
use crate::headers::{HeaderView, RequestInfo};
use crate::impersonation::refuse_impersonation;
use crate::limits::{Action, Key};
use crate::service::Auth;
use crate::session::{Session, SessionLookup};

/// The most members one page of [`Auth::list_members`] holds.
pub const MAX_MEMBERS_PER_PAGE: u64 = 100;

const SLUG_CHARS: std::ops::RangeInclusive<usize> = 2..=48;

/// A role in an organization. `owner`, `admin` and `member` are built in; an application
/// declares its own with [`AuthConfigBuilder::organization_role`](crate::AuthConfigBuilder::organization_role).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgRole(Cow<'static, str>);

impl OrgRole {
    /// Holds every permission, the application's too; only an owner can make or unmake
    /// another owner. Every organization keeps at least one.
    pub const OWNER: OrgRole = OrgRole(Cow::Borrowed(OWNER_ROLE));
    /// Runs the organization but cannot delete it or touch its owners: every built-in
    /// permission except [`OrgPermission::DELETE_ORGANIZATION`].
    pub const ADMIN: OrgRole = OrgRole(Cow::Borrowed("admin"));
    /// Belongs, and holds no built-in permission.
    pub const MEMBER: OrgRole = OrgRole(Cow::Borrowed("member"));

    /// A role by name: 1–32 lower-case ASCII letters, digits, `-` or `_` (checked when the
    /// configuration is built).
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self(name.into())
    }

    /// The role's name, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_well_formed(&self) -> bool {
        (1..=32).contains(&self.0.len())
            && self
                .0
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }
}

impl fmt::Debug for OrgRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgRole({})", self.0)
    }
}

impl fmt::Display for OrgRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Something a member may do in an organization. The built-in ones guard Tollbooth's own
/// operations; an application names its own (`OrgPermission::new("projects:write")`) and
/// grants them to roles in the configuration, so handlers ask for a permission, never
/// compare role names.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgPermission(Cow<'static, str>);

impl OrgPermission {
    /// Rename the organization or change its slug.
    pub const UPDATE_ORGANIZATION: OrgPermission =
        OrgPermission(Cow::Borrowed("organization:update"));
    /// Delete the organization (owners only by default).
    pub const DELETE_ORGANIZATION: OrgPermission =
        OrgPermission(Cow::Borrowed("organization:delete"));
    /// Change members' roles and remove members.
    pub const MANAGE_MEMBERS: OrgPermission = OrgPermission(Cow::Borrowed("members:manage"));
    /// Invite people, revoke and resend invitations.
    pub const INVITE_MEMBERS: OrgPermission = OrgPermission(Cow::Borrowed("members:invite"));
    /// Buy, change and cancel the organization's subscription.
    pub const MANAGE_BILLING: OrgPermission = OrgPermission(Cow::Borrowed("billing:manage"));

    const BUILT_IN: [OrgPermission; 5] = [
        Self::UPDATE_ORGANIZATION,
        Self::DELETE_ORGANIZATION,
        Self::MANAGE_MEMBERS,
        Self::INVITE_MEMBERS,
        Self::MANAGE_BILLING,
    ];

    /// An application's permission by name.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self(name.into())
    }

    /// The permission's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OrgPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgPermission({})", self.0)
    }
}

/// Which role holds which permissions (the owner holds them all).
#[derive(Clone, Debug)]
pub(crate) struct OrgRoles(BTreeMap<OrgRole, BTreeSet<OrgPermission>>);

impl Default for OrgRoles {
    fn default() -> Self {
        let admin = OrgPermission::BUILT_IN
            .into_iter()
            .filter(|p| *p != OrgPermission::DELETE_ORGANIZATION)
            .collect();
        Self(BTreeMap::from([
            (OrgRole::OWNER, BTreeSet::new()),
            (OrgRole::ADMIN, admin),
            (OrgRole::MEMBER, BTreeSet::new()),
        ]))
    }
}

impl OrgRoles {
    pub(crate) fn grant(
        &mut self,
        role: OrgRole,
        permissions: impl IntoIterator<Item = OrgPermission>,
    ) {
        self.0.entry(role).or_default().extend(permissions);
    }

    /// The first malformed role name, if any.
    pub(crate) fn malformed(&self) -> Option<&OrgRole> {
        self.0.keys().find(|role| !role.is_well_formed())
    }

    /// The permissions of `role`: every one for an owner (the built-in ones and every one
    /// the configuration names), none for a role the configuration no longer declares.
    fn permissions(&self, role: &OrgRole) -> BTreeSet<OrgPermission> {
        if *role == OrgRole::OWNER {
            let named = self.0.values().flatten().cloned();
            named.chain(OrgPermission::BUILT_IN).collect()
        } else {
            self.0.get(role).cloned().unwrap_or_default()
        }
    }

    fn known(&self, name: &str) -> Option<OrgRole> {
        self.0.keys().find(|role| role.as_str() == name).cloned()
    }
}

/// The signed-in user's place in one organization: what the guards return.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgMember {
    /// The organization.
    pub organization: Organization,
    /// The user's role in it.
    pub role: OrgRole,
    /// Their permissions, resolved from the configuration when this was read.
    pub permissions: BTreeSet<OrgPermission>,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

impl OrgMember {
    /// Whether the member may do `permission`.
    pub fn can(&self, permission: &OrgPermission) -> bool {
        self.role == OrgRole::OWNER || self.permissions.contains(permission)
    }

    /// [`AuthError::Forbidden`] (403) unless the member may do `permission`.
    pub fn require(&self, permission: &OrgPermission) -> Result<()> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(AuthError::Forbidden)
        }
    }

    /// The organization as a billing [`Customer`](tollbooth_core::Customer), for
    /// `tollbooth-billing`'s checkout, portal and subscription calls — only for a member
    /// who may manage its billing ([`OrgPermission::MANAGE_BILLING`]: owners, and roles
    /// granted it), else [`AuthError::Forbidden`] (403).
    pub fn billing_customer(&self) -> Result<tollbooth_core::Customer> {
        self.require(&OrgPermission::MANAGE_BILLING)?;
        Ok(tollbooth_core::Customer::Organization(self.organization.id))
    }
}

/// One member as the members list shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Member {
    /// Their user id.
    pub user_id: Uuid,
    /// Their address.
    pub email: String,
    /// Their display name.
    pub name: Option<String>,
    /// Their role.
    pub role: OrgRole,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// The membership id (the page cursor).
    pub membership_id: Uuid,
}

impl Member {
    fn of(membership: Membership, user: User) -> Self {
        Self {
            user_id: user.id,
            email: user.email,
            name: user.name,
            role: OrgRole::new(membership.role),
            joined_at: membership.created_at,
            membership_id: membership.id,
        }
    }
}

/// A page of members, and the cursor of the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberPage {
    /// The members, in joining order.
    pub members: Vec<Member>,
    /// Pass as `after` for the next page; `None` on the last.
    pub next: Option<Uuid>,
}

/// A change of an organization's name or slug; unset fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrganizationUpdate {
    name: Option<String>,
    slug: Option<String>,
}

impl OrganizationUpdate {
    /// Changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new display name (1–100 characters, no control characters).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A new slug (2–48 lower-case letters, digits and inner hyphens; upper case is
    /// lowered).
    #[must_use]
    pub fn slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Some(slug.into());
        self
    }
}

/// A display name, trimmed: the rules of a user's name (at most 100 characters, no
/// control characters), and never empty.
fn valid_name(name: &str) -> Result<String> {
    clean_name(Some(name))?.ok_or(AuthError::InvalidInput {
        field: "name",
        reason: "must not be empty",
    })
}

/// A slug in canonical form: trimmed, lower-cased, then 2–48 ASCII letters, digits and
/// single inner hyphens.
fn valid_slug(slug: &str) -> Result<String> {
    let slug = slug.trim().to_ascii_lowercase();
    let well_formed = SLUG_CHARS.contains(&slug.len())
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if well_formed {
        Ok(slug)
    } else {
        Err(AuthError::InvalidInput {
            field: "slug",
            reason: "must be 2 to 48 lower-case letters, digits and single inner hyphens",
        })
    }
}

/// A slug made from a display name: its ASCII letters and digits, other runs as one hyphen.
fn slug_of(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(*SLUG_CHARS.end() - 7); // room for a "-xxxxxx" suffix
    slug.trim_end_matches('-').to_owned()
}

fn slug_taken(err: DbError) -> AuthError {
    match err {
        DbError::Conflict { .. } => AuthError::SlugTaken,
        other => other.into(),
    }
}

impl Auth {
    /// Creates an organization with the signed-in user as its owner. Without a `slug`, one
    /// is made from the name (with a random suffix if that one is taken); a given slug
    /// already taken is [`AuthError::SlugTaken`] (409). Recorded as
    /// `organization_created`. Needs a verified address ([`AuthError::EmailNotVerified`]);
    /// at most [`RateLimits::organizations_per_user`](crate::RateLimits::organizations_per_user).
    /// No organization changes while impersonating ([`AuthError::Impersonating`]): an
    /// impersonating administrator can look, not change.
    pub async fn create_organization(
        &self,
        session: &Session,
        name: &str,
        slug: Option<&str>,
        request: &RequestInfo<'_>,
    ) -> Result<OrgMember> {
        refuse_impersonation(session)?;
        if session.user.email_verified_at.is_none() {
            return Err(AuthError::EmailNotVerified);
        }
        let name = valid_name(name)?;
        let user = session.user.id;
        let tx = self.inner.db.begin().await?;
        let limiter = &self.inner.limiter;
        let limit = limiter.limits().organizations_per_user;
        let key = Key::account(Action::CreateOrganization, &user.to_string());
        limiter.hit(&tx, &key, limit).await?;
        let created = match slug {
            Some(slug) => tx
                .create_organization(NewOrganization::new(&name, valid_slug(slug)?), user)
                .await
                .map_err(slug_taken)?,
            None => {
                let base = slug_of(&name);
                let derived = if base.len() >= *SLUG_CHARS.start() {
                    base.clone()
                } else {
                    "org".to_owned()
                };
                match tx
                    .create_organization(NewOrganization::new(&name, derived.clone()), user)
                    .await
                {
                    Err(DbError::Conflict { .. }) => {
                        let suffix = &Uuid::new_v4().simple().to_string()[..6];
                        tx.create_organization(
                            NewOrganization::new(&name, format!("{derived}-{suffix}")),
                            user,
                        )
                        .await
                        .map_err(slug_taken)?
                    }
                    other => other?,
                }
            }
        };
        let (organization, membership) = created;
        self.record(
            &tx,
            org_event(
                SecurityEventKind::OrganizationCreated,
                user,
                user,
                &organization,
                request,
                json!({ "slug": organization.slug }),
            ),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(organization_id = %organization.id, user_id = %user, "organization created");
        self.seats_changed(organization.id).await;
        Ok(self.member_of(organization, membership))
    }

    /// Every organization the signed-in user belongs to, oldest membership first.
    pub async fn organizations(&self, session: &Session) -> Result<Vec<OrgMember>> {
        Ok(self
            .inner
            .db
            .user_organizations(session.user.id)
            .await?
            .into_iter()
            .map(|(organization, membership)| self.member_of(organization, membership))
            .collect())
    }

    /// The signed-in user's place in organization `id`: the core of every organization
    /// guard. Not a member, or no such organization: [`AuthError::OrganizationNotFound`]
    /// (404) either way.
    pub async fn org_member(&self, session: &Session, id: Uuid) -> Result<OrgMember> {
        let db = &self.inner.db;
        let membership = db
            .find_membership(id, session.user.id)
            .await?
            .ok_or(AuthError::OrganizationNotFound)?;
        let organization = db
            .find_organization(id)
            .await?
            .ok_or(AuthError::OrganizationNotFound)?;
        Ok(self.member_of(organization, membership))
    }

    /// The signed-in user's place in the organization at `slug` (404 as
    /// [`org_member`](Self::org_member)).
    pub async fn org_member_by_slug(&self, session: &Session, slug: &str) -> Result<OrgMember> {
        let slug = valid_slug(slug).map_err(|_| AuthError::OrganizationNotFound)?;
        let organization = self
            .inner
            .db
            .find_organization_by_slug(&slug)
            .await?
            .ok_or(AuthError::OrganizationNotFound)?;
        self.org_member(session, organization.id).await
    }

    /// Guard: the request's session, and its user's place in organization `id`. No valid
    /// session: [`AuthError::Unauthorized`]; not a member: [`AuthError::OrganizationNotFound`].
    pub async fn require_org_member(
        &self,
        headers: &dyn HeaderView,
        id: Uuid,
    ) -> Result<(SessionLookup, OrgMember)> {
        let lookup = self.require_auth(headers).await?;
        let member = self.org_member(&lookup.session, id).await?;
        Ok((lookup, member))
    }

    /// Guard: as [`require_org_member`](Self::require_org_member), and the member may do
    /// `permission` ([`AuthError::Forbidden`], 403, otherwise).
    pub async fn require_org_permission(
        &self,
        headers: &dyn HeaderView,
        id: Uuid,
        permission: &OrgPermission,
    ) -> Result<(SessionLookup, OrgMember)> {
        let (lookup, member) = self.require_org_member(headers, id).await?;
        member.require(permission)?;
        Ok((lookup, member))
    }

    /// Guard: as [`require_org_member`](Self::require_org_member), and the member holds
    /// `role` or is an owner ([`AuthError::Forbidden`], 403, otherwise). Prefer
    /// [`require_org_permission`](Self::require_org_permission): a permission survives new
    /// roles.
    pub async fn require_org_role(
        &self,
        headers: &dyn HeaderView,
        id: Uuid,
        role: &OrgRole,
    ) -> Result<(SessionLookup, OrgMember)> {
        let (lookup, member) = self.require_org_member(headers, id).await?;
        if member.role != *role && member.role != OrgRole::OWNER {
            return Err(AuthError::Forbidden);
        }
        Ok((lookup, member))
    }

    /// Renames the organization or changes its slug; needs
    /// [`OrgPermission::UPDATE_ORGANIZATION`]. A taken slug is [`AuthError::SlugTaken`].
    /// Recorded as `organization_updated`.
    pub async fn update_organization(
        &self,
        session: &Session,
        id: Uuid,
        update: OrganizationUpdate,
        request: &RequestInfo<'_>,
    ) -> Result<OrgMember> {
        let name = update.name.as_deref().map(valid_name).transpose()?;
        let slug = update.slug.as_deref().map(valid_slug).transpose()?;
        let (tx, actor) = self.changing(session, id).await?;
        actor.require(&OrgPermission::UPDATE_ORGANIZATION)?;
        let before = &actor.organization;
        let name = name.unwrap_or_else(|| before.name.clone());
        let slug = slug.unwrap_or_else(|| before.slug.clone());
        let organization = tx
            .update_organization(id, &name, &slug)
            .await
            .map_err(slug_taken)?
            .ok_or(AuthError::OrganizationNotFound)?;
        let detail = json!({
            "name": { "from": before.name, "to": organization.name },
            "slug": { "from": before.slug, "to": organization.slug },
        });
        let user = session.user.id;
        self.record(
            &tx,
            org_event(
                SecurityEventKind::OrganizationUpdated,
                user,
                user,
                &organization,
                request,
                detail,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(OrgMember {
            organization,
            ..actor
        })
    }

    /// Deletes the organization: its memberships and invitations go with it, and no
    /// session keeps it active. Needs [`OrgPermission::DELETE_ORGANIZATION`] (owners) and a
    /// fresh session ([`require_fresh`](Self::require_fresh)). The configured steps
    /// ([`AuthConfigBuilder::before_organization_deletion`](crate::AuthConfigBuilder::before_organization_deletion))
    /// run first: one that fails is [`AuthError::DeletionRefused`], with nothing deleted.
    /// Recorded as `organization_deleted`, about the deleting user.
    pub async fn delete_organization(
        &self,
        session: &Session,
        id: Uuid,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        self.require_fresh(session)?;
        // Only someone who may delete it makes the steps run (billing cancels here).
        self.org_member(session, id)
            .await?
            .require(&OrgPermission::DELETE_ORGANIZATION)?;
        for step in &self.inner.config.before_organization_deletion.0 {
            step.before_organization_deletion(id)
                .await
                .map_err(|by| AuthError::DeletionRefused { by })?;
        }
        let (tx, actor) = self.changing(session, id).await?;
        actor.require(&OrgPermission::DELETE_ORGANIZATION)?;
        tx.delete_organization(id).await?;
        let user = session.user.id;
        let organization = &actor.organization;
        self.record(
            &tx,
            org_event(
                SecurityEventKind::OrganizationDeleted,
                user,
                user,
                organization,
                request,
                json!({ "slug": organization.slug, "name": organization.name }),
            ),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(organization_id = %id, user_id = %user, "organization deleted");
        Ok(())
    }

    /// A page of the organization's members in joining order, at most `limit` (capped at
    /// [`MAX_MEMBERS_PER_PAGE`]), after the membership `after` (the previous page's
    /// [`MemberPage::next`]). Any member may read it.
    pub async fn list_members(
        &self,
        session: &Session,
        id: Uuid,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<MemberPage> {
        self.org_member(session, id).await?;
        let limit = limit.clamp(1, MAX_MEMBERS_PER_PAGE);
        let mut rows = self.inner.db.list_members(id, after, limit + 1).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let members: Vec<Member> = rows
            .into_iter()
            .map(|(membership, user)| Member::of(membership, user))
            .collect();
        let next = more
            .then(|| members.last().map(|m| m.membership_id))
            .flatten();
        Ok(MemberPage { members, next })
    }

    /// The role named `name` if the configuration knows it (the built-in ones and those
    /// declared with
    /// [`AuthConfigBuilder::organization_role`](crate::AuthConfigBuilder::organization_role)),
    /// else [`AuthError::InvalidInput`].
    pub fn org_role(&self, name: &str) -> Result<OrgRole> {
        self.inner
            .config
            .org_roles
            .known(name)
            .ok_or(AuthError::InvalidInput {
                field: "role",
                reason: "not a role of this application",
            })
    }

    /// Gives member `user_id` the role `role`. Needs [`OrgPermission::MANAGE_MEMBERS`], and
    /// both the member's role and the new one must be roles the actor could give (an owner
    /// any; anyone else one whose permissions they hold every one of, never `owner`):
    /// [`AuthError::Forbidden`] otherwise. Making or unmaking an owner needs a fresh
    /// session. The last owner can never be demoted ([`AuthError::LastOwner`], 409),
    /// however many requests race.
    /// Recorded as `member_role_changed` about the member.
    pub async fn change_member_role(
        &self,
        session: &Session,
        id: Uuid,
        user_id: Uuid,
        role: &OrgRole,
        request: &RequestInfo<'_>,
    ) -> Result<Member> {
        let role = self.org_role(role.as_str())?;
        let (tx, actor) = self.changing(session, id).await?;
        actor.require(&OrgPermission::MANAGE_MEMBERS)?;
        let target = tx
            .find_membership(id, user_id)
            .await?
            .ok_or(AuthError::MemberNotFound)?;
        let from = OrgRole::new(target.role.clone());
        if !self.may_grant(&actor, &from) || !self.may_grant(&actor, &role) {
            return Err(AuthError::Forbidden);
        }
        if from == OrgRole::OWNER || role == OrgRole::OWNER {
            self.require_fresh(session)?;
        }
        if from == OrgRole::OWNER && role != OrgRole::OWNER {
            keep_an_owner(&tx, id).await?;
        }
        let membership = tx
            .set_member_role(id, user_id, role.as_str())
            .await?
            .ok_or(AuthError::MemberNotFound)?;
        self.record(
            &tx,
            org_event(
                SecurityEventKind::MemberRoleChanged,
                session.user.id,
                user_id,
                &actor.organization,
                request,
                json!({ "from": from.as_str(), "to": role.as_str() }),
            ),
        )
        .await?;
        let user = tx_user(&tx, user_id).await?;
        tx.commit().await?;
        Ok(Member::of(membership, user))
    }

    /// Removes member `user_id`. Needs [`OrgPermission::MANAGE_MEMBERS`] and a member whose
    /// role the actor could give (removing an owner: an owner, with a fresh session); the
    /// last owner can never be removed ([`AuthError::LastOwner`]). The organization stops
    /// being active on the member's sessions, and the invitations they sent are revoked, in
    /// the same transaction, so their very next request no longer acts in it.
    /// Recorded as `member_removed` about the member.
    pub async fn remove_member(
        &self,
        session: &Session,
        id: Uuid,
        user_id: Uuid,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let (tx, actor) = self.changing(session, id).await?;
        let leaving = user_id == session.user.id;
        if !leaving {
            actor.require(&OrgPermission::MANAGE_MEMBERS)?;
        }
        let target = tx
            .find_membership(id, user_id)
            .await?
            .ok_or(AuthError::MemberNotFound)?;
        let kind = if leaving {
            SecurityEventKind::MemberLeft
        } else {
            SecurityEventKind::MemberRemoved
        };
        if !leaving && !self.may_grant(&actor, &OrgRole::new(target.role.clone())) {
            return Err(AuthError::Forbidden);
        }
        if target.role == OWNER_ROLE {
            if !leaving {
                self.require_fresh(session)?;
            }
            keep_an_owner(&tx, id).await?;
        }
        tx.remove_member(id, user_id).await?;
        // What they sent stops working with them: an invitation must not outlive its
        // inviter's place (an admin inviting a second address of theirs before removal).
        tx.revoke_invitations_from(id, user_id).await?;
        self.record(
            &tx,
            org_event(
                kind,
                session.user.id,
                user_id,
                &actor.organization,
                request,
                json!({ "role": target.role }),
            ),
        )
        .await?;
        tx.commit().await?;
        self.seats_changed(id).await;
        Ok(())
    }

    /// Leaves the organization: [`remove_member`](Self::remove_member) of oneself, which
    /// needs no permission. The last owner cannot leave ([`AuthError::LastOwner`]):
    /// transfer ownership or delete the organization first. Recorded as `member_left`.
    pub async fn leave_organization(
        &self,
        session: &Session,
        id: Uuid,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        self.remove_member(session, id, session.user.id, request)
            .await
    }

    /// Makes member `user_id` an owner and the signing-in owner an admin, in one
    /// transaction. Only an owner can, with a fresh session. Recorded as
    /// `ownership_transferred` about the new owner.
    pub async fn transfer_ownership(
        &self,
        session: &Session,
        id: Uuid,
        user_id: Uuid,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        self.require_fresh(session)?;
        let (tx, actor) = self.changing(session, id).await?;
        if actor.role != OrgRole::OWNER {
            return Err(AuthError::Forbidden);
        }
        if user_id == session.user.id {
            return Err(AuthError::InvalidInput {
                field: "user_id",
                reason: "you are an owner already",
            });
        }
        tx.set_member_role(id, user_id, OWNER_ROLE)
            .await?
            .ok_or(AuthError::MemberNotFound)?;
        tx.set_member_role(id, session.user.id, OrgRole::ADMIN.as_str())
            .await?;
        self.record(
            &tx,
            org_event(
                SecurityEventKind::OwnershipTransferred,
                session.user.id,
                user_id,
                &actor.organization,
                request,
                json!({ "from": session.user.id }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes organization `id` the one the session acts in ([`Session::active_organization`]
    /// on its next requests), or with `None` clears it. Not a member:
    /// [`AuthError::OrganizationNotFound`]. Checked under the organization's lock, so a
    /// removal racing the switch cannot leave it active; every other session of the user
    /// keeps its own.
    pub async fn set_active_organization(
        &self,
        session: &Session,
        id: Option<Uuid>,
    ) -> Result<Option<OrgMember>> {
        let (tx, member) = match id {
            Some(id) => {
                let (tx, member) = self.locked(session, id).await?;
                (tx, Some(member))
            }
            None => (self.inner.db.begin().await?, None),
        };
        if !tx.set_active_organization(session.id, id).await? {
            return Err(AuthError::Unauthorized);
        }
        tx.commit().await?;
        Ok(member)
    }

    /// [`locked`](Self::locked) for a change an impersonating administrator may not make
    /// (every change but switching the active organization).
    pub(crate) async fn changing(&self, session: &Session, id: Uuid) -> Result<(Tx, OrgMember)> {
        refuse_impersonation(session)?;
        self.locked(session, id).await
    }

    /// Whether `actor` may give `role` (to a member or an invitee) or change a member who
    /// holds it: an owner any role; anyone else only a role whose permissions they hold
    /// every one of, and never `owner` — so no one hands out more than they have.
    pub(crate) fn may_grant(&self, actor: &OrgMember, role: &OrgRole) -> bool {
        actor.role == OrgRole::OWNER
            || (*role != OrgRole::OWNER
                && self
                    .inner
                    .config
                    .org_roles
                    .permissions(role)
                    .is_subset(&actor.permissions))
    }

    /// Checks the membership, then opens a transaction, locks organization `id` and reads
    /// the user's membership again under the lock: the first steps of every change.
    pub(crate) async fn locked(&self, session: &Session, id: Uuid) -> Result<(Tx, OrgMember)> {
        // Membership first, without the lock: an outsider neither waits on nor holds an
        // organization's lock, and learns nothing from how long the answer took.
        self.org_member(session, id).await?;
        let tx = self.inner.db.begin().await?;
        let organization = tx
            .lock_organization(id)
            .await?
            .ok_or(AuthError::OrganizationNotFound)?;
        let membership = tx
            .find_membership(id, session.user.id)
            .await?
            .ok_or(AuthError::OrganizationNotFound)?;
        Ok((tx, self.member_of(organization, membership)))
    }

    /// Tells the hooks that organization `id`'s seats count may have changed (it has
    /// committed): billing keeps a per-seat subscription's quantity on it.
    pub(crate) async fn seats_changed(&self, id: Uuid) {
        self.tell(tollbooth_core::DomainEvent::SeatsChanged {
            organization_id: id,
        })
        .await;
    }

    pub(crate) fn member_of(
        &self,
        organization: Organization,
        membership: Membership,
    ) -> OrgMember {
        let role = OrgRole::new(membership.role);
        OrgMember {
            permissions: self.inner.config.org_roles.permissions(&role),
            organization,
            role,
            joined_at: membership.created_at,
        }
    }
}

/// [`AuthError::LastOwner`] unless the organization (locked by the caller) has another
/// owner besides the one about to go.
async fn keep_an_owner(tx: &Tx, id: Uuid) -> Result<()> {
    if tx.count_owners(id).await? <= 1 {
        return Err(AuthError::LastOwner);
    }
    Ok(())
}

/// [`AuthError::LastOwner`] if `user_id` is the only owner of an organization, which
/// deleting their account would leave without one. With `lock` (on the deletion's [`Tx`])
/// it locks every organization they belong to — in id order, so two deletions cannot
/// deadlock — and reads their role again under each lock: an ownership transferred to them
/// meanwhile is seen, and no demotion of the other owners slips in before the deletion
/// commits. Without it (the early check on the pool) it only reads. Returns the
/// organizations they belong to.
pub(crate) async fn refuse_sole_owner(
    db: &impl OrganizationRepo,
    user_id: Uuid,
    lock: bool,
) -> Result<Vec<Uuid>> {
    let mut ids: Vec<Uuid> = db
        .user_organizations(user_id)
        .await?
        .into_iter()
        .map(|(organization, _)| organization.id)
        .collect();
    ids.sort_unstable();
    for &id in &ids {
        if lock {
            db.lock_organization(id).await?;
        }
        let owner = db
            .find_membership(id, user_id)
            .await?
            .is_some_and(|m| m.role == OWNER_ROLE);
        if owner && db.count_owners(id).await? <= 1 {
            return Err(AuthError::LastOwner);
        }
    }
    Ok(ids)
}

async fn tx_user(tx: &Tx, id: Uuid) -> Result<User> {
    use tollbooth_db::UserRepo;
    tx.find_user(id).await?.ok_or(AuthError::MemberNotFound)
}

/// An audit event about `subject` in `organization`, by `actor`.
pub(crate) fn org_event<'a>(
    kind: SecurityEventKind,
    actor: Uuid,
    subject: Uuid,
    organization: &Organization,
    request: &'a RequestInfo<'a>,
    mut detail: serde_json::Value,
) -> Audit<'a> {
    detail["organization"] = json!(organization.id);
    Audit {
        kind,
        actor: Some(actor),
        subject: Some(subject),
        request,
        detail: Some(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_canonical() {
        assert_eq!(valid_slug(" Acme-Corp ").unwrap(), "acme-corp");
        for bad in [
            "a",
            "-acme",
            "acme-",
            "ac--me",
            "acme corp",
            "acmé",
            &"a".repeat(49),
        ] {
            assert!(valid_slug(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn slugs_from_names() {
        assert_eq!(slug_of("Acme Corp, Inc."), "acme-corp-inc");
        assert_eq!(slug_of("  Ünïcode only ü "), "n-code-only");
        assert_eq!(slug_of("!!!"), "");
        assert!(slug_of(&"word ".repeat(40)).len() <= 41);
    }

    #[test]
    fn owners_hold_every_permission_and_admins_all_but_deletion() {
        let mut roles = OrgRoles::default();
        let write = OrgPermission::new("projects:write");
        roles.grant(OrgRole::new("billing"), [OrgPermission::MANAGE_BILLING]);
        roles.grant(OrgRole::MEMBER, [write.clone()]);
        let allows = |role: &OrgRole, p: &OrgPermission| roles.permissions(role).contains(p);
        assert!(allows(&OrgRole::OWNER, &write));
        assert!(allows(&OrgRole::OWNER, &OrgPermission::DELETE_ORGANIZATION));
        assert!(allows(&OrgRole::MEMBER, &write));
        assert!(!allows(&OrgRole::ADMIN, &write));
        assert!(allows(&OrgRole::ADMIN, &OrgPermission::MANAGE_MEMBERS));
        assert!(!allows(
            &OrgRole::ADMIN,
            &OrgPermission::DELETE_ORGANIZATION
        ));
        assert!(!allows(&OrgRole::MEMBER, &OrgPermission::INVITE_MEMBERS));
        assert!(allows(
            &OrgRole::new("billing"),
            &OrgPermission::MANAGE_BILLING
        ));
        assert!(!allows(
            &OrgRole::new("billing"),
            &OrgPermission::MANAGE_MEMBERS
        ));
        assert!(!allows(
            &OrgRole::new("gone"),
            &OrgPermission::MANAGE_BILLING
        ));
        assert!(roles.malformed().is_none());
        roles.grant(OrgRole::new("Bad Role"), []);
        assert_eq!(roles.malformed(), Some(&OrgRole::new("Bad Role")));
    }
}
