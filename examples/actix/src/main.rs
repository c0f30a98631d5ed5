//! Tollbooth on actix-web. `cargo run -p tollbooth-example-actix` serves the same contract as
//! the axum server (`docs/http-api.md`), configured from the environment (`.env.example`).

use std::process::ExitCode;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{
    App as ActixApp, HttpRequest, HttpResponse, HttpServer, Responder, ResponseError, web,
};
use serde_json::Value;
use tollbooth_auth::actix::{
    ClientIp, CurrentSession, RequireAuth, RequireOrgMember, RequireRole, csrf, session,
};
use tollbooth_auth::{AccountExport, Admin, Customer, OAuthCallback, RequestInfo};
use tollbooth_example_common::actix::{Form, Json, OptionalJson, Path, Query, RawBody};
use tollbooth_example_common::extract::MAX_BODY_BYTES;
use tollbooth_example_common::ui::{self, Page};
use tollbooth_example_common::wire::*;
use tollbooth_example_common::{
    ApiError, App, Reply, config, ops, purge_command, shutdown_signal, telemetry,
};

#[actix_web::main]
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
        actix_web::rt::spawn(server.app.clone().purge_periodically(every));
    }
    let app = server.app.clone();
    let factory_app = app.clone();
    let http = HttpServer::new(move || {
        ActixApp::new()
            .app_data(web::Data::new(factory_app.clone()))
            .app_data(web::Data::new(factory_app.auth.clone()))
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .wrap(from_fn(request_id))
            .configure(routes)
    })
    .bind(server.bind);
    let http = match http {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, bind = %server.bind, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    for address in http.addrs() {
        tracing::info!("listening on http://{address}");
    }
    // The shared signal handler, not actix's own: actix treats SIGINT as a forced stop,
    // and both servers should drain in-flight requests on SIGINT and SIGTERM alike.
    let http = http.disable_signals().run();
    let handle = http.handle();
    actix_web::rt::spawn(async move {
        shutdown_signal().await;
        handle.stop(true).await;
    });
    let served = http.await;
    tracing::info!("stopped accepting connections; draining");
    app.shutdown().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server error");
            ExitCode::FAILURE
        }
    }
}

/// The whole contract: the webhooks (signed, and cross-site by design) outside the
/// library's `csrf` and `session` middleware, the site's areas inside them. Access is in
/// each handler's signature: `RequireAuth` (401 without a session), `RequireRole<Admin>`
/// (also 403 for other roles).
fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::scope("/webhooks")
                .service(resource("/stripe").route(web::post().to(stripe_webhook)))
                .service(resource("/calcom").route(web::post().to(calcom_webhook))),
        )
        .service(
            web::scope("")
                // The last `wrap` runs first: a cross-site request is refused before the
                // session is looked up.
                .wrap(from_fn(session))
                .wrap(from_fn(csrf))
                .service(resource("/health").route(web::get().to(health)))
                .service(resource("/openapi.json").route(web::get().to(openapi_json)))
                .service(resource("/me").route(web::get().to(me)))
                // Before the scopes: a scope also matches its bare prefix (`/admin`).
                .configure(page_routes)
                .service(web::scope("/auth").configure(auth_routes))
                .service(web::scope("/admin").configure(admin_routes))
                .service(web::scope("/billing").configure(billing_routes))
                .service(web::scope("/orgs").configure(org_routes))
                .service(resource("/invitations/preview").route(web::get().to(preview_invitation)))
                .service(resource("/invitations/accept").route(web::post().to(accept_invitation))),
        )
        .default_service(web::to(not_found));
}

/// A path's methods; any other method is 405 in the error shape.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        ApiError::MethodNotAllowed.error_response()
    }))
}

type Answer<T = ()> = Result<Reply<T>, ApiError>;

/// The router's 404: a page for a browser's navigation, the JSON error otherwise.
async fn not_found(app: web::Data<App>, request: HttpRequest) -> HttpResponse {
    if ui::wants_html(header(&request, "accept")) {
        ui::not_found(&app, None).respond_to(&request)
    } else {
        ApiError::NotFound("route").error_response()
    }
}

async fn health(app: web::Data<App>) -> Answer<StatusReply> {
    ops::meta::health(&app).await
}

async fn openapi_json() -> Reply<&'static Value> {
    ops::meta::openapi_json()
}

async fn me(RequireAuth(session): RequireAuth) -> Answer<UserReply> {
    ops::auth::me(&session)
}

/// `/auth`: accounts, sessions, second factors, providers.
fn auth_routes(config: &mut web::ServiceConfig) {
    config
        .service(resource("/sign-up").route(web::post().to(sign_up)))
        .service(resource("/sign-in").route(web::post().to(sign_in)))
        .service(resource("/sign-out").route(web::post().to(sign_out)))
        .service(resource("/sign-out-everywhere").route(web::post().to(sign_out_everywhere)))
        .service(resource("/reauthenticate").route(web::post().to(reauthenticate)))
        .service(resource("/session").route(web::get().to(current_session)))
        .service(resource("/sessions").route(web::get().to(list_sessions)))
        .service(resource("/sessions/{id}").route(web::delete().to(revoke_session)))
        .service(
            resource("/verify-email")
                .route(web::get().to(verify_email_link))
                .route(web::post().to(verify_email)),
        )
        .service(resource("/resend-verification").route(web::post().to(resend_verification)))
        .service(resource("/forgot-password").route(web::post().to(forgot_password)))
        .service(resource("/reset-password").route(web::post().to(reset_password)))
        .service(resource("/change-password").route(web::post().to(change_password)))
        .service(resource("/set-password-link").route(web::post().to(set_password_link)))
        .service(resource("/export").route(web::get().to(export_account)))
        .service(resource("/change-email").route(web::post().to(change_email)))
        .service(resource("/delete-account").route(web::post().to(delete_account)))
        .service(resource("/stop-impersonating").route(web::post().to(stop_impersonating)))
        .service(resource("/active-organization").route(web::post().to(set_active_organization)))
        .service(resource("/confirm-email-change").route(web::post().to(confirm_email_change)))
        .service(resource("/security-activity").route(web::get().to(security_activity)))
        .service(resource("/profile").route(web::post().to(update_profile)))
        .service(
            resource("/security-report")
                .route(web::get().to(security_report_link))
                .route(web::post().to(security_report)),
        )
        .service(
            resource("/oauth/{provider}")
                .route(web::get().to(oauth_start))
                .route(web::delete().to(oauth_unlink)),
        )
        .service(resource("/oauth/{provider}/callback").route(web::get().to(oauth_callback)))
        .service(resource("/oauth/{provider}/link").route(web::get().to(oauth_link)))
        .service(resource("/sign-in-methods").route(web::get().to(sign_in_methods)))
        .service(resource("/mfa").route(web::get().to(mfa_status)))
        .service(resource("/mfa/enroll").route(web::post().to(mfa_enroll)))
        .service(resource("/mfa/confirm").route(web::post().to(mfa_confirm)))
        .service(resource("/mfa/disable").route(web::post().to(mfa_disable)))
        .service(resource("/mfa/backup-codes").route(web::post().to(mfa_backup_codes)))
        .service(resource("/mfa/verify").route(web::post().to(mfa_verify)));
}

fn client(request: &HttpRequest, ClientIp(ip): ClientIp) -> RequestInfo<'_> {
    RequestInfo::new(request.headers(), ip)
}

async fn sign_up(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<SignUpBody>,
) -> Answer<UserReply> {
    ops::auth::sign_up(&app, &client(&request, ip), body).await
}

async fn sign_in(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<CredentialsBody>,
) -> Answer<SignInReply> {
    ops::auth::sign_in(&app, &client(&request, ip), body).await
}

async fn sign_out(app: web::Data<App>, request: HttpRequest) -> Answer {
    ops::auth::sign_out(&app, request.headers()).await
}

async fn sign_out_everywhere(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
) -> Answer {
    ops::auth::sign_out_everywhere(&app, &session, &client(&request, ip)).await
}

async fn reauthenticate(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<ReauthenticateBody>,
) -> Answer {
    ops::auth::reauthenticate(&app, &session, body).await
}

async fn current_session(RequireAuth(session): RequireAuth) -> Answer<SessionReply> {
    ops::auth::current_session(&session)
}

async fn list_sessions(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<SessionsReply> {
    ops::auth::list_sessions(&app, &session).await
}

async fn revoke_session(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Answer {
    ops::auth::revoke_session(&app, &session, &client(&request, ip), &id).await
}

async fn update_profile(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<ProfileBody>,
) -> Answer<UserReply> {
    ops::auth::update_profile(&app, &session, body).await
}

async fn security_activity(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Query(query): Query<ActivityQuery>,
) -> Answer<SecurityEventsReply> {
    ops::auth::security_activity(&app, &session, query).await
}

async fn verify_email_link(
    app: web::Data<App>,
    Query(query): Query<TokenQuery>,
) -> Answer<VerifiedReply> {
    ops::auth::verify_email_link(&app, query).await
}

async fn verify_email(app: web::Data<App>, Json(body): Json<TokenBody>) -> Answer<VerifiedReply> {
    ops::auth::verify_email(&app, body).await
}

async fn resend_verification(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<EmailBody>,
) -> Answer<StatusReply> {
    ops::auth::resend_verification(&app, &client(&request, ip), body).await
}

async fn forgot_password(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<EmailBody>,
) -> Answer<StatusReply> {
    ops::auth::forgot_password(&app, &client(&request, ip), body).await
}

async fn reset_password(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<ResetBody>,
) -> Answer {
    ops::auth::reset_password(&app, &client(&request, ip), body).await
}

async fn export_account(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
) -> Answer<AccountExport> {
    ops::auth::export_account(&app, &session, &client(&request, ip)).await
}

async fn set_password_link(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
) -> Answer<StatusReply> {
    ops::auth::set_password_link(&app, &session, &client(&request, ip)).await
}

async fn change_email(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<EmailBody>,
) -> Answer<StatusReply> {
    ops::auth::change_email(&app, &session, &client(&request, ip), body).await
}

async fn delete_account(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<DeleteAccountBody>,
) -> Answer {
    ops::auth::delete_account(&app, &session, &client(&request, ip), body).await
}

async fn stop_impersonating(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
) -> Answer<SessionReply> {
    ops::auth::stop_impersonating(&app, &session, &client(&request, ip)).await
}

async fn confirm_email_change(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<TokenBody>,
) -> Answer<UserReply> {
    ops::auth::confirm_email_change(&app, &client(&request, ip), body).await
}

async fn change_password(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<ChangePasswordBody>,
) -> Answer {
    ops::auth::change_password(&app, &session, &client(&request, ip), body).await
}

async fn security_report_link() -> Answer<SecurityReportLinkReply> {
    ops::auth::security_report_link()
}

async fn security_report(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<TokenBody>,
) -> Answer<SecurityReportReply> {
    ops::auth::security_report(&app, &client(&request, ip), body).await
}

async fn oauth_start(
    app: web::Data<App>,
    Path(provider): Path<String>,
    Query(query): Query<ReturnToQuery>,
) -> Answer {
    ops::oauth::oauth_start(&app, &provider, query).await
}

/// Where the provider sends the browser back: a page for a browser, JSON otherwise.
async fn oauth_callback(
    app: web::Data<App>,
    ip: ClientIp,
    Path(provider): Path<String>,
    request: HttpRequest,
) -> HttpResponse {
    let callback = OAuthCallback::from_query(request.query_string());
    let client = client(&request, ip);
    if ui::wants_html(header(&request, "accept")) {
        ui::oauth_callback(&app, &provider, &callback, &client)
            .await
            .respond_to(&request)
    } else {
        ops::oauth::oauth_callback(&app, &provider, &callback, &client)
            .await
            .respond_to(&request)
            .map_into_boxed_body()
    }
}

async fn oauth_link(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Path(provider): Path<String>,
    Query(query): Query<ReturnToQuery>,
) -> Answer {
    ops::oauth::oauth_link(&app, &session, &provider, query).await
}

async fn sign_in_methods(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<SignInMethodsReply> {
    ops::oauth::sign_in_methods(&app, &session).await
}

async fn oauth_unlink(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    Path(provider): Path<String>,
    request: HttpRequest,
) -> Answer {
    ops::oauth::oauth_unlink(&app, &session, &provider, &client(&request, ip)).await
}

async fn mfa_status(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<MfaStatusReply> {
    ops::mfa::mfa_status(&app, &session).await
}

async fn mfa_enroll(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<MfaEnrollReply> {
    ops::mfa::mfa_enroll(&app, &session).await
}

async fn mfa_confirm(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<CodeBody>,
) -> Answer<BackupCodesReply> {
    ops::mfa::mfa_confirm(&app, &session, &client(&request, ip), body).await
}

async fn mfa_disable(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<CodeBody>,
) -> Answer {
    ops::mfa::mfa_disable(&app, &session, &client(&request, ip), body).await
}

async fn mfa_backup_codes(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<CodeBody>,
) -> Answer<BackupCodesReply> {
    ops::mfa::mfa_backup_codes(&app, &session, &client(&request, ip), body).await
}

async fn mfa_verify(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<MfaVerifyBody>,
) -> Answer<SessionReply> {
    ops::auth::mfa_verify(&app, &client(&request, ip), body).await
}

/// `/orgs`: organizations, members and invitations. The reads take `RequireOrgMember`
/// (404 for an organization the user is not in); the library checks every change.
fn org_routes(config: &mut web::ServiceConfig) {
    config
        .service(
            resource("")
                .route(web::get().to(list_organizations))
                .route(web::post().to(create_organization)),
        )
        .service(
            resource("/{org_id}")
                .route(web::get().to(get_organization))
                .route(web::patch().to(update_organization))
                .route(web::delete().to(delete_organization)),
        )
        .service(resource("/{org_id}/members").route(web::get().to(list_members)))
        .service(resource("/{org_id}/members/{user_id}").route(web::delete().to(remove_member)))
        .service(
            resource("/{org_id}/members/{user_id}/role").route(web::post().to(change_member_role)),
        )
        .service(resource("/{org_id}/leave").route(web::post().to(leave_organization)))
        .service(resource("/{org_id}/transfer-ownership").route(web::post().to(transfer_ownership)))
        .service(
            resource("/{org_id}/invitations")
                .route(web::get().to(list_invitations))
                .route(web::post().to(invite_member)),
        )
        .service(
            resource("/{org_id}/invitations/{invitation_id}")
                .route(web::delete().to(revoke_invitation)),
        )
        .service(
            resource("/{org_id}/invitations/{invitation_id}/resend")
                .route(web::post().to(resend_invitation)),
        )
        .service(resource("/{org_id}/billing/checkout").route(web::post().to(org_checkout)))
        .service(resource("/{org_id}/billing/portal").route(web::post().to(org_portal)))
        .service(resource("/{org_id}/billing/subscription").route(web::get().to(org_subscription)))
        .service(
            resource("/{org_id}/billing/subscription/cancel")
                .route(web::post().to(org_cancel_subscription)),
        )
        .service(
            resource("/{org_id}/billing/subscription/resume")
                .route(web::post().to(org_resume_subscription)),
        );
}

async fn org_checkout(
    app: web::Data<App>,
    RequireOrgMember(_, member): RequireOrgMember,
    Json(body): Json<CheckoutBody>,
) -> Answer<UrlReply> {
    ops::billing::org_checkout(&app, &member, body).await
}

async fn org_portal(
    app: web::Data<App>,
    RequireOrgMember(_, member): RequireOrgMember,
) -> Answer<UrlReply> {
    ops::billing::org_portal(&app, &member).await
}

async fn org_subscription(
    app: web::Data<App>,
    RequireOrgMember(_, member): RequireOrgMember,
) -> Answer<SubscriptionReply> {
    ops::billing::org_subscription(&app, &member).await
}

async fn org_cancel_subscription(
    app: web::Data<App>,
    RequireOrgMember(_, member): RequireOrgMember,
    OptionalJson(body): OptionalJson<CancelBody>,
) -> Answer<SubscriptionReply> {
    ops::billing::org_cancel_subscription(&app, &member, body).await
}

async fn org_resume_subscription(
    app: web::Data<App>,
    RequireOrgMember(_, member): RequireOrgMember,
) -> Answer<SubscriptionReply> {
    ops::billing::org_resume_subscription(&app, &member).await
}

async fn list_organizations(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<OrganizationsReply> {
    ops::orgs::list_organizations(&app, &session).await
}

async fn create_organization(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<CreateOrganizationRequest>,
) -> Answer<OrganizationReply> {
    ops::orgs::create_organization(&app, &session, &client(&request, ip), body).await
}

async fn get_organization(
    RequireOrgMember(_, member): RequireOrgMember,
) -> Answer<OrganizationReply> {
    ops::orgs::get_organization(&member)
}

async fn update_organization(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
    Json(body): Json<UpdateOrganizationRequest>,
) -> Answer<OrganizationReply> {
    ops::orgs::update_organization(&app, &session, &client(&request, ip), &id, body).await
}

async fn delete_organization(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Answer {
    ops::orgs::delete_organization(&app, &session, &client(&request, ip), &id).await
}

async fn list_members(
    app: web::Data<App>,
    RequireOrgMember(session, member): RequireOrgMember,
    Query(query): Query<MembersQuery>,
) -> Answer<MembersReply> {
    ops::orgs::list_members(&app, &session, &member, query).await
}

async fn change_member_role(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Path((id, user)): Path<(String, String)>,
    Json(body): Json<MemberRoleRequest>,
) -> Answer<MemberReply> {
    let request = client(&request, ip);
    ops::orgs::change_member_role(&app, &session, &request, (&id, &user), body).await
}

async fn remove_member(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Path((id, user)): Path<(String, String)>,
) -> Answer {
    ops::orgs::remove_member(&app, &session, &client(&request, ip), (&id, &user)).await
}

async fn leave_organization(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Answer {
    ops::orgs::leave_organization(&app, &session, &client(&request, ip), &id).await
}

async fn transfer_ownership(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
    Json(body): Json<TransferOwnershipRequest>,
) -> Answer {
    ops::orgs::transfer_ownership(&app, &session, &client(&request, ip), &id, body).await
}

async fn list_invitations(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Path(id): Path<String>,
) -> Answer<InvitationsReply> {
    ops::orgs::list_invitations(&app, &session, &id).await
}

async fn invite_member(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
    Json(body): Json<InviteRequest>,
) -> Answer<InvitationReply> {
    ops::orgs::invite_member(&app, &session, &client(&request, ip), &id, body).await
}

async fn resend_invitation(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Path((id, invitation)): Path<(String, String)>,
) -> Answer<InvitationReply> {
    let request = client(&request, ip);
    ops::orgs::resend_invitation(&app, &session, &request, (&id, &invitation)).await
}

async fn revoke_invitation(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Path((id, invitation)): Path<(String, String)>,
) -> Answer {
    let request = client(&request, ip);
    ops::orgs::revoke_invitation(&app, &session, &request, (&id, &invitation)).await
}

async fn preview_invitation(
    app: web::Data<App>,
    Query(query): Query<TokenQuery>,
) -> Answer<InvitationPreviewReply> {
    ops::orgs::preview_invitation(&app, query).await
}

async fn accept_invitation(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    ip: ClientIp,
    request: HttpRequest,
    Json(body): Json<AcceptInvitationRequest>,
) -> Answer<OrganizationReply> {
    ops::orgs::accept_invitation(&app, &session, &client(&request, ip), body).await
}

async fn set_active_organization(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<ActiveOrganizationRequest>,
) -> Answer<SessionReply> {
    ops::orgs::set_active_organization(&app, &session, body).await
}

/// `/admin`: every handler takes `RequireRole<Admin>`.
fn admin_routes(config: &mut web::ServiceConfig) {
    config
        .service(resource("/stats").route(web::get().to(admin_stats)))
        .service(resource("/users").route(web::get().to(list_users)))
        .service(resource("/users/{id}").route(web::get().to(get_user)))
        .service(resource("/users/{id}/ban").route(web::post().to(ban_user)))
        .service(resource("/users/{id}/unban").route(web::post().to(unban_user)))
        .service(resource("/users/{id}/role").route(web::post().to(set_user_role)))
        .service(
            resource("/users/{id}/revoke-sessions").route(web::post().to(revoke_user_sessions)),
        )
        .service(resource("/users/{id}/impersonate").route(web::post().to(impersonate_user)))
        .service(resource("/security-events").route(web::get().to(security_events)));
}

async fn admin_stats(RequireRole(admin, _): RequireRole<Admin>) -> Answer<AdminStatsReply> {
    ops::admin::admin_stats(&admin)
}

async fn list_users(
    app: web::Data<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ip: ClientIp,
    request: HttpRequest,
    Query(query): Query<AdminUsersQuery>,
) -> Answer<AdminUsersReply> {
    ops::admin::list_users(&app, &admin, &client(&request, ip), query).await
}

async fn get_user(
    app: web::Data<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Answer<AdminUserReply> {
    ops::admin::get_user(&app, &admin, &client(&request, ip), &id).await
}

async fn ban_user(
    app: web::Data<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<BanRequest>,
) -> Answer<AdminUserChangedReply> {
    let body = body.unwrap_or_default();
    ops::admin::ban_user(&app, &admin, &client(&request, ip), &id, body).await
}

async fn unban_user(
    app: web::Data<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Answer<AdminUserChangedReply> {
    ops::admin::unban_user(&app, &admin, &client(&request, ip), &id).await
}

async fn set_user_role(
    app: web::Data<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
    Json(body): Json<RoleRequest>,
) -> Answer<AdminUserChangedReply> {
    ops::admin::set_user_role(&app, &admin, &client(&request, ip), &id, body).await
}

async fn impersonate_user(
    app: web::Data<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Answer<SessionReply> {
    ops::admin::impersonate_user(&app, &admin, &client(&request, ip), &id).await
}

async fn revoke_user_sessions(
    app: web::Data<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Answer<RevokedReply> {
    ops::admin::revoke_user_sessions(&app, &admin, &client(&request, ip), &id).await
}

async fn security_events(
    app: web::Data<App>,
    RequireRole(admin, _): RequireRole<Admin>,
    ip: ClientIp,
    request: HttpRequest,
    Query(query): Query<SecurityEventsQuery>,
) -> Answer<SecurityEventsReply> {
    ops::admin::security_events(&app, &admin, &client(&request, ip), query).await
}

/// `/billing`: the catalog is public, the rest is the signed-in user's.
fn billing_routes(config: &mut web::ServiceConfig) {
    config
        .service(resource("/plans").route(web::get().to(plans)))
        .service(resource("/checkout").route(web::post().to(checkout)))
        .service(resource("/checkout/success").route(web::get().to(checkout_success)))
        .service(resource("/portal").route(web::post().to(portal)))
        .service(resource("/subscription").route(web::get().to(subscription)))
        .service(resource("/subscription/cancel").route(web::post().to(cancel_subscription)))
        .service(resource("/subscription/resume").route(web::post().to(resume_subscription)))
        .service(
            resource("/payments")
                .route(web::get().to(list_payments))
                .route(web::post().to(create_payment)),
        )
        .service(resource("/payments/checkout").route(web::post().to(payment_checkout)))
        .service(
            resource("/payments/checkout/success").route(web::get().to(payment_checkout_success)),
        )
        .service(resource("/payments/{id}/confirm").route(web::post().to(confirm_payment)))
        .service(
            resource("/payments/{id}/booking-link").route(web::get().to(payment_booking_link)),
        );
}

async fn plans(app: web::Data<App>) -> Answer<PlansReply> {
    ops::billing::plans(&app)
}

async fn checkout(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<CheckoutBody>,
) -> Answer<UrlReply> {
    ops::billing::checkout(&app, Customer::User(session.user.id), body).await
}

async fn checkout_success(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<SubscriptionReply> {
    ops::billing::checkout_success(&app, Customer::User(session.user.id)).await
}

async fn portal(app: web::Data<App>, RequireAuth(session): RequireAuth) -> Answer<UrlReply> {
    ops::billing::portal(&app, Customer::User(session.user.id)).await
}

async fn subscription(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<SubscriptionReply> {
    ops::billing::subscription(&app, Customer::User(session.user.id)).await
}

async fn cancel_subscription(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    OptionalJson(body): OptionalJson<CancelBody>,
) -> Answer<SubscriptionReply> {
    ops::billing::cancel_subscription(&app, Customer::User(session.user.id), body).await
}

async fn resume_subscription(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<SubscriptionReply> {
    ops::billing::resume_subscription(&app, Customer::User(session.user.id)).await
}

async fn create_payment(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<PaymentBody>,
) -> Answer<CreatedPaymentReply> {
    ops::billing::create_payment(&app, &session, body).await
}

async fn list_payments(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
) -> Answer<PaymentsReply> {
    ops::billing::list_payments(&app, &session).await
}

async fn payment_checkout(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Json(body): Json<PaymentCheckoutBody>,
) -> Answer<UrlReply> {
    ops::billing::payment_checkout(&app, &session, body).await
}

async fn payment_checkout_success(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Query(query): Query<CheckoutSessionQuery>,
) -> Answer<PaymentReply> {
    ops::billing::payment_checkout_success(&app, &session, query).await
}

async fn confirm_payment(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Path(id): Path<String>,
) -> Answer<PaymentReply> {
    ops::billing::confirm_payment(&app, &session, &id).await
}

async fn payment_booking_link(
    app: web::Data<App>,
    RequireAuth(session): RequireAuth,
    Path(id): Path<String>,
) -> Answer<UrlReply> {
    ops::billing::payment_booking_link(&app, &session, &id).await
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

async fn stripe_webhook(
    app: web::Data<App>,
    request: HttpRequest,
    RawBody(body): RawBody,
) -> Answer<StripeWebhookReply> {
    ops::webhooks::stripe_webhook(&app, &body, header(&request, "stripe-signature")).await
}

async fn calcom_webhook(
    app: web::Data<App>,
    request: HttpRequest,
    RawBody(body): RawBody,
) -> Answer<CalcomWebhookReply> {
    ops::webhooks::calcom_webhook(&app, &body, header(&request, "x-cal-signature-256")).await
}

/// The web UI: pages, and the forms they post (same CSRF rules, same operations).
fn page_routes(config: &mut web::ServiceConfig) {
    config
        .service(resource("/").route(web::get().to(home)))
        .service(resource("/assets/style.css").route(web::get().to(stylesheet)))
        .service(resource("/assets/copy.js").route(web::get().to(copy_script)))
        .service(
            resource("/sign-up")
                .route(web::get().to(sign_up_page))
                .route(web::post().to(sign_up_form)),
        )
        .service(resource("/check-email").route(web::get().to(check_email_page)))
        .service(resource("/verify-email").route(web::get().to(verify_email_page)))
        .service(
            resource("/sign-in")
                .route(web::get().to(sign_in_page))
                .route(web::post().to(sign_in_form)),
        )
        .service(resource("/sign-in/mfa").route(web::post().to(mfa_verify_form)))
        .service(resource("/sign-out").route(web::post().to(sign_out_form)))
        .service(
            resource("/forgot-password")
                .route(web::get().to(forgot_password_page))
                .route(web::post().to(forgot_password_form)),
        )
        .service(
            resource("/reset-password")
                .route(web::get().to(reset_password_page))
                .route(web::post().to(reset_password_form)),
        )
        .service(
            resource("/security-report")
                .route(web::get().to(security_report_page))
                .route(web::post().to(security_report_form)),
        )
        .service(
            resource("/confirm-email-change")
                .route(web::get().to(confirm_email_change_page))
                .route(web::post().to(confirm_email_change_form)),
        )
        .service(resource("/account").route(web::get().to(account_page)))
        .service(resource("/account/sessions/revoke").route(web::post().to(revoke_session_form)))
        .service(
            resource("/account/sign-out-everywhere")
                .route(web::post().to(sign_out_everywhere_form)),
        )
        .service(resource("/account/password").route(web::post().to(change_password_form)))
        .service(resource("/account/password/setup").route(web::post().to(set_password_link_form)))
        .service(resource("/account/email").route(web::post().to(change_email_form)))
        .service(resource("/account/export").route(web::post().to(export_form)))
        .service(resource("/account/delete").route(web::post().to(delete_account_form)))
        .service(resource("/account/profile").route(web::post().to(profile_form)))
        .service(resource("/account/reauthenticate").route(web::post().to(reauthenticate_form)))
        .service(resource("/account/oauth/{provider}/link").route(web::post().to(oauth_link_form)))
        .service(
            resource("/account/oauth/{provider}/unlink").route(web::post().to(oauth_unlink_form)),
        )
        .service(resource("/account/mfa/enroll").route(web::post().to(mfa_enroll_form)))
        .service(resource("/account/mfa/confirm").route(web::post().to(mfa_confirm_form)))
        .service(resource("/account/mfa/disable").route(web::post().to(mfa_disable_form)))
        .service(resource("/account/mfa/backup-codes").route(web::post().to(mfa_backup_codes_form)))
        .service(resource("/pricing").route(web::get().to(pricing_page)))
        .service(resource("/pricing/checkout").route(web::post().to(checkout_form)))
        .service(resource("/pricing/pay").route(web::post().to(pay_form)))
        .service(resource("/account/billing").route(web::get().to(billing_page)))
        .service(
            resource("/account/billing/cancel").route(web::post().to(cancel_subscription_form)),
        )
        .service(
            resource("/account/billing/resume").route(web::post().to(resume_subscription_form)),
        )
        .service(resource("/account/billing/portal").route(web::post().to(portal_form)))
        .service(resource("/account/payments/{id}/book").route(web::post().to(book_payment_form)))
        .service(resource("/admin").route(web::get().to(admin_page)))
        .service(resource("/admin/user/{id}").route(web::get().to(admin_user_page)))
        .service(resource("/admin/user/{id}/ban").route(web::post().to(admin_ban_form)))
        .service(resource("/admin/user/{id}/unban").route(web::post().to(admin_unban_form)))
        .service(resource("/admin/user/{id}/role").route(web::post().to(admin_role_form)))
        .service(
            resource("/admin/user/{id}/revoke-sessions")
                .route(web::post().to(admin_revoke_sessions_form)),
        )
        .service(
            resource("/admin/user/{id}/impersonate").route(web::post().to(admin_impersonate_form)),
        )
        .service(resource("/stop-impersonating").route(web::post().to(stop_impersonating_form)))
        .service(
            resource("/organizations")
                .route(web::get().to(organizations_page))
                .route(web::post().to(create_organization_form)),
        )
        .service(resource("/organizations/active").route(web::post().to(switch_organization_form)))
        .service(resource("/organizations/{id}").route(web::get().to(organization_page)))
        .service(
            resource("/organizations/{id}/settings")
                .route(web::post().to(organization_settings_form)),
        )
        .service(
            resource("/organizations/{id}/delete").route(web::post().to(delete_organization_form)),
        )
        .service(
            resource("/organizations/{id}/leave").route(web::post().to(leave_organization_form)),
        )
        .service(
            resource("/organizations/{id}/billing/checkout")
                .route(web::post().to(org_checkout_form)),
        )
        .service(
            resource("/organizations/{id}/billing/portal").route(web::post().to(org_portal_form)),
        )
        .service(
            resource("/organizations/{id}/billing/cancel").route(web::post().to(org_cancel_form)),
        )
        .service(
            resource("/organizations/{id}/billing/resume").route(web::post().to(org_resume_form)),
        )
        .service(resource("/organizations/{id}/invitations").route(web::post().to(invite_form)))
        .service(
            resource("/organizations/{id}/invitations/{invitation}/resend")
                .route(web::post().to(resend_invitation_form)),
        )
        .service(
            resource("/organizations/{id}/invitations/{invitation}/revoke")
                .route(web::post().to(revoke_invitation_form)),
        )
        .service(
            resource("/organizations/{id}/members/{user}/role")
                .route(web::post().to(member_role_form)),
        )
        .service(
            resource("/organizations/{id}/members/{user}/remove")
                .route(web::post().to(remove_member_form)),
        )
        .service(
            resource("/organizations/{id}/members/{user}/transfer")
                .route(web::post().to(transfer_ownership_form)),
        )
        .service(
            resource("/accept-invitation")
                .route(web::get().to(accept_invitation_page))
                .route(web::post().to(accept_invitation_form)),
        );
}

async fn organizations_page(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Query(query): Query<ui::OrganizationPageQuery>,
) -> Page {
    ui::organizations(&app, session.as_ref(), query).await
}

async fn create_organization_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<ui::CreateOrganizationForm>,
) -> Page {
    ui::create_organization(&app, session.as_ref(), &client(&request, ip), form).await
}

async fn switch_organization_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Form(form): Form<ui::ActiveOrganizationForm>,
) -> Page {
    ui::switch_organization(&app, session.as_ref(), form).await
}

async fn organization_page(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
    Query(query): Query<ui::OrganizationPageQuery>,
) -> Page {
    ui::organization(&app, session.as_ref(), &id, query).await
}

async fn organization_settings_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
    Form(form): Form<ui::OrganizationSettingsForm>,
) -> Page {
    let request = client(&request, ip);
    ui::organization_settings(&app, session.as_ref(), &request, &id, form).await
}

async fn delete_organization_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Page {
    ui::delete_organization(&app, session.as_ref(), &client(&request, ip), &id).await
}

async fn leave_organization_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Page {
    ui::leave_organization(&app, session.as_ref(), &client(&request, ip), &id).await
}

async fn invite_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
    Form(form): Form<ui::InviteForm>,
) -> Page {
    ui::invite(&app, session.as_ref(), &client(&request, ip), &id, form).await
}

async fn resend_invitation_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path((id, invitation)): Path<(String, String)>,
) -> Page {
    let request = client(&request, ip);
    ui::resend_invitation(&app, session.as_ref(), &request, (&id, &invitation)).await
}

async fn revoke_invitation_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path((id, invitation)): Path<(String, String)>,
) -> Page {
    let request = client(&request, ip);
    ui::revoke_invitation(&app, session.as_ref(), &request, (&id, &invitation)).await
}

async fn member_role_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path((id, user)): Path<(String, String)>,
    Form(form): Form<ui::MemberRoleForm>,
) -> Page {
    let request = client(&request, ip);
    ui::member_role(&app, session.as_ref(), &request, (&id, &user), form).await
}

async fn remove_member_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path((id, user)): Path<(String, String)>,
) -> Page {
    let request = client(&request, ip);
    ui::remove_member(&app, session.as_ref(), &request, (&id, &user)).await
}

async fn transfer_ownership_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path((id, user)): Path<(String, String)>,
) -> Page {
    let request = client(&request, ip);
    ui::transfer_ownership(&app, session.as_ref(), &request, (&id, &user)).await
}

async fn accept_invitation_page(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Query(query): Query<ui::InvitationTokenForm>,
) -> Page {
    ui::accept_invitation_page(&app, session.as_ref(), query).await
}

async fn accept_invitation_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<ui::InvitationTokenForm>,
) -> Page {
    ui::accept_invitation(&app, session.as_ref(), &client(&request, ip), form).await
}

async fn home(app: web::Data<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::home(&app, session.as_ref()).await
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(ui::STYLESHEET)
}

async fn copy_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(ui::COPY_SCRIPT)
}

async fn sign_up_page(app: web::Data<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::sign_up_form(&app, session.as_ref())
}

async fn sign_up_form(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<ui::SignUpForm>,
) -> Page {
    ui::sign_up(&app, &client(&request, ip), form).await
}

async fn check_email_page(app: web::Data<App>) -> Page {
    ui::check_email(&app)
}

async fn verify_email_page(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Query(query): Query<TokenQuery>,
) -> Page {
    ui::verify_email(&app, session.as_ref(), query).await
}

async fn sign_in_page(app: web::Data<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::sign_in_form(&app, session.as_ref())
}

async fn sign_in_form(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<CredentialsBody>,
) -> Page {
    ui::sign_in(&app, &client(&request, ip), form).await
}

async fn mfa_verify_form(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<MfaVerifyBody>,
) -> Page {
    ui::mfa_verify(&app, &client(&request, ip), form).await
}

async fn sign_out_form(app: web::Data<App>, request: HttpRequest) -> Page {
    ui::sign_out(&app, request.headers()).await
}

async fn forgot_password_page(app: web::Data<App>) -> Page {
    ui::forgot_password_form(&app)
}

async fn forgot_password_form(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<EmailBody>,
) -> Page {
    ui::forgot_password(&app, &client(&request, ip), form).await
}

async fn reset_password_page(app: web::Data<App>, Query(query): Query<TokenQuery>) -> Page {
    ui::reset_password_form(&app, query)
}

async fn reset_password_form(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<ResetBody>,
) -> Page {
    ui::reset_password(&app, &client(&request, ip), form).await
}

async fn security_report_page(app: web::Data<App>, Query(query): Query<TokenQuery>) -> Page {
    ui::security_report_form(&app, query)
}

async fn security_report_form(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<TokenBody>,
) -> Page {
    ui::security_report(&app, &client(&request, ip), form).await
}

async fn confirm_email_change_page(app: web::Data<App>, Query(query): Query<TokenQuery>) -> Page {
    ui::confirm_email_change_form(&app, query)
}

async fn confirm_email_change_form(
    app: web::Data<App>,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<TokenBody>,
) -> Page {
    ui::confirm_email_change(&app, &client(&request, ip), form).await
}

async fn account_page(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Query(query): Query<ui::NoticeQuery>,
) -> Page {
    ui::account(&app, session.as_ref(), query).await
}

async fn revoke_session_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<ui::SessionForm>,
) -> Page {
    ui::revoke_session(&app, session.as_ref(), &client(&request, ip), form).await
}

async fn sign_out_everywhere_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
) -> Page {
    ui::sign_out_everywhere(&app, session.as_ref(), &client(&request, ip)).await
}

async fn profile_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Form(form): Form<ProfileBody>,
) -> Page {
    ui::update_profile(&app, session.as_ref(), form).await
}

async fn change_password_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<ChangePasswordBody>,
) -> Page {
    ui::change_password(&app, session.as_ref(), &client(&request, ip), form).await
}

async fn change_email_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<EmailBody>,
) -> Page {
    ui::change_email(&app, session.as_ref(), &client(&request, ip), form).await
}

async fn export_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
) -> Page {
    ui::export_account(&app, session.as_ref(), &client(&request, ip)).await
}

async fn delete_account_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<ui::DeleteAccountForm>,
) -> Page {
    ui::delete_account(&app, session.as_ref(), &client(&request, ip), form).await
}

async fn set_password_link_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
) -> Page {
    ui::set_password_link(&app, session.as_ref(), &client(&request, ip)).await
}

async fn reauthenticate_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Form(form): Form<ui::ReauthenticateForm>,
) -> Page {
    ui::reauthenticate(&app, session.as_ref(), form).await
}

async fn oauth_link_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Path(provider): Path<String>,
) -> Page {
    ui::oauth_link(&app, session.as_ref(), &provider).await
}

async fn oauth_unlink_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    Path(provider): Path<String>,
    request: HttpRequest,
) -> Page {
    ui::oauth_unlink(&app, session.as_ref(), &provider, &client(&request, ip)).await
}

async fn mfa_enroll_form(app: web::Data<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::mfa_enroll(&app, session.as_ref()).await
}

async fn mfa_confirm_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<CodeBody>,
) -> Page {
    ui::mfa_confirm(&app, session.as_ref(), &client(&request, ip), form).await
}

async fn mfa_disable_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<CodeBody>,
) -> Page {
    ui::mfa_disable(&app, session.as_ref(), &client(&request, ip), form).await
}

async fn mfa_backup_codes_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Form(form): Form<CodeBody>,
) -> Page {
    ui::mfa_backup_codes(&app, session.as_ref(), &client(&request, ip), form).await
}

async fn pricing_page(app: web::Data<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::pricing(&app, session.as_ref()).await
}

async fn checkout_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Form(form): Form<ui::PlanForm>,
) -> Page {
    ui::checkout(&app, session.as_ref(), form).await
}

async fn org_checkout_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
    Form(form): Form<ui::PlanForm>,
) -> Page {
    ui::org_checkout(&app, session.as_ref(), &id, form).await
}

async fn org_portal_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Page {
    ui::org_billing(&app, session.as_ref(), &id, ui::OrgBillingAction::Portal).await
}

async fn org_cancel_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Page {
    ui::org_billing(&app, session.as_ref(), &id, ui::OrgBillingAction::Cancel).await
}

async fn org_resume_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Page {
    ui::org_billing(&app, session.as_ref(), &id, ui::OrgBillingAction::Resume).await
}

async fn pay_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Form(form): Form<ui::PayForm>,
) -> Page {
    ui::pay(&app, session.as_ref(), form).await
}

async fn billing_page(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Query(checkout): Query<ui::CheckoutQuery>,
    Query(notice): Query<ui::NoticeQuery>,
) -> Page {
    ui::billing(&app, session.as_ref(), checkout, notice).await
}

async fn cancel_subscription_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
) -> Page {
    ui::cancel_subscription(&app, session.as_ref()).await
}

async fn resume_subscription_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
) -> Page {
    ui::resume_subscription(&app, session.as_ref()).await
}

async fn portal_form(app: web::Data<App>, CurrentSession(session): CurrentSession) -> Page {
    ui::portal(&app, session.as_ref()).await
}

async fn book_payment_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Page {
    ui::book_payment(&app, session.as_ref(), &id).await
}

async fn admin_page(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Query(query): Query<AdminUsersQuery>,
) -> Page {
    ui::admin(&app, session.as_ref(), &client(&request, ip), query).await
}

async fn admin_user_page(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
    Query(query): Query<ui::NoticeQuery>,
) -> Page {
    ui::admin_user(&app, session.as_ref(), &client(&request, ip), &id, query).await
}

async fn admin_ban_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
    Form(form): Form<ui::BanForm>,
) -> Page {
    ui::admin_ban(&app, session.as_ref(), &client(&request, ip), &id, form).await
}

async fn admin_unban_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Page {
    ui::admin_unban(&app, session.as_ref(), &client(&request, ip), &id).await
}

async fn admin_role_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
    Form(form): Form<ui::RoleForm>,
) -> Page {
    ui::admin_set_role(&app, session.as_ref(), &client(&request, ip), &id, form).await
}

async fn admin_revoke_sessions_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Page {
    ui::admin_revoke_sessions(&app, session.as_ref(), &client(&request, ip), &id).await
}

async fn admin_impersonate_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
    Path(id): Path<String>,
) -> Page {
    ui::admin_impersonate(&app, session.as_ref(), &client(&request, ip), &id).await
}

async fn stop_impersonating_form(
    app: web::Data<App>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    request: HttpRequest,
) -> Page {
    ui::stop_impersonating(&app, session.as_ref(), &client(&request, ip)).await
}

/// Gives every request an id (`X-Request-Id`, echoed back) and a span, and logs its outcome.
async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = telemetry::request_id(
        request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
    );
    let span = tracing::info_span!("request", id = %id, method = %request.method(), path = %request.path());
    let started = Instant::now();
    let mut response = tracing::Instrument::instrument(next.call(request), span.clone()).await?;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "done"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}
