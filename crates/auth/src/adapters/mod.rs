//! Web-framework adapters (features `axum`, `actix`). Thin on purpose: the logic lives in
//! the core; adapters move headers in, and cookies and errors out.
//!
//! Both produce the same error body, `{"error": "<code>", "message": "<public message>"}`,
//! with the status of [`AuthError::status`] and `Retry-After` on 429. 5xx bodies never
//! carry internal detail.

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;

use crate::error::AuthError;
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

/// `{"error": code, "message": …}` for an error.
pub fn error_body(error: &AuthError) -> serde_json::Value {
    serde_json::json!({ "error": error.code(), "message": error.public_message() })
}

/// Whether a response's `Set-Cookie` values already set cookie `name`. A handler's own
/// session cookie (a sign-in's new session, a sign-out's deletion) must not be overridden by
/// a refresh of the session the request arrived with.
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) fn sets_cookie<'a>(mut set_cookies: impl Iterator<Item = &'a [u8]>, name: &str) -> bool {
    set_cookies.any(|value| value.split(|&b| b == b'=').next() == Some(name.as_bytes()))
}

/// `Retry-After` seconds for a rate-limited error.
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) fn retry_after(error: &AuthError) -> Option<u64> {
    match error {
        AuthError::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
        _ => None,
    }
}
