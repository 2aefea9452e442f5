//! Topology items as foca custom broadcasts.
//!
//! foca asks the handler whether each received item is new; only new items are queued for
//! relaying, each at most `max_transmissions` times, and a queued item is replaced by a newer
//! one with the same key ([`ItemId`]: origin + part, newer version wins; or a certificate name).
//! The handler shares the [`Topology`] with [`super::Membership`], which reads it for queries.
//!
//! New items from peers do not enter foca's broadcast queue at once: they wait in a
//! [`RelayQueue`] and the core moves them into foca's queue while it holds fewer than
//! [`RELAY_WINDOW`] items. foca keeps its queue in a binary heap and, for every message it
//! sends, pops every queued item looking for ones that fit (and replaces by a scan of the whole
//! queue on every insert), so its cost per message grows with the queue; with a thousand
//! claims in flight that was most of a node's CPU. The bandwidth is the same either way (a
//! message carries only a few claims): items just wait their turn in arrival order.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use foca::{BroadcastHandler, Invalidates};
use lightspeed_protocol::Micros;
use parking_lot::Mutex;

use super::NodeId;
use super::events::KeyHasher;
use crate::topology::{Applied, ClaimError, ItemId, Outcome, Topology};

impl Invalidates for ItemId {
    fn invalidates(&self, other: &ItemId) -> bool {
        match (self, other) {
            (
                ItemId::Claim {
                    origin,
                    part,
                    version,
                },
                ItemId::Claim {
                    origin: o,
                    part: p,
                    version: v,
                },
            ) => origin == o && part == p && version >= v,
            (ItemId::Cert { name }, ItemId::Cert { name: n }) => name == n,
            _ => false,
        }
    }
}

/// Most items foca's broadcast queue holds from the relay queue: a few messages' worth.
pub(super) const RELAY_WINDOW: usize = 32;

/// Most items waiting to be relayed; the oldest is dropped beyond it (a full-state sync or the
/// origin's next refresh brings it back). Each item is at most a datagram, so ≤ ~9 MB.
pub(super) const RELAY_QUEUE_MAX: usize = 8_192;

/// Items to relay, oldest first, waiting for room in foca's queue: new items received from
/// peers (with their key: already applied) and parts released from parking (without: the
/// handler looks the key up when foca takes them).
#[derive(Default)]
pub(super) struct RelayQueue {
    items: VecDeque<(Option<ItemId>, Vec<u8>)>,
}

impl RelayQueue {
    pub(super) fn push(&mut self, id: Option<ItemId>, item: Vec<u8>) {
        if self.items.len() >= RELAY_QUEUE_MAX {
            self.items.pop_front();
        }
        self.items.push_back((id, item));
    }

    pub(super) fn pop(&mut self) -> Option<(Option<ItemId>, Vec<u8>)> {
        self.items.pop_front()
    }
}

/// What the handler and the membership core share.
pub(super) struct Shared {
    pub(super) topology: Topology,
    /// The time of the call in progress (foca's handler API carries none).
    pub(super) now: Micros,
    pub(super) relay: RelayQueue,
    /// Set while the core hands foca an item from the relay queue: already applied, so the
    /// handler returns its key without checking it again.
    pub(super) relaying: Option<ItemId>,
    /// Received items dropped as copies of ones already settled ([`SeenItems`]).
    pub(super) duplicates: u64,
    pub(super) seen: SeenItems,
}

impl Shared {
    /// Applies an item received from a peer (gossip or full-state sync); `None` for a copy
    /// of an item already settled, dropped unparsed.
    pub(super) fn apply_received(&mut self, item: &[u8]) -> Option<Result<Applied, ClaimError>> {
        let digest = self.seen.digest(item);
        if self.seen.digests.contains(&digest) {
            self.duplicates += 1;
            return None;
        }
        let applied = self.topology.apply_item(self.now, item);
        if applied.is_ok() {
            if self.seen.digests.len() >= SEEN_MAX {
                self.seen.digests.clear();
            }
            self.seen.digests.insert(digest);
        }
        Some(applied)
    }
}

/// Most item digests remembered; the set starts over beyond it (items are then parsed once
/// more). 16,384 × 8 bytes plus the table.
const SEEN_MAX: usize = 16_384;

/// Digests of the items received that the topology already settled (new, known or stale), so
/// the copies gossip keeps delivering are dropped without being parsed again. The digest is
/// keyed with a per-node secret, so nobody can craft an item that passes for another.
pub(super) struct SeenItems {
    key: u64,
    digests: HashSet<u64, BuildHasherDefault<KeyHasher>>,
}

impl SeenItems {
    pub(super) fn new(key: u64) -> SeenItems {
        SeenItems {
            key,
            digests: HashSet::default(),
        }
    }

    fn digest(&self, item: &[u8]) -> u64 {
        let mut h = DefaultHasher::new();
        self.key.hash(&mut h);
        item.hash(&mut h);
        h.finish()
    }
}

pub(super) struct ClaimHandler {
    pub(super) shared: Arc<Mutex<Shared>>,
}

impl BroadcastHandler<NodeId> for ClaimHandler {
    type Key = ItemId;
    type Error = Infallible;

    fn receive_item(
        &mut self,
        data: &[u8],
        sender: Option<&NodeId>,
    ) -> Result<Option<ItemId>, Infallible> {
        let mut shared = self.shared.lock();
        if sender.is_none()
            && let Some(id) = shared.relaying.take()
        {
            return Ok(Some(id));
        }
        let applied = if sender.is_some() {
            match shared.apply_received(data) {
                Some(applied) => applied,
                None => return Ok(None),
            }
        } else {
            let now = shared.now;
            shared.topology.apply_item(now, data)
        };
        // A bad item is counted by the topology and dropped alone; failing here would make
        // foca drop the rest of the datagram too.
        Ok(match applied {
            Ok(Applied {
                id,
                outcome: Outcome::New,
            }) if sender.is_some() => {
                shared.relay.push(Some(id), data.to_vec());
                None
            }
            Ok(Applied {
                id,
                outcome: Outcome::New,
            }) => Some(id),
            // `sender == None` is our own `add_broadcast`: items we already stored (our own
            // publication, or parts just released from parking) must still be queued.
            Ok(Applied {
                id,
                outcome: Outcome::Known,
            }) if sender.is_none() => Some(id),
            Ok(_) | Err(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;
    use crate::topology::{ClaimVersion, NodeAttrs, SimKeys, TopologyConfig};

    #[test]
    fn new_items_wait_in_the_relay_queue_and_copies_are_dropped_unparsed() {
        let keys = SimKeys::new(1);
        let topology =
            |name: &str| Topology::new(TopologyConfig::default(), name, Box::new(keys.keyring(16)));
        let addr = "192.0.2.1:4433".parse().unwrap();
        let attrs = NodeAttrs {
            roles: vec![Role::Relay],
            region: "r".into(),
            load_pct: 1,
            control_addr: addr,
            data_addr: None,
        };
        let items = topology("a")
            .publish_local(Micros(1), &keys.signer("a"), 1, attrs, Vec::new())
            .unwrap();
        assert_eq!(items.len(), 2, "certificate and claim");
        let shared = Arc::new(Mutex::new(Shared {
            topology: topology("b"),
            now: Micros(2),
            relay: RelayQueue::default(),
            relaying: None,
            duplicates: 0,
            seen: SeenItems::new(7),
        }));
        let mut handler = ClaimHandler {
            shared: shared.clone(),
        };
        let from = NodeId::new("a", addr, 1).unwrap();
        for _ in 0..3 {
            for item in &items {
                // Never queued in foca directly: new ones wait in the relay queue.
                assert_eq!(handler.receive_item(item, Some(&from)).unwrap(), None);
            }
        }
        let mut shared = shared.lock();
        assert_eq!(shared.duplicates, 4, "the second and third copies");
        assert_eq!(shared.topology.counters().applied, 2);
        assert_eq!(
            shared.topology.counters().ignored,
            0,
            "copies were not parsed"
        );
        let queued: Vec<_> = std::iter::from_fn(|| shared.relay.pop()).collect();
        assert_eq!(queued.len(), 2);
        assert!(queued.iter().all(|(id, _)| id.is_some()));
        assert_eq!(queued[0].1, items[0]);
    }

    #[test]
    fn newer_versions_of_one_part_invalidate_older_ones() {
        let claim = |origin: &str, part, seq| ItemId::Claim {
            origin: origin.into(),
            part,
            version: ClaimVersion { epoch: 1, seq },
        };
        assert!(claim("a", 0, 2).invalidates(&claim("a", 0, 1)));
        assert!(claim("a", 0, 2).invalidates(&claim("a", 0, 2)));
        assert!(!claim("a", 0, 1).invalidates(&claim("a", 0, 2)));
        assert!(!claim("a", 1, 2).invalidates(&claim("a", 0, 1)));
        assert!(!claim("b", 0, 2).invalidates(&claim("a", 0, 1)));
        let cert = |name: &str| ItemId::Cert { name: name.into() };
        assert!(cert("a").invalidates(&cert("a")));
        assert!(!cert("a").invalidates(&cert("b")));
        assert!(!cert("a").invalidates(&claim("a", 0, 0)));
    }
}
