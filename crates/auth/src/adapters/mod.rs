//! Web-framework adapters (features `axum`, `actix`). Thin on purpose: the logic lives in
//! the core; adapters move headers in, and cookies and errors out.
//!
//! Errors answer through `tollbooth_core`'s one contract ([`WireError`](tollbooth_core::WireError)):
//! `{"error": "<code>", "message": "<public message>"}`, `Retry-After` on 429, and no internal
//! detail in a 5xx body.

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;

use crate::organizations::OrgPermission;
use crate::session::Role;

/// The path parameter the organization extractors (`RequireOrgMember`,
/// `RequireOrgPermission`) read the organization id from: routes name it `{org_id}`.
pub const ORG_PATH_PARAM: &str = "org_id";

/// A role as a type, for `RequireRole<R>` extractors.
pub trait RoleMarker {
    /// The role required.
    fn role() -> Role;
}

/// The built-in `admin` role.
#[derive(Clone, Copy, Debug)]
pub struct Admin;

impl RoleMarker for Admin {
    fn role() -> Role {
        Role::ADMIN
    }
}

/// An organization permission as a type, for `RequireOrgPermission<P>` extractors.
pub trait OrgPermissionMarker {
    /// The permission required.
    fn permission() -> OrgPermission;
}

/// The session's place in the organization whose id is the path parameter `raw`: 404 for an
/// id that is malformed, unknown or not the user's; a 500 when the route names no
/// [`ORG_PATH_PARAM`] (a wiring mistake, not the client's).
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) async fn org_member_at(
    auth: &crate::service::Auth,
    session: &crate::session::Session,
    raw: Option<&str>,
) -> crate::error::Result<crate::organizations::OrgMember> {
    use crate::error::AuthError;
    let raw = raw.ok_or_else(|| {
        AuthError::internal("an organization extractor on a route without an {org_id} segment")
    })?;
    let id = uuid::Uuid::parse_str(raw).map_err(|_| AuthError::OrganizationNotFound)?;
    auth.org_member(session, id).await
}

/// The refreshed session cookie the `session` middleware must add to a response whose
/// `Set-Cookie` values are `set_cookies` — none when the handler set the session cookie
/// itself: a sign-in's new session or a sign-out's deletion must not be followed (and so
/// overridden) by a refresh of the session the request arrived with.
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) fn refreshed_cookie_to_add<'a>(
    auth: &crate::service::Auth,
    refreshed: Option<crate::cookie::SetCookie>,
    mut set_cookies: impl Iterator<Item = &'a [u8]>,
) -> Option<crate::cookie::SetCookie> {
    let name = auth.config().cookie_name();
    let handler_set_it =
        set_cookies.any(|value| crate::cookie::set_cookie_name(value).as_deref() == Some(name));
    refreshed.filter(|_| !handler_set_it)
}
