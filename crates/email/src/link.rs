//! Links in e-mails: absolute, `https`, built from a configured base URL.
//!
//! A link in an e-mail must never be built from request headers (`Host`,
//! `X-Forwarded-Host`): an attacker who controls them would receive the victim's password-reset
//! token. [`PublicBaseUrl`] is configuration, and [`Link`] can only be made from it (or parsed
//! under the same rules), so a template prop of type `Link` is always safe to put in an `href`.

use std::fmt;
use std::net::IpAddr;

use url::Url;

use crate::error::{EmailError, Result};

/// The application's public origin (and optional path prefix), e.g.
/// `https://app.example.com` or `https://example.com/app/`.
///
/// `https` is required; plain `http` is accepted only for loopback hosts (`localhost`,
/// `127.0.0.1`, `::1`) so a development server works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicBaseUrl(Url);

impl PublicBaseUrl {
    /// Parses and checks a base URL. Query strings and fragments are refused.
    pub fn parse(base: &str) -> Result<Self> {
        let mut url = parse_checked(base)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(EmailError::InvalidLink {
                reason: "a base URL has no query or fragment",
            });
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Self(url))
    }

    /// `path` (relative to the base, leading `/` optional) with `query` pairs,
    /// percent-encoded: `base.link("verify-email", &[("token", t)])`.
    pub fn link(&self, path: &str, query: &[(&str, &str)]) -> Link {
        let mut url = self.0.clone();
        let joined = format!("{}{}", self.0.path(), path.trim_start_matches('/'));
        url.set_path(&joined);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Link(url)
    }

    /// The base URL.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The base URL, parsed (to resolve paths against it, compare origins…).
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The origin (`https://app.example.com`), e.g. for CSRF checks.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }
}

impl fmt::Display for PublicBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// An absolute `https` (or loopback `http`) URL, safe to put in an e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Link(Url);

impl Link {
    /// Parses an absolute link under the same rules as [`PublicBaseUrl`] (for URLs that come
    /// from a trusted service, e.g. a Stripe billing-portal URL).
    pub fn parse(link: &str) -> Result<Self> {
        parse_checked(link).map(Self)
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

fn parse_checked(raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim()).map_err(|_| EmailError::InvalidLink {
        reason: "not an absolute URL",
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EmailError::InvalidLink {
            reason: "credentials in a URL",
        });
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(EmailError::InvalidLink {
            reason: "https is required (http only for localhost)",
        }),
        _ => Err(EmailError::InvalidLink {
            reason: "only https links are allowed",
        }),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_built_under_the_base_and_encoded() {
        let base = PublicBaseUrl::parse("https://app.example.com").unwrap();
        let link = base.link("/verify-email", &[("token", "a+b/c=&d")]);
        assert_eq!(
            link.as_str(),
            "https://app.example.com/verify-email?token=a%2Bb%2Fc%3D%26d"
        );
        let prefixed = PublicBaseUrl::parse("https://example.com/app").unwrap();
        assert_eq!(
            prefixed.link("reset", &[]).as_str(),
            "https://example.com/app/reset"
        );
        assert_eq!(prefixed.origin(), "https://example.com");
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(PublicBaseUrl::parse("http://localhost:3000").is_ok());
        assert!(PublicBaseUrl::parse("http://127.0.0.1:8080").is_ok());
        assert!(PublicBaseUrl::parse("http://[::1]:8080").is_ok());
        for bad in [
            "http://app.example.com",
            "javascript:alert(1)",
            "ftp://example.com",
            "/relative/path",
            "https://user:pass@example.com",
            "https://example.com/?next=x",
            "data:text/html,<script>",
        ] {
            assert!(PublicBaseUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(Link::parse("https://billing.stripe.com/p/session/x").is_ok());
        assert!(Link::parse("javascript:alert(1)").is_err());
    }
}
