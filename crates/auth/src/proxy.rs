//! The client's address behind trusted reverse proxies.
//!
//! Behind a load balancer every connection comes from the balancer, so per-IP limits keyed
//! on the socket peer would be one global limit: one client could block everyone. A proxy
//! appends the address it received the request from to `Forwarded` (RFC 7239) or
//! `X-Forwarded-For`; everything left of the proxies' own entries is whatever the client
//! sent. So the client is the **right-most address that is not a trusted proxy** — and a
//! peer that is not a trusted proxy is the client itself, whatever its headers say.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

use crate::headers::HeaderView;
use crate::service::Auth;
use tollbooth_core::ConfigError;

/// Networks whose forwarding headers are believed (CIDR blocks or single addresses).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// No proxy: the socket peer is the client.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses a comma-separated list of CIDR blocks or addresses
    /// (`10.0.0.0/8, 192.0.2.1, fd00::/8`).
    pub fn parse(list: &str) -> Result<Self, ConfigError> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                IpNet::from_str(entry)
                    .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                    .map_err(|_| {
                        ConfigError::new(
                            "auth",
                            format!("trusted proxy `{entry}` is not an address or CIDR block"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, ConfigError>>()
            .map(Self)
    }

    /// Whether `ip` is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that arrived from `peer` with `headers`: `peer` unless it
    /// is a trusted proxy; then the right-most address of `Forwarded` (or, without it,
    /// `X-Forwarded-For`) that is not a trusted proxy. An entry that is not an address
    /// (`unknown`, an obfuscated name, garbage) ends the walk at the proxy that wrote it.
    pub fn client_ip(&self, peer: IpAddr, headers: &dyn HeaderView) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let forwarded = headers.header_values("forwarded");
        let hops: Vec<Option<IpAddr>> = if forwarded.is_empty() {
            headers
                .header_values("x-forwarded-for")
                .iter()
                .flat_map(|v| v.split(','))
                .map(|hop| parse_node(hop.trim()))
                .collect()
        } else {
            forwarded
                .iter()
                .flat_map(|v| v.split(','))
                .map(|element| {
                    element
                        .split(';')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(key, _)| key.trim().eq_ignore_ascii_case("for"))
                        .and_then(|(_, value)| parse_node(value.trim().trim_matches('"')))
                })
                .collect()
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) if self.contains(ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
        client
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(ToString::to_string))
            .finish()
    }
}

/// An address as a proxy writes it: `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`,
/// `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = IpAddr::from_str(node) {
        return Some(canonical(ip));
    }
    if let Ok(socket) = SocketAddr::from_str(node) {
        return Some(canonical(socket.ip()));
    }
    let bracketed = node.strip_prefix('[')?.split(']').next()?;
    IpAddr::from_str(bracketed).ok().map(canonical)
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

impl Auth {
    /// The client address of a request from socket peer `peer`, through the configured
    /// [`TrustedProxies`]: what adapters pass as [`RequestInfo::ip`](crate::RequestInfo).
    pub fn client_ip(&self, peer: IpAddr, headers: &dyn HeaderView) -> IpAddr {
        self.inner.config.trusted_proxies.client_ip(peer, headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_its_headers_say() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let spoofed = [("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")];
        assert_eq!(
            proxies.client_ip(ip("198.51.100.9"), &spoofed),
            ip("198.51.100.9")
        );
        assert_eq!(
            TrustedProxies::none().client_ip(ip("10.0.0.1"), &spoofed),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").unwrap();
        // The client prepended a fake address; the proxies appended theirs.
        let xff = [("x-forwarded-for", "6.6.6.6, 203.0.113.7, 192.0.2.1")];
        assert_eq!(proxies.client_ip(ip("10.1.2.3"), &xff), ip("203.0.113.7"));
        let split = [
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.7:5555"),
        ];
        assert_eq!(proxies.client_ip(ip("10.1.2.3"), &split), ip("203.0.113.7"));
        // Forwarded wins over X-Forwarded-For, with ports, quotes and IPv6.
        let forwarded = [
            ("x-forwarded-for", "6.6.6.6"),
            (
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=192.0.2.1"#,
            ),
        ];
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), &forwarded),
            ip("2001:db8:cafe::17")
        );
        // Only proxies: the left-most of them.
        let all_proxies = [("x-forwarded-for", "10.9.9.9, 192.0.2.1")];
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), &all_proxies),
            ip("10.9.9.9")
        );
        // No header: the proxy itself.
        let none: [(&str, &str); 0] = [];
        assert_eq!(proxies.client_ip(ip("10.0.0.2"), &none), ip("10.0.0.2"));
        // An obfuscated or unknown hop ends the walk at the proxy that wrote it.
        let unknown = [("forwarded", "for=203.0.113.7, for=unknown")];
        assert_eq!(proxies.client_ip(ip("10.0.0.2"), &unknown), ip("10.0.0.2"));
        let hidden = [("forwarded", "for=203.0.113.7, for=_hidden, for=10.0.0.5")];
        assert_eq!(proxies.client_ip(ip("10.0.0.2"), &hidden), ip("10.0.0.5"));
    }

    #[test]
    fn mapped_addresses_and_bad_entries() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let xff = [("x-forwarded-for", "::ffff:203.0.113.7")];
        assert_eq!(
            proxies.client_ip(ip("::ffff:10.0.0.1"), &xff),
            ip("203.0.113.7")
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
        assert_eq!(
            TrustedProxies::parse(" , ").unwrap(),
            TrustedProxies::none()
        );
    }
}
