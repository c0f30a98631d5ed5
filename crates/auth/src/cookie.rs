//! The session cookie: `HttpOnly; Secure; SameSite=Strict; Path=/`, `__Host-` prefixed.

use std::fmt;

use cookie::{Cookie, SameSite};

use crate::headers::HeaderView;

/// A `Set-Cookie` for the adapter to send, built with the `cookie` crate. Every cookie
/// Tollbooth sets is `__Host-`-safe: `Secure; HttpOnly; Path=/`, no `Domain`.
/// It converts into axum response parts and into an actix header pair (features `axum`,
/// `actix`).
#[derive(Clone, PartialEq)]
pub struct SetCookie {
    cookie: Cookie<'static>,
    header: String,
}

impl Eq for SetCookie {}

impl SetCookie {
    fn new(name: &str, value: &str, max_age_secs: i64, same_site: SameSite) -> Self {
        let cookie = Cookie::build((name.to_owned(), value.to_owned()))
            .max_age(cookie::time::Duration::seconds(max_age_secs.max(0)))
            .path("/")
            .secure(true)
            .http_only(true)
            .same_site(same_site)
            .build();
        let header = cookie.to_string();
        Self { cookie, header }
    }

    /// The full header value.
    pub fn as_str(&self) -> &str {
        &self.header
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        self.cookie.name()
    }

    /// Whether it deletes the cookie (`Max-Age=0`).
    pub fn is_removal(&self) -> bool {
        self.cookie.max_age() == Some(cookie::time::Duration::ZERO)
    }

    /// The session cookie carrying `token`, living `max_age_secs` seconds.
    pub(crate) fn session(name: &str, token: &str, max_age_secs: i64) -> Self {
        Self::new(name, token, max_age_secs, SameSite::Strict)
    }

    /// A short-lived cookie that must survive the provider's cross-site redirect back
    /// (`SameSite=Lax`); still `__Host-`, `HttpOnly`, `Secure`.
    pub(crate) fn lax(name: &str, value: &str, max_age_secs: i64) -> Self {
        Self::new(name, value, max_age_secs, SameSite::Lax)
    }

    /// Deletes a [`lax`](Self::lax) cookie.
    pub(crate) fn clear_lax(name: &str) -> Self {
        Self::new(name, "", 0, SameSite::Lax)
    }

    /// Deletes the session cookie in the browser.
    pub(crate) fn clear(name: &str) -> Self {
        Self::new(name, "", 0, SameSite::Strict)
    }
}

impl fmt::Display for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header)
    }
}

/// The name of the cookie a `Set-Cookie` header value sets (`None` if it is not one).
#[cfg(any(feature = "axum", feature = "actix", test))]
pub(crate) fn set_cookie_name(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?;
    Cookie::parse(value).ok().map(|c| c.name().to_owned())
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponseParts for SetCookie {
    type Error = std::convert::Infallible;

    fn into_response_parts(
        self,
        mut parts: axum::response::ResponseParts,
    ) -> Result<axum::response::ResponseParts, Self::Error> {
        if let Ok(value) = axum::http::HeaderValue::from_str(&self.header) {
            parts
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, value);
        }
        Ok(parts)
    }
}

#[cfg(feature = "actix")]
impl actix_web::http::header::TryIntoHeaderPair for &SetCookie {
    type Error = actix_web::http::header::InvalidHeaderValue;

    fn try_into_pair(
        self,
    ) -> Result<
        (
            actix_web::http::header::HeaderName,
            actix_web::http::header::HeaderValue,
        ),
        Self::Error,
    > {
        let value = actix_web::http::header::HeaderValue::from_str(&self.header)?;
        Ok((actix_web::http::header::SET_COOKIE, value))
    }
}

impl fmt::Debug for SetCookie {
    /// The cookie value is a bearer credential: only its name and attributes are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attributes = self.header.split_once(';').map_or("", |(_, attrs)| attrs);
        write!(
            f,
            "SetCookie({}=[redacted];{attributes})",
            self.cookie.name()
        )
    }
}

/// Every value of cookie `name` in the request's `Cookie` headers (several are possible).
pub(crate) fn cookie_values<'h>(headers: &'h dyn HeaderView, name: &str) -> Vec<&'h str> {
    headers
        .header_values("cookie")
        .into_iter()
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes() {
        // Exactly these parts, in whatever order the cookie crate writes them.
        let parts = |c: &SetCookie| {
            let mut parts: Vec<String> = c.as_str().split("; ").map(str::to_owned).collect();
            parts.sort();
            parts
        };
        let sorted = |parts: &[&str]| {
            let mut parts: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
            parts.sort();
            parts
        };
        let c = SetCookie::session("__Host-s", "abc.def", 60);
        assert_eq!(
            parts(&c),
            sorted(&[
                "__Host-s=abc.def",
                "Max-Age=60",
                "Path=/",
                "Secure",
                "HttpOnly",
                "SameSite=Strict"
            ])
        );
        assert!(c.as_str().starts_with("__Host-s=abc.def;"), "{c}");
        assert!(!format!("{c:?}").contains("abc.def"));
        assert_eq!((c.name(), c.is_removal()), ("__Host-s", false));
        let cleared = SetCookie::clear("__Host-s");
        assert_eq!(
            parts(&cleared),
            sorted(&[
                "__Host-s=",
                "Max-Age=0",
                "Path=/",
                "Secure",
                "HttpOnly",
                "SameSite=Strict"
            ])
        );
        assert!(cleared.is_removal());
        assert_eq!(
            parts(&SetCookie::lax("__Host-o", "v", 600)),
            sorted(&[
                "__Host-o=v",
                "Max-Age=600",
                "Path=/",
                "Secure",
                "HttpOnly",
                "SameSite=Lax"
            ])
        );
        assert_eq!(
            set_cookie_name(c.as_str().as_bytes()).as_deref(),
            Some("__Host-s")
        );
        assert_eq!(set_cookie_name(b"\xff"), None);
    }

    #[test]
    fn finds_every_value_of_the_cookie() {
        let headers = [
            ("Cookie", "a=1; __Host-s=first; b=2"),
            ("cookie", "__Host-s=\"second\""),
        ];
        assert_eq!(cookie_values(&headers, "__Host-s"), ["first", "second"]);
        assert!(cookie_values(&headers, "missing").is_empty());
    }
}
