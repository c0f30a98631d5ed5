//! axum adapter.
//!
//! ```no_run
//! use axum::{Router, middleware, routing::get};
//! use tollbooth_auth::axum::{RequireAuth, RequireRole, csrf, session};
//! use tollbooth_auth::{Admin, Auth};
//!
//! fn routes(auth: Auth) -> Router {
//!     Router::new()
//!         .route("/me", get(|RequireAuth(s): RequireAuth| async move { s.user.email }))
//!         .route("/admin", get(|RequireRole(_, _): RequireRole<Admin>| async move { "hi" }))
//!         .layer(middleware::from_fn_with_state(auth.clone(), csrf))
//!         .layer(middleware::from_fn_with_state(auth, session))
//! }
//! ```

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Any Tollbooth error (or the application's own [`WireError`](tollbooth_core::WireError))
/// as a response, the way `AuthError` answers.
pub use tollbooth_core::axum::error_response;

use super::{
    ORG_PATH_PARAM, OrgPermissionMarker, RoleMarker, org_member_at, refreshed_cookie_to_add,
};
use crate::error::AuthError;
use crate::organizations::OrgMember;
use crate::service::Auth;
use crate::session::Session;

/// What [`session`] found, stored in the request's extensions.
#[derive(Clone, Debug)]
struct Slot(Option<Session>);

/// The client's address: the socket peer, or behind [`TrustedProxies`](crate::TrustedProxies)
/// the address they name — what a handler passes in [`RequestInfo`](crate::RequestInfo).
/// Set by [`session`] when the server is served with connect info
/// (`into_make_service_with_connect_info::<SocketAddr>()`); a 500 otherwise, so a missing
/// address is never silently "no per-IP limits".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = AuthError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthError> {
        parts.extensions.get::<ClientIp>().copied().ok_or_else(|| {
            AuthError::internal(
                "no client address: install tollbooth_auth::axum::session and serve with \
                 into_make_service_with_connect_info::<SocketAddr>()",
            )
        })
    }
}

/// Middleware: reads the request's session once (cookie or bearer token), makes it
/// available to the extractors, and sets the refreshed cookie on the response when the
/// session's token was renewed — unless the handler set the session cookie itself (sign-in,
/// sign-out). A database failure answers 503.
pub async fn session(State(auth): State<Auth>, mut request: Request, next: Next) -> Response {
    let (session, refreshed) = match auth.get_session(request.headers()).await {
        Ok(Some(found)) => (Some(found.session), found.refreshed_cookie),
        Ok(None) => (None, None),
        Err(error) => return error.into_response(),
    };
    request.extensions_mut().insert(Slot(session));
    // For the organization extractors, which look memberships up.
    request.extensions_mut().insert(auth.clone());
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    if let Some(peer) = peer {
        let client = ClientIp(auth.client_ip(peer, request.headers()));
        request.extensions_mut().insert(client);
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set_cookies = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(HeaderValue::as_bytes);
    if let Some(cookie) = refreshed_cookie_to_add(&auth, refreshed, set_cookies)
        && let Ok(cookie) = HeaderValue::from_str(cookie.as_str())
    {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// Middleware: [`Auth::check_origin`] — 403 for cross-site state-changing requests.
pub async fn csrf(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    match auth.check_origin(request.method().as_str(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn slot(parts: &Parts) -> Result<Option<Session>, AuthError> {
    parts
        .extensions
        .get::<Slot>()
        .map(|slot| slot.0.clone())
        .ok_or_else(|| {
            AuthError::internal("tollbooth_auth::axum::session middleware is not installed")
        })
}

/// The request's session, if any.
#[derive(Clone, Debug)]
pub struct CurrentSession(pub Option<Session>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = AuthError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthError> {
        slot(parts).map(Self)
    }
}

/// The request's session; 401 without one.
#[derive(Clone, Debug)]
pub struct RequireAuth(pub Session);

impl<S: Send + Sync> FromRequestParts<S> for RequireAuth {
    type Rejection = AuthError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthError> {
        slot(parts)?.map(Self).ok_or(AuthError::Unauthorized)
    }
}

/// The request's session if its user has role `R` (or is admin); 401 without a session,
/// 403 with the wrong role.
#[derive(Clone, Debug)]
pub struct RequireRole<R>(pub Session, pub PhantomData<R>);

impl<S: Send + Sync, R: RoleMarker + Send> FromRequestParts<S> for RequireRole<R> {
    type Rejection = AuthError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthError> {
        let session = slot(parts)?.ok_or(AuthError::Unauthorized)?;
        session.require_role(&R::role())?;
        Ok(Self(session, PhantomData))
    }
}

/// The request's session and its user's place in the organization named by the route's
/// `{org_id}` segment ([`Auth::org_member`]): 401 without a session, 404 when the user does
/// not belong to it (or it does not exist: the two are not told apart).
#[derive(Clone, Debug)]
pub struct RequireOrgMember(pub Session, pub OrgMember);

impl<S: Send + Sync> FromRequestParts<S> for RequireOrgMember {
    type Rejection = AuthError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        let session = slot(parts)?.ok_or(AuthError::Unauthorized)?;
        let auth = parts.extensions.get::<Auth>().cloned().ok_or_else(|| {
            AuthError::internal("tollbooth_auth::axum::session middleware is not installed")
        })?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AuthError::OrganizationNotFound)?;
        let raw = params
            .iter()
            .find(|(name, _)| *name == ORG_PATH_PARAM)
            .map(|(_, value)| value);
        let member = org_member_at(&auth, &session, raw).await?;
        Ok(Self(session, member))
    }
}

/// As [`RequireOrgMember`], and the member may do `P`'s permission (403 otherwise).
#[derive(Clone, Debug)]
pub struct RequireOrgPermission<P>(pub Session, pub OrgMember, pub PhantomData<P>);

impl<S: Send + Sync, P: OrgPermissionMarker + Send> FromRequestParts<S>
    for RequireOrgPermission<P>
{
    type Rejection = AuthError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        let RequireOrgMember(session, member) =
            RequireOrgMember::from_request_parts(parts, state).await?;
        member.require(&P::permission())?;
        Ok(Self(session, member, PhantomData))
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        tollbooth_core::axum::error_response(&self)
    }
}
