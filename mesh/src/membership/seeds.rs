//! Seeds: where a node looks for the mesh when it starts. Pure bookkeeping of which seeds to
//! (re-)resolve and when; the lookups themselves are done by [`super::resolve::SeedResolver`].
//!
//! A config entry is one of:
//! - `203.0.113.7:4433` or `[2001:db8::7]:4433`: a fixed address;
//! - `relay.example.net:4433` or `relay.example.net` (port 4433): A and AAAA records;
//! - `srv:example.net`: the SRV records `_lightspeed._udp.example.net`, each target resolved to
//!   A/AAAA with the record's port.
//!
//! Resolved addresses are kept until the next successful resolution (a DNS outage does not
//! empty the seed list); a failed lookup is retried with doubling backoff up to the refresh
//! interval.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use lightspeed_protocol::Micros;

/// The default QUIC control-plane port.
pub const DEFAULT_CONTROL_PORT: u16 = 4433;

/// The SRV service label for seeds.
pub const SRV_PREFIX: &str = "_lightspeed._udp.";

/// One configured seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedEntry {
    /// A fixed address.
    Addr(SocketAddr),
    /// A host name resolved through A/AAAA.
    Host {
        /// DNS name.
        name: String,
        /// Control port.
        port: u16,
    },
    /// A domain whose `_lightspeed._udp` SRV records list the seeds.
    Srv {
        /// The domain (without the SRV prefix).
        domain: String,
    },
}

/// A seed entry that is neither an address, `host[:port]` nor `srv:domain`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad seed {0:?}: expected ip:port, host[:port] or srv:domain")]
pub struct BadSeed(pub String);

fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl FromStr for SeedEntry {
    type Err = BadSeed;

    fn from_str(s: &str) -> Result<SeedEntry, BadSeed> {
        let s = s.trim();
        let bad = || BadSeed(s.to_owned());
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(SeedEntry::Addr(addr));
        }
        if let Some(domain) = s.strip_prefix("srv:") {
            let domain = domain.trim_end_matches('.');
            return valid_dns_name(domain)
                .then(|| SeedEntry::Srv {
                    domain: domain.to_ascii_lowercase(),
                })
                .ok_or_else(bad);
        }
        let (name, port) = match s.rsplit_once(':') {
            Some((name, port)) => (name, port.parse::<u16>().map_err(|_| bad())?),
            None => (s, DEFAULT_CONTROL_PORT),
        };
        let name = name.trim_end_matches('.');
        if port == 0 || !valid_dns_name(name) || name.parse::<std::net::IpAddr>().is_ok() {
            return Err(bad());
        }
        Ok(SeedEntry::Host {
            name: name.to_ascii_lowercase(),
            port,
        })
    }
}

/// A DNS lookup the driver should perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveQuery {
    /// A and AAAA of `name`, paired with `port`.
    Host {
        /// DNS name.
        name: String,
        /// Port to pair the addresses with.
        port: u16,
    },
    /// SRV records of `name` (already prefixed with [`SRV_PREFIX`]).
    Srv {
        /// Full SRV owner name.
        name: String,
    },
}

/// Re-resolution schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedConfig {
    /// Re-resolve every entry this often (default 5 min): seeds change rarely, and a node
    /// already in the mesh learns members from gossip, not DNS.
    pub refresh: Duration,
    /// First retry after a failed lookup (default 5 s), doubling up to `refresh`.
    pub retry: Duration,
    /// Most addresses kept per entry (default 16), so a huge DNS answer cannot grow the list.
    pub max_addrs_per_entry: usize,
}

impl Default for SeedConfig {
    fn default() -> SeedConfig {
        SeedConfig {
            refresh: Duration::from_secs(300),
            retry: Duration::from_secs(5),
            max_addrs_per_entry: 16,
        }
    }
}

#[derive(Debug, Clone)]
struct Slot {
    entry: SeedEntry,
    addrs: Vec<SocketAddr>,
    /// `None` while a lookup is outstanding.
    next: Option<Micros>,
    failures: u32,
}

/// The configured seeds and what they last resolved to.
#[derive(Debug, Clone)]
pub struct SeedList {
    config: SeedConfig,
    slots: Vec<Slot>,
}

impl SeedList {
    /// Seeds from config; everything is due for resolution at once.
    pub fn new(config: SeedConfig, entries: Vec<SeedEntry>) -> SeedList {
        let slots = entries
            .into_iter()
            .map(|entry| Slot {
                addrs: match &entry {
                    SeedEntry::Addr(a) => vec![*a],
                    _ => Vec::new(),
                },
                next: match entry {
                    SeedEntry::Addr(_) => None,
                    _ => Some(Micros::ZERO),
                },
                entry,
                failures: 0,
            })
            .collect();
        SeedList { config, slots }
    }

    /// Lookups due at `now`, as (slot index, query). Each is marked outstanding until
    /// [`SeedList::resolved`] reports back for it.
    pub fn due(&mut self, now: Micros) -> Vec<(usize, ResolveQuery)> {
        let mut out = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.next.is_some_and(|t| t <= now) {
                slot.next = None;
                out.push((
                    i,
                    match &slot.entry {
                        SeedEntry::Host { name, port } => ResolveQuery::Host {
                            name: name.clone(),
                            port: *port,
                        },
                        SeedEntry::Srv { domain } => ResolveQuery::Srv {
                            name: format!("{SRV_PREFIX}{domain}"),
                        },
                        SeedEntry::Addr(_) => continue,
                    },
                ));
            }
        }
        out
    }

    /// Reports a lookup's result. Success replaces the slot's addresses (sorted, deduplicated,
    /// capped); failure keeps the old ones and schedules a retry.
    pub fn resolved(&mut self, now: Micros, index: usize, result: Result<Vec<SocketAddr>, ()>) {
        let config = self.config;
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if matches!(slot.entry, SeedEntry::Addr(_)) {
            return;
        }
        match result {
            Ok(mut addrs) => {
                addrs.sort();
                addrs.dedup();
                addrs.truncate(config.max_addrs_per_entry);
                slot.addrs = addrs;
                slot.failures = 0;
                slot.next = Some(now + config.refresh);
            }
            Err(()) => {
                let backoff = config
                    .retry
                    .saturating_mul(1u32 << slot.failures.min(16))
                    .min(config.refresh);
                slot.failures = slot.failures.saturating_add(1);
                slot.next = Some(now + backoff);
            }
        }
    }

    /// When the next lookup is due, if any is scheduled.
    pub fn next_deadline(&self) -> Option<Micros> {
        self.slots.iter().filter_map(|s| s.next).min()
    }

    /// Every known seed address, sorted, without duplicates.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        let mut all: Vec<_> = self.slots.iter().flat_map(|s| s.addrs.clone()).collect();
        all.sort();
        all.dedup();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_config_entries() {
        assert_eq!(
            "203.0.113.7:4433".parse(),
            Ok(SeedEntry::Addr(sa("203.0.113.7:4433")))
        );
        assert_eq!(
            "[2001:db8::7]:9".parse(),
            Ok(SeedEntry::Addr(sa("[2001:db8::7]:9")))
        );
        assert_eq!(
            "Relay.Example.net.".parse(),
            Ok(SeedEntry::Host {
                name: "relay.example.net".into(),
                port: 4433
            })
        );
        assert_eq!(
            "relay.example.net:5000".parse(),
            Ok(SeedEntry::Host {
                name: "relay.example.net".into(),
                port: 5000
            })
        );
        assert_eq!(
            "srv:example.net".parse(),
            Ok(SeedEntry::Srv {
                domain: "example.net".into()
            })
        );
        for bad in [
            "",
            "host:0",
            "host:99999",
            "srv:",
            "a..b",
            "bad host",
            "1.2.3.4",
            "srv:x y",
        ] {
            assert!(bad.parse::<SeedEntry>().is_err(), "{bad}");
        }
    }

    #[test]
    fn schedules_resolution_refresh_and_backoff() {
        let ms = Micros::from_millis;
        let config = SeedConfig::default();
        let mut list = SeedList::new(
            config,
            vec![
                SeedEntry::Addr(sa("192.0.2.1:4433")),
                "relay.example.net".parse().unwrap(),
                "srv:example.net".parse().unwrap(),
            ],
        );
        assert_eq!(list.addrs(), vec![sa("192.0.2.1:4433")]);
        let due = list.due(ms(0));
        assert_eq!(
            due,
            vec![
                (
                    1,
                    ResolveQuery::Host {
                        name: "relay.example.net".into(),
                        port: 4433
                    }
                ),
                (
                    2,
                    ResolveQuery::Srv {
                        name: "_lightspeed._udp.example.net".into()
                    }
                ),
            ]
        );
        assert!(
            list.due(ms(1)).is_empty(),
            "outstanding lookups are not repeated"
        );
        assert_eq!(list.next_deadline(), None);
        list.resolved(
            ms(10),
            1,
            Ok(vec![
                sa("192.0.2.9:4433"),
                sa("192.0.2.1:4433"),
                sa("192.0.2.9:4433"),
            ]),
        );
        list.resolved(ms(10), 2, Err(()));
        assert_eq!(
            list.addrs(),
            vec![sa("192.0.2.1:4433"), sa("192.0.2.9:4433")]
        );
        assert_eq!(list.next_deadline(), Some(ms(5_010)));
        assert_eq!(list.due(ms(5_010)).len(), 1);
        list.resolved(ms(5_020), 2, Err(()));
        assert_eq!(list.next_deadline(), Some(ms(15_020)), "backoff doubled");
        // A failure keeps what the entry resolved to before.
        assert_eq!(list.due(ms(300_010)).len(), 2);
        list.resolved(ms(300_020), 1, Err(()));
        assert!(list.addrs().contains(&sa("192.0.2.9:4433")));
        list.resolved(ms(300_020), 7, Ok(vec![]));
    }
}
