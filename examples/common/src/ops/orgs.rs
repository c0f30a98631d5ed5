//! Organizations: create and list, rename, delete; members, roles and ownership; invitations
//! and their acceptance; the session's active organization. The library checks membership
//! (404 for outsiders), permissions (403) and the last owner (409) itself; the routes that
//! only read take the adapters' `RequireOrgMember` extractor.

use tollbooth_auth::{AuthError, OrgMember, OrgRole, OrganizationUpdate, RequestInfo, Session};
use uuid::Uuid;

use super::{Answer, DEFAULT_PAGE};
use crate::App;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::wire::*;

/// `GET /orgs`: the user's organizations.
#[utoipa::path(
    get,
    path = "/orgs",
    tag = "organizations",
    responses((status = 200, description = "every organization the user belongs to", body = OrganizationsReply))
)]
pub async fn list_organizations(app: &App, session: &Session) -> Answer<OrganizationsReply> {
    let organizations = app.auth.organizations(session).await?;
    Ok(Reply::ok(OrganizationsReply {
        organizations: organizations.iter().map(OrganizationBody::from).collect(),
    }))
}

/// `POST /orgs`: creates an organization; the caller is its owner.
#[utoipa::path(
    post,
    path = "/orgs",
    tag = "organizations",
    request_body = CreateOrganizationRequest,
    responses((status = 201, description = "created, the caller its owner", body = OrganizationReply))
)]
pub async fn create_organization(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    body: CreateOrganizationRequest,
) -> Answer<OrganizationReply> {
    let slug = body.slug.as_deref();
    let member = app
        .auth
        .create_organization(session, &body.name, slug, request)
        .await?;
    Ok(Reply::created(organization(&member)))
}

/// `GET /orgs/{org_id}`: the organization and the caller's role in it.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}",
    tag = "organizations",
    params(("org_id" = String, Path)),
    responses((status = 200, description = "the organization; 404 for one the caller does not belong to", body = OrganizationReply))
)]
pub fn get_organization(member: &OrgMember) -> Answer<OrganizationReply> {
    Ok(Reply::ok(organization(member)))
}

/// `PATCH /orgs/{org_id}`: renames it or changes its slug.
#[utoipa::path(
    patch,
    path = "/orgs/{org_id}",
    tag = "organizations",
    params(("org_id" = String, Path)),
    request_body = UpdateOrganizationRequest,
    responses((status = 200, description = "updated (needs organization:update)", body = OrganizationReply))
)]
pub async fn update_organization(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    id: &str,
    body: UpdateOrganizationRequest,
) -> Answer<OrganizationReply> {
    let mut update = OrganizationUpdate::new();
    if let Some(name) = body.name {
        update = update.name(name);
    }
    if let Some(slug) = body.slug {
        update = update.slug(slug);
    }
    let member = app
        .auth
        .update_organization(session, org_id(id)?, update, request)
        .await?;
    Ok(Reply::ok(organization(&member)))
}

/// `DELETE /orgs/{org_id}`: deletes it (owners, fresh session).
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}",
    tag = "organizations",
    params(("org_id" = String, Path)),
    responses((status = 204, description = "deleted with its memberships and invitations; no session acts in it any more"))
)]
pub async fn delete_organization(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    id: &str,
) -> Answer {
    app.auth
        .delete_organization(session, org_id(id)?, request)
        .await?;
    Ok(Reply::no_content())
}

/// `GET /orgs/{org_id}/members`: a page of members in joining order.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/members",
    tag = "organizations",
    params(
        ("org_id" = String, Path),
        ("after" = Option<String>, Query, description = "the previous page's `next`"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 50"),
    ),
    responses((status = 200, description = "a page of members", body = MembersReply))
)]
pub async fn list_members(
    app: &App,
    session: &Session,
    member: &OrgMember,
    query: MembersQuery,
) -> Answer<MembersReply> {
    let page = app
        .auth
        .list_members(
            session,
            member.organization.id,
            query.after,
            query.limit.unwrap_or(DEFAULT_PAGE),
        )
        .await?;
    Ok(Reply::ok(MembersReply {
        members: page.members.into_iter().map(MemberBody::from).collect(),
        next: page.next,
    }))
}

/// `POST /orgs/{org_id}/members/{user_id}/role`: changes a member's role.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/members/{user_id}/role",
    tag = "organizations",
    params(("org_id" = String, Path), ("user_id" = String, Path)),
    request_body = MemberRoleRequest,
    responses((status = 200, description = "changed (needs members:manage; owners only make or unmake owners; never the last owner)", body = MemberReply))
)]
pub async fn change_member_role(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    (id, user): (&str, &str),
    body: MemberRoleRequest,
) -> Answer<MemberReply> {
    let role = OrgRole::new(body.role);
    let member = app
        .auth
        .change_member_role(session, org_id(id)?, member_id(user)?, &role, request)
        .await?;
    Ok(Reply::ok(MemberReply {
        member: MemberBody::from(member),
    }))
}

/// `DELETE /orgs/{org_id}/members/{user_id}`: removes a member.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/members/{user_id}",
    tag = "organizations",
    params(("org_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "removed; the organization is no longer active on their sessions"))
)]
pub async fn remove_member(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    (id, user): (&str, &str),
) -> Answer {
    app.auth
        .remove_member(session, org_id(id)?, member_id(user)?, request)
        .await?;
    Ok(Reply::no_content())
}

/// `POST /orgs/{org_id}/leave`: leaves the organization.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/leave",
    tag = "organizations",
    params(("org_id" = String, Path)),
    responses((status = 204, description = "left (never the last owner)"))
)]
pub async fn leave_organization(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    id: &str,
) -> Answer {
    app.auth
        .leave_organization(session, org_id(id)?, request)
        .await?;
    Ok(Reply::no_content())
}

/// `POST /orgs/{org_id}/transfer-ownership`: makes a member an owner, the caller an admin.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/transfer-ownership",
    tag = "organizations",
    params(("org_id" = String, Path)),
    request_body = TransferOwnershipRequest,
    responses((status = 204, description = "transferred (owners only)"))
)]
pub async fn transfer_ownership(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    id: &str,
    body: TransferOwnershipRequest,
) -> Answer {
    app.auth
        .transfer_ownership(session, org_id(id)?, body.user_id, request)
        .await?;
    Ok(Reply::no_content())
}

/// `GET /orgs/{org_id}/invitations`: the pending invitations.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/invitations",
    tag = "organizations",
    params(("org_id" = String, Path)),
    responses((status = 200, description = "pending invitations (needs members:invite)", body = InvitationsReply))
)]
pub async fn list_invitations(app: &App, session: &Session, id: &str) -> Answer<InvitationsReply> {
    let invitations = app.auth.list_invitations(session, org_id(id)?).await?;
    Ok(Reply::ok(InvitationsReply {
        invitations: invitations.into_iter().map(InvitationBody::from).collect(),
    }))
}

/// `POST /orgs/{org_id}/invitations`: invites an address; the e-mail carries the link.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/invitations",
    tag = "organizations",
    params(("org_id" = String, Path)),
    request_body = InviteRequest,
    responses((status = 201, description = "invited; the invitation e-mail is on its way", body = InvitationReply))
)]
pub async fn invite_member(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    id: &str,
    body: InviteRequest,
) -> Answer<InvitationReply> {
    let role = match body.role {
        Some(role) => OrgRole::new(role),
        None => OrgRole::MEMBER,
    };
    let invitation = app
        .auth
        .invite_member(session, org_id(id)?, &body.email, &role, request)
        .await?;
    Ok(Reply::created(InvitationReply {
        invitation: InvitationBody::from(invitation),
    }))
}

/// `POST /orgs/{org_id}/invitations/{invitation_id}/resend`: a new link, the old one dead.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/invitations/{invitation_id}/resend",
    tag = "organizations",
    params(("org_id" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 200, description = "sent again with a new link and expiry", body = InvitationReply))
)]
pub async fn resend_invitation(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    (id, invitation): (&str, &str),
) -> Answer<InvitationReply> {
    let invitation = app
        .auth
        .resend_invitation(session, org_id(id)?, invitation_id(invitation)?, request)
        .await?;
    Ok(Reply::ok(InvitationReply {
        invitation: InvitationBody::from(invitation),
    }))
}

/// `DELETE /orgs/{org_id}/invitations/{invitation_id}`: revokes a pending invitation.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/invitations/{invitation_id}",
    tag = "organizations",
    params(("org_id" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 204, description = "revoked: its link no longer works"))
)]
pub async fn revoke_invitation(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    (id, invitation): (&str, &str),
) -> Answer {
    app.auth
        .revoke_invitation(session, org_id(id)?, invitation_id(invitation)?, request)
        .await?;
    Ok(Reply::no_content())
}

/// `GET /invitations/preview?token=…`: what an invitation link is about (no session needed).
#[utoipa::path(
    get,
    path = "/invitations/preview",
    tag = "organizations",
    params(("token" = String, Query)),
    responses((status = 200, description = "the invitation", body = InvitationPreviewReply))
)]
pub async fn preview_invitation(app: &App, query: TokenQuery) -> Answer<InvitationPreviewReply> {
    let token = query.token.ok_or(ApiError::Auth(AuthError::InvalidToken))?;
    let preview = app.auth.preview_invitation(&token).await?;
    Ok(Reply::ok(InvitationPreviewReply::from(preview)))
}

/// `POST /invitations/accept`: joins the organization (the account must have the invited,
/// verified address).
#[utoipa::path(
    post,
    path = "/invitations/accept",
    tag = "organizations",
    request_body = AcceptInvitationRequest,
    responses((status = 200, description = "joined", body = OrganizationReply))
)]
pub async fn accept_invitation(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    body: AcceptInvitationRequest,
) -> Answer<OrganizationReply> {
    let member = app
        .auth
        .accept_invitation(session, &body.token, request)
        .await?;
    Ok(Reply::ok(organization(&member)))
}

/// `POST /auth/active-organization`: the organization the session acts in.
#[utoipa::path(
    post,
    path = "/auth/active-organization",
    tag = "organizations",
    request_body = ActiveOrganizationRequest,
    responses((status = 200, description = "switched; the session's active_organization_id says which", body = SessionReply))
)]
pub async fn set_active_organization(
    app: &App,
    session: &Session,
    body: ActiveOrganizationRequest,
) -> Answer<SessionReply> {
    app.auth
        .set_active_organization(session, body.organization_id)
        .await?;
    let mut reply = SessionReply::from(session);
    reply.session.active_organization_id = body.organization_id;
    Ok(Reply::ok(reply))
}

fn organization(member: &OrgMember) -> OrganizationReply {
    OrganizationReply {
        organization: OrganizationBody::from(member),
    }
}

/// An organization id from the path: a malformed one is the same 404 as an unknown one.
fn org_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::Auth(AuthError::OrganizationNotFound))
}

fn member_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::Auth(AuthError::MemberNotFound))
}

fn invitation_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::Auth(AuthError::InvitationNotFound))
}
