//! Invitations to organizations: sent by e-mail ([`TeamInviteEmail`](tollbooth_email::TeamInviteEmail)),
//! accepted only by an account with the invited address once it is verified, revoked or
//! sent again (a new token; the old link dies) by members who may invite.
//!
//! The token is 256 random bits that only the e-mail carries; the row keeps its sha-256. An
//! invitation is answered once (accepted, revoked or expired), and an address has at most
//! one pending invitation per organization (a partial unique index). Invitations are sent
//! and accepted under the organization's lock, like every membership change.

use chrono::{DateTime, Utc};
use serde_json::json;
use tollbooth_db::{
    Invitation, InvitationRepo, InvitationStatus, NewInvitation, OrganizationRepo,
    SecurityEventKind, User, UserRepo, normalize_email,
};
use tollbooth_email::Address;
use uuid::Uuid;

use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::impersonation::refuse_impersonation;
use crate::limits::{Action, Key};
use crate::organizations::{OrgMember, OrgPermission, OrgRole, org_event};
use crate::secret::{hash_token, new_token};
use crate::service::Auth;
use crate::session::Session;

/// A pending invitation, as the members who manage them see it (never its token).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgInvitation {
    /// Its id (to revoke or send it again).
    pub id: Uuid,
    /// The organization.
    pub organization_id: Uuid,
    /// The invited address.
    pub email: String,
    /// The role on accepting.
    pub role: OrgRole,
    /// Who invited (`None` once their account is gone).
    pub inviter_user_id: Option<Uuid>,
    /// When its link stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was first sent.
    pub created_at: DateTime<Utc>,
}

impl From<Invitation> for OrgInvitation {
    fn from(row: Invitation) -> Self {
        Self {
            id: row.id,
            organization_id: row.organization_id,
            email: row.email,
            role: OrgRole::new(row.role),
            inviter_user_id: row.inviter_user_id,
            expires_at: row.expires_at,
            created_at: row.created_at,
        }
    }
}

/// What an invitation link shows before anyone signs in: enough to decide, nothing more.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvitationPreview {
    /// The organization's name.
    pub organization_name: String,
    /// The inviter's name (or address), if their account still exists.
    pub inviter_name: Option<String>,
    /// The invited address: the account that accepts must have it.
    pub email: String,
    /// The role on accepting.
    pub role: OrgRole,
    /// Whether an account with the address exists (sign in) or not (sign up first).
    pub account_exists: bool,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl Auth {
    /// Invites `email` to organization `id` as `role` and queues the
    /// [`TeamInviteEmail`](tollbooth_email::TeamInviteEmail) with the accept link, in one
    /// transaction. Needs [`OrgPermission::INVITE_MEMBERS`], and a role the inviter could
    /// give (an owner any; anyone else one whose permissions they hold all of, never
    /// `owner`). The address already a member: [`AuthError::AlreadyMember`]; already
    /// invited and pending: [`AuthError::AlreadyInvited`] (send that one again instead). At
    /// most [`RateLimits::invitations`](crate::RateLimits::invitations) e-mails per
    /// organization and per inviter. Recorded as `member_invited`.
    pub async fn invite_member(
        &self,
        session: &Session,
        id: Uuid,
        email: &str,
        role: &OrgRole,
        request: &RequestInfo<'_>,
    ) -> Result<OrgInvitation> {
        let email = normalize_email(Address::parse(email, "email")?.as_str())?;
        let role = self.org_role(role.as_str())?;
        let (tx, actor) = self.changing(session, id).await?;
        actor.require(&OrgPermission::INVITE_MEMBERS)?;
        if !self.may_grant(&actor, &role) {
            return Err(AuthError::Forbidden);
        }
        if let Some(user) = tx.find_user_by_email(&email).await?
            && tx.find_membership(id, user.id).await?.is_some()
        {
            return Err(AuthError::AlreadyMember);
        }
        tx.expire_invitations(id, self.now()).await?;
        let taken =
            tx.count_members(id).await? + tx.count_pending_invitations(id, self.now()).await?;
        refuse_beyond_seat_limit(&actor.organization, taken)?;
        let (token, hash) = new_token();
        let expires_at = self.now() + self.inner.config.invitation_ttl;
        let new = NewInvitation::new(id, email, role.as_str(), session.user.id, hash, expires_at);
        let invitation = tx.create_invitation(new).await.map_err(|err| match err {
            tollbooth_db::DbError::Conflict { .. } => AuthError::AlreadyInvited,
            other => other.into(),
        })?;
        // Counted in the transaction, once nothing else can refuse it: a refused
        // invitation counts nothing, and one over the limit is rolled back with it.
        self.count_invitation(&tx, id, session.user.id).await?;
        self.inner
            .mail
            .team_invite(&tx, &invitation, &token, &session.user, &actor.organization)
            .await?;
        self.record_invitation(&tx, &actor, session, &invitation, false, request)
            .await?;
        tx.commit().await?;
        self.inner.mail.committed();
        self.seats_changed(id).await;
        Ok(invitation.into())
    }

    /// Sends pending invitation `invitation_id` again with a new token and a new expiry:
    /// the old link stops working. Needs [`OrgPermission::INVITE_MEMBERS`]; counts towards
    /// the organization's invitation limit. Not pending (or not this organization's):
    /// [`AuthError::InvitationNotFound`].
    pub async fn resend_invitation(
        &self,
        session: &Session,
        id: Uuid,
        invitation_id: Uuid,
        request: &RequestInfo<'_>,
    ) -> Result<OrgInvitation> {
        let (tx, actor) = self.changing(session, id).await?;
        actor.require(&OrgPermission::INVITE_MEMBERS)?;
        let pending = self.pending_invitation(&tx, id, invitation_id).await?;
        if !self.may_grant(&actor, &OrgRole::new(pending.role)) {
            return Err(AuthError::Forbidden);
        }
        self.count_invitation(&tx, id, session.user.id).await?;
        let (token, hash) = new_token();
        let expires_at = self.now() + self.inner.config.invitation_ttl;
        let invitation = tx
            .renew_invitation(invitation_id, hash, expires_at)
            .await?
            .ok_or(AuthError::InvitationNotFound)?;
        self.inner
            .mail
            .team_invite(&tx, &invitation, &token, &session.user, &actor.organization)
            .await?;
        self.record_invitation(&tx, &actor, session, &invitation, true, request)
            .await?;
        tx.commit().await?;
        self.inner.mail.committed();
        Ok(invitation.into())
    }

    /// Revokes pending invitation `invitation_id`: its link stops working. Needs
    /// [`OrgPermission::INVITE_MEMBERS`]. Not pending: [`AuthError::InvitationNotFound`].
    /// Recorded as `invitation_revoked`.
    pub async fn revoke_invitation(
        &self,
        session: &Session,
        id: Uuid,
        invitation_id: Uuid,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let (tx, actor) = self.changing(session, id).await?;
        actor.require(&OrgPermission::INVITE_MEMBERS)?;
        let invitation = self.pending_invitation(&tx, id, invitation_id).await?;
        if !self.may_grant(&actor, &OrgRole::new(invitation.role.clone())) {
            return Err(AuthError::Forbidden);
        }
        if !tx
            .answer_invitation(invitation_id, InvitationStatus::Revoked)
            .await?
        {
            return Err(AuthError::InvitationNotFound);
        }
        let mut event = org_event(
            SecurityEventKind::InvitationRevoked,
            session.user.id,
            session.user.id,
            &actor.organization,
            request,
            json!({ "invitation": invitation.id, "email": invitation.email }),
        );
        event.subject = None;
        self.record(&tx, event).await?;
        tx.commit().await?;
        self.seats_changed(id).await;
        Ok(())
    }

    /// The organization's pending invitations, oldest first (expired ones are marked so and
    /// left out). Needs [`OrgPermission::INVITE_MEMBERS`].
    pub async fn list_invitations(
        &self,
        session: &Session,
        id: Uuid,
    ) -> Result<Vec<OrgInvitation>> {
        self.org_member(session, id)
            .await?
            .require(&OrgPermission::INVITE_MEMBERS)?;
        let db = &self.inner.db;
        db.expire_invitations(id, self.now()).await?;
        let pending = db.list_pending_invitations(id).await?;
        Ok(pending.into_iter().map(OrgInvitation::from).collect())
    }

    /// What the invitation behind `token` is about, for the page its link opens (no
    /// session needed: the link is the credential). Unknown, answered or expired:
    /// [`AuthError::InvalidToken`].
    pub async fn preview_invitation(&self, token: &str) -> Result<InvitationPreview> {
        let db = &self.inner.db;
        let invitation = self.usable_invitation(db, token).await?;
        let organization = db
            .find_organization(invitation.organization_id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let inviter = match invitation.inviter_user_id {
            Some(inviter) => db.find_user(inviter).await?,
            None => None,
        };
        let account_exists = db.find_user_by_email(&invitation.email).await?.is_some();
        Ok(InvitationPreview {
            organization_name: organization.name,
            inviter_name: inviter.map(|user| user.name.unwrap_or(user.email)),
            email: invitation.email,
            role: OrgRole::new(invitation.role),
            account_exists,
            expires_at: invitation.expires_at,
        })
    }

    /// Accepts the invitation behind `token` for the signed-in user, who joins with its
    /// role. Their account must have the invited address
    /// ([`AuthError::InvitationForAnotherAddress`]), verified
    /// ([`AuthError::EmailNotVerified`]): a new person signs up through the link and accepts
    /// once their address is verified. Unknown, answered or expired token:
    /// [`AuthError::InvalidToken`]; of two concurrent acceptances one joins. Already a
    /// member: the invitation is closed as accepted and the membership stays as it is.
    /// Recorded as `member_joined`.
    pub async fn accept_invitation(
        &self,
        session: &Session,
        token: &str,
        request: &RequestInfo<'_>,
    ) -> Result<OrgMember> {
        refuse_impersonation(session)?;
        let found = self.usable_invitation(&self.inner.db, token).await?;
        let user: &User = &session.user;
        if user.email != found.email {
            return Err(AuthError::InvitationForAnotherAddress);
        }
        if user.email_verified_at.is_none() {
            return Err(AuthError::EmailNotVerified);
        }
        let id = found.organization_id;
        let tx = self.inner.db.begin().await?;
        let organization = tx
            .lock_organization(id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        // Read again under the lock: revoked, sent again or accepted meanwhile.
        let invitation = self.usable_invitation(&tx, token).await?;
        if !tx
            .answer_invitation(invitation.id, InvitationStatus::Accepted)
            .await?
        {
            return Err(AuthError::InvalidToken);
        }
        let membership = match tx.find_membership(id, user.id).await? {
            Some(membership) => membership,
            None => {
                // The invitation held a seat until now; a limit lowered since (a downgrade)
                // counts the members already in.
                refuse_beyond_seat_limit(&organization, tx.count_members(id).await?)?;
                let membership = tx.add_member(id, user.id, &invitation.role).await?;
                let event = org_event(
                    SecurityEventKind::MemberJoined,
                    user.id,
                    user.id,
                    &organization,
                    request,
                    json!({ "invitation": invitation.id, "role": invitation.role }),
                );
                self.record(&tx, event).await?;
                membership
            }
        };
        tx.commit().await?;
        tracing::info!(organization_id = %id, user_id = %user.id, "invitation accepted");
        self.seats_changed(id).await;
        Ok(self.member_of(organization, membership))
    }

    /// Counts one invitation e-mail against the limits of organization `id` and of the
    /// inviting user (so many organizations do not multiply one account's e-mails).
    async fn count_invitation(&self, tx: &tollbooth_db::Tx, id: Uuid, inviter: Uuid) -> Result<()> {
        let limiter = &self.inner.limiter;
        let limit = limiter.limits().invitations;
        for counted in [format!("organization:{id}"), format!("user:{inviter}")] {
            let key = Key::account(Action::Invite, &counted);
            limiter.hit(tx, &key, limit).await?;
        }
        Ok(())
    }

    /// Pending invitation `invitation_id` of organization `id`, not past its expiry.
    async fn pending_invitation(
        &self,
        repo: &impl InvitationRepo,
        id: Uuid,
        invitation_id: Uuid,
    ) -> Result<Invitation> {
        repo.find_invitation(invitation_id)
            .await?
            .filter(|row| {
                row.organization_id == id
                    && row.status == InvitationStatus::Pending.as_str()
                    && row.expires_at > self.now()
            })
            .ok_or(AuthError::InvitationNotFound)
    }

    /// The pending, unexpired invitation whose token is `token`.
    async fn usable_invitation(
        &self,
        repo: &impl InvitationRepo,
        token: &str,
    ) -> Result<Invitation> {
        repo.find_invitation_by_token(&hash_token(token))
            .await?
            .filter(|row| {
                row.status == InvitationStatus::Pending.as_str() && row.expires_at > self.now()
            })
            .ok_or(AuthError::InvalidToken)
    }

    async fn record_invitation(
        &self,
        tx: &tollbooth_db::Tx,
        actor: &OrgMember,
        session: &Session,
        invitation: &Invitation,
        resent: bool,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let mut detail = json!({
            "invitation": invitation.id,
            "email": invitation.email,
            "role": invitation.role,
        });
        if resent {
            detail["resent"] = json!(true);
        }
        let mut event = org_event(
            SecurityEventKind::MemberInvited,
            session.user.id,
            session.user.id,
            &actor.organization,
            request,
            detail,
        );
        event.subject = None;
        self.record(tx, event).await
    }
}

/// [`AuthError::SeatLimitReached`] when `taken` seats (members and pending invitations)
/// leave no room under the organization's seat limit, which billing writes from its plan.
fn refuse_beyond_seat_limit(organization: &tollbooth_db::Organization, taken: u64) -> Result<()> {
    match organization
        .seat_limit
        .and_then(|limit| u32::try_from(limit).ok())
    {
        Some(limit) if taken >= u64::from(limit) => Err(AuthError::SeatLimitReached { limit }),
        _ => Ok(()),
    }
}
