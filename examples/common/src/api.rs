//! What a handler returns, framework-neutral: a [`Reply`] or an [`ApiError`]; the servers
//! turn them into responses. Every error body is `{"error": code, "message": …}`.

use std::fmt;

use serde_json::{Value, json};
use tollbooth_auth::{AuthError, SetCookie};
use tollbooth_billing::BillingError;

/// A successful response.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body (none for 204).
    pub body: Option<Value>,
    /// `Set-Cookie` headers.
    pub cookies: Vec<SetCookie>,
    /// `Location` (redirects).
    pub location: Option<String>,
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            cookies: Vec::new(),
            location: None,
        }
    }

    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Self {
        Self::json(200, body)
    }

    /// 204.
    pub fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
            cookies: Vec::new(),
            location: None,
        }
    }

    /// A redirect (`302` to start a flow, `303` after one).
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Self {
            status,
            body: None,
            cookies: Vec::new(),
            location: Some(location.into()),
        }
    }

    /// Adds a `Set-Cookie`.
    pub fn cookie(mut self, cookie: SetCookie) -> Self {
        self.cookies.push(cookie);
        self
    }
}

/// A failed request.
#[derive(Debug)]
pub enum ApiError {
    /// From tollbooth-auth.
    Auth(AuthError),
    /// From tollbooth-billing.
    Billing(BillingError),
    /// A body that is not the expected JSON.
    InvalidBody(String),
    /// A body that is not `application/json`.
    UnsupportedMediaType,
    /// A body over [`MAX_BODY_BYTES`](crate::MAX_BODY_BYTES).
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

    /// HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::Auth(e) => e.status(),
            Self::Billing(e) => e.status(),
            Self::InvalidBody(_) => 400,
            Self::UnsupportedMediaType => 415,
            Self::PayloadTooLarge => 413,
            Self::NotConfigured(_) | Self::NotFound(_) => 404,
            Self::MethodNotAllowed => 405,
        }
    }

    /// Whether the server stops reading the request here (an oversized body is not read):
    /// the connection cannot be reused, so the answer says `Connection: close` (RFC 9112
    /// §9.6) rather than leaving the client to find out from a reset.
    pub fn closes_connection(&self) -> bool {
        matches!(self, Self::PayloadTooLarge)
    }

    /// `{"error": code, "message": …}`; never internal detail on 5xx.
    pub fn body(&self) -> Value {
        match self {
            Self::Auth(e) => tollbooth_auth::error_body(e),
            Self::Billing(e) => tollbooth_billing::error_body(e),
            Self::InvalidBody(why) => json!({ "error": "invalid_body", "message": why }),
            Self::UnsupportedMediaType => {
                json!({ "error": "unsupported_media_type", "message": "send application/json" })
            }
            Self::PayloadTooLarge => json!({
                "error": "payload_too_large",
                "message": format!("request bodies are limited to {} bytes", crate::MAX_BODY_BYTES),
            }),
            Self::NotConfigured(what) => {
                json!({ "error": "not_configured", "message": format!("{what} is not configured on this server") })
            }
            Self::NotFound(what) => {
                json!({ "error": "not_found", "message": format!("no such {what}") })
            }
            Self::MethodNotAllowed => {
                json!({ "error": "method_not_allowed", "message": "this path does not take that method" })
            }
        }
    }

    /// `Retry-After` seconds, for 429s.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Auth(AuthError::RateLimited { retry_after }) => {
                Some(retry_after.as_secs().max(1))
            }
            _ => None,
        }
    }

    /// Logs server-side failures with their cause (the body never carries it).
    pub fn log(&self) {
        if self.status() >= 500 {
            tracing::error!(error = ?self, "request failed");
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
