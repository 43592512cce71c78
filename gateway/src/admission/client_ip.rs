//! Who the client is on the network: the connection's peer, or — only when
//! that peer is one of the configured proxies — the address the proxies
//! report in `Forwarded` (RFC 7239) or `X-Forwarded-For`.
//!
//! Each proxy appends the address it received the request from, so the
//! list reads client-first and only its right end was written by
//! machines we trust. The client is the rightmost hop that is not a
//! trusted proxy; anything left of it is whatever the client chose to
//! send, which is why taking the first hop (as `trust_forwarded_for`
//! once did) lets any client pick its own rate-limit key and `context.ip`.
//! The per-IP limiter and the event enrichment both use this one answer.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// The trusted proxy networks (`server.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// `ip` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a
/// dual-stack socket reports for IPv4 peers) turned into plain IPv4, so
/// one client has one address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl TrustedProxies {
    /// Proxies in `nets`; none means the peer is always the client.
    pub fn new(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies { nets }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    ///
    /// `Forwarded` wins over `X-Forwarded-For` when both are present (it
    /// is the standard, and a proxy that writes it writes it on purpose).
    /// A hop that is not an address (`unknown`, an obfuscated `_name`, a
    /// garbled value) ends the walk: the client is then the last trusted
    /// hop that reported it, since nothing further left can be believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all(http::header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let hops: Vec<Option<IpAddr>> = if forwarded.is_empty() {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|hop| parse_hop(hop.trim()))
                .collect()
        } else {
            forwarded
                .iter()
                .flat_map(|v| v.split(','))
                .map(|element| forwarded_for(element).and_then(parse_hop))
                .collect()
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            let Some(ip) = hop else { break };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The `for=` parameter of one `Forwarded` element
/// (`for=192.0.2.60;proto=http;by=203.0.113.43`), unquoted.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// One hop as a proxy writes it: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, value.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            proxies(&[]).client(ip("203.0.113.9"), &h),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_and_a_forged_prefix_is_ignored() {
        let p = proxies(&["10.0.0.0/8"]);
        // The client sent "6.6.6.6" itself; the load balancer appended
        // the address it saw.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        // Split over two header lines, as some proxies do.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn an_untrusted_peer_cannot_forward() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "10.0.0.5")]);
        assert_eq!(p.client(ip("198.51.100.7"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn ipv6_hops_and_mapped_peers() {
        let p = proxies(&["10.0.0.0/8", "fd00::/8"]);
        let h = headers(&[("x-forwarded-for", "2001:db8::1, fd00::2")]);
        assert_eq!(p.client(ip("::ffff:10.0.0.1"), &h), ip("2001:db8::1"));
        assert_eq!(
            proxies(&[]).client(ip("::ffff:198.51.100.7"), &HeaderMap::new()),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn forwarded_header_with_ports_quotes_and_brackets() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[(
            "forwarded",
            r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For="10.0.0.3:80""#,
        )]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=198.51.100.7;by=10.0.0.1")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        // Forwarded wins over X-Forwarded-For.
        let h = headers(&[
            ("forwarded", "for=198.51.100.7"),
            ("x-forwarded-for", "192.0.2.1"),
        ]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_proxy_that_reported_it() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("forwarded", "for=198.51.100.7, for=unknown, for=10.0.0.4")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.4"));
        let h = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn when_every_hop_is_a_proxy_the_leftmost_is_taken() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.2")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.1.1.1"));
    }
}
