//! The example's web UI: server-rendered pages (askama) over the same [`ops`](crate::ops)
//! the JSON API calls — no second implementation of any flow. Forms post to HTML routes
//! behind the same `csrf` middleware; a page that needs a session sends the browser to
//! `/sign-in` instead of answering 401. JavaScript is never required (one small script
//! adds a "Copy" button where the clipboard exists).

mod admin;
mod orgs;
mod pages;

pub use admin::*;
pub use orgs::*;
pub use pages::*;

use askama::Template;
use tollbooth_auth::http::StatusCode;
use tollbooth_auth::{SetCookie, WireError};

use crate::App;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::wire::UserBody;

/// The stylesheet, served at `/assets/style.css`.
pub const STYLESHEET: &str = include_str!("../../assets/style.css");
/// The clipboard enhancement, served at `/assets/copy.js`.
pub const COPY_SCRIPT: &str = include_str!("../../assets/copy.js");

/// What every page answers with: a `Content-Security-Policy` that allows only this origin's
/// styles and scripts (and `data:` images, the QR code), and never framing.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// A page's answer: HTML, or a redirect (`303 See Other` after a form), with cookies.
#[derive(Debug)]
#[must_use]
pub struct Page {
    pub(crate) status: StatusCode,
    pub(crate) body: PageBody,
    pub(crate) cookies: Vec<SetCookie>,
}

#[derive(Debug)]
pub(crate) enum PageBody {
    Html(String),
    Redirect(String),
    /// A JSON file the browser saves as `filename`.
    Download {
        filename: &'static str,
        json: String,
    },
}

impl Page {
    fn html(status: StatusCode, template: &impl Template) -> Self {
        let body = match template.render() {
            Ok(html) => PageBody::Html(html),
            Err(error) => {
                tracing::error!(%error, "a page template failed to render");
                return Self::internal_error();
            }
        };
        Self {
            status,
            body,
            cookies: Vec::new(),
        }
    }

    fn see_other(location: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SEE_OTHER,
            body: PageBody::Redirect(location.into()),
            cookies: Vec::new(),
        }
    }

    /// `value` as a JSON file to save as `filename`.
    fn download(filename: &'static str, value: &impl serde::Serialize) -> Self {
        match serde_json::to_string_pretty(value) {
            Ok(json) => Self {
                status: StatusCode::OK,
                body: PageBody::Download { filename, json },
                cookies: Vec::new(),
            },
            Err(error) => {
                tracing::error!(%error, "a download failed to serialize");
                Self::internal_error()
            }
        }
    }

    /// Takes the cookies an operation set (a new session, a cleared one).
    fn with_cookies_of<T>(mut self, reply: Reply<T>) -> Self {
        self.cookies.extend(reply.cookies);
        self
    }

    fn internal_error() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: PageBody::Html(
                "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_owned(),
            ),
            cookies: Vec::new(),
        }
    }
}

/// Whether a request's `Accept` header prefers a page to JSON (a browser's navigation).
pub fn wants_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| accept.contains("text/html"))
}

/// The header every page shares: the product, the signed-in user, what is configured.
#[derive(Debug)]
pub(crate) struct Nav {
    pub product: String,
    pub billing: bool,
    pub user: Option<UserBody>,
}

impl Nav {
    pub(crate) fn new(app: &App, session: Option<&tollbooth_auth::Session>) -> Self {
        Self {
            product: app.product().to_owned(),
            billing: app.billing.is_some(),
            user: session.map(UserBody::of_session),
        }
    }
}

/// The message above a page's content.
#[derive(Debug, Default)]
pub(crate) struct Alert {
    pub error: Option<String>,
    pub notice: Option<String>,
}

impl Alert {
    pub(crate) fn error(message: impl Into<String>) -> Self {
        Self {
            error: Some(message.into()),
            notice: None,
        }
    }

    pub(crate) fn notice(message: Option<&'static str>) -> Self {
        Self {
            error: None,
            notice: message.map(str::to_owned),
        }
    }
}

/// What a failed operation tells the person at the page, and the status the page answers
/// with: the error's public message (fixed per code for a 5xx), and for a rate limit when
/// to try again.
pub(crate) fn failure(error: &ApiError) -> (StatusCode, Alert) {
    let status = error.status();
    let mut message = if status == StatusCode::TOO_MANY_REQUESTS {
        "Too many attempts.".to_owned()
    } else {
        sentence(&error.public_message())
    };
    if let Some(seconds) = error.retry_after_seconds() {
        let unit = if seconds == 1 { "second" } else { "seconds" };
        message.push_str(&format!(" Try again in {seconds} {unit}."));
    }
    (status, Alert::error(message))
}

/// An amount in minor units as a page shows it: `50.00 USD`, `5000 JPY` (currencies
/// without a minor unit).
pub(crate) fn price(amount: i64, currency: &str) -> String {
    const ZERO_DECIMAL: [&str; 16] = [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
        "xaf", "xof", "xpf",
    ];
    let code = currency.to_ascii_uppercase();
    if ZERO_DECIMAL.contains(&currency.to_ascii_lowercase().as_str()) {
        format!("{amount} {code}")
    } else {
        format!("{}.{:02} {code}", amount / 100, amount % 100)
    }
}

/// The library's messages are terse lower-case phrases (`invalid e-mail or password`); on a
/// page they read as a sentence.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut sentence: String = first.to_uppercase().chain(chars).collect();
    if !sentence.ends_with(['.', '!', '?']) {
        sentence.push('.');
    }
    sentence
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tollbooth_auth::AuthError;

    use super::*;

    #[test]
    fn prices_read_in_major_units() {
        assert_eq!(price(5000, "usd"), "50.00 USD");
        assert_eq!(price(1999, "EUR"), "19.99 EUR");
        assert_eq!(price(5, "gbp"), "0.05 GBP");
        assert_eq!(price(5000, "jpy"), "5000 JPY");
    }

    #[test]
    fn a_failure_reads_as_a_sentence_and_a_rate_limit_says_when() {
        let (status, alert) = failure(&ApiError::Auth(AuthError::InvalidCredentials));
        assert_eq!(status.as_u16(), 401);
        let message = alert.error.unwrap();
        assert!(
            message.starts_with(char::is_uppercase) && message.ends_with('.'),
            "{message}"
        );
        let limited = ApiError::Auth(AuthError::RateLimited {
            retry_after: Duration::from_secs(90),
        });
        let (status, alert) = failure(&limited);
        assert_eq!(
            (status.as_u16(), alert.error.as_deref()),
            (429, Some("Too many attempts. Try again in 90 seconds."))
        );
    }
}
