//! The operations behind the routes, one plain async function per route, written once for
//! both servers. Each takes what its route reads, already extracted and typed (the session
//! from the library's `RequireAuth` / `RequireRole`, a [`wire`](crate::wire) body, a path
//! parameter), and answers a [`Reply`] of a wire type or an [`ApiError`]. Each carries its
//! route's `#[utoipa::path]`: the OpenAPI document is generated from these functions.

pub mod admin;
pub mod auth;
pub mod billing;
pub mod meta;
pub mod mfa;
pub mod oauth;
pub mod orgs;
pub mod webhooks;

use crate::error::ApiError;
use crate::reply::Reply;

/// A listing's page size when the request names none.
pub(crate) const DEFAULT_PAGE: u64 = 50;

/// What an operation answers.
pub type Answer<T = ()> = Result<Reply<T>, ApiError>;

/// The answer of a request that switches the browser's session (impersonation starts or
/// stops): the session now in use, and both cookies.
pub(crate) fn switched(switch: tollbooth_auth::SessionSwitch) -> Reply<crate::wire::SessionReply> {
    let tollbooth_auth::SessionSwitch {
        session, cookies, ..
    } = switch;
    let [session_cookie, parked] = cookies;
    Reply::ok(crate::wire::SessionReply::from(&session))
        .cookie(session_cookie)
        .cookie(parked)
}
