//! The link-probe schedule (pure): which peers this node probes over the data port, when, and
//! what their echoes say. The HealthActor drives it with `now`, sends the probes it returns
//! through the data socket and hands it the echoes the data loop collected
//! ([`crate::dataplane::link_probe`]); the figures it keeps ([`LinkEstimator`] per peer)
//! become this node's link claims.
//!
//! Each probed peer holds a *slot* (0..[`ProberConfig::max_peers`]); probes to it carry the
//! session id of that slot in the reserved link-probe range, so an echo names its peer without
//! any lookup by address. A slot's key (the peer's probe key) verifies the echoes; slots are
//! reused only after their peer left the target set, and an echo for an old occupant fails
//! the new occupant's key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_protocol::{Micros, SessionKey};

use super::claim::LinkClaim;
use super::estimator::{EstimatorConfig, LinkEstimator, LinkStats, Reply};

/// Probing settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProberConfig {
    /// Time between two probes to one peer (default 1 s: 34-byte probes, one reply each, so a
    /// node probing 64 peers sends ~2 KB/s and loss has a 1 % resolution over 100 s).
    pub interval: Duration,
    /// RTT, jitter and loss estimation.
    pub estimator: EstimatorConfig,
    /// Most peers probed at once (default 64, the number of links a claim may carry:
    /// [`super::TopologyConfig::max_links_per_node`]); the first by name are kept.
    pub max_peers: usize,
}

impl Default for ProberConfig {
    fn default() -> ProberConfig {
        ProberConfig {
            interval: Duration::from_secs(1),
            estimator: EstimatorConfig::default(),
            max_peers: 64,
        }
    }
}

/// A peer to probe: its name, the data address to probe and its probe key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// Node name.
    pub name: String,
    /// Data-plane address (gossiped, or from the operator's reach book).
    pub addr: SocketAddr,
    /// The key the peer published for probes.
    pub key: SessionKey,
}

/// A probe to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingProbe {
    /// The peer's slot.
    pub slot: u16,
    /// Sequence number to put in the header (the low 32 bits of the estimator's).
    pub seq: u32,
    /// Where to send it.
    pub to: SocketAddr,
    /// The peer's probe key, to seal it with.
    pub key: SessionKey,
}

/// A change the data plane must know of: the key that verifies echoes in `slot` (`None`: the
/// slot is free and echoes for it are dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotKey {
    /// The slot.
    pub slot: u16,
    /// Its key now.
    pub key: Option<SessionKey>,
}

#[derive(Debug, Clone)]
struct Peer {
    slot: u16,
    addr: SocketAddr,
    key: SessionKey,
    estimator: LinkEstimator,
    /// Probes sent so far (the estimator numbers them 0, 1, ...).
    sent: u64,
    next_at: Micros,
}

/// Who is probed, when, and how each link measures.
#[derive(Debug, Clone)]
pub struct LinkProber {
    config: ProberConfig,
    peers: BTreeMap<String, Peer>,
    /// Slot → peer name.
    slots: Vec<Option<String>>,
}

impl LinkProber {
    /// Nobody to probe yet.
    pub fn new(mut config: ProberConfig) -> LinkProber {
        config.max_peers = config.max_peers.min(usize::from(u16::MAX) + 1);
        config.interval = config.interval.max(Duration::from_millis(1));
        LinkProber {
            config,
            peers: BTreeMap::new(),
            slots: Vec::new(),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &ProberConfig {
        &self.config
    }

    /// Replaces the set of peers to probe (duplicates: the first wins; beyond
    /// [`ProberConfig::max_peers`], the first by name are kept). New peers are probed at
    /// once; a peer whose address changed starts a fresh estimate (another path). Returns the
    /// slot keys the data plane must update.
    pub fn set_targets(&mut self, now: Micros, mut targets: Vec<ProbeTarget>) -> Vec<SlotKey> {
        targets.sort_by(|a, b| a.name.cmp(&b.name));
        targets.dedup_by(|a, b| a.name == b.name);
        targets.truncate(self.config.max_peers);
        let mut changes = Vec::new();
        let gone: Vec<String> = self
            .peers
            .keys()
            .filter(|n| targets.binary_search_by(|t| t.name.cmp(n)).is_err())
            .cloned()
            .collect();
        for name in gone {
            if let Some(peer) = self.peers.remove(&name) {
                if let Some(slot) = self.slots.get_mut(usize::from(peer.slot)) {
                    *slot = None;
                }
                changes.push(SlotKey {
                    slot: peer.slot,
                    key: None,
                });
            }
        }
        for t in targets {
            if let Some(peer) = self.peers.get_mut(&t.name) {
                if peer.addr != t.addr {
                    peer.addr = t.addr;
                    peer.estimator = LinkEstimator::new(self.config.estimator);
                    peer.sent = 0;
                    peer.next_at = now;
                }
                if peer.key != t.key {
                    peer.key = t.key.clone();
                    changes.push(SlotKey {
                        slot: peer.slot,
                        key: Some(t.key),
                    });
                }
                continue;
            }
            let Some(slot) = self.free_slot() else {
                break;
            };
            if let Some(s) = self.slots.get_mut(usize::from(slot)) {
                *s = Some(t.name.clone());
            }
            changes.push(SlotKey {
                slot,
                key: Some(t.key.clone()),
            });
            self.peers.insert(
                t.name,
                Peer {
                    slot,
                    addr: t.addr,
                    key: t.key,
                    estimator: LinkEstimator::new(self.config.estimator),
                    sent: 0,
                    next_at: now,
                },
            );
        }
        changes
    }

    fn free_slot(&mut self) -> Option<u16> {
        if let Some(i) = self.slots.iter().position(Option::is_none) {
            return u16::try_from(i).ok();
        }
        if self.slots.len() >= self.config.max_peers {
            return None;
        }
        self.slots.push(None);
        u16::try_from(self.slots.len() - 1).ok()
    }

    /// The probes due at `now`, each peer's next one scheduled an interval later (or an
    /// interval from now, when the driver fell behind: probes are never sent in a burst).
    pub fn poll(&mut self, now: Micros) -> Vec<OutgoingProbe> {
        let interval = self.config.interval;
        let mut out = Vec::new();
        for peer in self.peers.values_mut() {
            if peer.next_at > now {
                continue;
            }
            let seq = peer.estimator.probe_sent(now);
            peer.sent = seq.wrapping_add(1);
            let next = peer.next_at + interval;
            peer.next_at = if next > now { next } else { now + interval };
            out.push(OutgoingProbe {
                slot: peer.slot,
                seq: seq as u32,
                to: peer.addr,
                key: peer.key.clone(),
            });
        }
        out
    }

    /// When the next probe is due, if anyone is probed.
    pub fn next_due(&self) -> Option<Micros> {
        self.peers.values().map(|p| p.next_at).min()
    }

    /// An authenticated echo of probe `seq` in `slot`, received at `now`; `hold` is how long
    /// the peer held it.
    pub fn on_echo(&mut self, now: Micros, slot: u16, seq: u32, hold: Duration) -> Reply {
        let Some(name) = self.slots.get(usize::from(slot)).and_then(Option::as_ref) else {
            return Reply::Unknown;
        };
        let Some(peer) = self.peers.get_mut(name) else {
            return Reply::Unknown;
        };
        // The latest 64-bit sequence number whose low 32 bits are `seq`.
        let Some(last) = peer.sent.checked_sub(1) else {
            return Reply::Unknown;
        };
        let back = u64::from((last as u32).wrapping_sub(seq));
        match last.checked_sub(back) {
            Some(full) => peer.estimator.reply(now, full, hold),
            None => Reply::Unknown,
        }
    }

    /// The estimates towards `name`.
    pub fn stats(&self, name: &str, now: Micros) -> Option<LinkStats> {
        self.peers.get(name).map(|p| p.estimator.stats(now))
    }

    /// Every measured link (at least one echo so far) as a claim entry, with the address it
    /// was measured to, in name order.
    pub fn links(&self, now: Micros) -> Vec<(LinkClaim, SocketAddr)> {
        self.peers
            .iter()
            .filter_map(|(name, p)| p.estimator.to_claim(name, now).map(|c| (c, p.addr)))
            .collect()
    }

    /// How many peers are probed.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// True when nobody is probed.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
#[path = "prober_tests.rs"]
mod tests;
