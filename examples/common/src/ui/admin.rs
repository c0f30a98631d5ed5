//! The admin pages: the user list with search, and one user's page with ban, role and
//! sign-out forms — each calling the operation its JSON route calls.

use askama::Template;
use serde::Deserialize;
use tollbooth_auth::http::StatusCode;
use tollbooth_auth::{RequestInfo, Role, Session};

use super::pages::{Activity, NoticeQuery, error_page, sign_in_first};
use super::{Alert, Nav, Page, failure};
use crate::App;
use crate::error::ApiError;
use crate::ops;
use crate::reply::Reply;
use crate::wire::*;

/// `POST /admin/user/{id}/ban`: an empty reason is none; `days` empty is until lifted.
#[derive(Debug, Deserialize)]
pub struct BanForm {
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// How many days, or empty for until lifted.
    #[serde(default)]
    pub days: String,
}

/// `POST /admin/user/{id}/role`.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    /// The new role.
    pub role: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    stats: AdminStatsReply,
    email: String,
    users: Vec<AdminUserBody>,
    next: Option<String>,
}

/// `GET /admin?email=…&after=…`: admins only (a 403 page for other roles).
pub async fn admin(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    query: AdminUsersQuery,
) -> Page {
    let Some(admin) = session else {
        return sign_in_first();
    };
    if let Err(error) = admin.require_role(&Role::ADMIN) {
        return error_page(app, Some(admin), &error.into());
    }
    let email = query.email.clone().unwrap_or_default();
    let loaded = async {
        let stats = ops::admin::admin_stats(admin)?.body;
        let users = ops::admin::list_users(app, admin, request, query)
            .await?
            .body;
        Ok::<_, ApiError>((stats, users))
    };
    match loaded.await {
        Ok((Some(stats), Some(users))) => Page::html(
            StatusCode::OK,
            &AdminPage {
                title: "Admin",
                nav: Nav::new(app, Some(admin)),
                alert: Alert::default(),
                stats,
                next: users.next.map(|after| {
                    let email =
                        tollbooth_auth::url::form_urlencoded::byte_serialize(email.as_bytes())
                            .collect::<String>();
                    format!("/admin?email={email}&after={after}")
                }),
                email,
                users: users.users,
            },
        ),
        Ok(_) => Page::internal_error(),
        Err(error) => error_page(app, Some(admin), &error),
    }
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct AdminUserPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    detail: AdminUserReply,
    activity: Vec<Activity>,
}

/// `GET /admin/user/{id}`: one user, with the forms that act on them.
pub async fn admin_user(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
    query: NoticeQuery,
) -> Page {
    let alert = Alert::notice(query.message());
    user_page(app, session, request, id, StatusCode::OK, alert).await
}

async fn user_page(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
    status: StatusCode,
    alert: Alert,
) -> Page {
    let Some(admin) = session else {
        return sign_in_first();
    };
    let loaded = async {
        let detail = ops::admin::get_user(app, admin, request, id).await?.body;
        let about = SecurityEventsQuery {
            user: detail.as_ref().map(|d| d.user.user.id),
            limit: Some(20),
            ..SecurityEventsQuery::default()
        };
        let events = ops::admin::security_events(app, admin, request, about)
            .await?
            .body;
        Ok::<_, ApiError>((detail, events))
    };
    match loaded.await {
        Ok((Some(detail), Some(events))) => Page::html(
            status,
            &AdminUserPage {
                title: "User",
                nav: Nav::new(app, Some(admin)),
                alert,
                detail,
                activity: events.events.iter().map(Activity::from).collect(),
            },
        ),
        Ok(_) => Page::internal_error(),
        Err(error) => error_page(app, Some(admin), &error),
    }
}

/// `POST /admin/user/{id}/ban`.
pub async fn admin_ban(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
    form: BanForm,
) -> Page {
    let Some(admin) = session else {
        return sign_in_first();
    };
    let expires_at = match form.days.trim() {
        "" => Ok(None),
        days => days
            .parse::<u16>()
            .ok()
            .filter(|days| *days > 0)
            .map(|days| Some(tollbooth_db::now() + chrono::TimeDelta::days(days.into())))
            .ok_or(()),
    };
    let done = match expires_at {
        Ok(expires_at) => {
            let reason = form.reason.trim();
            let body = BanRequest {
                reason: (!reason.is_empty()).then(|| reason.to_owned()),
                expires_at,
            };
            ops::admin::ban_user(app, admin, request, id, body).await
        }
        Err(()) => Err(ApiError::InvalidBody(
            "days: a whole number of days".to_owned(),
        )),
    };
    after(app, admin, request, id, done, "banned").await
}

/// `POST /admin/user/{id}/unban`.
pub async fn admin_unban(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
) -> Page {
    let Some(admin) = session else {
        return sign_in_first();
    };
    let done = ops::admin::unban_user(app, admin, request, id).await;
    after(app, admin, request, id, done, "unbanned").await
}

/// `POST /admin/user/{id}/role`.
pub async fn admin_set_role(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
    form: RoleForm,
) -> Page {
    let Some(admin) = session else {
        return sign_in_first();
    };
    let body = RoleRequest {
        role: form.role.trim().to_owned(),
    };
    let done = ops::admin::set_user_role(app, admin, request, id, body).await;
    after(app, admin, request, id, done, "role-set").await
}

/// `POST /admin/user/{id}/revoke-sessions`.
pub async fn admin_revoke_sessions(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
) -> Page {
    let Some(admin) = session else {
        return sign_in_first();
    };
    let done = ops::admin::revoke_user_sessions(app, admin, request, id).await;
    after(app, admin, request, id, done, "sessions-revoked").await
}

/// `POST /admin/user/{id}/impersonate`: the home page as the user, or the user's page with
/// why not.
pub async fn admin_impersonate(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    id: &str,
) -> Page {
    let Some(admin) = session else {
        return sign_in_first();
    };
    match ops::admin::impersonate_user(app, admin, request, id).await {
        Ok(reply) => Page::see_other("/").with_cookies_of(reply),
        Err(error) => {
            let (status, alert) = failure(&error);
            user_page(app, Some(admin), request, id, status, alert).await
        }
    }
}

/// `POST /stop-impersonating`: back to the administrator's page about the user.
pub async fn stop_impersonating(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    match ops::auth::stop_impersonating(app, session, request).await {
        Ok(reply) => {
            Page::see_other(format!("/admin/user/{}", session.user.id)).with_cookies_of(reply)
        }
        Err(error) => error_page(app, Some(session), &error),
    }
}

/// An admin action's answer: back to the user's page with `notice`, or the page again with
/// what went wrong.
async fn after<T>(
    app: &App,
    admin: &Session,
    request: &RequestInfo<'_>,
    id: &str,
    done: Result<Reply<T>, ApiError>,
    notice: &str,
) -> Page {
    match done {
        Ok(_) => Page::see_other(format!("/admin/user/{id}?notice={notice}")),
        Err(error) => {
            let (status, alert) = failure(&error);
            user_page(app, Some(admin), request, id, status, alert).await
        }
    }
}
