//! Running behind a reverse proxy: which peers may tell pufa the client's address, and how that
//! address is read from `X-Forwarded-For`.
//!
//! A proxy *appends* the address it received the request from to `X-Forwarded-For`, so only the
//! entries on the right were written by proxies we run; everything to the left of them came
//! from the client and may be forged. The client address is therefore the rightmost entry that
//! is not one of our trusted proxies — reading the leftmost entry would let anyone pick a fresh
//! address for every login attempt and escape the per-address throttle.

use std::net::IpAddr;
use std::str::FromStr;

/// An address block, `192.0.2.0/24`, `::1/128`, or a single address (`127.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// True when `ip` lies in this block. An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`,
    /// as a dual-stack listener reports IPv4 peers) is compared as the IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network = canonical(
            addr.parse::<IpAddr>()
                .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?,
        );
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0..={max}"))?,
        };
        Ok(Cidr { network, prefix })
    }
}

/// The proxies whose `X-Forwarded-For` pufa believes. Empty (the default): the header is
/// ignored and the client address is the TCP peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// `127.0.0.0/8` and `::1`: a proxy on the same machine (what `--trust-forwarded-for`
    /// means).
    pub fn loopback() -> TrustedProxies {
        TrustedProxies(vec![
            Cidr {
                network: IpAddr::from([127, 0, 0, 0]),
                prefix: 8,
            },
            Cidr {
                network: IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        ])
    }

    /// Both sets of blocks.
    pub fn extend(&mut self, other: &TrustedProxies) {
        for c in &other.0 {
            if !self.0.contains(c) {
                self.0.push(*c);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address for a request from `peer` carrying the `X-Forwarded-For` values
    /// `forwarded_for` (every header line, in order). Walks from the right past trusted
    /// proxies; the first address not trusted is the client. An entry that is not an address
    /// stops the walk: the hop that wrote it is then taken as the client, since nothing left of
    /// it can be believed.
    pub fn client_addr<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        for entry in entries.iter().rev() {
            let Some(ip) = parse_entry(entry) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`192.0.2.1:5000`,
/// `[2001:db8::1]:5000`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| canonical(s.ip()))
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of addresses and CIDR blocks; empty means none.
    fn from_str(s: &str) -> Result<TrustedProxies, String> {
        let blocks = s
            .split(',')
            .filter(|b| !b.trim().is_empty())
            .map(Cidr::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedProxies(blocks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_match() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.0.9")));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains(ip("::1")));
        assert!(!one.contains(ip("::2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.7")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("proxy.example".parse::<Cidr>().is_err());
        let list: TrustedProxies = "127.0.0.1, ::1,10.0.0.0/8".parse().unwrap();
        assert!(list.trusts(ip("10.9.9.9")) && list.trusts(ip("::1")));
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_entry() {
        let trusted: TrustedProxies = "127.0.0.1,10.0.0.0/8".parse().unwrap();
        let proxy = ip("127.0.0.1");
        // a forged leftmost entry is ignored: nginx appended the real peer on the right
        assert_eq!(
            trusted.client_addr(proxy, ["1.2.3.4, 198.51.100.7"]),
            ip("198.51.100.7")
        );
        // several trusted hops, over two header lines
        assert_eq!(
            trusted.client_addr(proxy, ["6.6.6.6, 198.51.100.7", "10.0.0.2"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            trusted.client_addr(proxy, ["[2001:db8::5]:443"]),
            ip("2001:db8::5")
        );
        // garbage stops the walk at the last trusted hop
        assert_eq!(
            trusted.client_addr(proxy, ["198.51.100.7, unknown"]),
            ip("127.0.0.1")
        );
        // no header: the proxy itself
        assert_eq!(trusted.client_addr(proxy, []), proxy);
        // a peer that is not a trusted proxy cannot choose its address
        assert_eq!(
            trusted.client_addr(ip("203.0.113.9"), ["1.2.3.4"]),
            ip("203.0.113.9")
        );
        // nothing trusted: the header is ignored
        assert_eq!(
            TrustedProxies::default().client_addr(proxy, ["1.2.3.4"]),
            proxy
        );
        assert!(TrustedProxies::loopback().trusts(ip("127.0.0.53")));
    }
}
