//! What every Tollbooth crate shares, stated once:
//!
//! - [`WireError`]: how an error travels over HTTP — a status, a stable code, a message a
//!   client may read, `Retry-After` — and [`error_body`], the one body shape
//!   (`{"error": code, "message": …}`). A 5xx body's message is a `&'static str` chosen per
//!   code, so no runtime detail (a provider's text, a database error) can reach it. The
//!   `axum` and `actix` features turn any `WireError` into a response.
//! - [`Clock`]: one source of time, injectable for tests ([`ManualClock`]); [`now`] and
//!   [`micros`], timestamps as the database keeps them (UTC, microseconds).
//! - [`RetryPolicy`]: bounded, jittered retries, shared by the Resend, Stripe and Cal.com
//!   transports.
//! - [`secret_type!`]: newtypes for secrets whose `Debug` never shows them.
//! - [`BeforeAccountDeletion`], [`BeforeOrganizationDeletion`]: a step that must succeed
//!   before an account (an organization) is deleted
//!   (billing cancels the user's subscriptions with one), so auth need not know billing.
//! - [`Customer`]: who a subscription bills — a user or an organization.
//! - [`Hooks`]: the application's ear for [`DomainEvent`]s (user created, signed in,
//!   deleted, banned, subscription changed, …), told after each change committed.
//!
//! ```
//! use std::borrow::Cow;
//! use tollbooth_core::{WireError, error_body, http::StatusCode};
//!
//! #[derive(Debug)]
//! enum Oops { Missing, Down(String) }
//!
//! impl WireError for Oops {
//!     fn status(&self) -> StatusCode {
//!         match self { Self::Missing => StatusCode::NOT_FOUND, Self::Down(_) => StatusCode::BAD_GATEWAY }
//!     }
//!     fn code(&self) -> &'static str {
//!         match self { Self::Missing => "not_found", Self::Down(_) => "upstream_error" }
//!     }
//!     fn client_message(&self) -> Cow<'_, str> { "no such thing".into() }
//!     fn server_message(&self) -> &'static str { "the upstream service failed" }
//! }
//!
//! assert_eq!(error_body(&Oops::Missing)["message"], "no such thing");
//! // Whatever the 5xx variant holds, the body says only the fixed message.
//! let body = error_body(&Oops::Down("secret upstream detail".into()));
//! assert_eq!(body, serde_json::json!({ "error": "upstream_error", "message": "the upstream service failed" }));
//! ```
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `axum`  | no      | `axum::error_response` |
//! | `actix` | no      | `actix::error_response` |

mod clock;
mod customer;
mod deletion;
mod error;
mod hooks;
mod retry;
mod secret;

pub use clock::{Clock, ManualClock, SystemClock, micros, now};
pub use customer::Customer;
pub use deletion::{BeforeAccountDeletion, BeforeOrganizationDeletion, DeletionRefused};
pub use error::{ConfigError, WireError, error_body};
pub use hooks::{DomainEvent, HookError, HookList, Hooks};
pub use retry::RetryPolicy;

// Deliberately re-exported: `WireError::status` returns an `http::StatusCode`.
pub use http;

/// axum: any [`WireError`] as a response.
#[cfg(feature = "axum")]
pub mod axum {
    use ::axum::http::{HeaderValue, StatusCode, header};
    use ::axum::response::{IntoResponse, Response};

    use crate::error::{WireError, error_body, log_server_error};

    /// `status` + [`error_body`] + `Retry-After`; a 5xx is logged with its
    /// cause (`Debug`) first, as the body never carries it.
    pub fn error_response<E: WireError>(error: &E) -> Response {
        log_server_error(error);
        let status = StatusCode::from_u16(error.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, ::axum::Json(error_body(error))).into_response();
        if let Some(seconds) = error.retry_after_seconds() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// actix-web: any [`WireError`] as a response.
#[cfg(feature = "actix")]
pub mod actix {
    use actix_web::HttpResponse;
    use actix_web::http::StatusCode;
    use actix_web::http::header;

    use crate::error::{WireError, error_body, log_server_error};

    /// The status in actix's `http` types.
    pub fn status_code<E: WireError>(error: &E) -> StatusCode {
        StatusCode::from_u16(error.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// `status` + [`error_body`] + `Retry-After`; a 5xx is logged with its
    /// cause (`Debug`) first, as the body never carries it.
    pub fn error_response<E: WireError>(error: &E) -> HttpResponse {
        log_server_error(error);
        let mut response = HttpResponse::build(status_code(error));
        if let Some(seconds) = error.retry_after_seconds() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(error_body(error))
    }
}

// Compiles the README's examples as doctests, so the registry page never shows code that
// does not build.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
