//! Tollbooth on axum. `cargo run -p tollbooth-example-axum` serves the whole contract of
//! `docs/http-api.md` on `BIND` (default `127.0.0.1:3000`), configured from the environment
//! (`.env.example`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::Value;
use tollbooth_auth::axum::{
    ClientIp, CurrentSession, RequireAuth, RequireOrgMember, RequireRole, csrf, session,
};
use tollbooth_auth::{AccountExport, Admin, Customer, OAuthCallback, RequestInfo};
use tollbooth_example_common::axum::{Form, Json, OptionalJson, Path, Query, RawBody};
use tollbooth_example_common::extract::MAX_BODY_BYTES;
use tollbooth_example_common::ui::{self, Page};
use tollbooth_example_common::wire::*;
use tollbooth_example_common::{
    ApiError, App, Reply, config, ops, purge_command, shutdown_signal, telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let server = match config::from_env().await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    if std::env::args().nth(1).as_deref() == Some("purge") {
        return purge_command(&server.app).await;
    }
    if let Some(every) = server.purge_every {
        tokio::spawn(server.app.clone().purge_periodically(every));
    }
    let listener = match tokio::net::TcpListener::bind(server.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, bind = %server.bind, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let address = listener.local_addr().map_or(server.bind, |a| a);
    tracing::info!("listening on http://{address}");
    let app = server.app.clone();
    let service = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    app.shutdown().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server error");
            ExitCode::FAILURE
        }
    }
}

/// The whole contract: the site's areas behind the library's `csrf` and `session`
/// middleware, the webhooks outside them (signed, and cross-site by design). Access is in
/// each handler's signature: `RequireAuth` (401 without a session), `RequireRole<Admin>`
/// (also 403 for other roles).
fn router(app: App) -> Router {
    let auth = app.auth.clone();
    let site = Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi_json))
        .route("/me", get(me))
        .nest("/auth", auth_routes())
        .nest("/admin", admin_routes())
        .nest("/billing", billing_routes())
        .nest("/orgs", org_routes())
        .route("/invitations/preview", get(preview_invitation))
        .route("/invitations/accept", post(accept_invitation))
        .merge(page_routes())
        // `route_layer`: a path no route matches gets the fallback's 404, not a CSRF 403.
        .route_layer(middleware::from_fn_with_state(auth.clone(), session))
        .route_layer(middleware::from_fn_with_state(auth, csrf));
    Router::new()
        .merge(site)
        .nest("/webhooks", webhook_routes())
        .fallback(not_found)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(refuse_oversized))
        .layer(middleware::from_fn(request_id))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

type Answer<T = ()> = Result<Reply<T>, ApiError>;

/// The router's 404: a page for a browser's navigation, the JSON error otherwise.
async fn not_found(State(app): State<App>, headers: HeaderMap) -> Response {
    if ui::wants_html(header(&headers, "accept")) {
        ui::not_found(&app, None).into_response()
    } else {
        ApiError::NotFound("route").into_response()
    }
}

async fn health(State(app): State<App>) -> Answer<StatusReply> {
    ops::meta::health(&app).await
}

async fn openapi_json() -> Reply<&'static Value> {
    ops::meta::openapi_json()
}

async fn me(RequireAuth(session): RequireAuth) -> Answer<UserReply> {
    ops::auth::me(&session)
}

/// `/auth`: accounts, sessions, second factors, providers.
fn auth_routes() -> Router<App> {
    Router::new()
        .route("/sign-up", post(sign_up))
        .route("/sign-in", post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/sign-out-everywhere", post(sign_out_everywhere))
        .route("/reauthenticate", post(reauthenticate))
        .route("/session", get(current_session))
        .route("/sessions", get(list_sessions))
        .route("/sessions/{id}", delete(revoke_session))
        .route("/verify-email", get(verify_email_link).post(verify_email))
        .route("/resend-verification", post(resend_verification))
        .route("/forgot-password", post(forgot_password))
        .route("/reset-password", post(reset_password))
        .route("/change-password", post(change_password))
        .route("/set-password-link", post(set_password_link))
        .route("/export", get(export_account))
        .route("/change-email", post(change_email))
        .route("/delete-account", post(delete_account))
        .route("/stop-impersonating", post(stop_impersonating))
        .route("/active-organization", post(set_active_organization))
        .route("/confirm-email-change", post(confirm_email_change))
        .route("/security-activity", get(security_activity))
        .route("/profile", post(update_profile))
        .route(
            "/security-report",
            get(security_report_link).post(security_report),
        )
        .route("/oauth/{provider}", get(oauth_start).delete(oauth_unlink))
        .route("/oauth/{provider}/callback", get(oauth_callback))
        .route("/oauth/{provider}/link", get(oauth_link))
        .route("/sign-in-methods", get(sign_in_methods))
        .route("/mfa", get(mfa_status))
        .route("/mfa/enroll", post(mfa_enroll))
        .route("/mfa/confirm", post(mfa_confirm))
        .route("/mfa/disable", post(mfa_disable))
        .route("/mfa/backup-codes", post(mfa_backup_codes))
        .route("/mfa/verify", post(mfa_verify))
}

async fn sign_up(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<SignUpBody>,
) -> Answer<UserReply> {
    ops::auth::sign_up(&app, &RequestInfo::new(&headers, ip), body).await
}

async fn sign_in(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<CredentialsBody>,
) -> Answer<SignInReply> {
    ops::auth::sign_in(&app, &RequestInfo::new(&headers, ip), body).await
}

async fn sign_out(State(app): State<App>, headers: HeaderMap) -> Answer {
    ops::auth::sign_out(&app, &headers).await
}

async fn sign_out_everywhere(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Answer {
    ops::auth::sign_out_everywhere(&app, &session, &RequestInfo::new(&headers, ip)).await
}

async fn reauthenticate(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<ReauthenticateBody>,
) -> Answer {
    ops::auth::reauthenticate(&app, &session, body).await
}

async fn current_session(RequireAuth(session): RequireAuth) -> Answer<SessionReply> {
    ops::auth::current_session(&session)
}

async fn list_sessions(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<SessionsReply> {
    ops::auth::list_sessions(&app, &session).await
}

async fn update_profile(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<ProfileBody>,
) -> Answer<UserReply> {
    ops::auth::update_profile(&app, &session, body).await
}

async fn security_activity(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Query(query): Query<ActivityQuery>,
) -> Answer<SecurityEventsReply> {
    ops::auth::security_activity(&app, &session, query).await
}

async fn revoke_session(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    ops::auth::revoke_session(&app, &session, &RequestInfo::new(&headers, ip), &id).await
}

async fn verify_email_link(
    State(app): State<App>,
    Query(query): Query<TokenQuery>,
) -> Answer<VerifiedReply> {
    ops::auth::verify_email_link(&app, query).await
}

async fn verify_email(
    State(app): State<App>,
    Json(body): Json<TokenBody>,
) -> Answer<VerifiedReply> {
    ops::auth::verify_email(&app, body).await
}

async fn resend_verification(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<EmailBody>,
) -> Answer<StatusReply> {
    ops::auth::resend_verification(&app, &RequestInfo::new(&headers, ip), body).await
}

async fn forgot_password(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<EmailBody>,
) -> Answer<StatusReply> {
    ops::auth::forgot_password(&app, &RequestInfo::new(&headers, ip), body).await
}

async fn reset_password(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<ResetBody>,
) -> Answer {
    ops::auth::reset_password(&app, &RequestInfo::new(&headers, ip), body).await
}

async fn export_account(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Answer<AccountExport> {
    ops::auth::export_account(&app, &session, &RequestInfo::new(&headers, ip)).await
}

async fn set_password_link(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Answer<StatusReply> {
    ops::auth::set_password_link(&app, &session, &RequestInfo::new(&headers, ip)).await
}

async fn change_email(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<EmailBody>,
) -> Answer<StatusReply> {
    ops::auth::change_email(&app, &session, &RequestInfo::new(&headers, ip), body).await
}

async fn delete_account(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<DeleteAccountBody>,
) -> Answer {
    ops::auth::delete_account(&app, &session, &RequestInfo::new(&headers, ip), body).await
}

async fn stop_impersonating(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Answer<SessionReply> {
    ops::auth::stop_impersonating(&app, &session, &RequestInfo::new(&headers, ip)).await
}

async fn confirm_email_change(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<TokenBody>,
) -> Answer<UserReply> {
    ops::auth::confirm_email_change(&app, &RequestInfo::new(&headers, ip), body).await
}

async fn change_password(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<ChangePasswordBody>,
) -> Answer {
    ops::auth::change_password(&app, &session, &RequestInfo::new(&headers, ip), body).await
}

async fn security_report_link() -> Answer<SecurityReportLinkReply> {
    ops::auth::security_report_link()
}

async fn security_report(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<TokenBody>,
) -> Answer<SecurityReportReply> {
    ops::auth::security_report(&app, &RequestInfo::new(&headers, ip), body).await
}

async fn oauth_start(
    State(app): State<App>,
    Path(provider): Path<String>,
    Query(query): Query<ReturnToQuery>,
) -> Answer {
    ops::oauth::oauth_start(&app, &provider, query).await
}

/// Where the provider sends the browser back: a page for a browser, JSON otherwise.
async fn oauth_callback(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let callback = OAuthCallback::from_query(query.as_deref().unwrap_or_default());
    let request = RequestInfo::new(&headers, ip);
    if ui::wants_html(header(&headers, "accept")) {
        ui::oauth_callback(&app, &provider, &callback, &request)
            .await
            .into_response()
    } else {
        ops::oauth::oauth_callback(&app, &provider, &callback, &request)
            .await
            .into_response()
    }
}

async fn oauth_link(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Path(provider): Path<String>,
    Query(query): Query<ReturnToQuery>,
) -> Answer {
    ops::oauth::oauth_link(&app, &session, &provider, query).await
}

async fn sign_in_methods(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<SignInMethodsReply> {
    ops::oauth::sign_in_methods(&app, &session).await
}

async fn oauth_unlink(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    Path(provider): Path<String>,
    headers: HeaderMap,
) -> Answer {
    ops::oauth::oauth_unlink(&app, &session, &provider, &RequestInfo::new(&headers, ip)).await
}

async fn mfa_status(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<MfaStatusReply> {
    ops::mfa::mfa_status(&app, &session).await
}

async fn mfa_enroll(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<MfaEnrollReply> {
    ops::mfa::mfa_enroll(&app, &session).await
}

async fn mfa_confirm(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<CodeBody>,
) -> Answer<BackupCodesReply> {
    ops::mfa::mfa_confirm(&app, &session, &RequestInfo::new(&headers, ip), body).await
}

async fn mfa_disable(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<CodeBody>,
) -> Answer {
    ops::mfa::mfa_disable(&app, &session, &RequestInfo::new(&headers, ip), body).await
}

async fn mfa_backup_codes(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<CodeBody>,
) -> Answer<BackupCodesReply> {
    ops::mfa::mfa_backup_codes(&app, &session, &RequestInfo::new(&headers, ip), body).await
}

async fn mfa_verify(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<MfaVerifyBody>,
) -> Answer<SessionReply> {
    ops::auth::mfa_verify(&app, &RequestInfo::new(&headers, ip), body).await
}

/// `/orgs`: organizations, members and invitations. The reads take `RequireOrgMember`
/// (404 for an organization the user is not in); the library checks every change.
fn org_routes() -> Router<App> {
    Router::new()
        .route("/", get(list_organizations).post(create_organization))
        .route(
            "/{org_id}",
            get(get_organization)
                .patch(update_organization)
                .delete(delete_organization),
        )
        .route("/{org_id}/members", get(list_members))
        .route("/{org_id}/members/{user_id}", delete(remove_member))
        .route("/{org_id}/members/{user_id}/role", post(change_member_role))
        .route("/{org_id}/leave", post(leave_organization))
        .route("/{org_id}/transfer-ownership", post(transfer_ownership))
        .route(
            "/{org_id}/invitations",
            get(list_invitations).post(invite_member),
        )
        .route(
            "/{org_id}/invitations/{invitation_id}",
            delete(revoke_invitation),
        )
        .route(
            "/{org_id}/invitations/{invitation_id}/resend",
            post(resend_invitation),
        )
        .route("/{org_id}/billing/checkout", post(org_checkout))
        .route("/{org_id}/billing/portal", post(org_portal))
        .route("/{org_id}/billing/subscription", get(org_subscription))
        .route(
            "/{org_id}/billing/subscription/cancel",
            post(org_cancel_subscription),
        )
        .route(
            "/{org_id}/billing/subscription/resume",
            post(org_resume_subscription),
        )
}

async fn org_checkout(
    State(app): State<App>,
    RequireOrgMember(_, member): RequireOrgMember,
    Json(body): Json<CheckoutBody>,
) -> Answer<UrlReply> {
    ops::billing::org_checkout(&app, &member, body).await
}

async fn org_portal(
    State(app): State<App>,
    RequireOrgMember(_, member): RequireOrgMember,
) -> Answer<UrlReply> {
    ops::billing::org_portal(&app, &member).await
}

async fn org_subscription(
    State(app): State<App>,
    RequireOrgMember(_, member): RequireOrgMember,
) -> Answer<SubscriptionReply> {
    ops::billing::org_subscription(&app, &member).await
}

async fn org_cancel_subscription(
    State(app): State<App>,
    RequireOrgMember(_, member): RequireOrgMember,
    OptionalJson(body): OptionalJson<CancelBody>,
) -> Answer<SubscriptionReply> {
    ops::billing::org_cancel_subscription(&app, &member, body).await
}

async fn org_resume_subscription(
    State(app): State<App>,
    RequireOrgMember(_, member): RequireOrgMember,
) -> Answer<SubscriptionReply> {
    ops::billing::org_resume_subscription(&app, &member).await
}

async fn list_organizations(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<OrganizationsReply> {
    ops::orgs::list_organizations(&app, &session).await
}

async fn create_organization(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<CreateOrganizationRequest>,
) -> Answer<OrganizationReply> {
    let request = RequestInfo::new(&headers, ip);
    ops::orgs::create_organization(&app, &session, &request, body).await
}

async fn get_organization(
    RequireOrgMember(_, member): RequireOrgMember,
) -> Answer<OrganizationReply> {
    ops::orgs::get_organization(&member)
}

async fn update_organization(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<UpdateOrganizationRequest>,
) -> Answer<OrganizationReply> {
    let request = RequestInfo::new(&headers, ip);
    ops::orgs::update_organization(&app, &session, &request, &id, body).await
}

async fn delete_organization(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    ops::orgs::delete_organization(&app, &session, &RequestInfo::new(&headers, ip), &id).await
}

async fn list_members(
    State(app): State<App>,
    RequireOrgMember(session, member): RequireOrgMember,
    Query(query): Query<MembersQuery>,
) -> Answer<MembersReply> {
    ops::orgs::list_members(&app, &session, &member, query).await
}

async fn change_member_role(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path((id, user)): Path<(String, String)>,
    Json(body): Json<MemberRoleRequest>,
) -> Answer<MemberReply> {
    let request = RequestInfo::new(&headers, ip);
    ops::orgs::change_member_role(&app, &session, &request, (&id, &user), body).await
}

async fn remove_member(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path((id, user)): Path<(String, String)>,
) -> Answer {
    let request = RequestInfo::new(&headers, ip);
    ops::orgs::remove_member(&app, &session, &request, (&id, &user)).await
}

async fn leave_organization(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    ops::orgs::leave_organization(&app, &session, &RequestInfo::new(&headers, ip), &id).await
}

async fn transfer_ownership(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<TransferOwnershipRequest>,
) -> Answer {
    let request = RequestInfo::new(&headers, ip);
    ops::orgs::transfer_ownership(&app, &session, &request, &id, body).await
}

async fn list_invitations(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Path(id): Path<String>,
) -> Answer<InvitationsReply> {
    ops::orgs::list_invitations(&app, &session, &id).await
}

async fn invite_member(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<InviteRequest>,
) -> Answer<InvitationReply> {
    let request = RequestInfo::new(&headers, ip);
    ops::orgs::invite_member(&app, &session, &request, &id, body).await
}

async fn resend_invitation(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path((id, invitation)): Path<(String, String)>,
) -> Answer<InvitationReply> {
    let request = RequestInfo::new(&headers, ip);
    ops::orgs::resend_invitation(&app, &session, &request, (&id, &invitation)).await
}

async fn revoke_invitation(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path((id, invitation)): Path<(String, String)>,
) -> Answer {
    let request = RequestInfo::new(&headers, ip);
    ops::orgs::revoke_invitation(&app, &session, &request, (&id, &invitation)).await
}

async fn preview_invitation(
    State(app): State<App>,
    Query(query): Query<TokenQuery>,
) -> Answer<InvitationPreviewReply> {
    ops::orgs::preview_invitation(&app, query).await
}

async fn accept_invitation(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<AcceptInvitationRequest>,
) -> Answer<OrganizationReply> {
    let request = RequestInfo::new(&headers, ip);
    ops::orgs::accept_invitation(&app, &session, &request, body).await
}

async fn set_active_organization(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<ActiveOrganizationRequest>,
) -> Answer<SessionReply> {
    ops::orgs::set_active_organization(&app, &session, body).await
}

/// `/admin`: every handler takes `RequireRole<Admin>`.
fn admin_routes() -> Router<App> {
    Router::new()
        .route("/stats", get(admin_stats))
        .route("/users", get(list_users))
        .route("/users/{id}", get(get_user))
        .route("/users/{id}/ban", post(ban_user))
        .route("/users/{id}/unban", post(unban_user))
        .route("/users/{id}/role", post(set_user_role))
        .route("/users/{id}/revoke-sessions", post(revoke_user_sessions))
        .route("/users/{id}/impersonate", post(impersonate_user))
        .route("/security-events", get(security_events))
}

async fn admin_stats(RequireRole(admin, _): RequireRole<Admin>) -> Answer<AdminStatsReply> {
    ops::admin::admin_stats(&admin)
}

async fn list_users(
    State(app): State<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(query): Query<AdminUsersQuery>,
) -> Answer<AdminUsersReply> {
    ops::admin::list_users(&app, &admin, &RequestInfo::new(&headers, ip), query).await
}

async fn get_user(
    State(app): State<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer<AdminUserReply> {
    ops::admin::get_user(&app, &admin, &RequestInfo::new(&headers, ip), &id).await
}

async fn ban_user(
    State(app): State<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<BanRequest>,
) -> Answer<AdminUserChangedReply> {
    let request = RequestInfo::new(&headers, ip);
    ops::admin::ban_user(&app, &admin, &request, &id, body.unwrap_or_default()).await
}

async fn unban_user(
    State(app): State<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer<AdminUserChangedReply> {
    ops::admin::unban_user(&app, &admin, &RequestInfo::new(&headers, ip), &id).await
}

async fn set_user_role(
    State(app): State<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<RoleRequest>,
) -> Answer<AdminUserChangedReply> {
    ops::admin::set_user_role(&app, &admin, &RequestInfo::new(&headers, ip), &id, body).await
}

async fn impersonate_user(
    State(app): State<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer<SessionReply> {
    ops::admin::impersonate_user(&app, &admin, &RequestInfo::new(&headers, ip), &id).await
}

async fn revoke_user_sessions(
    State(app): State<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer<RevokedReply> {
    ops::admin::revoke_user_sessions(&app, &admin, &RequestInfo::new(&headers, ip), &id).await
}

async fn security_events(
    State(app): State<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(query): Query<SecurityEventsQuery>,
) -> Answer<SecurityEventsReply> {
    ops::admin::security_events(&app, &admin, &RequestInfo::new(&headers, ip), query).await
}

/// `/billing`: the catalog is public, the rest is the signed-in user's.
fn billing_routes() -> Router<App> {
    Router::new()
        .route("/plans", get(plans))
        .route("/checkout", post(checkout))
        .route("/checkout/success", get(checkout_success))
        .route("/portal", post(portal))
        .route("/subscription", get(subscription))
        .route("/subscription/cancel", post(cancel_subscription))
        .route("/subscription/resume", post(resume_subscription))
        .route("/payments", get(list_payments).post(create_payment))
        .route("/payments/checkout", post(payment_checkout))
        .route("/payments/checkout/success", get(payment_checkout_success))
        .route("/payments/{id}/confirm", post(confirm_payment))
        .route("/payments/{id}/booking-link", get(payment_booking_link))
}

async fn plans(State(app): State<App>) -> Answer<PlansReply> {
    ops::billing::plans(&app)
}

async fn checkout(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<CheckoutBody>,
) -> Answer<UrlReply> {
    ops::billing::checkout(&app, Customer::User(session.user.id), body).await
}

async fn checkout_success(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<SubscriptionReply> {
    ops::billing::checkout_success(&app, Customer::User(session.user.id)).await
}

async fn portal(State(app): State<App>, RequireAuth(session): RequireAuth) -> Answer<UrlReply> {
    ops::billing::portal(&app, Customer::User(session.user.id)).await
}

async fn subscription(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<SubscriptionReply> {
    ops::billing::subscription(&app, Customer::User(session.user.id)).await
}

async fn cancel_subscription(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    OptionalJson(body): OptionalJson<CancelBody>,
) -> Answer<SubscriptionReply> {
    ops::billing::cancel_subscription(&app, Customer::User(session.user.id), body).await
}

async fn resume_subscription(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<SubscriptionReply> {
    ops::billing::resume_subscription(&app, Customer::User(session.user.id)).await
}

async fn create_payment(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<PaymentBody>,
) -> Answer<CreatedPaymentReply> {
    ops::billing::create_payment(&app, &session, body).await
}

async fn list_payments(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<PaymentsReply> {
    ops::billing::list_payments(&app, &session).await
}

async fn payment_checkout(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<PaymentCheckoutBody>,
) -> Answer<UrlReply> {
    ops::billing::payment_checkout(&app, &session, body).await
}

async fn payment_checkout_success(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Query(query): Query<CheckoutSessionQuery>,
) -> Answer<PaymentReply> {
    ops::billing::payment_checkout_success(&app, &session, query).await
}

async fn confirm_payment(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Path(id): Path<String>,
) -> Answer<PaymentReply> {
    ops::billing::confirm_payment(&app, &session, &id).await
}

async fn payment_booking_link(
    State(app): State<App>,
    RequireAuth(session): RequireAuth,
    Path(id): Path<String>,
) -> Answer<UrlReply> {
    ops::billing::payment_booking_link(&app, &session, &id).await
}

/// `/webhooks`: authenticated by signature over the raw body; no session, no CSRF check.
fn webhook_routes() -> Router<App> {
    Router::new()
        .route("/stripe", post(stripe_webhook))
        .route("/calcom", post(calcom_webhook))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn stripe_webhook(
    State(app): State<App>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Answer<StripeWebhookReply> {
    ops::webhooks::stripe_webhook(&app, &body, header(&headers, "stripe-signature")).await
}

async fn calcom_webhook(
    State(app): State<App>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Answer<CalcomWebhookReply> {
    ops::webhooks::calcom_webhook(&app, &body, header(&headers, "x-cal-signature-256")).await
}

/// The web UI: pages, and the forms they post (same CSRF rules, same operations).
fn page_routes() -> Router<App> {
    Router::new()
        .route("/", get(home))
        .route("/assets/style.css", get(stylesheet))
        .route("/assets/copy.js", get(copy_script))
        .route("/sign-up", get(sign_up_page).post(sign_up_form))
        .route("/check-email", get(check_email_page))
        .route("/verify-email", get(verify_email_page))
        .route("/sign-in", get(sign_in_page).post(sign_in_form))
        .route("/sign-in/mfa", post(mfa_verify_form))
        .route("/sign-out", post(sign_out_form))
        .route(
            "/forgot-password",
            get(forgot_password_page).post(forgot_password_form),
        )
        .route(
            "/reset-password",
            get(reset_password_page).post(reset_password_form),
        )
        .route(
            "/security-report",
            get(security_report_page).post(security_report_form),
        )
        .route(
            "/confirm-email-change",
            get(confirm_email_change_page).post(confirm_email_change_form),
        )
        .route("/account", get(account_page))
        .route("/account/sessions/revoke", post(revoke_session_form))
        .route(
            "/account/sign-out-everywhere",
            post(sign_out_everywhere_form),
        )
        .route("/account/password", post(change_password_form))
        .route("/account/password/setup", post(set_password_link_form))
        .route("/account/email", post(change_email_form))
        .route("/account/export", post(export_form))
        .route("/account/delete", post(delete_account_form))
        .route("/account/profile", post(profile_form))
        .route("/account/reauthenticate", post(reauthenticate_form))
        .route("/account/oauth/{provider}/link", post(oauth_link_form))
        .route("/account/oauth/{provider}/unlink", post(oauth_unlink_form))
        .route("/account/mfa/enroll", post(mfa_enroll_form))
        .route("/account/mfa/confirm", post(mfa_confirm_form))
        .route("/account/mfa/disable", post(mfa_disable_form))
        .route("/account/mfa/backup-codes", post(mfa_backup_codes_form))
        .route("/pricing", get(pricing_page))
        .route("/pricing/checkout", post(checkout_form))
        .route("/pricing/pay", post(pay_form))
        .route("/account/billing", get(billing_page))
        .route("/account/billing/cancel", post(cancel_subscription_form))
        .route("/account/billing/resume", post(resume_subscription_form))
        .route("/account/billing/portal", post(portal_form))
        .route("/account/payments/{id}/book", post(book_payment_form))
        .route("/admin", get(admin_page))
        .route("/admin/user/{id}", get(admin_user_page))
        .route("/admin/user/{id}/ban", post(admin_ban_form))
        .route("/admin/user/{id}/unban", post(admin_unban_form))
        .route("/admin/user/{id}/role", post(admin_role_form))
        .route(
            "/admin/user/{id}/revoke-sessions",
            post(admin_revoke_sessions_form),
        )
        .route("/admin/user/{id}/impersonate", post(admin_impersonate_form))
        .route("/stop-impersonating", post(stop_impersonating_form))
        .route(
            "/organizations",
            get(organizations_page).post(create_organization_form),
        )
        .route("/organizations/active", post(switch_organization_form))
        .route("/organizations/{id}", get(organization_page))
        .route(
            "/organizations/{id}/settings",
            post(organization_settings_form),
        )
        .route("/organizations/{id}/delete", post(delete_organization_form))
        .route("/organizations/{id}/leave", post(leave_organization_form))
        .route("/organizations/{id}/invitations", post(invite_form))
        .route(
            "/organizations/{id}/invitations/{invitation}/resend",
            post(resend_invitation_form),
        )
        .route(
            "/organizations/{id}/invitations/{invitation}/revoke",
            post(revoke_invitation_form),
        )
        .route(
            "/organizations/{id}/members/{user}/role",
            post(member_role_form),
        )
        .route(
            "/organizations/{id}/members/{user}/remove",
            post(remove_member_form),
        )
        .route(
            "/organizations/{id}/members/{user}/transfer",
            post(transfer_ownership_form),
        )
        .route(
            "/organizations/{id}/billing/checkout",
            post(org_checkout_form),
        )
        .route("/organizations/{id}/billing/portal", post(org_portal_form))
        .route("/organizations/{id}/billing/cancel", post(org_cancel_form))
        .route("/organizations/{id}/billing/resume", post(org_resume_form))
        .route(
            "/accept-invitation",
            get(accept_invitation_page).post(accept_invitation_form),
        )
}

async fn organizations_page(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Query(query): Query<ui::OrganizationPageQuery>,
) -> Page {
    ui::organizations(&app, session.as_ref(), query).await
}

async fn create_organization_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<ui::CreateOrganizationForm>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::create_organization(&app, session.as_ref(), &request, form).await
}

async fn switch_organization_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Form(form): Form<ui::ActiveOrganizationForm>,
) -> Page {
    ui::switch_organization(&app, session.as_ref(), form).await
}

async fn organization_page(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
    Query(query): Query<ui::OrganizationPageQuery>,
) -> Page {
    ui::organization(&app, session.as_ref(), &id, query).await
}

async fn organization_settings_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ui::OrganizationSettingsForm>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::organization_settings(&app, session.as_ref(), &request, &id, form).await
}

async fn delete_organization_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::delete_organization(&app, session.as_ref(), &request, &id).await
}

async fn leave_organization_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::leave_organization(&app, session.as_ref(), &request, &id).await
}

async fn invite_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ui::InviteForm>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::invite(&app, session.as_ref(), &request, &id, form).await
}

async fn resend_invitation_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path((id, invitation)): Path<(String, String)>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::resend_invitation(&app, session.as_ref(), &request, (&id, &invitation)).await
}

async fn revoke_invitation_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path((id, invitation)): Path<(String, String)>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::revoke_invitation(&app, session.as_ref(), &request, (&id, &invitation)).await
}

async fn member_role_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path((id, user)): Path<(String, String)>,
    Form(form): Form<ui::MemberRoleForm>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::member_role(&app, session.as_ref(), &request, (&id, &user), form).await
}

async fn remove_member_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path((id, user)): Path<(String, String)>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::remove_member(&app, session.as_ref(), &request, (&id, &user)).await
}

async fn transfer_ownership_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path((id, user)): Path<(String, String)>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::transfer_ownership(&app, session.as_ref(), &request, (&id, &user)).await
}

async fn accept_invitation_page(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Query(query): Query<ui::InvitationTokenForm>,
) -> Page {
    ui::accept_invitation_page(&app, session.as_ref(), query).await
}

async fn accept_invitation_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<ui::InvitationTokenForm>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::accept_invitation(&app, session.as_ref(), &request, form).await
}

async fn home(State(app): State<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::home(&app, session.as_ref()).await
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        ui::STYLESHEET,
    )
}

async fn copy_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        ui::COPY_SCRIPT,
    )
}

async fn sign_up_page(State(app): State<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::sign_up_form(&app, session.as_ref())
}

async fn sign_up_form(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<ui::SignUpForm>,
) -> Page {
    ui::sign_up(&app, &RequestInfo::new(&headers, ip), form).await
}

async fn check_email_page(State(app): State<App>) -> Page {
    ui::check_email(&app)
}

async fn verify_email_page(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Query(query): Query<TokenQuery>,
) -> Page {
    ui::verify_email(&app, session.as_ref(), query).await
}

async fn sign_in_page(State(app): State<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::sign_in_form(&app, session.as_ref())
}

async fn sign_in_form(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<CredentialsBody>,
) -> Page {
    ui::sign_in(&app, &RequestInfo::new(&headers, ip), form).await
}

async fn mfa_verify_form(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<MfaVerifyBody>,
) -> Page {
    ui::mfa_verify(&app, &RequestInfo::new(&headers, ip), form).await
}

async fn sign_out_form(State(app): State<App>, headers: HeaderMap) -> Page {
    ui::sign_out(&app, &headers).await
}

async fn forgot_password_page(State(app): State<App>) -> Page {
    ui::forgot_password_form(&app)
}

async fn forgot_password_form(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<EmailBody>,
) -> Page {
    ui::forgot_password(&app, &RequestInfo::new(&headers, ip), form).await
}

async fn reset_password_page(State(app): State<App>, Query(query): Query<TokenQuery>) -> Page {
    ui::reset_password_form(&app, query)
}

async fn reset_password_form(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<ResetBody>,
) -> Page {
    ui::reset_password(&app, &RequestInfo::new(&headers, ip), form).await
}

async fn security_report_page(State(app): State<App>, Query(query): Query<TokenQuery>) -> Page {
    ui::security_report_form(&app, query)
}

async fn security_report_form(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<TokenBody>,
) -> Page {
    ui::security_report(&app, &RequestInfo::new(&headers, ip), form).await
}

async fn confirm_email_change_page(
    State(app): State<App>,
    Query(query): Query<TokenQuery>,
) -> Page {
    ui::confirm_email_change_form(&app, query)
}

async fn confirm_email_change_form(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<TokenBody>,
) -> Page {
    ui::confirm_email_change(&app, &RequestInfo::new(&headers, ip), form).await
}

async fn account_page(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Query(query): Query<ui::NoticeQuery>,
) -> Page {
    ui::account(&app, session.as_ref(), query).await
}

async fn revoke_session_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<ui::SessionForm>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::revoke_session(&app, session.as_ref(), &request, form).await
}

async fn sign_out_everywhere_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::sign_out_everywhere(&app, session.as_ref(), &request).await
}

async fn profile_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Form(form): Form<ProfileBody>,
) -> Page {
    ui::update_profile(&app, session.as_ref(), form).await
}

async fn change_password_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<ChangePasswordBody>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::change_password(&app, session.as_ref(), &request, form).await
}

async fn change_email_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<EmailBody>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::change_email(&app, session.as_ref(), &request, form).await
}

async fn export_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::export_account(&app, session.as_ref(), &request).await
}

async fn delete_account_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<ui::DeleteAccountForm>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::delete_account(&app, session.as_ref(), &request, form).await
}

async fn set_password_link_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::set_password_link(&app, session.as_ref(), &request).await
}

async fn reauthenticate_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Form(form): Form<ui::ReauthenticateForm>,
) -> Page {
    ui::reauthenticate(&app, session.as_ref(), form).await
}

async fn oauth_link_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Path(provider): Path<String>,
) -> Page {
    ui::oauth_link(&app, session.as_ref(), &provider).await
}

async fn oauth_unlink_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    Path(provider): Path<String>,
    headers: HeaderMap,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::oauth_unlink(&app, session.as_ref(), &provider, &request).await
}

async fn mfa_enroll_form(State(app): State<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::mfa_enroll(&app, session.as_ref()).await
}

async fn mfa_confirm_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<CodeBody>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::mfa_confirm(&app, session.as_ref(), &request, form).await
}

async fn mfa_disable_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<CodeBody>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::mfa_disable(&app, session.as_ref(), &request, form).await
}

async fn mfa_backup_codes_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<CodeBody>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::mfa_backup_codes(&app, session.as_ref(), &request, form).await
}

async fn pricing_page(State(app): State<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::pricing(&app, session.as_ref()).await
}

async fn checkout_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Form(form): Form<ui::PlanForm>,
) -> Page {
    ui::checkout(&app, session.as_ref(), form).await
}

async fn org_checkout_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
    Form(form): Form<ui::PlanForm>,
) -> Page {
    ui::org_checkout(&app, session.as_ref(), &id, form).await
}

async fn org_portal_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Page {
    ui::org_billing(&app, session.as_ref(), &id, ui::OrgBillingAction::Portal).await
}

async fn org_cancel_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Page {
    ui::org_billing(&app, session.as_ref(), &id, ui::OrgBillingAction::Cancel).await
}

async fn org_resume_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Page {
    ui::org_billing(&app, session.as_ref(), &id, ui::OrgBillingAction::Resume).await
}

async fn pay_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Form(form): Form<ui::PayForm>,
) -> Page {
    ui::pay(&app, session.as_ref(), form).await
}

async fn billing_page(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Query(checkout): Query<ui::CheckoutQuery>,
    Query(notice): Query<ui::NoticeQuery>,
) -> Page {
    ui::billing(&app, session.as_ref(), checkout, notice).await
}

async fn cancel_subscription_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
) -> Page {
    ui::cancel_subscription(&app, session.as_ref()).await
}

async fn resume_subscription_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
) -> Page {
    ui::resume_subscription(&app, session.as_ref()).await
}

async fn portal_form(State(app): State<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::portal(&app, session.as_ref()).await
}

async fn book_payment_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Page {
    ui::book_payment(&app, session.as_ref(), &id).await
}

async fn admin_page(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(query): Query<AdminUsersQuery>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::admin(&app, session.as_ref(), &request, query).await
}

async fn admin_user_page(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<ui::NoticeQuery>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::admin_user(&app, session.as_ref(), &request, &id, query).await
}

async fn admin_ban_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ui::BanForm>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::admin_ban(&app, session.as_ref(), &request, &id, form).await
}

async fn admin_unban_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::admin_unban(&app, session.as_ref(), &request, &id).await
}

async fn admin_role_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ui::RoleForm>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::admin_set_role(&app, session.as_ref(), &request, &id, form).await
}

async fn admin_revoke_sessions_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::admin_revoke_sessions(&app, session.as_ref(), &request, &id).await
}

async fn admin_impersonate_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::admin_impersonate(&app, session.as_ref(), &request, &id).await
}

async fn stop_impersonating_form(
    State(app): State<App>,
    CurrentSession(session): CurrentSession,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Page {
    let request = RequestInfo::new(&headers, ip);
    ui::stop_impersonating(&app, session.as_ref(), &request).await
}

/// Answers 413 to a declared over-limit body before reading any of it (a body without
/// `Content-Length` is cut off by `DefaultBodyLimit` while it is read).
async fn refuse_oversized(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return ApiError::PayloadTooLarge.into_response();
    }
    next.run(request).await
}

/// Gives every request an id (`X-Request-Id`, echoed back) and a span, and logs its outcome.
async fn request_id(request: Request, next: Next) -> Response {
    let id = telemetry::request_id(
        request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
    );
    let span = tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path());
    let started = Instant::now();
    let mut response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "done"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
