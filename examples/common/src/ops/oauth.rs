//! Sign-in with GitHub or Google, and linking a provider to a signed-in account.

use std::str::FromStr;

use tollbooth_auth::{OAuthCallback, OAuthResult, Provider, RequestInfo, Session, SignInOutcome};

use super::Answer;
use crate::App;
use crate::reply::Reply;
use crate::wire::*;

/// `GET /auth/oauth/{provider}`: to the provider's consent page, with the state cookie.
#[utoipa::path(
    get,
    path = "/auth/oauth/{provider}",
    tag = "oauth",
    params(("provider" = String, Path), ("return_to" = Option<String>, Query)),
    responses((status = 302, description = "to the provider"))
)]
pub async fn oauth_start(app: &App, provider: &str, query: ReturnToQuery) -> Answer {
    let provider = Provider::from_str(provider)?;
    let start = app
        .auth
        .oauth_authorize(provider, query.return_to.as_deref())
        .await?;
    Ok(Reply::found(start.redirect_url.as_str()).cookie(start.state_cookie))
}

/// `GET /auth/oauth/{provider}/callback`: where the provider sends the browser back.
#[utoipa::path(
    get,
    path = "/auth/oauth/{provider}/callback",
    tag = "oauth",
    params(("provider" = String, Path), ("code" = Option<String>, Query), ("state" = Option<String>, Query), ("error" = Option<String>, Query)),
    responses((status = 303, description = "signed in or linked: back to `return_to`"), (status = 200, description = "a second factor is due", body = MfaRequiredReply))
)]
pub async fn oauth_callback(
    app: &App,
    provider: &str,
    callback: &OAuthCallback,
    request: &RequestInfo<'_>,
) -> Answer<MfaRequiredReply> {
    let provider = Provider::from_str(provider)?;
    let done = app.auth.oauth_callback(provider, callback, request).await?;
    let reply = match done.result {
        OAuthResult::SignedIn {
            outcome: SignInOutcome::SignedIn(signed_in),
            ..
        } => {
            let (_, cookie) = super::auth::signed_in_reply(app, *signed_in).await?;
            Reply::see_other(&done.return_to).cookie(cookie)
        }
        OAuthResult::SignedIn {
            outcome: SignInOutcome::MfaRequired(challenge),
            ..
        } => Reply::ok(super::auth::mfa_required(challenge)),
        _ => Reply::see_other(&done.return_to),
    };
    Ok(reply.cookie(done.clear_state_cookie))
}

/// `GET /auth/oauth/{provider}/link`: links the provider to the signed-in account (fresh session).
#[utoipa::path(
    get,
    path = "/auth/oauth/{provider}/link",
    tag = "oauth",
    params(("provider" = String, Path), ("return_to" = Option<String>, Query)),
    responses((status = 302, description = "to the provider"))
)]
pub async fn oauth_link(
    app: &App,
    session: &Session,
    provider: &str,
    query: ReturnToQuery,
) -> Answer {
    let provider = Provider::from_str(provider)?;
    let start = app
        .auth
        .oauth_link(session, provider, query.return_to.as_deref())
        .await?;
    Ok(Reply::found(start.redirect_url.as_str()).cookie(start.state_cookie))
}

/// `DELETE /auth/oauth/{provider}`: unlinks the provider (fresh session), never the last sign-in method.
#[utoipa::path(
    delete,
    path = "/auth/oauth/{provider}",
    tag = "oauth",
    params(("provider" = String, Path)),
    responses((status = 204, description = "unlinked"))
)]
pub async fn oauth_unlink(
    app: &App,
    session: &Session,
    provider: &str,
    request: &RequestInfo<'_>,
) -> Answer {
    let provider = Provider::from_str(provider)?;
    app.auth.oauth_unlink(session, provider, request).await?;
    Ok(Reply::no_content())
}

/// `GET /auth/sign-in-methods`: the password and the linked providers, oldest first.
#[utoipa::path(
    get,
    path = "/auth/sign-in-methods",
    tag = "oauth",
    responses((status = 200, description = "the user's sign-in methods", body = SignInMethodsReply))
)]
pub async fn sign_in_methods(app: &App, session: &Session) -> Answer<SignInMethodsReply> {
    let methods = app.auth.sign_in_methods(session).await?;
    Ok(Reply::ok(SignInMethodsReply {
        methods: methods.into_iter().map(SignInMethodBody::from).collect(),
    }))
}
