//! Building a node's gossip: the membership core with its keyring and signer, the QUIC
//! datagram links its packets travel on, and the seed dialer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use lightspeed_mesh::identity::{Identity, MeshTrust};
use lightspeed_mesh::membership::{Membership, NodeId, SeedConfig, SeedList};
use lightspeed_mesh::quic::{self, DatagramLinks, LinkSettings, TransportSettings};
use lightspeed_mesh::topology::{EcdsaSigner, MeshKeyring, Topology, TopologyConfig};
use lightspeed_protocol::SessionKey;

use crate::discovery::SeedDialer;
use crate::gossip::Gossip;
use crate::link_probe::LinkShare;
use crate::node::StartError;
use crate::spec::{MeshSpec, SharedRoles};

/// What gossip publishes about this node's data plane and links.
pub(crate) struct GossipLinks {
    pub(crate) data: SocketAddr,
    pub(crate) share: Arc<LinkShare>,
    pub(crate) probe_key: SessionKey,
}

/// Builds the membership core, its datagram links and the seed dialer.
pub(crate) fn gossip_for(
    mesh: &MeshSpec,
    id: &Identity,
    trust: &MeshTrust,
    control: SocketAddr,
    data: GossipLinks,
    roles: &SharedRoles,
    inbound: mpsc::Sender<quic::NodeDatagram>,
) -> Result<(Gossip, SeedDialer, Arc<DatagramLinks>), StartError> {
    let mesh_err = |e: &dyn std::fmt::Display| StartError::Mesh(e.to_string());
    // Seconds since the epoch: a restarted node comes back with a higher bump and supersedes
    // its previous life at once.
    let bump = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    let node_id = NodeId::new(id.name(), control, bump).map_err(|e| mesh_err(&e))?;
    let keyring = MeshKeyring::new(trust, mesh.membership.max_members).map_err(|e| mesh_err(&e))?;
    let topology = Topology::new(
        TopologyConfig::for_refresh(mesh.publish.refresh),
        id.name(),
        Box::new(keyring),
    );
    let signer = EcdsaSigner::new(id.node()).map_err(|e| mesh_err(&e))?;
    let core = Membership::new(
        node_id,
        mesh.membership.clone(),
        rand::random(),
        topology,
        Box::new(signer),
    )
    .map_err(|e| mesh_err(&e))?;
    let transport = TransportSettings::default();
    let endpoint = quic::client_endpoint(quic::node_client_config(id, &transport)?, control)?;
    let links = Arc::new(DatagramLinks::new(
        endpoint.clone(),
        inbound,
        LinkSettings::default(),
    ));
    let dialer = SeedDialer {
        endpoint,
        config: quic::seed_client_config(id, &transport)?,
        seeds: SeedList::new(SeedConfig::default(), mesh.seeds.clone()),
    };
    let gossip = Gossip::new(
        core,
        Arc::clone(&links),
        mesh.clone(),
        roles.clone(),
        data.data,
        data.share,
        Some(data.probe_key),
    );
    Ok((gossip, dialer, links))
}
