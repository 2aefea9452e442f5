//! Peer discovery. Today: the static peers of the configuration. The mesh work adds DNS seeds
//! and gossip membership behind the same messages.

use std::collections::HashMap;

use actix::prelude::*;

use crate::spec::PeerSpec;

/// Knows the node's peers.
#[derive(Debug, Default)]
pub struct DiscoveryActor {
    peers: HashMap<String, PeerSpec>,
}

impl DiscoveryActor {
    /// Starts from the configured peers.
    pub fn new(peers: &[PeerSpec]) -> DiscoveryActor {
        DiscoveryActor {
            peers: peers.iter().map(|p| (p.name.clone(), p.clone())).collect(),
        }
    }
}

impl Actor for DiscoveryActor {
    type Context = Context<Self>;
}

/// Looks a peer up by node name.
#[derive(Debug, Message)]
#[rtype(result = "Option<PeerSpec>")]
pub struct LookupPeer(pub String);

impl Handler<LookupPeer> for DiscoveryActor {
    type Result = Option<PeerSpec>;
    fn handle(&mut self, msg: LookupPeer, _ctx: &mut Context<Self>) -> Option<PeerSpec> {
        self.peers.get(&msg.0).cloned()
    }
}

/// Lists every known peer.
#[derive(Debug, Message)]
#[rtype(result = "Vec<PeerSpec>")]
pub struct ListPeers;

impl Handler<ListPeers> for DiscoveryActor {
    type Result = Vec<PeerSpec>;
    fn handle(&mut self, _msg: ListPeers, _ctx: &mut Context<Self>) -> Vec<PeerSpec> {
        let mut v: Vec<_> = self.peers.values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}
