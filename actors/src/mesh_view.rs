//! What the admin API shows of the mesh: the member table, the topology graph and gossip
//! counters, refreshed by the DiscoveryActor and read by HTTP handlers without touching it.

use std::net::SocketAddr;
use std::sync::Arc;

use lightspeed_mesh::Role;
use lightspeed_mesh::topology::TopologySnapshot;
use parking_lot::RwLock;
use serde::Serialize;

/// A member's state as the admin API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    /// Answering probes.
    Alive,
    /// Missed probes; may still refute.
    Suspect,
    /// Declared failed.
    Down,
    /// Left gracefully.
    Left,
}

impl MemberStatus {
    /// The lowercase name used in JSON and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Alive => "alive",
            MemberStatus::Suspect => "suspect",
            MemberStatus::Down => "down",
            MemberStatus::Left => "left",
        }
    }
}

/// One row of `GET /api/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberRow {
    /// Node name (its certificate name).
    pub name: String,
    /// QUIC control address it gossips from.
    pub control_addr: SocketAddr,
    /// Data-plane address, once its claim arrived.
    pub data_addr: Option<SocketAddr>,
    /// Roles from its latest claim (empty until one arrived).
    pub roles: Vec<Role>,
    /// Region label from its latest claim.
    pub region: String,
    /// Membership state.
    pub state: MemberStatus,
    /// SWIM incarnation (grows when it refutes a suspicion).
    pub incarnation: u16,
    /// Identity bump (grows across restarts).
    pub bump: u32,
    /// True for the node answering the request.
    pub local: bool,
}

/// Gossip traffic counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GossipCounters {
    /// Membership datagrams sent.
    pub packets_sent: u64,
    /// Bytes of those.
    pub bytes_sent: u64,
    /// Membership datagrams received from authenticated nodes.
    pub packets_received: u64,
    /// Bytes of those.
    pub bytes_received: u64,
    /// Received datagrams the core refused (undecodable, spoofed sender, too large, full).
    pub refused: u64,
    /// Datagrams dropped because a peer's send queue was full.
    pub send_dropped: u64,
}

/// The mesh as this node sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MeshSnapshot {
    /// False when the node runs with static peers only (no `[mesh]`).
    pub enabled: bool,
    /// Members, this node included, in name order.
    pub members: Vec<MemberRow>,
    /// The claims graph (nodes and measured links).
    pub topology: Option<TopologySnapshot>,
    /// Gossip counters.
    pub counters: GossipCounters,
}

impl MeshSnapshot {
    /// Members in `state`.
    pub fn count(&self, state: MemberStatus) -> usize {
        self.members.iter().filter(|m| m.state == state).count()
    }
}

/// The shared, periodically replaced snapshot.
pub type MeshView = Arc<RwLock<MeshSnapshot>>;
