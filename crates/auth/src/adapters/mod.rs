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

use crate::session::Role;

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
