//! A framework-neutral view of request headers.

use std::net::IpAddr;

/// Read access to request headers, so the core works with any framework: implemented for
/// [`http::HeaderMap`] (axum, hyper, tower) and for slices of pairs; the actix adapter
/// implements it for actix's own map. `Sync` so that futures holding a `&dyn HeaderView`
/// are `Send` (web frameworks require it).
pub trait HeaderView: Sync {
    /// Every value of header `name` (case-insensitive), in order. Values that are not valid
    /// UTF-8 are skipped.
    fn header_values(&self, name: &str) -> Vec<&str>;
}

impl HeaderView for http::HeaderMap {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

impl HeaderView for [(&str, &str)] {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .collect()
    }
}

impl<const N: usize> HeaderView for [(&str, &str); N] {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.as_slice().header_values(name)
    }
}

impl HeaderView for Vec<(String, String)> {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<T: HeaderView + ?Sized> HeaderView for &T {
    fn header_values(&self, name: &str) -> Vec<&str> {
        (**self).header_values(name)
    }
}

/// What auth needs to know about the request besides its body: its headers (cookies,
/// `Authorization`, `User-Agent`) and the client IP as the adapter determined it (the
/// socket peer, or through [`TrustedProxies`](crate::TrustedProxies) — auth never guesses it
/// from headers; the adapters' `ClientIp` extractor gives it).
#[derive(Clone, Copy)]
pub struct RequestInfo<'a> {
    /// Request headers.
    pub headers: &'a dyn HeaderView,
    /// Client IP, for rate limits and the session list.
    pub ip: Option<IpAddr>,
}

impl<'a> RequestInfo<'a> {
    /// A request with these headers from the client at `ip`.
    pub fn new(headers: &'a dyn HeaderView, ip: IpAddr) -> Self {
        Self {
            headers,
            ip: Some(ip),
        }
    }

    /// A request whose client address is unknown (a job, a test). Explicit on purpose: the
    /// per-IP rate limits do not apply to it, only the per-account ones.
    pub fn without_ip(headers: &'a dyn HeaderView) -> Self {
        Self { headers, ip: None }
    }

    /// The `User-Agent`, truncated to 512 bytes for storage.
    pub(crate) fn user_agent(&self) -> Option<String> {
        self.headers.header_values("user-agent").first().map(|ua| {
            let mut end = ua.len().min(512);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua[..end].to_owned()
        })
    }
}

impl std::fmt::Debug for RequestInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestInfo")
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}
