//! Why a request failed: [`ApiError`], the library's errors and the example's own, all
//! answering through the one contract — `{"error": code, "message": …}`, no detail in a 5xx.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use tollbooth_auth::http::StatusCode;
use tollbooth_auth::{AuthError, WireError};
use tollbooth_billing::BillingError;

/// A failed request.
#[derive(Debug)]
pub enum ApiError {
    /// From tollbooth-auth.
    Auth(AuthError),
    /// From tollbooth-billing.
    Billing(BillingError),
    /// A body that is not the expected JSON.
    InvalidBody(String),
    /// A query string that is not the expected parameters.
    InvalidQuery(String),
    /// A body that is not `application/json`.
    UnsupportedMediaType,
    /// A body over [`MAX_BODY_BYTES`](crate::extract::MAX_BODY_BYTES).
    PayloadTooLarge,
    /// A feature the server was started without.
    NotConfigured(&'static str),
    /// No such resource.
    NotFound(&'static str),
    /// The path exists, the method does not.
    MethodNotAllowed,
}

impl ApiError {
    /// The error for a body the web framework could not buffer, from the status it chose:
    /// over the size limit (checked against `Content-Length` before reading), or broken.
    pub fn unreadable_body(status: u16, why: impl fmt::Display) -> Self {
        if status == 413 {
            Self::PayloadTooLarge
        } else {
            Self::InvalidBody(why.to_string())
        }
    }

    /// Whether the server stops reading the request here (an oversized body is not read):
    /// the connection cannot be reused, so the answer says `Connection: close` (RFC 9112
    /// §9.6) rather than leaving the client to find out from a reset.
    pub fn closes_connection(&self) -> bool {
        matches!(self, Self::PayloadTooLarge)
    }
}

/// The example's own errors answer through the same contract as the library's.
impl WireError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Auth(e) => e.status(),
            Self::Billing(e) => e.status(),
            Self::InvalidBody(_) | Self::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotConfigured(_) | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Auth(e) => e.code(),
            Self::Billing(e) => e.code(),
            Self::InvalidBody(_) => "invalid_body",
            Self::InvalidQuery(_) => "invalid_query",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::NotConfigured(_) => "not_configured",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
        }
    }

    fn client_message(&self) -> Cow<'_, str> {
        match self {
            Self::Auth(e) => e.client_message(),
            Self::Billing(e) => e.client_message(),
            Self::InvalidBody(why) | Self::InvalidQuery(why) => Cow::Borrowed(why),
            Self::UnsupportedMediaType => Cow::Borrowed("send application/json"),
            Self::PayloadTooLarge => Cow::Owned(format!(
                "request bodies are limited to {} bytes",
                crate::extract::MAX_BODY_BYTES
            )),
            Self::NotConfigured(what) => {
                Cow::Owned(format!("{what} is not configured on this server"))
            }
            Self::NotFound(what) => Cow::Owned(format!("no such {what}")),
            Self::MethodNotAllowed => Cow::Borrowed("this path does not take that method"),
        }
    }

    fn server_message(&self) -> &'static str {
        match self {
            Self::Auth(e) => e.server_message(),
            Self::Billing(e) => e.server_message(),
            _ => "internal error",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Auth(e) => e.retry_after(),
            Self::Billing(e) => e.retry_after(),
            _ => None,
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl From<BillingError> for ApiError {
    fn from(e: BillingError) -> Self {
        Self::Billing(e)
    }
}

/// The message a client sees.
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.client_message())
    }
}

impl std::error::Error for ApiError {}
