//! The admin area: the server's routes take `RequireRole<Admin>`, so only admins get here.
//! The library's [`UserAdmin`](tollbooth_auth::UserAdmin) checks the role again, requires a
//! fresh session for every change and records each in the audit trail.

use tollbooth_auth::{AuthError, Ban, RequestInfo, Role, Session};
use tollbooth_db::{SecurityEventKind, SecurityEventQuery, UserQuery};
use uuid::Uuid;

use super::{Answer, DEFAULT_PAGE};
use crate::App;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::wire::*;

/// `GET /admin/stats`: admins only.
#[utoipa::path(
    get,
    path = "/admin/stats",
    tag = "admin",
    responses((status = 200, description = "admins only", body = AdminStatsReply))
)]
pub fn admin_stats(admin: &Session) -> Answer<AdminStatsReply> {
    Ok(Reply::ok(AdminStatsReply {
        admin: admin.user.email.clone(),
        status: "ok",
    }))
}

/// `GET /admin/users`: users in creation order, filtered, a page at a time.
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    params(
        ("email" = Option<String>, Query, description = "addresses starting with this"),
        ("role" = Option<String>, Query),
        ("banned" = Option<bool>, Query),
        ("created_after" = Option<String>, Query, description = "RFC 3339"),
        ("created_before" = Option<String>, Query, description = "RFC 3339"),
        ("after" = Option<String>, Query, description = "the previous page's `next`"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 50"),
    ),
    responses((status = 200, description = "a page of users", body = AdminUsersReply))
)]
pub async fn list_users(
    app: &App,
    admin: &Session,
    request: &RequestInfo<'_>,
    query: AdminUsersQuery,
) -> Answer<AdminUsersReply> {
    let mut filter = UserQuery::default();
    filter.email_prefix = query.email;
    filter.role = query.role;
    filter.banned = query.banned;
    filter.created_after = query.created_after;
    filter.created_before = query.created_before;
    filter.after = query.after;
    let page = app
        .auth
        .user_admin(admin, request)?
        .list_users(&filter, query.limit.unwrap_or(DEFAULT_PAGE))
        .await?;
    let now = tollbooth_db::now();
    Ok(Reply::ok(AdminUsersReply {
        users: page
            .users
            .iter()
            .map(|user| AdminUserBody::new(user, now))
            .collect(),
        next: page.next,
    }))
}

/// `GET /admin/users/{id}`: one user with sign-in methods, sessions, MFA and plan.
#[utoipa::path(
    get,
    path = "/admin/users/{id}",
    tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, description = "the user", body = AdminUserReply))
)]
pub async fn get_user(
    app: &App,
    admin: &Session,
    request: &RequestInfo<'_>,
    id: &str,
) -> Answer<AdminUserReply> {
    let overview = app
        .auth
        .user_admin(admin, request)?
        .user(user_id(id)?)
        .await?;
    let plan = match &app.billing {
        Some(billing) => Some(
            billing
                .current_plan(overview.user.id)
                .await?
                .id()
                .to_owned(),
        ),
        None => None,
    };
    Ok(Reply::ok(AdminUserReply {
        user: AdminUserBody::new(&overview.user, tollbooth_db::now()),
        sign_in_methods: overview.sign_in_methods,
        sessions: overview
            .sessions
            .into_iter()
            .map(SessionInfoBody::from)
            .collect(),
        mfa_enabled: overview.mfa_enabled,
        plan,
    }))
}

/// `POST /admin/users/{id}/ban`: bans the user and ends every session of theirs.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/ban",
    tag = "admin",
    params(("id" = String, Path)),
    request_body = BanRequest,
    responses((status = 200, description = "banned", body = AdminUserChangedReply))
)]
pub async fn ban_user(
    app: &App,
    admin: &Session,
    request: &RequestInfo<'_>,
    id: &str,
    body: BanRequest,
) -> Answer<AdminUserChangedReply> {
    let mut ban = Ban::new();
    if let Some(reason) = body.reason {
        ban = ban.reason(reason);
    }
    if let Some(until) = body.expires_at {
        ban = ban.until(until);
    }
    let user = app
        .auth
        .user_admin(admin, request)?
        .ban(user_id(id)?, ban)
        .await?;
    changed(&user)
}

/// `POST /admin/users/{id}/unban`: lifts the user's ban.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/unban",
    tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, description = "not banned", body = AdminUserChangedReply))
)]
pub async fn unban_user(
    app: &App,
    admin: &Session,
    request: &RequestInfo<'_>,
    id: &str,
) -> Answer<AdminUserChangedReply> {
    let users = app.auth.user_admin(admin, request)?;
    changed(&users.unban(user_id(id)?).await?)
}

/// `POST /admin/users/{id}/role`: sets the user's role.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/role",
    tag = "admin",
    params(("id" = String, Path)),
    request_body = RoleRequest,
    responses((status = 200, description = "role set", body = AdminUserChangedReply))
)]
pub async fn set_user_role(
    app: &App,
    admin: &Session,
    request: &RequestInfo<'_>,
    id: &str,
    body: RoleRequest,
) -> Answer<AdminUserChangedReply> {
    let users = app.auth.user_admin(admin, request)?;
    changed(&users.set_role(user_id(id)?, &Role::new(body.role)).await?)
}

/// `POST /admin/users/{id}/revoke-sessions`: ends every session of the user.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/revoke-sessions",
    tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, description = "sessions ended", body = RevokedReply))
)]
pub async fn revoke_user_sessions(
    app: &App,
    admin: &Session,
    request: &RequestInfo<'_>,
    id: &str,
) -> Answer<RevokedReply> {
    let users = app.auth.user_admin(admin, request)?;
    let revoked = users.revoke_sessions(user_id(id)?).await?;
    Ok(Reply::ok(RevokedReply { revoked }))
}

/// `POST /admin/users/{id}/impersonate`: a session as the user, for an hour at most; the
/// administrator's own session is parked until `POST /auth/stop-impersonating`.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/impersonate",
    tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, description = "acting as the user: the session cookie is the impersonation's (its user carries impersonated_by), the administrator's own token parked in a second cookie", body = SessionReply))
)]
pub async fn impersonate_user(
    app: &App,
    admin: &Session,
    request: &RequestInfo<'_>,
    id: &str,
) -> Answer<SessionReply> {
    let users = app.auth.user_admin(admin, request)?;
    let switch = users.impersonate(user_id(id)?).await?;
    Ok(super::switched(switch))
}

/// `GET /admin/security-events`: the audit trail, newest first.
#[utoipa::path(
    get,
    path = "/admin/security-events",
    tag = "admin",
    params(
        ("user" = Option<String>, Query, description = "events about this user's account"),
        ("kind" = Option<String>, Query),
        ("before" = Option<String>, Query, description = "the last event id of the previous page"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 50"),
    ),
    responses((status = 200, description = "events", body = SecurityEventsReply))
)]
pub async fn security_events(
    app: &App,
    admin: &Session,
    request: &RequestInfo<'_>,
    query: SecurityEventsQuery,
) -> Answer<SecurityEventsReply> {
    let mut filter = SecurityEventQuery::default();
    filter.subject_user_id = query.user;
    filter.before = query.before;
    filter.kind =
        match query.kind.as_deref() {
            None => None,
            Some(name) => Some(SecurityEventKind::parse(name).ok_or_else(|| {
                ApiError::InvalidQuery(format!("kind: unknown event kind {name:?}"))
            })?),
        };
    let events = app
        .auth
        .user_admin(admin, request)?
        .security_events(&filter, query.limit.unwrap_or(DEFAULT_PAGE))
        .await?;
    Ok(Reply::ok(SecurityEventsReply {
        events: events.into_iter().map(SecurityEventBody::from).collect(),
    }))
}

/// A user id from the path: not one is the same 404 as an unknown one.
fn user_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::Auth(AuthError::UserNotFound))
}

fn changed(user: &tollbooth_db::User) -> Answer<AdminUserChangedReply> {
    Ok(Reply::ok(AdminUserChangedReply {
        user: AdminUserBody::new(user, tollbooth_db::now()),
    }))
}
