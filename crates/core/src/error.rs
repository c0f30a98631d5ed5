//! The HTTP error contract.

use std::borrow::Cow;
use std::time::Duration;

use http::StatusCode;

/// An error as it travels over HTTP. Implemented by every Tollbooth error type (and by an
/// application's own, to answer in the same shape).
pub trait WireError: std::fmt::Debug {
    /// The status to answer with.
    fn status(&self) -> StatusCode;

    /// A stable, machine-readable code (`invalid_credentials`, `rate_limited`, …): the
    /// `error` field, part of the API contract.
    fn code(&self) -> &'static str;

    /// What a client may read for a 4xx (it may name the field or the rule broken). Never
    /// used for a 5xx.
    fn client_message(&self) -> Cow<'_, str>;

    /// The message of a 5xx: fixed per code, so nothing from the cause can leak into it.
    fn server_message(&self) -> &'static str {
        "internal error"
    }

    /// How long to wait before retrying (`Retry-After`), for 429 and some 503s.
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// The message the body carries: [`client_message`](Self::client_message) below 500,
    /// [`server_message`](Self::server_message) from 500.
    fn public_message(&self) -> Cow<'_, str> {
        if self.status().is_server_error() {
            Cow::Borrowed(self.server_message())
        } else {
            self.client_message()
        }
    }

    /// `Retry-After` in whole seconds, at least 1.
    fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after().map(|d| d.as_secs().max(1))
    }
}

/// A configuration that cannot work, found when it is built (a builder's error, never a
/// request's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    what: &'static str,
    reason: String,
}

impl ConfigError {
    /// `what` (`auth`, `billing`, …) is misconfigured because of `reason`.
    pub fn new(what: &'static str, reason: impl Into<String>) -> Self {
        Self {
            what,
            reason: reason.into(),
        }
    }

    /// What is wrong.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {} configuration: {}", self.what, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// `{"error": code, "message": …}` — the one error body of every Tollbooth endpoint.
pub fn error_body(error: &(impl WireError + ?Sized)) -> serde_json::Value {
    serde_json::json!({ "error": error.code(), "message": error.public_message() })
}

/// Logs a 5xx with its cause; adapters call it before answering.
#[cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code))]
pub(crate) fn log_server_error(error: &(impl WireError + ?Sized)) {
    if error.status().is_server_error() {
        tracing::error!(error = ?error, code = error.code(), "request failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Leaky(u16, String);

    impl WireError for Leaky {
        fn status(&self) -> StatusCode {
            StatusCode::from_u16(self.0).unwrap()
        }
        fn code(&self) -> &'static str {
            "leaky"
        }
        fn client_message(&self) -> Cow<'_, str> {
            Cow::Borrowed(&self.1)
        }
        fn retry_after(&self) -> Option<Duration> {
            Some(Duration::from_millis(10))
        }
    }

    #[test]
    fn a_5xx_body_never_carries_the_client_message() {
        for status in [500, 502, 503, 599] {
            let body = error_body(&Leaky(status, "db password is hunter2".into()));
            assert_eq!(body["message"], "internal error", "{status}");
        }
        let body = error_body(&Leaky(422, "use at least 8 characters".into()));
        assert_eq!(body["message"], "use at least 8 characters");
        assert_eq!(Leaky(429, String::new()).retry_after_seconds(), Some(1));
    }
}
