//! The identity a node has in SWIM membership: its certificate name, its control address and
//! a restart counter ("bump").
//!
//! foca tells members apart by [`foca::Identity::addr`], which here is the node name: two
//! identities with one name are the same node in two lives, and the one with the higher
//! `(bump, leaving)` wins. Because every datagram's sender identity is checked against the
//! name in the sender's verified QUIC certificate ([`super::Membership::handle_data`]), only
//! the node itself can speak under its name.
//!
//! foca finds a member by scanning its whole table and comparing `addr()`s, several times per
//! datagram, and keeps its queue of updates in a heap keyed by `addr()`. So the name carries
//! a hash of it ([`NameKey`]), foca's key is that hash alone ([`NameHash`]: one word to copy
//! and compare, no reference count to touch), and an identity is 64 bytes so a scan of the
//! table reads little memory. Equality of identities stays exact (equal hashes fall through to the bytes); for the key,
//! the membership core refuses any datagram naming a second name with a hash it already
//! holds (see `inspect.rs`), so within one node a hash stands for one name. The hash is
//! SipHash-1-3: finding a name that shares a given name's hash takes ~2^64 tries.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::topology::claim::valid_name;

/// A node name behind a hash of it. Equal exactly when the names are equal; ordered by name.
#[derive(Clone)]
pub(super) struct NameKey {
    hash: u64,
    name: Arc<str>,
}

impl NameKey {
    fn new(name: &str) -> NameKey {
        // std's SipHash-1-3 with its fixed key: stable within a process, which is all a
        // member key needs (it is never sent).
        let mut h = DefaultHasher::new();
        h.write(name.as_bytes());
        NameKey {
            hash: h.finish(),
            name: Arc::from(name),
        }
    }

    /// The name's hash: foca's member key.
    pub(super) fn hash64(&self) -> u64 {
        self.hash
    }

    /// The name.
    pub(super) fn as_str(&self) -> &str {
        &self.name
    }
}

impl PartialEq for NameKey {
    fn eq(&self, other: &NameKey) -> bool {
        // The padding is zeros, so the arrays are equal exactly when the names are.
        self.hash == other.hash && self.name == other.name
    }
}

impl Eq for NameKey {}

impl Hash for NameKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for NameKey {
    fn partial_cmp(&self, other: &NameKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NameKey {
    fn cmp(&self, other: &NameKey) -> Ordering {
        self.name.cmp(&other.name)
    }
}

impl fmt::Debug for NameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// foca's member key ([`foca::Identity::Addr`]): the hash of the node name (see the module
/// docs for why one hash stands for one name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameHash(u64);

/// A member as SWIM knows it. Compared whole: a restart (new bump) is a new identity.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NodeId {
    // First, so a comparison of two different members usually ends at the name's hash.
    name: NameKey,
    addr: SocketAddr,
    bump: u32,
    leaving: bool,
}

/// A node name that gossip cannot carry (see [`crate::topology::claim::MAX_NAME_LEN`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid gossip node name {0:?}: 1-64 bytes of a-z, 0-9, '-' and '.'")]
pub struct InvalidName(pub String);

impl NodeId {
    /// A node named `name` (as in its certificate) reachable for control traffic at `addr`.
    ///
    /// `bump` must grow across restarts so a restarted node outranks its previous life at
    /// once; seconds since the Unix epoch at start-up are a good value. (A node that reuses an
    /// old bump still rejoins: the mesh tells it it is down and it bumps itself, one round trip
    /// per step.)
    pub fn new(name: &str, addr: SocketAddr, bump: u32) -> Result<NodeId, InvalidName> {
        if !valid_name(name) {
            return Err(InvalidName(name.to_owned()));
        }
        let name = NameKey::new(name);
        Ok(NodeId {
            name,
            addr,
            bump,
            leaving: false,
        })
    }

    /// A seed to announce to: its name was learnt from its certificate on a QUIC handshake
    /// with `addr`; its bump is unknown and does not matter for an announce.
    pub fn seed(name: &str, addr: SocketAddr) -> Result<NodeId, InvalidName> {
        NodeId::new(name, addr, 0)
    }

    /// The node name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// `self` with its name's hash replaced (tests of hash clashes).
    #[cfg(test)]
    pub(super) fn with_hash(mut self, hash: u64) -> NodeId {
        self.name.hash = hash;
        self
    }

    /// The name as foca's member key: cheap to compare, hash and copy.
    pub(super) fn key(&self) -> &NameKey {
        &self.name
    }

    /// The control-plane (QUIC) address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The restart counter.
    pub fn bump(&self) -> u32 {
        self.bump
    }

    /// True for the identity a node takes while leaving gracefully; when the mesh sees it
    /// down, the node left rather than failed.
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    pub(super) fn leaving(&self) -> NodeId {
        NodeId {
            leaving: true,
            ..self.clone()
        }
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}@{}", self.name(), self.bump, self.addr)?;
        if self.leaving {
            f.write_str("(leaving)")?;
        }
        Ok(())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl foca::Identity for NodeId {
    type Addr = NameHash;

    fn renew(&self) -> Option<NodeId> {
        Some(NodeId {
            bump: self.bump.checked_add(1)?,
            leaving: false,
            ..self.clone()
        })
    }

    fn addr(&self) -> NameHash {
        NameHash(self.name.hash)
    }

    fn win_addr_conflict(&self, adversary: &NodeId) -> bool {
        (self.bump, self.leaving) > (adversary.bump, adversary.leaving)
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("NodeId", 4)?;
        st.serialize_field("name", self.name())?;
        st.serialize_field("addr", &self.addr)?;
        st.serialize_field("bump", &self.bump)?;
        st.serialize_field("leaving", &self.leaving)?;
        st.end()
    }
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename = "NodeId")]
struct Wire<'a> {
    // Borrowed from the datagram when the decoder allows it (postcard does): no allocation.
    #[serde(borrow)]
    name: Cow<'a, str>,
    addr: SocketAddr,
    bump: u32,
    leaving: bool,
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NodeId, D::Error> {
        let w = Wire::deserialize(d)?;
        if !valid_name(&w.name) {
            return Err(D::Error::custom("invalid node name"));
        }
        let name = NameKey::new(&w.name);
        Ok(NodeId {
            name,
            addr: w.addr,
            bump: w.bump,
            leaving: w.leaving,
        })
    }
}

#[cfg(test)]
mod tests {
    use foca::Identity;

    use super::*;

    #[test]
    fn names_bumps_and_conflicts() {
        let addr: SocketAddr = "192.0.2.1:4433".parse().unwrap();
        assert!(NodeId::new("Relay", addr, 0).is_err());
        assert!(NodeId::new(&"a".repeat(65), addr, 0).is_err());
        let a = NodeId::new("relay-1", addr, 10).unwrap();
        let renewed = a.renew().unwrap();
        assert_eq!(renewed.bump(), 11);
        assert!(renewed.win_addr_conflict(&a));
        assert!(!a.win_addr_conflict(&renewed));
        let leaving = a.leaving();
        assert!(
            leaving.win_addr_conflict(&a),
            "a leave supersedes the live identity"
        );
        assert!(
            renewed.win_addr_conflict(&leaving),
            "a restart supersedes the leave"
        );
        assert_eq!(Identity::addr(&a), Identity::addr(&renewed));
        assert!(NodeId::new("x", addr, u32::MAX).unwrap().renew().is_none());
    }

    #[test]
    fn identities_are_small_and_equal_only_by_name_bump_addr_and_leaving() {
        // foca scans its member table per datagram: the size is the memory read per member.
        assert!(std::mem::size_of::<NodeId>() <= 64);
        let addr: SocketAddr = "192.0.2.1:4433".parse().unwrap();
        let a = NodeId::new("relay-1", addr, 1).unwrap();
        assert_eq!(a, NodeId::new("relay-1", addr, 1).unwrap());
        assert_ne!(a, NodeId::new("relay-2", addr, 1).unwrap());
        assert_ne!(a.key(), NodeId::new("relay-2", addr, 1).unwrap().key());
        assert!(a.key() < NodeId::new("relay-2", addr, 1).unwrap().key());
        assert_eq!(a.name(), "relay-1");
    }

    #[test]
    fn wire_round_trip_and_size() {
        let v6: SocketAddr = "[2001:db8::1]:65535".parse().unwrap();
        let id = NodeId::new(&"n".repeat(64), v6, u32::MAX)
            .unwrap()
            .leaving();
        let bytes = postcard::to_allocvec(&id).unwrap();
        assert!(
            bytes.len() <= 91,
            "worst case used in MAX_ITEM_BYTES: {}",
            bytes.len()
        );
        assert_eq!(postcard::from_bytes::<NodeId>(&bytes).unwrap(), id);
        let bad = postcard::to_allocvec(&Wire {
            name: "BAD".into(),
            addr: v6,
            bump: 0,
            leaving: false,
        });
        assert!(postcard::from_bytes::<NodeId>(&bad.unwrap()).is_err());
    }
}
