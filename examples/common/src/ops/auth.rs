//! Accounts and sessions: sign-up and sign-in, e-mail verification, passwords, the session
//! list, re-authentication and the "this wasn't me" report.

use tollbooth_auth::{
    AccountExport, HeaderView, MfaChallenge, ProfileUpdate, RequestInfo, Session, SignInOutcome,
    SignedIn,
};
use uuid::Uuid;

use super::Answer;
use crate::App;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::wire::*;

/// `POST /auth/sign-up`: creates the account and e-mails the verification link.
#[utoipa::path(
    post,
    path = "/auth/sign-up",
    tag = "auth",
    request_body = SignUpBody,
    responses((status = 201, description = "signed up; the welcome e-mail is on its way", body = UserReply))
)]
pub async fn sign_up(app: &App, request: &RequestInfo<'_>, body: SignUpBody) -> Answer<UserReply> {
    let user = app
        .auth
        .sign_up(&body.email, &body.password, body.name.as_deref(), request)
        .await?;
    Ok(Reply::created(UserReply {
        user: UserBody::from(&user),
    }))
}

/// `POST /auth/sign-in`: a session (and its cookie), or the challenge for a second factor.
#[utoipa::path(
    post,
    path = "/auth/sign-in",
    tag = "auth",
    request_body = CredentialsBody,
    responses((status = 200, description = "signed in (the session cookie is set), or a second factor is due", body = SignInReply))
)]
pub async fn sign_in(
    app: &App,
    request: &RequestInfo<'_>,
    body: CredentialsBody,
) -> Answer<SignInReply> {
    match app
        .auth
        .sign_in(&body.email, &body.password, request)
        .await?
    {
        SignInOutcome::SignedIn(signed_in) => {
            let (reply, cookie) = signed_in_reply(app, *signed_in).await?;
            Ok(Reply::ok(SignInReply::SignedIn(reply)).cookie(cookie))
        }
        SignInOutcome::MfaRequired(challenge) => {
            Ok(Reply::ok(SignInReply::MfaRequired(mfa_required(challenge))))
        }
    }
}

/// `POST /auth/mfa/verify`: the second factor that completes a sign-in.
#[utoipa::path(
    post,
    path = "/auth/mfa/verify",
    tag = "auth",
    request_body = MfaVerifyBody,
    responses((status = 200, description = "signed in", body = SessionReply))
)]
pub async fn mfa_verify(
    app: &App,
    request: &RequestInfo<'_>,
    body: MfaVerifyBody,
) -> Answer<SessionReply> {
    let signed_in = app
        .auth
        .mfa_verify(&body.challenge, &body.code, request)
        .await?;
    let (reply, cookie) = signed_in_reply(app, signed_in).await?;
    Ok(Reply::ok(reply).cookie(cookie))
}

/// A new session's body and cookie, the user promoted first if `ADMIN_EMAILS` lists them.
pub(crate) async fn signed_in_reply(
    app: &App,
    mut signed_in: SignedIn,
) -> Result<(SessionReply, tollbooth_auth::SetCookie), ApiError> {
    signed_in.session.user = app.grant_listed_admin(signed_in.session.user).await?;
    Ok((SessionReply::from(&signed_in.session), signed_in.cookie))
}

/// The answer that asks for a second factor.
pub(crate) fn mfa_required(challenge: MfaChallenge) -> MfaRequiredReply {
    MfaRequiredReply {
        mfa_required: true,
        challenge: challenge.token,
        expires_at: challenge.expires_at,
    }
}

/// `POST /auth/reauthenticate`: makes the session fresh for a sensitive change.
#[utoipa::path(
    post,
    path = "/auth/reauthenticate",
    tag = "auth",
    request_body = ReauthenticateBody,
    responses((status = 204, description = "the session is fresh"))
)]
pub async fn reauthenticate(app: &App, session: &Session, body: ReauthenticateBody) -> Answer {
    app.auth
        .reauthenticate(session, body.password.as_deref(), body.code.as_deref())
        .await?;
    Ok(Reply::no_content())
}

/// `GET /auth/security-report`: what to post; a GET never acts (mail scanners open links).
#[utoipa::path(
    get,
    path = "/auth/security-report",
    tag = "auth",
    params(("token" = Option<String>, Query)),
    responses((status = 200, description = "what to post", body = SecurityReportLinkReply))
)]
pub fn security_report_link() -> Answer<SecurityReportLinkReply> {
    // A GET never acts: mail scanners open links.
    Ok(Reply::ok(SecurityReportLinkReply {
        confirm: "POST {\"token\"} to this path to sign out everywhere and recover the account",
    }))
}

/// `POST /auth/security-report`: "this wasn't me" — ends every session, answers a recovery reset token.
#[utoipa::path(
    post,
    path = "/auth/security-report",
    tag = "auth",
    request_body = TokenBody,
    responses((status = 200, description = "every session ended; a recovery reset token", body = SecurityReportReply))
)]
pub async fn security_report(
    app: &App,
    request: &RequestInfo<'_>,
    body: TokenBody,
) -> Answer<SecurityReportReply> {
    let reset_token = app
        .auth
        .report_unauthorized_change(&body.token, request)
        .await?;
    Ok(Reply::ok(SecurityReportReply {
        signed_out_everywhere: true,
        reset_token,
    }))
}

/// `POST /auth/sign-out`: ends the request's session and clears the cookie.
#[utoipa::path(
    post,
    path = "/auth/sign-out",
    tag = "auth",
    responses((status = 204, description = "signed out; the cookie is cleared"))
)]
pub async fn sign_out(app: &App, headers: &dyn HeaderView) -> Answer {
    Ok(Reply::no_content().cookie(app.auth.sign_out(headers).await?))
}

/// `POST /auth/sign-out-everywhere`: ends every session of the user.
#[utoipa::path(
    post,
    path = "/auth/sign-out-everywhere",
    tag = "auth",
    responses((status = 204, description = "every session ended"))
)]
pub async fn sign_out_everywhere(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
) -> Answer {
    let cleared = app.auth.sign_out_everywhere(session, request).await?;
    Ok(Reply::no_content().cookie(cleared))
}

/// `GET /auth/session`: the session and its user.
#[utoipa::path(
    get,
    path = "/auth/session",
    tag = "auth",
    responses((status = 200, description = "the session", body = SessionReply))
)]
pub fn current_session(session: &Session) -> Answer<SessionReply> {
    Ok(Reply::ok(SessionReply::from(session)))
}

/// `GET /auth/sessions`: the user's live sessions.
#[utoipa::path(
    get,
    path = "/auth/sessions",
    tag = "auth",
    responses((status = 200, description = "live sessions", body = SessionsReply))
)]
pub async fn list_sessions(app: &App, session: &Session) -> Answer<SessionsReply> {
    let sessions = app.auth.list_sessions(session).await?;
    Ok(Reply::ok(SessionsReply {
        sessions: sessions.into_iter().map(SessionInfoBody::from).collect(),
    }))
}

/// `DELETE /auth/sessions/{id}`: ends one of the user's sessions.
#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    tag = "auth",
    params(("id" = String, Path)),
    responses((status = 204, description = "revoked"))
)]
pub async fn revoke_session(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    id: &str,
) -> Answer {
    // Not a session id, or not one of the user's: the same 404, no existence oracle.
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("session"))?;
    match app.auth.revoke_session(session, id, request).await? {
        true => Ok(Reply::no_content()),
        false => Err(ApiError::NotFound("session")),
    }
}

/// `GET /auth/security-activity`: the user's own security events, newest first.
#[utoipa::path(
    get,
    path = "/auth/security-activity",
    tag = "auth",
    params(
        ("before" = Option<String>, Query, description = "the last event id of the previous page"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 50"),
    ),
    responses((status = 200, description = "events", body = SecurityEventsReply))
)]
pub async fn security_activity(
    app: &App,
    session: &Session,
    query: ActivityQuery,
) -> Answer<SecurityEventsReply> {
    let limit = query.limit.unwrap_or(super::DEFAULT_PAGE);
    let events = app
        .auth
        .security_activity(session, query.before, limit)
        .await?;
    Ok(Reply::ok(SecurityEventsReply {
        events: events.into_iter().map(SecurityEventBody::from).collect(),
    }))
}

/// `GET /auth/verify-email?token=…`: the e-mailed verification link.
#[utoipa::path(
    get,
    path = "/auth/verify-email",
    tag = "auth",
    params(("token" = Option<String>, Query)),
    responses((status = 200, description = "verified", body = VerifiedReply))
)]
pub async fn verify_email_link(app: &App, query: TokenQuery) -> Answer<VerifiedReply> {
    verify_email_token(app, &query.token.unwrap_or_default()).await
}

/// `POST /auth/verify-email`: verifies the address with the e-mailed token.
#[utoipa::path(
    post,
    path = "/auth/verify-email",
    tag = "auth",
    request_body = TokenBody,
    responses((status = 200, description = "verified", body = VerifiedReply))
)]
pub async fn verify_email(app: &App, body: TokenBody) -> Answer<VerifiedReply> {
    verify_email_token(app, &body.token).await
}

async fn verify_email_token(app: &App, token: &str) -> Answer<VerifiedReply> {
    let user = app.auth.verify_email(token).await?;
    let user = app.grant_listed_admin(user).await?;
    Ok(Reply::ok(VerifiedReply {
        verified: true,
        user: UserBody::from(&user),
    }))
}

/// `POST /auth/resend-verification`: the same 202 whether or not the address has an account.
#[utoipa::path(
    post,
    path = "/auth/resend-verification",
    tag = "auth",
    request_body = EmailBody,
    responses((status = 202, description = "sent if the address has an unverified account", body = StatusReply))
)]
pub async fn resend_verification(
    app: &App,
    request: &RequestInfo<'_>,
    body: EmailBody,
) -> Answer<StatusReply> {
    app.auth.resend_verification(&body.email, request).await?;
    Ok(accepted())
}

/// `POST /auth/forgot-password`: e-mails a reset link; the same 202 for unknown addresses.
#[utoipa::path(
    post,
    path = "/auth/forgot-password",
    tag = "auth",
    request_body = EmailBody,
    responses((status = 202, description = "sent if the address has an account", body = StatusReply))
)]
pub async fn forgot_password(
    app: &App,
    request: &RequestInfo<'_>,
    body: EmailBody,
) -> Answer<StatusReply> {
    app.auth
        .request_password_reset(&body.email, request)
        .await?;
    Ok(accepted())
}

/// The same answer whether or not the address has an account.
fn accepted() -> Reply<StatusReply> {
    Reply::accepted(StatusReply { status: "accepted" })
}

/// `POST /auth/reset-password`: sets the password with the e-mailed token; every session ends.
#[utoipa::path(
    post,
    path = "/auth/reset-password",
    tag = "auth",
    request_body = ResetBody,
    responses((status = 204, description = "password set; every session ended"))
)]
pub async fn reset_password(app: &App, request: &RequestInfo<'_>, body: ResetBody) -> Answer {
    app.auth
        .reset_password(&body.token, &body.password, request)
        .await?;
    Ok(Reply::no_content())
}

/// `POST /auth/change-password`: re-verified by the current password; other sessions end.
#[utoipa::path(
    post,
    path = "/auth/change-password",
    tag = "auth",
    request_body = ChangePasswordBody,
    responses((status = 204, description = "changed; other sessions ended"))
)]
pub async fn change_password(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    body: ChangePasswordBody,
) -> Answer {
    app.auth
        .change_password(session, &body.current_password, &body.new_password, request)
        .await?;
    Ok(Reply::no_content())
}

/// `POST /auth/set-password-link`: e-mails a provider-only user a link to choose a password.
#[utoipa::path(
    post,
    path = "/auth/set-password-link",
    tag = "auth",
    responses((status = 202, description = "the link is on its way to the account's address", body = StatusReply))
)]
pub async fn set_password_link(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
) -> Answer<StatusReply> {
    app.auth.request_password_setup(session, request).await?;
    Ok(accepted())
}

/// `POST /auth/change-email`: e-mails the new address a link that applies the change (a fresh
/// session only).
#[utoipa::path(
    post,
    path = "/auth/change-email",
    tag = "auth",
    request_body = EmailBody,
    responses((status = 202, description = "the link is on its way to the new address; nothing changed yet", body = StatusReply))
)]
pub async fn change_email(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    body: EmailBody,
) -> Answer<StatusReply> {
    app.auth
        .request_email_change(session, &body.email, request)
        .await?;
    Ok(accepted())
}

/// `POST /auth/confirm-email-change`: applies the change with the token sent to the new
/// address; every other session ends.
#[utoipa::path(
    post,
    path = "/auth/confirm-email-change",
    tag = "auth",
    request_body = TokenBody,
    responses((status = 200, description = "the address changed; the user", body = UserReply))
)]
pub async fn confirm_email_change(
    app: &App,
    request: &RequestInfo<'_>,
    body: TokenBody,
) -> Answer<UserReply> {
    let user = app.auth.confirm_email_change(&body.token, request).await?;
    Ok(Reply::ok(UserReply {
        user: UserBody::from(&user),
    }))
}

/// `GET /auth/export`: everything stored about the user, as one JSON document (a fresh
/// session only).
#[utoipa::path(
    get,
    path = "/auth/export",
    tag = "auth",
    responses((status = 200, description = "the account's data: tollbooth_auth::AccountExport (user, sign_in_methods, sessions, two_factor, subscriptions, payments, bookings, security_events); never a hash, token or secret", body = serde_json::Value))
)]
pub async fn export_account(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
) -> Answer<AccountExport> {
    Ok(Reply::ok(app.auth.export_account(session, request).await?))
}

/// `POST /auth/delete-account`: deletes the account (a fresh session, and a code when MFA is
/// on) once its subscriptions are cancelled; Stripe down refuses it with nothing deleted.
#[utoipa::path(
    post,
    path = "/auth/delete-account",
    tag = "auth",
    request_body = DeleteAccountBody,
    responses((status = 204, description = "deleted: subscriptions cancelled first, then the account, its sessions, sign-in methods, tokens and second factor in one transaction; payments and bookings kept without a user; the clearing cookie is set and the goodbye e-mail is on its way"))
)]
pub async fn delete_account(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    body: DeleteAccountBody,
) -> Answer {
    let code = body
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let cleared = app.auth.delete_account(session, code, request).await?;
    Ok(Reply::no_content().cookie(cleared))
}

/// `POST /auth/stop-impersonating`: ends an administrator's impersonation and puts their
/// own session back (its token from the parked cookie).
#[utoipa::path(
    post,
    path = "/auth/stop-impersonating",
    tag = "auth",
    responses((status = 200, description = "the administrator's own session again; the parked cookie is cleared", body = SessionReply))
)]
pub async fn stop_impersonating(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
) -> Answer<SessionReply> {
    let switch = app.auth.stop_impersonating(session, request).await?;
    Ok(super::switched(switch))
}

/// `POST /auth/profile`: the user's display name and avatar.
#[utoipa::path(
    post,
    path = "/auth/profile",
    tag = "auth",
    request_body = ProfileBody,
    responses((status = 200, description = "the user, changed", body = UserReply))
)]
pub async fn update_profile(app: &App, session: &Session, body: ProfileBody) -> Answer<UserReply> {
    let mut update = ProfileUpdate::new();
    if let Some(name) = body.name {
        update = update.name(name);
    }
    if let Some(image) = body.image {
        update = update.image(image);
    }
    let user = app.auth.update_profile(session, update).await?;
    Ok(Reply::ok(UserReply {
        user: UserBody::from(&user),
    }))
}

/// `GET /me`: the signed-in user.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    responses((status = 200, description = "the signed-in user", body = UserReply))
)]
pub fn me(session: &Session) -> Answer<UserReply> {
    Ok(Reply::ok(UserReply {
        user: UserBody::of_session(session),
    }))
}
