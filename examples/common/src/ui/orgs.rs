//! The organization pages: the list with the switcher and a creation form, one
//! organization's members and invitations with the forms its members may use, and the page
//! an invitation e-mail's link opens — each calling the operation its JSON route calls.

use askama::Template;
use serde::Deserialize;
use tollbooth_auth::http::StatusCode;
use tollbooth_auth::{AuthError, OrgPermission, RequestInfo, Session};
use uuid::Uuid;

use super::pages::{error_page, sign_in_first};
use super::{Alert, Nav, Page, failure};
use crate::App;
use crate::error::ApiError;
use crate::ops;
use crate::reply::Reply;
use crate::wire::*;

/// `POST /organizations`: an empty slug is made from the name.
#[derive(Debug, Deserialize)]
pub struct CreateOrganizationForm {
    /// Display name.
    pub name: String,
    /// URL name, or empty.
    #[serde(default)]
    pub slug: String,
}

/// `POST /organizations/active`: an empty id acts in no organization.
#[derive(Debug, Deserialize)]
pub struct ActiveOrganizationForm {
    /// The organization, or empty.
    #[serde(default)]
    pub organization_id: String,
}

/// `POST /organizations/{id}/settings`.
#[derive(Debug, Deserialize)]
pub struct OrganizationSettingsForm {
    /// Display name.
    pub name: String,
    /// URL name.
    pub slug: String,
}

/// `POST /organizations/{id}/invitations`.
#[derive(Debug, Deserialize)]
pub struct InviteForm {
    /// The address.
    pub email: String,
    /// The role on accepting.
    pub role: String,
}

/// `POST /organizations/{id}/members/{user_id}/role`.
#[derive(Debug, Deserialize)]
pub struct MemberRoleForm {
    /// The new role.
    pub role: String,
}

/// `GET /organizations/{id}?notice=…&after=…&checkout=done`.
#[derive(Debug, Default, Deserialize)]
pub struct OrganizationPageQuery {
    /// What just happened.
    pub notice: Option<String>,
    /// The members page to show.
    pub after: Option<Uuid>,
    /// `done` when Stripe Checkout sends the browser back after the organization paid.
    pub checkout: Option<String>,
}

/// What an organization's billing forms do.
#[derive(Clone, Copy, Debug)]
pub enum OrgBillingAction {
    /// `POST /organizations/{id}/billing/portal`.
    Portal,
    /// `POST /organizations/{id}/billing/cancel`: at the period end.
    Cancel,
    /// `POST /organizations/{id}/billing/resume`.
    Resume,
}

/// `GET /accept-invitation?token=…` and its form.
#[derive(Debug, Default, Deserialize)]
pub struct InvitationTokenForm {
    /// The token of the e-mailed link.
    #[serde(default)]
    pub token: String,
}

fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "created" => "The organization is created: you are its owner.",
        "switched" => "Your session now acts in that organization.",
        "cleared" => "Your session acts in no organization.",
        "saved" => "The organization is saved.",
        "left" => "You left the organization.",
        "deleted" => "The organization is deleted.",
        "invited" => "The invitation is on its way.",
        "resent" => "The invitation is sent again: the earlier link no longer works.",
        "revoked" => "The invitation is revoked: its link no longer works.",
        "role-set" => "The role is set.",
        "removed" => "The member is removed.",
        "transferred" => "Ownership is transferred: you are an admin now.",
        "joined" => "Welcome aboard: you joined the organization.",
        "subscribed" => "Thank you: the organization's subscription is recorded.",
        "cancelled" => "The subscription ends at the end of the period paid for.",
        "resumed" => "The subscription goes on.",
        _ => return None,
    })
}

#[derive(Template)]
#[template(path = "organizations.html")]
struct OrganizationsPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    organizations: Vec<OrganizationItem>,
    any_active: bool,
}

/// One organization of the list, and whether the session acts in it.
struct OrganizationItem {
    org: OrganizationBody,
    active: bool,
}

/// `GET /organizations`: the user's organizations, which one the session acts in, and a
/// form to create one.
pub async fn organizations(
    app: &App,
    session: Option<&Session>,
    query: OrganizationPageQuery,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let alert = Alert::notice(notice(query.notice.as_deref()));
    list_page(app, session, StatusCode::OK, alert).await
}

async fn list_page(app: &App, session: &Session, status: StatusCode, alert: Alert) -> Page {
    match ops::orgs::list_organizations(app, session).await {
        Ok(Reply {
            body: Some(reply), ..
        }) => Page::html(
            status,
            &OrganizationsPage {
                title: "Organizations",
                nav: Nav::new(app, Some(session)),
                alert,
                any_active: session.active_organization.is_some(),
                organizations: reply
                    .organizations
                    .into_iter()
                    .map(|org| OrganizationItem {
                        active: session.active_organization == Some(org.id),
                        org,
                    })
                    .collect(),
            },
        ),
        Ok(_) => Page::internal_error(),
        Err(error) => error_page(app, Some(session), &error),
    }
}

/// `POST /organizations`: to the new organization's page.
pub async fn create_organization(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    form: CreateOrganizationForm,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let slug = form.slug.trim();
    let body = CreateOrganizationRequest {
        name: form.name,
        slug: (!slug.is_empty()).then(|| slug.to_owned()),
    };
    match ops::orgs::create_organization(app, session, request, body).await {
        Ok(Reply {
            body: Some(reply), ..
        }) => Page::see_other(format!(
            "/organizations/{}?notice=created",
            reply.organization.id
        )),
        Ok(_) => Page::internal_error(),
        Err(error) => {
            let (status, alert) = failure(&error);
            list_page(app, session, status, alert).await
        }
    }
}

/// `POST /organizations/active`: the switcher.
pub async fn switch_organization(
    app: &App,
    session: Option<&Session>,
    form: ActiveOrganizationForm,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let organization_id = match form.organization_id.trim() {
        "" => None,
        id => match Uuid::parse_str(id) {
            Ok(id) => Some(id),
            Err(_) => {
                let error = ApiError::Auth(AuthError::OrganizationNotFound);
                return error_page(app, Some(session), &error);
            }
        },
    };
    let body = ActiveOrganizationRequest { organization_id };
    match ops::orgs::set_active_organization(app, session, body).await {
        Ok(_) if organization_id.is_some() => Page::see_other("/organizations?notice=switched"),
        Ok(_) => Page::see_other("/organizations?notice=cleared"),
        Err(error) => {
            let (status, alert) = failure(&error);
            list_page(app, session, status, alert).await
        }
    }
}

#[derive(Template)]
#[template(path = "organization.html")]
struct OrganizationPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    organization: OrganizationBody,
    members: Vec<MemberBody>,
    next: Option<Uuid>,
    invitations: Vec<InvitationBody>,
    me: Uuid,
    is_owner: bool,
    can_update: bool,
    can_manage: bool,
    can_invite: bool,
    roles: Vec<String>,
    /// `None` when the server has no billing.
    billing: Option<OrgBilling>,
}

/// The organization's plan, and for those who manage its billing, its subscription and the
/// plans it can buy.
struct OrgBilling {
    plan: String,
    can_manage: bool,
    subscription: Option<SubscriptionBody>,
    plans: Vec<PlanBody>,
}

/// `GET /organizations/{id}`: members, invitations and the forms the member may use; an
/// organization the user is not in is the not-found page.
pub async fn organization(
    app: &App,
    session: Option<&Session>,
    id: &str,
    query: OrganizationPageQuery,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let mut code = query.notice.as_deref();
    if query.checkout.as_deref() == Some("done") {
        // Back from Checkout before the webhook, maybe: read the subscription from Stripe.
        // Only for whoever manages its billing: anyone else sees the page as it is.
        let synced = async {
            let org = Uuid::parse_str(id).map_err(|_| AuthError::OrganizationNotFound)?;
            let member = app.auth.org_member(session, org).await?;
            match member.billing_customer() {
                Ok(customer) => ops::billing::checkout_success(app, customer)
                    .await
                    .map(Some),
                Err(_) => Ok(None),
            }
        };
        match synced.await {
            Ok(Some(_)) => code = Some("subscribed"),
            Ok(None) => {}
            Err(error) => {
                let (status, alert) = failure(&error);
                return organization_page(app, session, id, None, status, alert).await;
            }
        }
    }
    let alert = Alert::notice(notice(code));
    organization_page(app, session, id, query.after, StatusCode::OK, alert).await
}

async fn organization_page(
    app: &App,
    session: &Session,
    id: &str,
    after: Option<Uuid>,
    status: StatusCode,
    alert: Alert,
) -> Page {
    let loaded = async {
        let id = Uuid::parse_str(id).map_err(|_| AuthError::OrganizationNotFound)?;
        let member = app.auth.org_member(session, id).await?;
        let query = MembersQuery { after, limit: None };
        let members = ops::orgs::list_members(app, session, &member, query)
            .await?
            .body;
        let invitations = if member.can(&OrgPermission::INVITE_MEMBERS) {
            ops::orgs::list_invitations(app, session, &id.to_string())
                .await?
                .body
                .map(|reply| reply.invitations)
        } else {
            Some(Vec::new())
        };
        let billing = match &app.billing {
            Some(billing) => {
                let reply = ops::billing::org_subscription(app, &member).await?.body;
                reply.map(|reply| OrgBilling {
                    plan: billing
                        .config()
                        .plan(&reply.plan)
                        .map_or(reply.plan.clone(), |plan| plan.name().to_owned()),
                    can_manage: member.can(&OrgPermission::MANAGE_BILLING),
                    subscription: reply.subscription,
                    plans: billing
                        .config()
                        .plans()
                        .iter()
                        .map(PlanBody::from)
                        .collect(),
                })
            }
            None => None,
        };
        Ok::<_, ApiError>((member, members, invitations, billing))
    };
    match loaded.await {
        Ok((member, Some(members), Some(invitations), billing)) => Page::html(
            status,
            &OrganizationPage {
                title: "Organization",
                nav: Nav::new(app, Some(session)),
                alert,
                is_owner: member.role == tollbooth_auth::OrgRole::OWNER,
                can_update: member.can(&OrgPermission::UPDATE_ORGANIZATION),
                can_manage: member.can(&OrgPermission::MANAGE_MEMBERS),
                can_invite: member.can(&OrgPermission::INVITE_MEMBERS),
                organization: OrganizationBody::from(&member),
                members: members.members,
                next: members.next,
                invitations,
                me: session.user.id,
                roles: ["member", "admin", "owner"].map(str::to_owned).to_vec(),
                billing,
            },
        ),
        Ok(_) => Page::internal_error(),
        Err(error) => error_page(app, Some(session), &error),
    }
}

/// An organization form's answer: back to its page with `notice`, or the page again with
/// what went wrong.
async fn after<T>(
    app: &App,
    session: &Session,
    id: &str,
    done: Result<Reply<T>, ApiError>,
    notice: &str,
) -> Page {
    match done {
        Ok(_) => Page::see_other(format!("/organizations/{id}?notice={notice}")),
        Err(error) => {
            let (status, alert) = failure(&error);
            organization_page(app, session, id, None, status, alert).await
        }
    }
}

/// `POST /organizations/{id}/billing/checkout`: to Stripe Checkout, which comes back to the
/// organization's page.
pub async fn org_checkout(
    app: &App,
    session: Option<&Session>,
    id: &str,
    form: super::pages::PlanForm,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let started = async {
        let org = Uuid::parse_str(id).map_err(|_| AuthError::OrganizationNotFound)?;
        let member = app.auth.org_member(session, org).await?;
        let body = CheckoutBody {
            plan: form.plan,
            success_url: None,
            cancel_url: None,
        };
        ops::billing::org_checkout(app, &member, body).await
    };
    match started.await {
        Ok(Reply {
            body: Some(checkout),
            ..
        }) => Page::see_other(checkout.url),
        done => after(app, session, id, done, "").await,
    }
}

/// `POST /organizations/{id}/billing/{portal,cancel,resume}`.
pub async fn org_billing(
    app: &App,
    session: Option<&Session>,
    id: &str,
    action: OrgBillingAction,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let member = match Uuid::parse_str(id) {
        Ok(org) => app
            .auth
            .org_member(session, org)
            .await
            .map_err(ApiError::from),
        Err(_) => Err(AuthError::OrganizationNotFound.into()),
    };
    let member = match member {
        Ok(member) => member,
        Err(error) => return error_page(app, Some(session), &error),
    };
    match action {
        OrgBillingAction::Portal => match ops::billing::org_portal(app, &member).await {
            Ok(Reply {
                body: Some(portal), ..
            }) => Page::see_other(portal.url),
            done => after(app, session, id, done, "").await,
        },
        OrgBillingAction::Cancel => {
            let done = ops::billing::org_cancel_subscription(app, &member, None).await;
            after(app, session, id, done, "cancelled").await
        }
        OrgBillingAction::Resume => {
            let done = ops::billing::org_resume_subscription(app, &member).await;
            after(app, session, id, done, "resumed").await
        }
    }
}

/// `POST /organizations/{id}/settings`.
pub async fn organization_settings(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
    form: OrganizationSettingsForm,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let body = UpdateOrganizationRequest {
        name: Some(form.name),
        slug: Some(form.slug),
    };
    let done = ops::orgs::update_organization(app, session, request, id, body).await;
    after(app, session, id, done, "saved").await
}

/// `POST /organizations/{id}/delete`: to the list.
pub async fn delete_organization(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    match ops::orgs::delete_organization(app, session, request, id).await {
        Ok(_) => Page::see_other("/organizations?notice=deleted"),
        done @ Err(_) => after(app, session, id, done, "").await,
    }
}

/// `POST /organizations/{id}/leave`: to the list.
pub async fn leave_organization(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    match ops::orgs::leave_organization(app, session, request, id).await {
        Ok(_) => Page::see_other("/organizations?notice=left"),
        done @ Err(_) => after(app, session, id, done, "").await,
    }
}

/// `POST /organizations/{id}/invitations`.
pub async fn invite(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
    form: InviteForm,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let body = InviteRequest {
        email: form.email,
        role: Some(form.role),
    };
    let done = ops::orgs::invite_member(app, session, request, id, body).await;
    after(app, session, id, done, "invited").await
}

/// `POST /organizations/{id}/invitations/{invitation_id}/resend`.
pub async fn resend_invitation(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    (id, invitation): (&str, &str),
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = ops::orgs::resend_invitation(app, session, request, (id, invitation)).await;
    after(app, session, id, done, "resent").await
}

/// `POST /organizations/{id}/invitations/{invitation_id}/revoke`.
pub async fn revoke_invitation(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    (id, invitation): (&str, &str),
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = ops::orgs::revoke_invitation(app, session, request, (id, invitation)).await;
    after(app, session, id, done, "revoked").await
}

/// `POST /organizations/{id}/members/{user_id}/role`.
pub async fn member_role(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    (id, user): (&str, &str),
    form: MemberRoleForm,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let body = MemberRoleRequest { role: form.role };
    let done = ops::orgs::change_member_role(app, session, request, (id, user), body).await;
    after(app, session, id, done, "role-set").await
}

/// `POST /organizations/{id}/members/{user_id}/remove`.
pub async fn remove_member(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    (id, user): (&str, &str),
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = ops::orgs::remove_member(app, session, request, (id, user)).await;
    after(app, session, id, done, "removed").await
}

/// `POST /organizations/{id}/members/{user_id}/transfer`: makes them an owner.
pub async fn transfer_ownership(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    (id, user): (&str, &str),
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = match Uuid::parse_str(user) {
        Ok(user_id) => {
            let body = TransferOwnershipRequest { user_id };
            ops::orgs::transfer_ownership(app, session, request, id, body).await
        }
        Err(_) => Err(ApiError::Auth(AuthError::MemberNotFound)),
    };
    after(app, session, id, done, "transferred").await
}

#[derive(Template)]
#[template(path = "accept_invitation.html")]
struct AcceptInvitationPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    token: String,
    preview: InvitationPreviewReply,
    signed_in_as: Option<String>,
}

/// `GET /accept-invitation?token=…`: what the invitation is about and, for the invited
/// account, the button that accepts it; anyone else is told whom to sign in as. A GET
/// never accepts: mail scanners open links.
pub async fn accept_invitation_page(
    app: &App,
    session: Option<&Session>,
    form: InvitationTokenForm,
) -> Page {
    invitation_page(app, session, form.token, StatusCode::OK, Alert::default()).await
}

async fn invitation_page(
    app: &App,
    session: Option<&Session>,
    token: String,
    status: StatusCode,
    alert: Alert,
) -> Page {
    let query = TokenQuery {
        token: Some(token.clone()),
    };
    match ops::orgs::preview_invitation(app, query).await {
        Ok(Reply {
            body: Some(preview),
            ..
        }) => Page::html(
            status,
            &AcceptInvitationPage {
                title: "Invitation",
                nav: Nav::new(app, session),
                alert,
                token,
                preview,
                signed_in_as: session.map(|s| s.user.email.clone()),
            },
        ),
        Ok(_) => Page::internal_error(),
        Err(error) => error_page(app, session, &error),
    }
}

/// `POST /accept-invitation`: to the organization's page.
pub async fn accept_invitation(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    form: InvitationTokenForm,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let body = AcceptInvitationRequest {
        token: form.token.clone(),
    };
    match ops::orgs::accept_invitation(app, session, request, body).await {
        Ok(Reply {
            body: Some(reply), ..
        }) => Page::see_other(format!(
            "/organizations/{}?notice=joined",
            reply.organization.id
        )),
        Ok(_) => Page::internal_error(),
        Err(error) => {
            let (status, alert) = failure(&error);
            invitation_page(app, Some(session), form.token, status, alert).await
        }
    }
}
