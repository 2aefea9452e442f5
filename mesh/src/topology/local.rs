//! What this node adds to its own claims beyond attributes and link figures: the key its link
//! probes are sealed with, and the address it reaches each peer at.
//!
//! The membership core publishes attributes and links ([`crate::membership::Membership::publish`]);
//! the driver sets this beforehand with [`super::Topology::set_local_probe_info`], so the core's
//! publishing API stays as it is.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use lightspeed_protocol::SessionKey;

use super::claim::{ClaimedLink, LinkClaim};

/// The probe key and per-peer addresses that go into this node's next publications.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalProbeInfo {
    /// Key other members seal link probes to this node with; `None`: not probed.
    pub key: Option<SessionKey>,
    /// Peer name → the data-plane address this node sends to for it (gossiped or from the
    /// operator's reach book).
    pub via: BTreeMap<String, SocketAddr>,
}

impl LocalProbeInfo {
    /// `links` with the address this node uses for each peer, when it knows one.
    pub fn claimed(&self, links: Vec<LinkClaim>) -> Vec<ClaimedLink> {
        links
            .into_iter()
            .map(|link| ClaimedLink {
                via: self.via.get(&link.to).copied(),
                link,
            })
            .collect()
    }
}
