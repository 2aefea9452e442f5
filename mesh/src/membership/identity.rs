//! The identity a node has in SWIM membership: its certificate name, its control address and
//! a restart counter ("bump").
//!
//! foca tells members apart by [`foca::Identity::addr`], which here is the node name: two
//! identities with one name are the same node in two lives, and the one with the higher
//! `(bump, leaving)` wins. Because every datagram's sender identity is checked against the
//! name in the sender's verified QUIC certificate ([`super::Membership::handle_data`]), only
//! the node itself can speak under its name.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::topology::claim::valid_name;

/// A member as SWIM knows it. Compared whole: a restart (new bump) is a new identity.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NodeId {
    name: Arc<str>,
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
        Ok(NodeId {
            name: Arc::from(name),
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
        write!(f, "{}#{}@{}", self.name, self.bump, self.addr)?;
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
    type Addr = Arc<str>;

    fn renew(&self) -> Option<NodeId> {
        Some(NodeId {
            bump: self.bump.checked_add(1)?,
            leaving: false,
            ..self.clone()
        })
    }

    fn addr(&self) -> Arc<str> {
        self.name.clone()
    }

    fn win_addr_conflict(&self, adversary: &NodeId) -> bool {
        (self.bump, self.leaving) > (adversary.bump, adversary.leaving)
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("NodeId", 4)?;
        st.serialize_field("name", &*self.name)?;
        st.serialize_field("addr", &self.addr)?;
        st.serialize_field("bump", &self.bump)?;
        st.serialize_field("leaving", &self.leaving)?;
        st.end()
    }
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename = "NodeId")]
struct Wire {
    name: String,
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
        Ok(NodeId {
            name: Arc::from(w.name),
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
