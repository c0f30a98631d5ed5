//! actix-web adapter.
//!
//! ```no_run
//! use actix_web::{App, middleware::from_fn, web};
//! use tollbooth_auth::Auth;
//! use tollbooth_auth::actix::{RequireAuth, csrf, session};
//!
//! fn configure(auth: Auth) {
//!     let _app = App::new()
//!         .app_data(web::Data::new(auth))
//!         .wrap(from_fn(csrf))
//!         .wrap(from_fn(session))
//!         .route("/me", web::get().to(|RequireAuth(s): RequireAuth| async move { s.user.email }));
//! }
//! ```

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

/// Any Tollbooth error (or the application's own [`WireError`](tollbooth_core::WireError))
/// as a response, the way `AuthError` answers.
pub use tollbooth_core::actix::error_response;

use super::{
    ORG_PATH_PARAM, OrgPermissionMarker, RoleMarker, org_member_at, refreshed_cookie_to_add,
};
use crate::error::AuthError;
use crate::headers::HeaderView;
use crate::organizations::OrgMember;
use crate::service::Auth;
use crate::session::Session;

impl HeaderView for HeaderMap {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.get_all(name).filter_map(|v| v.to_str().ok()).collect()
    }
}

#[derive(Clone, Debug)]
struct Slot(Option<Session>);

/// The client's address: the socket peer, or behind [`TrustedProxies`](crate::TrustedProxies)
/// the address they name — what a handler passes in [`RequestInfo`](crate::RequestInfo).
/// Set by [`session`]; a 500 when the peer address is unknown, so a missing address is
/// never silently "no per-IP limits".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequest for ClientIp {
    type Error = AuthError;
    type Future = Ready<Result<Self, AuthError>>;
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            request
                .extensions()
                .get::<ClientIp>()
                .copied()
                .ok_or_else(|| {
                    AuthError::internal("no client address: install tollbooth_auth::actix::session")
                }),
        )
    }
}

fn auth_of(request: &ServiceRequest) -> Result<Auth, AuthError> {
    request
        .app_data::<web::Data<Auth>>()
        .map(|data| data.get_ref().clone())
        .ok_or_else(|| AuthError::internal("register `web::Data<Auth>` with `App::app_data`"))
}

/// Middleware: reads the request's session once, makes it available to the extractors,
/// and sets the refreshed cookie on the response — unless the handler set the session cookie
/// itself (sign-in, sign-out). A database failure answers 503.
pub async fn session(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let auth = auth_of(&request)?;
    let (session, refreshed) = match auth.get_session(request.headers()).await? {
        Some(found) => (Some(found.session), found.refreshed_cookie),
        None => (None, None),
    };
    request.extensions_mut().insert(Slot(session));
    if let Some(peer) = request.peer_addr() {
        let client = ClientIp(auth.client_ip(peer.ip(), request.headers()));
        request.extensions_mut().insert(client);
    }
    let mut response = next.call(request).await?.map_into_boxed_body();
    let headers = response.headers_mut();
    let set_cookies = headers
        .get_all(header::SET_COOKIE)
        .map(HeaderValue::as_bytes);
    if let Some(cookie) = refreshed_cookie_to_add(&auth, refreshed, set_cookies)
        && let Ok(cookie) = HeaderValue::from_str(cookie.as_str())
    {
        headers.append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Middleware: [`Auth::check_origin`] — 403 for cross-site state-changing requests.
pub async fn csrf(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let auth = auth_of(&request)?;
    auth.check_origin(request.method().as_str(), request.headers())?;
    Ok(next.call(request).await?.map_into_boxed_body())
}

fn slot(request: &HttpRequest) -> Result<Option<Session>, AuthError> {
    request
        .extensions()
        .get::<Slot>()
        .map(|slot| slot.0.clone())
        .ok_or_else(|| {
            AuthError::internal("tollbooth_auth::actix::session middleware is not installed")
        })
}

/// The request's session, if any.
#[derive(Clone, Debug)]
pub struct CurrentSession(pub Option<Session>);

impl FromRequest for CurrentSession {
    type Error = AuthError;
    type Future = Ready<Result<Self, AuthError>>;
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(slot(request).map(Self))
    }
}

/// The request's session; 401 without one.
#[derive(Clone, Debug)]
pub struct RequireAuth(pub Session);

impl FromRequest for RequireAuth {
    type Error = AuthError;
    type Future = Ready<Result<Self, AuthError>>;
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(slot(request).and_then(|s| s.map(Self).ok_or(AuthError::Unauthorized)))
    }
}

/// The request's session if its user has role `R` (or is admin); 401 / 403 otherwise.
#[derive(Clone, Debug)]
pub struct RequireRole<R>(pub Session, pub PhantomData<R>);

impl<R: RoleMarker> FromRequest for RequireRole<R> {
    type Error = AuthError;
    type Future = Ready<Result<Self, AuthError>>;
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(slot(request).and_then(|s| {
            let session = s.ok_or(AuthError::Unauthorized)?;
            session.require_role(&R::role())?;
            Ok(Self(session, PhantomData))
        }))
    }
}

/// The request's session and its user's place in the organization named by the route's
/// `{org_id}` segment ([`Auth::org_member`]): 401 without a session, 404 when the user does
/// not belong to it (or it does not exist: the two are not told apart).
#[derive(Clone, Debug)]
pub struct RequireOrgMember(pub Session, pub OrgMember);

impl FromRequest for RequireOrgMember {
    type Error = AuthError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, AuthError>>>>;
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = slot(request).and_then(|session| {
            let session = session.ok_or(AuthError::Unauthorized)?;
            let auth = request
                .app_data::<web::Data<Auth>>()
                .map(|data| data.get_ref().clone())
                .ok_or_else(|| {
                    AuthError::internal("register `web::Data<Auth>` with `App::app_data`")
                })?;
            let raw = request.match_info().get(ORG_PATH_PARAM).map(str::to_owned);
            Ok((session, auth, raw))
        });
        Box::pin(async move {
            let (session, auth, raw) = found?;
            let member = org_member_at(&auth, &session, raw.as_deref()).await?;
            Ok(Self(session, member))
        })
    }
}

/// As [`RequireOrgMember`], and the member may do `P`'s permission (403 otherwise).
#[derive(Clone, Debug)]
pub struct RequireOrgPermission<P>(pub Session, pub OrgMember, pub PhantomData<P>);

impl<P: OrgPermissionMarker + 'static> FromRequest for RequireOrgPermission<P> {
    type Error = AuthError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, AuthError>>>>;
    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let member = RequireOrgMember::from_request(request, payload);
        Box::pin(async move {
            let RequireOrgMember(session, member) = member.await?;
            member.require(&P::permission())?;
            Ok(Self(session, member, PhantomData))
        })
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        tollbooth_core::actix::status_code(self)
    }

    fn error_response(&self) -> HttpResponse {
        tollbooth_core::actix::error_response(self)
    }
}
