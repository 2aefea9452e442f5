//! Destination policy: which game-server addresses a proxy may send to.
//!
//! A proxy that forwarded anywhere would be a free reflector into its own network and the
//! Internet's special ranges, so by default it refuses loopback, unspecified, private, CGNAT,
//! link-local, multicast, broadcast, documentation-free "this network" and ULA destinations,
//! and port 0. IPv4-mapped IPv6 addresses are canonicalised first, so `::ffff:10.0.0.1` is
//! refused like `10.0.0.1`. Operators add explicit allow and deny lists; deny wins over
//! allow, and allow wins over the built-in refusals.
//!
//! Layout: `mod.rs` (the policy), `cidr.rs` (strictly parsed IP prefixes for the operator's
//! lists).

mod cidr;

use std::net::{IpAddr, SocketAddr};

pub use cidr::{Cidr, CidrError};

/// Turns `::ffff:a.b.c.d` into `a.b.c.d`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Why a destination is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// On the operator's deny list.
    #[error("destination is on the deny list")]
    Denied,
    /// Loopback (127.0.0.0/8, ::1).
    #[error("loopback destination")]
    Loopback,
    /// Unspecified (0.0.0.0/8, ::) or port 0.
    #[error("unspecified destination")]
    Unspecified,
    /// RFC 1918 private ranges.
    #[error("private-range destination")]
    Private,
    /// Carrier-grade NAT (100.64.0.0/10).
    #[error("CGNAT destination")]
    Cgnat,
    /// Link-local (169.254.0.0/16, fe80::/10).
    #[error("link-local destination")]
    LinkLocal,
    /// Multicast or broadcast.
    #[error("multicast or broadcast destination")]
    Multicast,
    /// Unique local IPv6 (fc00::/7).
    #[error("unique-local IPv6 destination")]
    UniqueLocal,
}

/// The operator's destination rules.
#[derive(Debug, Clone, Default)]
pub struct DestinationPolicy {
    /// Ranges allowed even if a built-in rule refuses them.
    pub allow: Vec<Cidr>,
    /// Ranges always refused.
    pub deny: Vec<Cidr>,
    /// Allow loopback destinations. Only for local demos and tests: a loopback-forwarding
    /// proxy lets any client reach services bound to the proxy's own localhost.
    pub allow_loopback_for_testing: bool,
}

impl DestinationPolicy {
    /// Decides whether `dest` may receive game traffic.
    pub fn check(&self, dest: SocketAddr) -> Result<(), Refusal> {
        let ip = canonical(dest.ip());
        if self.deny.iter().any(|c| c.contains(ip)) {
            return Err(Refusal::Denied);
        }
        if dest.port() == 0 {
            return Err(Refusal::Unspecified);
        }
        if self.allow.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        match builtin_refusal(ip) {
            Some(Refusal::Loopback) if self.allow_loopback_for_testing => Ok(()),
            Some(r) => Err(r),
            None => Ok(()),
        }
    }
}

fn builtin_refusal(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some(Refusal::Loopback)
            } else if o[0] == 0 {
                Some(Refusal::Unspecified)
            } else if v4.is_private() {
                Some(Refusal::Private)
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some(Refusal::Cgnat)
            } else if v4.is_link_local() {
                Some(Refusal::LinkLocal)
            } else if v4.is_multicast() || v4.is_broadcast() || o[0] >= 240 {
                Some(Refusal::Multicast)
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let seg0 = v6.segments()[0];
            if v6.is_loopback() {
                Some(Refusal::Loopback)
            } else if v6.is_unspecified() {
                Some(Refusal::Unspecified)
            } else if v6.is_multicast() {
                Some(Refusal::Multicast)
            } else if (seg0 & 0xffc0) == 0xfe80 {
                Some(Refusal::LinkLocal)
            } else if (seg0 & 0xfe00) == 0xfc00 {
                Some(Refusal::UniqueLocal)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn refuses_special_ranges_by_default() {
        let p = DestinationPolicy::default();
        for (dest, why) in [
            ("127.0.0.1:27015", Refusal::Loopback),
            ("[::1]:27015", Refusal::Loopback),
            ("[::ffff:127.0.0.1]:27015", Refusal::Loopback),
            ("0.0.0.0:27015", Refusal::Unspecified),
            ("[::]:27015", Refusal::Unspecified),
            ("203.0.113.5:0", Refusal::Unspecified),
            ("10.1.2.3:27015", Refusal::Private),
            ("172.16.0.1:27015", Refusal::Private),
            ("192.168.1.1:27015", Refusal::Private),
            ("[::ffff:192.168.1.1]:27015", Refusal::Private),
            ("100.64.0.1:27015", Refusal::Cgnat),
            ("100.127.255.255:27015", Refusal::Cgnat),
            ("169.254.1.1:27015", Refusal::LinkLocal),
            ("[fe80::1]:27015", Refusal::LinkLocal),
            ("224.0.0.1:27015", Refusal::Multicast),
            ("255.255.255.255:27015", Refusal::Multicast),
            ("[ff02::1]:27015", Refusal::Multicast),
            ("[fd00::1]:27015", Refusal::UniqueLocal),
        ] {
            assert_eq!(p.check(sa(dest)), Err(why), "{dest}");
        }
        assert_eq!(p.check(sa("203.0.113.5:27015")), Ok(()));
        assert_eq!(p.check(sa("100.128.0.1:27015")), Ok(()));
        assert_eq!(p.check(sa("[2001:db8::1]:27015")), Ok(()));
    }

    #[test]
    fn operator_lists_and_the_loopback_switch() {
        let p = DestinationPolicy {
            allow: vec!["10.8.0.0/16".parse().unwrap()],
            deny: vec!["203.0.113.0/24".parse().unwrap()],
            allow_loopback_for_testing: true,
        };
        assert_eq!(p.check(sa("10.8.3.4:7777")), Ok(()));
        assert_eq!(p.check(sa("10.9.3.4:7777")), Err(Refusal::Private));
        assert_eq!(p.check(sa("203.0.113.9:7777")), Err(Refusal::Denied));
        assert_eq!(p.check(sa("127.0.0.1:7777")), Ok(()));
        assert_eq!(p.check(sa("[::ffff:127.0.0.1]:7777")), Ok(()));
    }
}
