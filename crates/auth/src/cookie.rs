//! The session cookie: `HttpOnly; Secure; SameSite=Strict; Path=/`, `__Host-` prefixed.

use std::fmt;

use crate::headers::HeaderView;

/// A `Set-Cookie` header value for the adapter to send.
#[derive(Clone, PartialEq, Eq)]
pub struct SetCookie(String);

impl SetCookie {
    /// The full header value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The session cookie carrying `token`, living `max_age_secs` seconds.
    pub(crate) fn session(name: &str, token: &str, max_age_secs: i64) -> Self {
        Self(format!(
            "{name}={token}; Max-Age={}; Path=/; Secure; HttpOnly; SameSite=Strict",
            max_age_secs.max(0)
        ))
    }

    /// A short-lived cookie that must survive the provider's cross-site redirect back
    /// (`SameSite=Lax`); still `__Host-`, `HttpOnly`, `Secure`.
    pub(crate) fn lax(name: &str, value: &str, max_age_secs: i64) -> Self {
        Self(format!(
            "{name}={value}; Max-Age={}; Path=/; Secure; HttpOnly; SameSite=Lax",
            max_age_secs.max(0)
        ))
    }

    /// Deletes a [`lax`](Self::lax) cookie.
    pub(crate) fn clear_lax(name: &str) -> Self {
        Self(format!(
            "{name}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"
        ))
    }

    /// Deletes the session cookie in the browser.
    pub(crate) fn clear(name: &str) -> Self {
        Self(format!(
            "{name}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict"
        ))
    }
}

impl fmt::Display for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SetCookie {
    /// The cookie value is a bearer credential: only its attributes are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attributes = self.0.split_once(';').map_or("", |(_, attrs)| attrs);
        write!(f, "SetCookie([redacted];{attributes})")
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
        let c = SetCookie::session("__Host-s", "abc.def", 60);
        assert_eq!(
            c.as_str(),
            "__Host-s=abc.def; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Strict"
        );
        assert!(!format!("{c:?}").contains("abc.def"));
        assert_eq!(
            SetCookie::clear("__Host-s").as_str(),
            "__Host-s=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict"
        );
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
