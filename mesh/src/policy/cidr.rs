//! IP prefixes (`10.0.0.0/8`, `2001:db8::/32`) for the proxy's destination lists.
//!
//! Addresses are canonicalised before any comparison: an IPv4-mapped IPv6 address
//! (`::ffff:10.1.2.3`) is the IPv4 address it maps, both in a prefix and in a tested address, so
//! a refused IPv4 range cannot be reached by writing it as IPv6 (DESIGN.md §10).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP prefix: an address whose host bits are zero and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a string is not a valid prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidrError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    #[error("'{0}' is not an IP address (expected e.g. 10.0.0.0/8 or 2001:db8::/32)")]
    BadAddress(String),
    /// The part after `/` is not a number from 0 to the address width.
    #[error("prefix length '{prefix}' is not a number from 0 to {max}")]
    BadPrefix {
        /// The text after `/`.
        prefix: String,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
    /// Bits beyond the prefix length are set, which usually means a typo in the address or
    /// the length.
    #[error("host bits are set in {given}; did you mean {suggestion}?")]
    HostBitsSet {
        /// The prefix as written (canonicalised).
        given: String,
        /// The same length with host bits cleared.
        suggestion: Cidr,
    },
}

impl Cidr {
    /// The network address (canonical: IPv4 for v4-mapped input, host bits zero).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// Prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Builds a prefix, canonicalising a v4-mapped address (and its length) to IPv4. Fails if
    /// the length is too long for the family or host bits are set.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Cidr, CidrError> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() && prefix >= 96 => {
                (addr.to_canonical(), prefix - 96)
            }
            _ => (addr, prefix),
        };
        let max = width(addr);
        if prefix > max {
            return Err(CidrError::BadPrefix {
                prefix: prefix.to_string(),
                max,
            });
        }
        let masked = mask(addr, prefix);
        if masked != addr {
            return Err(CidrError::HostBitsSet {
                given: format!("{addr}/{prefix}"),
                suggestion: Cidr {
                    addr: masked,
                    prefix,
                },
            });
        }
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` (canonicalised) lies inside this prefix. Addresses of the other family are
    /// never inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

fn width(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// `addr` with every bit after the first `prefix` cleared. `prefix` is at most the width.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & keep).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & keep).into())
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Parses `ADDR/LEN`, or a bare address as a single-host prefix.
    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let s = s.trim();
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| CidrError::BadAddress(addr_text.to_string()))?;
        let max = width(addr);
        let prefix =
            match prefix_text {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(|| {
                    CidrError::BadPrefix {
                        prefix: p.to_string(),
                        max,
                    }
                })?,
            };
        Cidr::new(addr, prefix)
    }
}

impl TryFrom<String> for Cidr {
    type Error = CidrError;
    fn try_from(s: String) -> Result<Cidr, CidrError> {
        s.parse()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_v4_v6_and_bare_addresses() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert_eq!((c.addr(), c.prefix()), (ip("10.0.0.0"), 8));
        let c: Cidr = "2001:db8::/32".parse().unwrap();
        assert_eq!((c.addr(), c.prefix()), (ip("2001:db8::"), 32));
        let c: Cidr = "198.51.100.7".parse().unwrap();
        assert_eq!(c.prefix(), 32);
        let c: Cidr = "::1".parse().unwrap();
        assert_eq!(c.prefix(), 128);
        let c: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(c.contains(ip("203.0.113.9")));
        assert!(!c.contains(ip("2001:db8::1")));
        assert_eq!(c.to_string(), "0.0.0.0/0");
    }

    #[test]
    fn rejects_bad_input_with_the_reason() {
        assert_eq!(
            "10.0.0/8".parse::<Cidr>(),
            Err(CidrError::BadAddress("10.0.0".into()))
        );
        assert_eq!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::BadPrefix {
                prefix: "33".into(),
                max: 32
            })
        );
        assert_eq!(
            "2001:db8::/129".parse::<Cidr>(),
            Err(CidrError::BadPrefix {
                prefix: "129".into(),
                max: 128
            })
        );
        assert!(matches!(
            "10.0.0.0/x".parse::<Cidr>(),
            Err(CidrError::BadPrefix { .. })
        ));
        let err = "10.1.0.0/8".parse::<Cidr>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "host bits are set in 10.1.0.0/8; did you mean 10.0.0.0/8?"
        );
    }

    #[test]
    fn contains_respects_prefix_boundaries() {
        let c: Cidr = "100.64.0.0/10".parse().unwrap();
        assert!(c.contains(ip("100.64.0.0")));
        assert!(c.contains(ip("100.127.255.255")));
        assert!(!c.contains(ip("100.128.0.0")));
        assert!(!c.contains(ip("100.63.255.255")));
        let c: Cidr = "fc00::/7".parse().unwrap();
        assert!(c.contains(ip("fd12:3456::1")));
        assert!(!c.contains(ip("fe80::1")));
    }

    #[test]
    fn v4_mapped_addresses_are_canonicalised_on_both_sides() {
        let private: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(private.contains(ip("::ffff:10.9.8.7")));
        assert!(!private.contains(ip("::ffff:11.0.0.1")));
        let mapped: Cidr = "::ffff:192.168.0.0/112".parse().unwrap();
        assert_eq!(mapped.addr(), ip("192.168.0.0"));
        assert_eq!(mapped.prefix(), 16);
        assert!(mapped.contains(ip("192.168.4.4")));
        assert!(mapped.contains(ip("::ffff:192.168.4.4")));
        assert!(!mapped.contains(ip("192.169.0.1")));
    }
}
