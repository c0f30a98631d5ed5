//! What an operation answers when it succeeds, framework-neutral: a status, one of the
//! [`wire`](crate::wire) bodies, cookies and a redirect. The [`axum`](crate::axum) and
//! [`actix`](crate::actix) modules turn it into each framework's response.

use tollbooth_auth::SetCookie;
use tollbooth_auth::http::StatusCode;

/// A successful answer whose body (if any) is a `T`.
#[derive(Debug)]
#[must_use]
pub struct Reply<T = ()> {
    pub(crate) status: StatusCode,
    pub(crate) body: Option<T>,
    pub(crate) cookies: Vec<SetCookie>,
    pub(crate) location: Option<String>,
}

impl<T> Reply<T> {
    fn new(status: StatusCode, body: Option<T>) -> Self {
        Self {
            status,
            body,
            cookies: Vec::new(),
            location: None,
        }
    }

    /// 200 with `body`.
    pub fn ok(body: T) -> Self {
        Self::new(StatusCode::OK, Some(body))
    }

    /// 201 with `body`: the resource now exists.
    pub fn created(body: T) -> Self {
        Self::new(StatusCode::CREATED, Some(body))
    }

    /// 202 with `body`: taken, done later (an e-mail).
    pub fn accepted(body: T) -> Self {
        Self::new(StatusCode::ACCEPTED, Some(body))
    }

    /// 204.
    pub fn no_content() -> Self {
        Self::new(StatusCode::NO_CONTENT, None)
    }

    /// `302 Found` to start a flow elsewhere (an OAuth provider).
    pub fn found(location: impl Into<String>) -> Self {
        Self::redirect(StatusCode::FOUND, location)
    }

    /// `303 See Other` to where a finished flow continues.
    pub fn see_other(location: impl Into<String>) -> Self {
        Self::redirect(StatusCode::SEE_OTHER, location)
    }

    fn redirect(status: StatusCode, location: impl Into<String>) -> Self {
        let mut reply = Self::new(status, None);
        reply.location = Some(location.into());
        reply
    }

    /// Adds a `Set-Cookie`.
    pub fn cookie(mut self, cookie: SetCookie) -> Self {
        self.cookies.push(cookie);
        self
    }
}
