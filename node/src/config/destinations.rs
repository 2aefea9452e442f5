//! Which game-server addresses a proxy may send to (DESIGN.md §10): ranges that reach the
//! proxy's own host or network are refused by default, the operator's lists adjust that.
//!
//! Order of decision: `deny_destinations` first (always wins), then the default refused
//! ranges, which `allow_destinations` (or `allow_loopback_for_testing` for loopback) can open.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::cidr::Cidr;
use super::sections::ProxySection;

/// Why a destination is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DestinationRefused {
    /// The address is inside an entry of `proxy.deny_destinations`.
    #[error("destination is in proxy.deny_destinations entry {0}")]
    DenyList(Cidr),
    /// The address is inside a range refused by default and no allow entry covers it.
    #[error("destination is a {0} address, refused by default")]
    DefaultRange(&'static str),
}

const fn v4(a: u8, b: u8, prefix: u8, name: &'static str) -> (IpAddr, u8, &'static str) {
    (IpAddr::V4(Ipv4Addr::new(a, b, 0, 0)), prefix, name)
}

const fn v6(first: u16, prefix: u8, name: &'static str) -> (IpAddr, u8, &'static str) {
    (
        IpAddr::V6(Ipv6Addr::new(first, 0, 0, 0, 0, 0, 0, 0)),
        prefix,
        name,
    )
}

/// The ranges refused by default, with the name used in refusals.
const REFUSED: [(IpAddr, u8, &str); 14] = [
    v4(0, 0, 8, "unspecified"),
    v4(10, 0, 8, "private"),
    v4(100, 64, 10, "CGNAT"),
    v4(127, 0, 8, "loopback"),
    v4(169, 254, 16, "link-local"),
    v4(172, 16, 12, "private"),
    v4(192, 168, 16, "private"),
    v4(224, 0, 4, "multicast"),
    v4(240, 0, 4, "reserved"),
    v6(0, 128, "unspecified"),
    (IpAddr::V6(Ipv6Addr::LOCALHOST), 128, "loopback"),
    v6(0xfc00, 7, "ULA"),
    v6(0xfe80, 10, "link-local"),
    v6(0xff00, 8, "multicast"),
];

/// The default refused range `ip` falls in, by name (`"private"`, `"loopback"`, ...).
pub fn refused_by_default(ip: IpAddr) -> Option<&'static str> {
    REFUSED.iter().find_map(|(addr, prefix, name)| {
        Cidr::new(*addr, *prefix)
            .ok()
            .filter(|c| c.contains(ip))
            .map(|_| *name)
    })
}

impl ProxySection {
    /// Whether this proxy may send to `ip` (v4-mapped addresses are judged as IPv4).
    pub fn check_destination(&self, ip: IpAddr) -> Result<(), DestinationRefused> {
        if let Some(deny) = self.deny_destinations.iter().find(|c| c.contains(ip)) {
            return Err(DestinationRefused::DenyList(*deny));
        }
        match refused_by_default(ip) {
            None => Ok(()),
            Some("loopback") if self.allow_loopback_for_testing => Ok(()),
            Some(_) if self.allow_destinations.iter().any(|c| c.contains(ip)) => Ok(()),
            Some(name) => Err(DestinationRefused::DefaultRange(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_ranges_are_refused_public_ones_allowed() {
        let p = ProxySection::default();
        for (addr, name) in [
            ("10.1.2.3", "private"),
            ("172.31.255.1", "private"),
            ("192.168.1.1", "private"),
            ("100.100.0.1", "CGNAT"),
            ("127.0.0.1", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("169.254.169.254", "link-local"),
            ("239.1.1.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fd00::1", "ULA"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
        ] {
            assert_eq!(
                p.check_destination(ip(addr)),
                Err(DestinationRefused::DefaultRange(name)),
                "{addr}"
            );
        }
        for addr in ["203.0.113.10", "198.51.100.1", "172.32.0.1", "2001:db8::1"] {
            assert_eq!(p.check_destination(ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn operator_lists_and_loopback_switch_adjust_the_defaults() {
        let p = ProxySection {
            allow_destinations: vec!["192.168.10.0/24".parse().unwrap()],
            deny_destinations: vec!["203.0.113.0/24".parse().unwrap()],
            allow_loopback_for_testing: true,
            ..ProxySection::default()
        };
        assert_eq!(p.check_destination(ip("192.168.10.5")), Ok(()));
        assert_eq!(
            p.check_destination(ip("192.168.11.5")),
            Err(DestinationRefused::DefaultRange("private"))
        );
        assert_eq!(p.check_destination(ip("127.0.0.1")), Ok(()));
        assert_eq!(p.check_destination(ip("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(
            p.check_destination(ip("::ffff:203.0.113.7")),
            Err(DestinationRefused::DenyList(
                "203.0.113.0/24".parse().unwrap()
            ))
        );
    }
}
